import AuthenticatorCatalog
import Foundation
import SignatureVerification
import WireFormat

/// What one check found. The status is decided at once; the sentence and the evidence are
/// written only when someone reads them (a report, the JSON), so deciding stays cheap.
public struct CheckOutcome: Sendable {
    public let kind: CheckKind
    public let status: CriterionStatus
    private let explainReason: @Sendable () -> String
    private let explainEvidence: @Sendable () -> [(String, JSONValue)]

    /// One sentence for people: why this status.
    public var reason: String { explainReason() }
    /// What the decision rests on (list version, status report, flag, certificate…).
    public var evidence: [(String, JSONValue)] { explainEvidence() }

    init(
        _ kind: CheckKind, _ status: CriterionStatus, _ reason: @autoclosure @escaping @Sendable () -> String,
        _ evidence: @autoclosure @escaping @Sendable () -> [(String, JSONValue)] = []
    ) {
        self.kind = kind
        self.status = status
        self.explainReason = reason
        self.explainEvidence = evidence
    }
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
    public let criteria: [CriterionResult]
    /// The AMR values the authenticator may carry: the derived set when accepted, else empty.
    public let amr: [String]
    /// What the rules derived, whatever the verdict (FI 41's evidence).
    public let derivedAMR: [String]
    /// Who or what was evaluated (names and statuses written when asked for).
    public var authenticator: EvaluatedAuthenticator { describe() }
    let describe: @Sendable () -> EvaluatedAuthenticator
    public let lists: [ListVersion]
    public let stale: Bool
    public let profile: (id: String, version: String, sha256: String)
    public let profileNote: String?
    public let time: Date

    /// Criteria that are not satisfied but only recommended: shown as warnings.
    public var warnings: [CriterionResult] {
        criteria.filter { $0.criterion.severity == .recommended && ($0.status == .notSatisfied || $0.status == .indeterminate) }
    }

    /// Writes the evaluation's members into the JSON object being written (the caller adds
    /// `verification`).
    public func writeMembers(to w: inout JSONWriter) {
        w.key("verdict")
        w.string(verdict.rawValue)
        w.key("criteria")
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
                    w.key("reason")
                    w.string(result.reason)
                    w.key("checks")
                    w.array { w in
                        for check in result.checks {
                            w.object { w in
                                w.key("check")
                                w.string(check.kind.rawValue)
                                w.key("status")
                                w.string(check.status.rawValue)
                                w.key("reason")
                                w.string(check.reason)
                            }
                        }
                    }
                    w.key("evidence")
                    JSONValue.object(result.evidence).write(to: &w)
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
        var members: [(String, JSONValue)] = [
            ("kind", .string(authenticator.kind)), ("identifier", .optional(authenticator.identifier)),
            ("aaguid", .optional(authenticator.aaguid)), ("attested", .bool(authenticator.attested)),
            ("description", .string(authenticator.description)),
        ]
        if let icon = authenticator.icon { members.append(("icon", .string(icon))) }
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
