import AuthenticatorVerification
import Foundation
import WireFormat

/// JSON views of catalog entries for `show` and `export`.
package enum CatalogJSON {
    package static func decision(_ d: ReferencingDecision, at time: Date) -> JSONValue {
        .object([
            ("status", .string(d.status.rawValue)), ("since", .string(d.since)), ("until", .optional(d.until)), ("reference", .string(d.reference)),
            ("acceptedFirmware", d.acceptedFirmware.map { .array($0.map { JSONValue.integer($0) }) } ?? .null), ("notes", .optional(d.notes)),
            ("inForce", .string(d.effect(at: time).rawValue)),
        ])
    }

    package static func entry(_ entry: CatalogEntry, at time: Date, statements: Bool) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("identifier", .optional(entry.identifier.map(identifierText))), ("aaid", .optional(entry.aaid)), ("description", .string(entry.description)),
        ]
        if let ans = entry.ans {
            members.append(("ans", .object([("list", .string(ans.list.label)), ("decision", decision(ans.authenticator.decision, at: time))])))
        }
        members.append(
            (
                "mds",
                .array(
                    entry.mds.map { record in
                        var item: [(String, JSONValue)] = [
                            ("list", .string(record.list.label)), ("statusInForce", .optional(record.entry.status(at: time)?.status.description)),
                            ("statusReports", .array(record.entry.statusReports.map { report in
                                .object([
                                    ("status", .string(report.status.description)), ("effectiveDate", .optional(report.effectiveDateText)),
                                    ("certificateNumber", .optional(report.certificateNumber)), ("url", .optional(report.url)),
                                ])
                            })),
                        ]
                        if statements, let statement = record.entry.statement { item.append(("metadataStatement", statement.raw)) }
                        return .object(item)
                    })
            ))
        members.append(("roots", .array(entry.roots.map { .object([("subject", .string($0.subjectDescription)), ("sha256", .string(Hex.string($0.sha256Fingerprint)))]) })))
        return .object(members)
    }

    package static func family(_ family: ANSCardFamily, list: ListVersion) -> JSONValue {
        .object([
            ("family", .string(family.family)), ("description", .string(family.description)), ("list", .string(list.label)),
            ("decision", decision(family.decision, at: Date())),
            ("issuerCAs", .array(family.issuerCAs.map { .object([("name", .string($0.name)), ("sha256", .string(Hex.string($0.sha256)))]) })),
            ("atrPatterns", .array(family.atrPatterns.map { .object([("atr", .string(Hex.string($0.atr))), ("mask", .string(Hex.string($0.mask)))]) })),
        ])
    }

    package static func identifierText(_ identifier: AuthenticatorIdentifier) -> String {
        switch identifier {
        case .aaguid(let bytes): AAGUIDText.string(bytes)
        case .certificateKeyIdentifier(let bytes): Hex.string(bytes)
        }
    }
}

package func listJSON(_ version: ListVersion, at time: Date) -> JSONValue {
    .object([
        ("kind", .string(version.kind.rawValue)), ("label", .string(version.label)), ("number", .integer(version.number)),
        ("source", .string(version.source)), ("nextUpdate", .optional(version.nextUpdate)), ("stale", .bool(version.isStale(at: time))),
        ("entries", .integer(version.entryCount)), ("sha256", .string(version.sha256)), ("signer", .string(version.signer)),
        ("demo", .bool(version.demo)), ("storedId", version.id.map { JSONValue.integer($0) } ?? .null), ("importedAt", .optional(version.importedAt)),
    ])
}

