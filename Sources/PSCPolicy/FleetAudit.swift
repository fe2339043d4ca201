import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import Mustache
import WireFormat

/// The FIDO2 credentials an IAM already holds, judged under the lists in force: which people
/// hold an accepted MIE, which models are refused or unknown, and why. Read from what the IAMs
/// export themselves: Microsoft Graph's `fido2Methods` and Keycloak's credentials (a realm export
/// or rows of its `credential` table).
///
/// The IAM keeps no attestation object, only what the key claimed (its AAGUID) and, for Entra,
/// whether Entra verified an attestation: a model is judged by its standing on the lists, and an
/// unattested key's AAGUID is a claim the audit does not take.
public enum FleetAudit {
    public enum Source: String, Sendable, CaseIterable {
        case entra, keycloak
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// One credential as the IAM exported it.
    public struct Credential: Sendable, Equatable {
        public let person: String
        public let id: String
        /// As the IAM recorded it, lower case; nil when it has none.
        public let aaguid: String?
        /// The IAM's own name for the model.
        public let model: String?
        /// Whether the IAM verified an attestation at registration (nil: it does not say).
        public let attested: Bool?
        public let createdAt: String?
    }

    public enum Standing: String, Sendable, CaseIterable {
        case accepted, refused, unknown
    }

    public struct Finding: Sendable {
        public let credential: Credential
        public let standing: Standing
        public let reason: String
        /// The model as the lists name it.
        public let listedModel: String?
    }

    // MARK: Reading

    /// Reads an export, its source detected when not given.
    public static func read(_ bytes: [UInt8], source: Source? = nil) throws(Failure) -> [Credential] {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes, document: "the export", maximumDepth: 32)
        } catch {
            throw Failure(message: "the export is not JSON: \(error.message)")
        }
        switch source ?? detect(value) {
        case .entra: return try entra(value)
        case .keycloak: return try keycloak(value)
        case nil: throw Failure(message: "neither a Microsoft Graph fido2Methods export nor a Keycloak credential export (give --from)")
        }
    }

    static func detect(_ value: JSONValue) -> Source? {
        if value["users"] != nil { return .keycloak }
        let items = value["value"]?.array ?? value.array ?? []
        guard let first = items.first else { return nil }
        if first["credential_data"] != nil || first["credentialData"] != nil || first["credentials"] != nil { return .keycloak }
        if first["aaGuid"] != nil || first["fido2Methods"] != nil || first["methods"] != nil { return .entra }
        return nil
    }

    static func text(_ value: JSONValue?) -> String? {
        guard let text = value?.string, !text.isEmpty else { return nil }
        return text
    }

    /// Graph `fido2AuthenticationMethod` objects (`id`, `displayName`, `aaGuid`, `model`,
    /// `attestationLevel`, `createdDateTime`): either grouped per user (`{userPrincipalName,
    /// fido2Methods: [...]}`, as a script collecting `/users/{id}/authentication/fido2Methods`
    /// writes them) or flat, each with its `userPrincipalName`; in an array or a `value` page.
    static func entra(_ value: JSONValue) throws(Failure) -> [Credential] {
        guard let items = value["value"]?.array ?? value.array else { throw Failure(message: "an Entra export is an array or a Graph page ({\"value\": [...]})") }
        var credentials: [Credential] = []
        func method(_ item: JSONValue, person: String?, index: Int) throws(Failure) -> Credential {
            guard let person = person ?? text(item["userPrincipalName"]) ?? text(item["userId"]) else {
                throw Failure(message: "method \(index) names no user (userPrincipalName)")
            }
            let level = text(item["attestationLevel"])
            return Credential(
                person: person, id: text(item["id"]) ?? "method \(index)", aaguid: text(item["aaGuid"])?.lowercased(),
                model: text(item["model"]) ?? text(item["displayName"]), attested: level.map { $0 == "attested" }, createdAt: text(item["createdDateTime"]))
        }
        for (index, item) in items.enumerated() {
            if let methods = item["fido2Methods"]?.array ?? item["methods"]?.array {
                let person = text(item["userPrincipalName"]) ?? text(item["id"])
                for (offset, entry) in methods.enumerated() { credentials.append(try method(entry, person: person, index: offset)) }
            } else {
                credentials.append(try method(item, person: nil, index: index))
            }
        }
        return credentials
    }

    /// Keycloak credentials of type `webauthn` or `webauthn-passwordless`: a realm export
    /// (`users[].credentials[]`, `credentialData` a JSON string) or rows of the `credential`
    /// table (`user_id`, `type`, `credential_data`). The credential data carries the AAGUID and
    /// the attestation format the key used.
    static func keycloak(_ value: JSONValue) throws(Failure) -> [Credential] {
        var rows: [(person: String, credential: JSONValue)] = []
        if let users = value["users"]?.array {
            for user in users {
                let person = text(user["username"]) ?? text(user["email"]) ?? text(user["id"]) ?? "?"
                for credential in user["credentials"]?.array ?? [] { rows.append((person, credential)) }
            }
        } else if let items = value["value"]?.array ?? value.array {
            for item in items {
                if let credentials = item["credentials"]?.array {
                    let person = text(item["username"]) ?? text(item["id"]) ?? "?"
                    for credential in credentials { rows.append((person, credential)) }
                } else {
                    rows.append((text(item["username"]) ?? text(item["user_id"]) ?? text(item["userId"]) ?? "?", item))
                }
            }
        } else {
            throw Failure(message: "a Keycloak export is a realm export ({\"users\": [...]}) or an array of credential rows")
        }
        var credentials: [Credential] = []
        for (index, row) in rows.enumerated() {
            guard let type = text(row.credential["type"]), type.hasPrefix("webauthn") else { continue }
            guard let data = text(row.credential["credentialData"]) ?? text(row.credential["credential_data"]) else {
                throw Failure(message: "credential \(index) of \(row.person) has no credential data")
            }
            let parsed: JSONValue
            do {
                parsed = try JSONValue.parse(Array(data.utf8), document: "credential data", maximumDepth: 8)
            } catch {
                throw Failure(message: "credential \(index) of \(row.person): its credential data is not JSON")
            }
            let format = text(parsed["attestationStatementFormat"])
            credentials.append(
                Credential(
                    person: row.person, id: text(row.credential["id"]) ?? text(parsed["credentialId"]) ?? "credential \(index)",
                    aaguid: text(parsed["aaguid"])?.lowercased(), model: text(row.credential["userLabel"]) ?? text(row.credential["user_label"]),
                    attested: format.map { $0 != "none" }, createdAt: row.credential["createdDate"]?.integer.map { String($0) }))
        }
        return credentials
    }

    // MARK: Judging

    static let zeroAAGUID = "00000000-0000-0000-0000-000000000000"

    /// Each credential judged by its model's standing at `time`.
    public static func judge(_ credentials: [Credential], catalog: CatalogSnapshot, at time: Date, progress: ((Int) -> Void)? = nil) -> [Finding] {
        let (accepted, excluded) = IAMPolicyExport.models(catalog, at: time)
        let acceptedByAAGUID = Dictionary(accepted.map { ($0.aaguid, $0) }, uniquingKeysWith: { first, _ in first })
        let excludedByAAGUID = Dictionary(excluded.compactMap { item in item.aaguid.map { ($0, item) } }, uniquingKeysWith: { first, _ in first })
        var findings: [Finding] = []
        findings.reserveCapacity(credentials.count)
        for (index, credential) in credentials.enumerated() {
            if index % 1000 == 0 { progress?(index) }
            findings.append(judge(credential, catalog: catalog, accepted: acceptedByAAGUID, excluded: excludedByAAGUID))
        }
        progress?(credentials.count)
        return findings
    }

    static func judge(
        _ credential: Credential, catalog: CatalogSnapshot, accepted: [String: IAMPolicyExport.Model], excluded: [String: IAMPolicyExport.Exclusion]
    ) -> Finding {
        guard let aaguid = credential.aaguid, aaguid != zeroAAGUID, let bytes = AAGUIDText.bytes(aaguid) else {
            return Finding(credential: credential, standing: .unknown, reason: "the key reported no AAGUID: its model cannot be known", listedModel: nil)
        }
        if let model = accepted[aaguid] {
            guard credential.attested != false else {
                return Finding(
                    credential: credential, standing: .refused,
                    reason: "the IAM verified no attestation: the AAGUID is the key's claim (enforce attestation and enrol it again)",
                    listedModel: model.description)
            }
            let firmware = model.acceptedFirmware.map { "; the ANS accepts firmware \($0.map(String.init).joined(separator: ", ")) only, which the export does not show" } ?? ""
            return Finding(credential: credential, standing: .accepted, reason: "referenced by the ANS list\(firmware)", listedModel: model.description)
        }
        if let exclusion = excluded[aaguid] {
            return Finding(credential: credential, standing: .refused, reason: exclusion.reason, listedModel: exclusion.description)
        }
        if let entry = catalog.entry(for: .aaguid(bytes)) {
            return Finding(credential: credential, standing: .refused, reason: "known to FIDO MDS but not referenced by the ANS list", listedModel: entry.description)
        }
        return Finding(credential: credential, standing: .unknown, reason: "in no list in force", listedModel: nil)
    }

    // MARK: Report

    public struct Report: Sendable {
        public let findings: [Finding]
        public let lists: [String]
        public let generatedAt: Date

        public init(findings: [Finding], lists: [String], generatedAt: Date) {
            self.findings = findings
            self.lists = lists
            self.generatedAt = generatedAt
        }

        public func count(_ standing: Standing) -> Int { findings.filter { $0.standing == standing }.count }

        /// Per model (AAGUID) and outcome (one model's keys may be accepted, and refused where
        /// the IAM verified no attestation), most credentials first.
        public var models: [(aaguid: String, name: String, standing: Standing, reason: String, count: Int, people: Int)] {
            struct Key: Hashable {
                let aaguid: String
                let standing: Standing
                let reason: String
            }
            var groups: [Key: [Finding]] = [:]
            for finding in findings {
                groups[Key(aaguid: finding.credential.aaguid ?? "none", standing: finding.standing, reason: finding.reason), default: []].append(finding)
            }
            return groups.map { key, items in
                let first = items[0]
                return (
                    key.aaguid, first.listedModel ?? first.credential.model ?? "unnamed", key.standing, key.reason, items.count,
                    Set(items.map(\.credential.person)).count
                )
            }.sorted { ($0.count, $1.aaguid, $1.reason) > ($1.count, $0.aaguid, $0.reason) }
        }

        /// Per person: accepted when they hold at least one accepted credential.
        public var people: [(person: String, standing: Standing, findings: [Finding])] {
            var groups: [String: [Finding]] = [:]
            var order: [String] = []
            for finding in findings {
                if groups[finding.credential.person] == nil { order.append(finding.credential.person) }
                groups[finding.credential.person, default: []].append(finding)
            }
            return order.sorted().map { person in
                let items = groups[person] ?? []
                let standing: Standing =
                    items.contains { $0.standing == .accepted } ? .accepted : items.contains { $0.standing == .refused } ? .refused : .unknown
                return (person, standing, items)
            }
        }

        public var json: JSONValue {
            let people = self.people
            return .object([
                ("format", .string("mie-verifier/fleet-audit/1")), ("generatedAt", .string(generatedAt.formatted(.iso8601))), ("lists", .strings(lists)),
                (
                    "summary",
                    .object([
                        ("credentials", .integer(findings.count)), ("accepted", .integer(count(.accepted))), ("refused", .integer(count(.refused))),
                        ("unknown", .integer(count(.unknown))), ("people", .integer(people.count)),
                        ("peopleWithAnAcceptedKey", .integer(people.filter { $0.standing == .accepted }.count)),
                    ])
                ),
                ("models", .array(models.map { model in
                    .object([
                        ("aaguid", .string(model.aaguid)), ("model", .string(model.name)), ("standing", .string(model.standing.rawValue)),
                        ("reason", .string(model.reason)), ("credentials", .integer(model.count)), ("people", .integer(model.people)),
                    ])
                })),
                ("people", .array(people.map { person in
                    .object([
                        ("person", .string(person.person)), ("standing", .string(person.standing.rawValue)),
                        ("credentials", .array(person.findings.map { finding in
                            .object([
                                ("id", .string(finding.credential.id)), ("aaguid", .optional(finding.credential.aaguid)),
                                ("model", .optional(finding.listedModel ?? finding.credential.model)), ("standing", .string(finding.standing.rawValue)),
                                ("reason", .string(finding.reason)),
                            ])
                        })),
                    ])
                })),
            ])
        }

        /// The report as a page, in the conformity report's look (Reports/fleet.html.mustache).
        public func html(tool: String) throws(Failure) -> String {
            let template: MustacheTemplate
            do {
                template = try ConformityReport.template("fleet.html")
            } catch {
                throw Failure(message: error.message)
            }
            let people = self.people
            let values: [String: Any] = [
                "tool": tool, "generatedAt": generatedAt.formatted(.iso8601), "lists": lists.joined(separator: ", "),
                "total": findings.count, "accepted": count(.accepted), "refused": count(.refused), "unknown": count(.unknown),
                "people": people.count, "peopleAccepted": people.filter { $0.standing == .accepted }.count,
                "models": models.map { model -> [String: Any] in
                    [
                        "aaguid": model.aaguid, "name": model.name, "standing": model.standing.rawValue, "reason": model.reason, "count": model.count,
                        "holders": model.people,
                    ]
                },
                "persons": people.map { person -> [String: Any] in
                    [
                        "person": person.person, "standing": person.standing.rawValue,
                        "credentials": person.findings.map { finding -> [String: Any] in
                            [
                                "model": finding.listedModel ?? finding.credential.model ?? "unnamed", "aaguid": finding.credential.aaguid ?? "none",
                                "standing": finding.standing.rawValue, "reason": finding.reason,
                            ]
                        },
                    ]
                },
            ]
            return template.render(values)
        }
    }
}
