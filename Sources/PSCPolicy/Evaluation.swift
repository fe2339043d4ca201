import AuthenticatorCatalog
import Foundation
import SignatureVerification
import WireFormat

/// What one check found. The status is decided during the evaluation; the sentence and the
/// evidence are written only when someone reads them (a report, the JSON): the check runs again
/// over the same facts, in its explaining mode, so deciding stays cheap.
public struct CheckOutcome: Sendable {
    public let kind: CheckKind
    public let status: CriterionStatus
    let context: CheckContext
    let criterion: Criterion
    let index: Int
    let others: Decided

    /// Why this status, and what the decision rests on (list version, status report, flag,
    /// certificate…).
    public var explanation: (reason: String, evidence: [(String, JSONValue)]) {
        Checks.run(criterion.checks[index], context, others: others, .explaining).explanation ?? ("", [])
    }

    /// One sentence for people: why this status.
    public var reason: String { explanation.reason }
    public var evidence: [(String, JSONValue)] { explanation.evidence }
}

/// One criterion's result: its checks combined (any not satisfied → not satisfied; else any
/// indeterminate → indeterminate; all not applicable → not applicable; else satisfied).
public struct CriterionResult: Sendable {
    public let criterion: Criterion
    public let status: CriterionStatus
    public let checks: [CheckOutcome]
    /// Evidence keys the profile requires that no check recorded.
    public let missingEvidence: [String]

    /// Every check's evidence, in check order (a key recorded twice keeps its first value).
    public var evidence: [(String, JSONValue)] {
        var seen = Set<String>()
        return checks.flatMap(\.evidence).filter { seen.insert($0.0).inserted }
    }

    /// The reasons of the checks that decided the status.
    public var reason: String {
        let deciding = checks.filter { $0.status == status }
        return (deciding.isEmpty ? checks : deciding).map(\.reason).joined(separator: "; ")
            + (missingEvidence.isEmpty ? "" : "; evidence missing: \(missingEvidence.joined(separator: ", "))")
    }

    /// Reason and evidence together, each check explained once (what reports and JSON use).
    public var explanation: (reason: String, evidence: [(String, JSONValue)]) {
        let explained = checks.map { ($0.status, $0.explanation) }
        let deciding = explained.filter { $0.0 == status }
        let reason = (deciding.isEmpty ? explained : deciding).map(\.1.reason).joined(separator: "; ")
            + (missingEvidence.isEmpty ? "" : "; evidence missing: \(missingEvidence.joined(separator: ", "))")
        var seen = Set<String>()
        return (reason, explained.flatMap(\.1.evidence).filter { seen.insert($0.0).inserted })
    }
}

/// The overall PSC verdict.
public enum Verdict: String, Sendable {
    case accepted
    case refused
    case indeterminate
}

/// Who or what was evaluated, for the report's header.
public struct EvaluatedAuthenticator: Sendable {
    /// `fido2` or `card`.
    public let kind: String
    /// AAGUID, attestation key identifier or card family.
    public let identifier: String?
    /// The AAGUID from authenticatorData (FIDO2), attested or not.
    public let aaguid: String?
    /// Whether the identifier is attested (covered by a trusted attestation signature).
    public let attested: Bool
    public let description: String
    /// A `data:` URL from the statement.
    public let icon: String?
    public let statusReports: [(status: String, effectiveDate: String?, list: String)]
    public let decision: (status: String, reference: String, since: String, list: String)?
    /// The attestation path (or the card's issuing CA), leaf first.
    let links: [ChainLink]

    enum ChainLink: Sendable {
        case certificate(Certificate)
        case named(subject: String, sha256: String)
    }

    /// The attestation path, leaf first (subject, SHA-256), for the report's diagram: names
    /// are printed when asked for, not on every evaluation.
    public var chain: [(subject: String, sha256: String)] {
        links.map { link in
            switch link {
            case .certificate(let certificate): (certificate.subjectDescription, Hex.string(certificate.sha256Fingerprint))
            case .named(let subject, let sha256): (subject, sha256)
            }
        }
    }
}

/// A whole evaluation: deterministic for the same facts, catalog, profile and time.
public struct Evaluation: Sendable {
    public let verdict: Verdict
    let statuses: [CriterionStatus]
    let checkStatuses: [CriterionStatus]
    let missingEvidence: [Int: [String]]
    let context: CheckContext

    /// Each criterion with its checks' outcomes, in the profile's order.
    public var criteria: [CriterionResult] {
        let profile = context.profile
        let decided = Decided(criteria: profile.criteria, statuses: statuses)
        return profile.criteria.enumerated().map { index, criterion in
            CriterionResult(
                criterion: criterion, status: statuses[index],
                checks: criterion.checks.indices.map { offset in
                    CheckOutcome(
                        kind: criterion.checks[offset].kind, status: checkStatuses[profile.checkOffsets[index] + offset], context: context,
                        criterion: criterion, index: offset, others: decided)
                },
                missingEvidence: missingEvidence[index] ?? [])
        }
    }
    /// The AMR values the authenticator may carry: the derived set when accepted, else empty.
    public let amr: [String]
    /// What the rules derived, whatever the verdict (FI 41's evidence).
    public let derivedAMR: [String]
    /// Who or what was evaluated (names and statuses written when asked for).
    public var authenticator: EvaluatedAuthenticator { context.summary }
    public let lists: [ListVersion]
    public let stale: Bool
    public let profile: (id: String, version: String, sha256: String)
    public let profileNote: String?
    public let time: Date

    /// Criteria that are not satisfied but only recommended: shown as warnings.
    public var warnings: [CriterionResult] {
        let criteria = self.criteria
        return criteria.filter { $0.criterion.severity == .recommended && ($0.status == .notSatisfied || $0.status == .indeterminate) }
    }

    /// Writes the evaluation's members into the JSON object being written (the caller adds
    /// `verification`).
    public func writeMembers(to w: inout JSONWriter) {
        w.key("verdict")
        w.string(verdict.rawValue)
        w.key("criteria")
        let criteria = self.criteria
        w.array { w in
            for result in criteria {
                w.object { w in
                    w.key("id")
                    w.string(result.criterion.id)
                    w.key("title")
                    w.string(result.criterion.title)
                    w.key("severity")
                    w.string(result.criterion.severity.rawValue)
                    w.key("status")
                    w.string(result.status.rawValue)
                    let explained = result.checks.map(\.explanation)
                    let deciding = zip(result.checks, explained).filter { $0.0.status == result.status }.map(\.1)
                    w.key("reason")
                    w.string(
                        (deciding.isEmpty ? explained : deciding).map(\.reason).joined(separator: "; ")
                            + (result.missingEvidence.isEmpty ? "" : "; evidence missing: \(result.missingEvidence.joined(separator: ", "))"))
                    w.key("checks")
                    w.array { w in
                        for (check, explanation) in zip(result.checks, explained) {
                            w.object { w in
                                w.key("check")
                                w.string(check.kind.rawValue)
                                w.key("status")
                                w.string(check.status.rawValue)
                                w.key("reason")
                                w.string(explanation.reason)
                            }
                        }
                    }
                    var seen = Set<String>()
                    w.key("evidence")
                    JSONValue.object(explained.flatMap(\.evidence).filter { seen.insert($0.0).inserted }).write(to: &w)
                }
            }
        }
        w.key("amr")
        JSONValue.strings(amr).write(to: &w)
        w.key("derivedAmr")
        JSONValue.strings(derivedAMR).write(to: &w)
        w.key("authenticator")
        authenticatorJSON.write(to: &w)
        w.key("referencing")
        JSONValue.object([
            ("lists", .array(lists.map(Self.listJSON))), ("stale", .bool(stale)),
        ]).write(to: &w)
        w.key("profile")
        JSONValue.object([("id", .string(profile.id)), ("version", .string(profile.version)), ("sha256", .string(profile.sha256))])
            .write(to: &w)
        w.key("evaluatedAt")
        w.string(time.formatted(.iso8601))
    }

    /// The evaluation alone as one JSON object.
    public var json: [UInt8] {
        var w = JSONWriter()
        w.object { w in writeMembers(to: &w) }
        return w.bytes
    }

    var authenticatorJSON: JSONValue {
        // Computed from the context on each read: read once.
        let authenticator = self.authenticator
        var members: [(String, JSONValue)] = [
            ("kind", .string(authenticator.kind)), ("identifier", .optional(authenticator.identifier)),
            ("aaguid", .optional(authenticator.aaguid)), ("attested", .bool(authenticator.attested)),
            ("description", .string(authenticator.description)),
        ]
        members.append(
            (
                "statusReports",
                .array(
                    authenticator.statusReports.map {
                        .object([("status", .string($0.status)), ("effectiveDate", .optional($0.effectiveDate)), ("list", .string($0.list))])
                    })
            ))
        if let decision = authenticator.decision {
            members.append(
                (
                    "ansDecision",
                    .object([
                        ("status", .string(decision.status)), ("reference", .string(decision.reference)), ("since", .string(decision.since)),
                        ("list", .string(decision.list)),
                    ])
                ))
        }
        members.append(("chain", .array(authenticator.chain.map { .object([("subject", .string($0.subject)), ("sha256", .string($0.sha256))]) })))
        return .object(members)
    }

    static func listJSON(_ list: ListVersion) -> JSONValue {
        .object([
            ("kind", .string(list.kind.rawValue)), ("label", .string(list.label)), ("number", .integer(list.number)),
            ("source", .string(list.source)), ("nextUpdate", .optional(list.nextUpdate)), ("sha256", .string(list.sha256)),
            ("demo", .bool(list.demo)), ("storedId", list.id.map { JSONValue.integer($0) } ?? .null),
        ])
    }
}
