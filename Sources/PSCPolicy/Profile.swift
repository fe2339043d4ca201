import AuthenticatorCatalog
import Foundation
import SignatureVerification
import WireFormat

/// The result of one criterion (or one check).
public enum CriterionStatus: String, Sendable, CaseIterable {
    case satisfied
    case notSatisfied = "not_satisfied"
    case notApplicable = "not_applicable"
    /// The evidence needed to decide is missing.
    case indeterminate
}

/// The checks a profile can name. Each one decides from the facts, the catalog and the time;
/// its thresholds come from the profile (`CheckReference.parameters`).
public enum CheckKind: String, Sendable, CaseIterable {
    case attestationTrustedByCatalog = "attestation.trusted-by-catalog"
    case ansReferenced = "referencing.ans-referenced"
    case mdsStatus = "mds.status"
    case listsFresh = "referencing.fresh"
    case userPresent = "flags.user-present"
    case userVerified = "flags.user-verified"
    case userVerificationCapable = "uv.capable"
    case keyProtection = "key.protection"
    case notSynced = "credential.not-synced"
    case algorithmAllowed = "algorithm.allowed"
    case originBound = "ceremony.origin-bound"
    case identityBound = "enrolment.identity-bound"
    case amrDerived = "amr.derived"
    case tokenClaims = "token.claims"
    case authTime = "session.auth-time"
    case traceListVersions = "trace.list-versions"
    case reportComplete = "report.complete"
    case cardChain = "card.chain"
    case cardNotRevoked = "card.not-revoked"
    case cardFamilyReferenced = "card.family-referenced"
    case cardIssuedByANS = "card.issued-by-ans"
    case cardPINVerified = "card.pin-verified"
    case cardPossession = "card.possession"

    /// Evidence keys the check records in every satisfied outcome, so a profile's required
    /// evidence can be confirmed without writing it (a test holds every satisfied outcome to
    /// this); other keys are confirmed by running the check in its evidence mode.
    var keysWhenSatisfied: Set<String> { Self.satisfiedKeys[self] ?? [] }

    private static let satisfiedKeys: [CheckKind: Set<String>] = [
        .algorithmAllowed: ["algorithm"], .amrDerived: ["amr"],
        .attestationTrustedByCatalog: ["format", "attestationType", "authenticator", "root", "rootSHA256", "catalogEntry"],
        .ansReferenced: ["ansList", "reference", "decision", "since"], .mdsStatus: ["mdsList", "status", "certification"],
    ]

    enum ParameterType {
        case string, strings, integer, bool, stringMap
    }

    /// The parameters each check reads, and whether the profile must give them.
    var parameters: [String: (type: ParameterType, required: Bool)] {
        switch self {
        case .mdsStatus: ["minimumLevel": (.string, true), "equivalents": (.stringMap, false), "negative": (.strings, true)]
        case .listsFresh: ["kinds": (.strings, false)]
        case .userVerificationCapable: ["presenceOnlyMethods": (.strings, true)]
        case .keyProtection: ["anyOf": (.strings, true)]
        case .algorithmAllowed: ["algorithms": (.strings, true), "minimumRSABits": (.integer, true), "cardKeyTypes": (.strings, false)]
        case .identityBound: ["acceptedEvidence": (.strings, true), "refusedEvidence": (.strings, false)]
        case .tokenClaims: ["required": (.strings, true)]
        case .authTime: ["maximumAgeSeconds": (.integer, true)]
        case .reportComplete: ["refuseDemoLists": (.bool, false)]
        default: [:]
        }
    }
}

/// One check as a criterion names it, with its thresholds (decoded once, when the profile is
/// read: an evaluation only looks them up).
public final class CheckReference: Sendable {
    public let kind: CheckKind
    /// What the check says when the facts it needs were not supplied at all (deployment facts
    /// in an offline evaluation): `indeterminate` by default.
    public let whenMissing: CriterionStatus
    public let parameters: [String: JSONValue]
    private let lists: [String: [String]]
    private let sets: [String: Set<String>]
    private let maps: [String: [String: String]]
    private let integers: [String: Int64]

    // The parameters the checks read, typed once (an evaluation does no name lookups).
    let minimumLevel: String
    let minimumRank: Int
    let equivalents: [String: String]
    let negative: Set<String>
    let kinds: Set<String>
    let presenceOnlyMethods: Set<String>
    let anyOf: Set<String>
    let algorithms: Set<String>
    let minimumRSABits: Int
    let cardKeyTypes: [String]
    let acceptedEvidence: Set<String>
    /// Identity evidence the profile knows and does not accept; evidence in neither list is
    /// not decided (indeterminate), never quietly not applicable.
    let refusedEvidence: Set<String>
    let requiredClaims: [String]
    let maximumAgeSeconds: Int64
    let refuseDemoLists: Bool

    init(kind: CheckKind, whenMissing: CriterionStatus, parameters: [String: JSONValue]) {
        self.kind = kind
        self.whenMissing = whenMissing
        self.parameters = parameters
        var lists: [String: [String]] = [:]
        var maps: [String: [String: String]] = [:]
        var integers: [String: Int64] = [:]
        for (name, value) in parameters {
            if let integer = value.integer { integers[name] = integer }
            if let strings = value.strings { lists[name] = strings }
            if let members = value.members {
                var map: [String: String] = [:]
                for (key, item) in members { map[key] = item.string }
                maps[name] = map
            }
        }
        self.lists = lists
        self.sets = lists.mapValues(Set.init)
        self.maps = maps
        self.integers = integers
        let sets = self.sets
        minimumLevel = parameters["minimumLevel"]?.string ?? "FIDO_CERTIFIED_L1"
        minimumRank = AuthenticatorStatus.certificationRank(minimumLevel) ?? 10
        equivalents = maps["equivalents"] ?? [:]
        negative = sets["negative"] ?? []
        kinds = sets["kinds"] ?? []
        presenceOnlyMethods = sets["presenceOnlyMethods"] ?? []
        anyOf = sets["anyOf"] ?? []
        algorithms = sets["algorithms"] ?? []
        minimumRSABits = Int(clamping: integers["minimumRSABits"] ?? 2048)
        cardKeyTypes = lists["cardKeyTypes"] ?? []
        acceptedEvidence = sets["acceptedEvidence"] ?? []
        refusedEvidence = sets["refusedEvidence"] ?? []
        requiredClaims = lists["required"] ?? []
        maximumAgeSeconds = integers["maximumAgeSeconds"] ?? 14_400
        refuseDemoLists = parameters["refuseDemoLists"]?.bool ?? false
    }

    func string(_ name: String) -> String? { parameters[name]?.string }
    func strings(_ name: String) -> [String] { lists[name] ?? [] }
    func set(_ name: String) -> Set<String> { sets[name] ?? [] }
    func integer(_ name: String) -> Int64? { integers[name] }
    func bool(_ name: String) -> Bool? { parameters[name]?.bool }
    func stringMap(_ name: String) -> [String: String] { maps[name] ?? [:] }
}

/// A criterion of the profile: an id exactly as the referential writes it, the checks that
/// decide it and the evidence its report must show.
public final class Criterion: Sendable {
    public enum Severity: String, Sendable {
        /// Not satisfied: the authenticator is refused; indeterminate: the verdict is too.
        case required
        /// Reported, shown as a warning, not part of the verdict.
        case recommended
    }

    public let id: String
    public let title: String
    public let topic: String?
    public let severity: Severity
    public let checks: [CheckReference]
    /// Evidence keys the criterion must record; one missing makes it indeterminate.
    public let evidence: [String]
    /// Whether it judges the other criteria (report.complete), so runs after them.
    let summarises: Bool

    init(id: String, title: String, topic: String?, severity: Severity, checks: [CheckReference], evidence: [String]) {
        self.id = id
        self.title = title
        self.topic = topic
        self.severity = severity
        self.checks = checks
        self.evidence = evidence
        self.summarises = checks.contains { $0.kind == .reportComplete }
    }
}

/// One AMR rule: when every condition holds, its values are added (in order).
public struct AMRRule: Sendable {
    public let subject: String?
    public let userVerified: Bool?
    public let uvMethodsOnly: [String]?
    let uvMethodsOnlySet: Set<String>?
    public let pinVerified: Bool?
    public let possessionProven: Bool?
    public let add: [String]

    init(subject: String?, userVerified: Bool?, uvMethodsOnly: [String]?, pinVerified: Bool?, possessionProven: Bool?, add: [String]) {
        self.subject = subject
        self.userVerified = userVerified
        self.uvMethodsOnly = uvMethodsOnly
        self.uvMethodsOnlySet = uvMethodsOnly.map(Set.init)
        self.pinVerified = pinVerified
        self.possessionProven = possessionProven
        self.add = add
    }
}

/// An `acr` value the OpenID Provider may send (profile `acr.values`): it applies to a sign-in
/// whose credential is PSC-accepted and whose AMR hold every value of `requiresAMR`.
public struct ACRValue: Sendable, Equatable {
    public let value: String
    public let requiresAMR: [String]
    public let description: String?

    public func applies(acceptable: Bool, amr: [String]) -> Bool {
        acceptable && requiresAMR.allSatisfy(amr.contains)
    }
}

/// A PSC policy profile: criteria as data (`Profiles/psc-2026.json`), versioned.
public final class Profile: Sendable {
    public let id: String
    public let version: String
    /// `id version`, as audit events and reports name the profile.
    public let label: String
    public let title: String
    public let note: String?
    public let changes: [(version: String, date: String, summary: String)]
    public let criteria: [Criterion]
    public let amrAllowed: [String]
    let amrAllowedSet: Set<String>
    public let amrRules: [AMRRule]
    /// The acr values, in order of preference (empty: the provider sends none).
    public let acrValues: [ACRValue]
    /// Whether some AMR rule looks at the statement's user verification methods.
    let amrReadsMethods: Bool
    /// SHA-256 of the profile document (hex): which exact profile decided.
    public let sha256: String
    /// Where each criterion's checks start in a flat array of check statuses.
    let checkOffsets: [Int]
    let checkCount: Int
    var hasSummarisingCriteria: Bool { criteria.contains(where: \.summarises) }


    init(
        id: String, version: String, title: String, note: String?, changes: [(version: String, date: String, summary: String)], criteria: [Criterion], amrAllowed: [String], amrAllowedSet: Set<String>, amrRules: [AMRRule], acrValues: [ACRValue] = [], amrReadsMethods: Bool, sha256: String, checkOffsets: [Int], checkCount: Int
    ) {
        self.id = id
        self.version = version
        label = "\(id) \(version)"
        self.title = title
        self.note = note
        self.changes = changes
        self.criteria = criteria
        self.amrAllowed = amrAllowed
        self.amrAllowedSet = amrAllowedSet
        self.amrRules = amrRules
        self.acrValues = acrValues
        self.amrReadsMethods = amrReadsMethods
        self.sha256 = sha256
        self.checkOffsets = checkOffsets
        self.checkCount = checkCount
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// `profile.malformed`, `profile.unknown-check`, `profile.parameter`.
        public let code: String
        public let message: String
        public var description: String { "\(code): \(message)" }
    }

    public static let maximumSize = 1024 * 1024

    /// The profile this build ships (Resources/Profiles/psc-2026.json, also at Profiles/).
    public static func bundled() throws(Failure) -> Profile {
        guard let url = Bundle.module.url(forResource: "psc-2026", withExtension: "json", subdirectory: "Profiles"),
            let data = FileManager.default.contents(atPath: url.path)
        else { throw Failure(code: "profile.malformed", message: "the bundled profile is missing from this build") }
        return try parse(Array(data))
    }

    public static func parse(_ bytes: [UInt8]) throws(Failure) -> Profile {
        guard bytes.count <= maximumSize else { throw Failure(code: "profile.malformed", message: "the profile is larger than 1 MiB") }
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes, document: "the profile")
        } catch {
            throw Failure(code: "profile.malformed", message: error.message)
        }
        return try ProfileReader(digest: Hex.string(Digest.sha256(bytes))).profile(value)
    }
}

struct ProfileReader {
    let digest: String

    func fail(_ path: String, _ message: String, code: String = "profile.malformed") -> Profile.Failure {
        Profile.Failure(code: code, message: "\(path) \(message)")
    }

    func members(_ value: JSONValue, _ path: String, _ allowed: Set<String>) throws(Profile.Failure) -> [(String, JSONValue)] {
        guard let members = value.members else { throw fail(path, "must be an object") }
        for (key, _) in members where !allowed.contains(key) { throw fail("\(path).\(key)", "is not a member of a profile") }
        return members
    }

    func string(_ value: JSONValue?, _ path: String) throws(Profile.Failure) -> String {
        guard let text = value?.string, !text.isEmpty else { throw fail(path, "is required (a non-empty string)") }
        return text
    }

    func profile(_ value: JSONValue) throws(Profile.Failure) -> Profile {
        _ = try members(value, "profile", ["profile", "version", "title", "note", "changes", "criteria", "amr", "acr"])
        var changes: [(String, String, String)] = []
        for (index, change) in (value["changes"]?.array ?? []).enumerated() {
            let at = "changes[\(index)]"
            _ = try members(change, at, ["version", "date", "summary"])
            changes.append((try string(change["version"], "\(at).version"), try string(change["date"], "\(at).date"), try string(change["summary"], "\(at).summary")))
        }
        guard let list = value["criteria"]?.array, !list.isEmpty else { throw fail("criteria", "is required (a non-empty array)") }
        var criteria: [Criterion] = []
        var ids = Set<String>()
        for (index, item) in list.enumerated() {
            let criterion = try self.criterion(item, "criteria[\(index)]")
            guard ids.insert(criterion.id).inserted else { throw fail("criteria[\(index)].id", "repeats \(criterion.id)") }
            criteria.append(criterion)
        }
        guard let amr = value["amr"] else { throw fail("amr", "is required") }
        _ = try members(amr, "amr", ["allowed", "rules"])
        guard let allowed = amr["allowed"]?.strings, !allowed.isEmpty else { throw fail("amr.allowed", "is required (strings)") }
        var rules: [AMRRule] = []
        for (index, rule) in (amr["rules"]?.array ?? []).enumerated() {
            rules.append(try self.rule(rule, "amr.rules[\(index)]"))
        }
        var acrValues: [ACRValue] = []
        if let acr = value["acr"] {
            _ = try members(acr, "acr", ["note", "values"])
            for (index, item) in (acr["values"]?.array ?? []).enumerated() {
                let at = "acr.values[\(index)]"
                _ = try members(item, at, ["value", "requiresAMR", "description"])
                let name = try string(item["value"], "\(at).value")
                guard let required = item["requiresAMR"]?.strings else { throw fail("\(at).requiresAMR", "is required (strings)") }
                for amrValue in required where !allowed.contains(amrValue) {
                    throw fail("\(at).requiresAMR", "names \(amrValue), which amr.allowed does not list")
                }
                guard !acrValues.contains(where: { $0.value == name }) else { throw fail("\(at).value", "repeats \(name)") }
                acrValues.append(ACRValue(value: name, requiresAMR: required, description: item["description"]?.string))
            }
        }
        return Profile(
            id: try string(value["profile"], "profile"), version: try string(value["version"], "version"),
            title: try string(value["title"], "title"), note: value["note"]?.string,
            changes: changes.map { (version: $0.0, date: $0.1, summary: $0.2) }, criteria: criteria, amrAllowed: allowed,
            amrAllowedSet: Set(allowed), amrRules: rules, acrValues: acrValues, amrReadsMethods: rules.contains { $0.uvMethodsOnly != nil }, sha256: digest,
            checkOffsets: criteria.reduce(into: [Int]()) { offsets, criterion in
                offsets.append((offsets.last ?? 0) + (offsets.isEmpty ? 0 : criteria[offsets.count - 1].checks.count))
            }, checkCount: criteria.reduce(0) { $0 + $1.checks.count })
    }

    func criterion(_ value: JSONValue, _ path: String) throws(Profile.Failure) -> Criterion {
        _ = try members(value, path, ["id", "title", "topic", "severity", "checks", "evidence"])
        let severityText = value["severity"]?.string ?? "required"
        guard let severity = Criterion.Severity(rawValue: severityText) else { throw fail("\(path).severity", "must be required or recommended") }
        guard let list = value["checks"]?.array, !list.isEmpty else { throw fail("\(path).checks", "is required (a non-empty array)") }
        var checks: [CheckReference] = []
        for (index, item) in list.enumerated() {
            checks.append(try check(item, "\(path).checks[\(index)]"))
        }
        guard value["evidence"] == nil || value["evidence"]?.strings != nil else { throw fail("\(path).evidence", "must be an array of strings") }
        return Criterion(
            id: try string(value["id"], "\(path).id"), title: try string(value["title"], "\(path).title"), topic: value["topic"]?.string,
            severity: severity, checks: checks, evidence: value["evidence"]?.strings ?? [])
    }

    func check(_ value: JSONValue, _ path: String) throws(Profile.Failure) -> CheckReference {
        if let name = value.string {
            guard let kind = CheckKind(rawValue: name) else { throw fail(path, "names an unknown check \(name)", code: "profile.unknown-check") }
            return try reference(kind, [], path)
        }
        guard let members = value.members, let name = value["check"]?.string else { throw fail(path, "must be a check name or {\"check\": …}") }
        guard let kind = CheckKind(rawValue: name) else { throw fail(path, "names an unknown check \(name)", code: "profile.unknown-check") }
        return try reference(kind, members.filter { $0.0 != "check" }, path)
    }

    func reference(_ kind: CheckKind, _ members: [(String, JSONValue)], _ path: String) throws(Profile.Failure) -> CheckReference {
        var whenMissing = CriterionStatus.indeterminate
        var parameters: [String: JSONValue] = [:]
        for (key, value) in members {
            if key == "whenMissing" {
                guard let text = value.string, let status = CriterionStatus(rawValue: text), status == .indeterminate || status == .notApplicable
                else { throw fail("\(path).whenMissing", "must be indeterminate or not_applicable") }
                whenMissing = status
                continue
            }
            guard let (type, _) = kind.parameters[key] else {
                throw fail("\(path).\(key)", "is not a parameter of \(kind.rawValue)", code: "profile.parameter")
            }
            let fits: Bool =
                switch type {
                case .string: value.string != nil
                case .strings: value.strings != nil
                case .integer: value.integer != nil
                case .bool: value.bool != nil
                case .stringMap: value.members?.allSatisfy { $0.1.string != nil } ?? false
                }
            guard fits else { throw fail("\(path).\(key)", "has the wrong type for \(kind.rawValue)", code: "profile.parameter") }
            parameters[key] = value
        }
        for (name, spec) in kind.parameters where spec.required && parameters[name] == nil {
            throw fail("\(path).\(name)", "is required by \(kind.rawValue)", code: "profile.parameter")
        }
        if kind == .mdsStatus, let level = parameters["minimumLevel"]?.string, AuthenticatorStatus.certificationRank(level) == nil {
            throw fail("\(path).minimumLevel", "is not a FIDO certification level", code: "profile.parameter")
        }
        return CheckReference(kind: kind, whenMissing: whenMissing, parameters: parameters)
    }

    func rule(_ value: JSONValue, _ path: String) throws(Profile.Failure) -> AMRRule {
        _ = try members(value, path, ["when", "add"])
        guard let add = value["add"]?.strings, !add.isEmpty else { throw fail("\(path).add", "is required (strings)") }
        let when = value["when"] ?? .object([])
        _ = try members(when, "\(path).when", ["subject", "userVerified", "uvMethodsOnly", "pinVerified", "possessionProven"])
        if let subject = when["subject"], subject.string != "fido2" && subject.string != "card" {
            throw fail("\(path).when.subject", "must be fido2 or card")
        }
        for flag in ["userVerified", "pinVerified", "possessionProven"] where when[flag] != nil && when[flag]?.bool == nil {
            throw fail("\(path).when.\(flag)", "must be a boolean")
        }
        if when["uvMethodsOnly"] != nil && when["uvMethodsOnly"]?.strings == nil {
            throw fail("\(path).when.uvMethodsOnly", "must be an array of strings")
        }
        return AMRRule(
            subject: when["subject"]?.string, userVerified: when["userVerified"]?.bool, uvMethodsOnly: when["uvMethodsOnly"]?.strings,
            pinVerified: when["pinVerified"]?.bool, possessionProven: when["possessionProven"]?.bool, add: add)
    }
}

