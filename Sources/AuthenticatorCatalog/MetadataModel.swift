import AuthenticatorVerification
import Foundation
import WireFormat

/// FIDO Metadata Service v3 status values (MDS3 §3.1.4, AuthenticatorStatus).
public enum AuthenticatorStatus: Sendable, Hashable, CustomStringConvertible {
    case notFIDOCertified
    case fidoCertified
    case userVerificationBypass
    case attestationKeyCompromise
    case userKeyRemoteCompromise
    case userKeyPhysicalCompromise
    case updateAvailable
    case revoked
    case selfAssertionSubmitted
    /// FIDO_CERTIFIED_L1 … L3plus as a rank: L1 = 10, L1plus = 11, L2 = 20, …, L3plus = 31.
    case certified(level: Int, name: String)
    case fipsCertified(String)
    case other(String)

    public init(_ text: String) {
        switch text {
        case "NOT_FIDO_CERTIFIED": self = .notFIDOCertified
        case "FIDO_CERTIFIED": self = .fidoCertified
        case "USER_VERIFICATION_BYPASS": self = .userVerificationBypass
        case "ATTESTATION_KEY_COMPROMISE": self = .attestationKeyCompromise
        case "USER_KEY_REMOTE_COMPROMISE": self = .userKeyRemoteCompromise
        case "USER_KEY_PHYSICAL_COMPROMISE": self = .userKeyPhysicalCompromise
        case "UPDATE_AVAILABLE": self = .updateAvailable
        case "REVOKED": self = .revoked
        case "SELF_ASSERTION_SUBMITTED": self = .selfAssertionSubmitted
        default:
            if let level = Self.certificationRank(text) {
                self = .certified(level: level, name: text)
            } else if text.hasPrefix("FIPS140_CERTIFIED") {
                self = .fipsCertified(text)
            } else {
                self = .other(text)
            }
        }
    }

    /// The rank of a FIDO_CERTIFIED_Ln[plus] name, for "at least" comparisons.
    public static func certificationRank(_ name: String) -> Int? {
        levels[name]
    }

    private static let levels = [
        "FIDO_CERTIFIED_L1": 10, "FIDO_CERTIFIED_L1plus": 11, "FIDO_CERTIFIED_L2": 20, "FIDO_CERTIFIED_L2plus": 21, "FIDO_CERTIFIED_L3": 30,
        "FIDO_CERTIFIED_L3plus": 31,
    ]

    public var description: String {
        switch self {
        case .notFIDOCertified: "NOT_FIDO_CERTIFIED"
        case .fidoCertified: "FIDO_CERTIFIED"
        case .userVerificationBypass: "USER_VERIFICATION_BYPASS"
        case .attestationKeyCompromise: "ATTESTATION_KEY_COMPROMISE"
        case .userKeyRemoteCompromise: "USER_KEY_REMOTE_COMPROMISE"
        case .userKeyPhysicalCompromise: "USER_KEY_PHYSICAL_COMPROMISE"
        case .updateAvailable: "UPDATE_AVAILABLE"
        case .revoked: "REVOKED"
        case .selfAssertionSubmitted: "SELF_ASSERTION_SUBMITTED"
        case .certified(_, let name): name
        case .fipsCertified(let name): name
        case .other(let name): name
        }
    }

    /// A status that says the authenticator must not be trusted (MDS3 §3.1.4).
    public var isNegative: Bool {
        switch self {
        case .revoked, .attestationKeyCompromise, .userVerificationBypass, .userKeyRemoteCompromise, .userKeyPhysicalCompromise: true
        default: false
        }
    }
}

/// One status report of a metadata entry (MDS3 §3.1.3).
public struct StatusReport: Sendable, Equatable {
    public let status: AuthenticatorStatus
    /// The day it takes effect (YYYY-MM-DD, midnight UTC), when given.
    public let effectiveDate: Date?
    public let effectiveDateText: String?
    public let certificateNumber: String?
    public let certificationDescriptor: String?
    public let url: String?
}

/// The fields of an MDS3 metadata statement (§4) that trust and policy use; the whole statement
/// is kept as read in `raw` for `show` and `export`.
public final class MetadataStatement: Sendable {
    public let description: String
    public let aaguid: [UInt8]?
    public let aaid: String?
    public let attestationCertificateKeyIdentifiers: [[UInt8]]
    public let protocolFamily: String?
    public let authenticatorVersion: Int64?
    public let authenticationAlgorithms: [String]
    public let attestationTypes: [String]
    /// OR of AND-combinations of user verification methods (`passcode_internal`,
    /// `fingerprint_internal`, `presence_internal`, …).
    public let userVerificationDetails: [[String]]
    public let keyProtection: [String]
    public let matcherProtection: [String]
    public let attachmentHint: [String]
    /// DER certificates (decoded from the statement's base64).
    public let attestationRootCertificates: [[UInt8]]
    /// A `data:` URL, shown by the desk and the conformity report.
    public let icon: String?
    /// The authenticatorGetInfo the statement declares (FIDO2).
    public let getInfo: JSONValue?
    public let multiDeviceCredentialSupport: String?
    public let raw: JSONValue


    init(
        description: String, aaguid: [UInt8]?, aaid: String?, attestationCertificateKeyIdentifiers: [[UInt8]], protocolFamily: String?, authenticatorVersion: Int64?, authenticationAlgorithms: [String], attestationTypes: [String], userVerificationDetails: [[String]], keyProtection: [String], matcherProtection: [String], attachmentHint: [String], attestationRootCertificates: [[UInt8]], icon: String?, getInfo: JSONValue?, multiDeviceCredentialSupport: String?, raw: JSONValue
    ) {
        self.description = description
        self.aaguid = aaguid
        self.aaid = aaid
        self.attestationCertificateKeyIdentifiers = attestationCertificateKeyIdentifiers
        self.protocolFamily = protocolFamily
        self.authenticatorVersion = authenticatorVersion
        self.authenticationAlgorithms = authenticationAlgorithms
        self.attestationTypes = attestationTypes
        self.userVerificationDetails = userVerificationDetails
        self.keyProtection = keyProtection
        self.matcherProtection = matcherProtection
        self.attachmentHint = attachmentHint
        self.attestationRootCertificates = attestationRootCertificates
        self.icon = icon
        self.getInfo = getInfo
        self.multiDeviceCredentialSupport = multiDeviceCredentialSupport
        self.raw = raw
    }

    /// The getInfo option `name`, when declared.
    public func getInfoOption(_ name: String) -> Bool? {
        getInfo?["options"]?[name]?.bool
    }

    /// Every user verification method named, flattened.
    public var userVerificationMethods: Set<String> {
        Set(userVerificationDetails.joined())
    }
}

/// One entry of the metadata BLOB (MDS3 §3.1.1).
public struct MetadataEntry: Sendable {
    public let aaguid: [UInt8]?
    public let aaid: String?
    public let attestationCertificateKeyIdentifiers: [[UInt8]]
    public let statement: MetadataStatement?
    public let statusReports: [StatusReport]
    public let timeOfLastStatusChange: String?

    /// The report in force at `time`: the latest whose effective date is not after it (a report
    /// without a date counts as always in force). Reports are ordered by effective date, so a
    /// later REVOKED governs an earlier certification.
    public func status(at time: Date) -> StatusReport? {
        var governing: Int? = nil
        var latest = Date.distantPast
        for index in statusReports.indices {
            let date = statusReports[index].effectiveDate ?? .distantPast
            guard date <= time, governing == nil || date > latest else { continue }
            governing = index
            latest = date
        }
        return governing.map { statusReports[$0] }
    }

    /// A name for people: the statement's description, else the identifier.
    public var description: String {
        statement?.description ?? aaguid.map(AAGUIDText.string) ?? aaid ?? attestationCertificateKeyIdentifiers.first.map { Hex.string($0) }
            ?? "unnamed entry"
    }
}

/// Reading MDS3 JSON into the model, strictly: a member of the wrong type is an error naming it.
enum MetadataReader {
    struct Failure: Error {
        let path: String
        let message: String
    }

    static func fail(_ path: String, _ message: String) -> Failure { Failure(path: path, message: message) }

    static func string(_ value: JSONValue?, _ path: String, required: Bool = false) throws(Failure) -> String? {
        guard let value else {
            if required { throw fail(path, "is required") }
            return nil
        }
        guard let text = value.string else { throw fail(path, "must be a string") }
        return text
    }

    static func strings(_ value: JSONValue?, _ path: String) throws(Failure) -> [String] {
        guard let value else { return [] }
        guard let strings = value.strings else { throw fail(path, "must be an array of strings") }
        return strings
    }

    static func integer(_ value: JSONValue?, _ path: String) throws(Failure) -> Int64? {
        guard let value else { return nil }
        guard let number = value.integer else { throw fail(path, "must be an integer") }
        return number
    }

    /// `YYYY-MM-DD` as midnight UTC.
    static func date(_ text: String?, _ path: String) throws(Failure) -> Date? {
        guard let text else { return nil }
        guard text.utf8.count == 10, let seconds = RFC3339.secondsSince1970(text + "T00:00:00Z") else {
            throw fail(path, "must be a date (YYYY-MM-DD)")
        }
        return Date(timeIntervalSince1970: seconds)
    }

    /// A UUID written 8-4-4-4-12.
    static func aaguid(_ value: JSONValue?, _ path: String) throws(Failure) -> [UInt8]? {
        guard let text = try string(value, path) else { return nil }
        let hyphens = text.utf8.enumerated().filter { $0.element == UInt8(ascii: "-") }.map(\.offset)
        guard text.utf8.count == 36, hyphens == [8, 13, 18, 23], let bytes = AAGUIDText.bytes(text) else {
            throw fail(path, "is not a UUID (8-4-4-4-12 hex)")
        }
        return bytes
    }

    static func array(_ value: JSONValue?, _ path: String) throws(Failure) -> [JSONValue] {
        guard let value else { return [] }
        guard let items = value.array else { throw fail(path, "must be an array") }
        return items
    }

    /// Refuses members outside `allowed`: in our own documents a misspelt member is an error,
    /// not a silently ignored decision.
    static func expectMembers(_ value: JSONValue, _ path: String, _ allowed: Set<String>) throws(Failure) {
        guard let members = value.members else { throw fail(path.isEmpty ? "the document" : path, "must be an object") }
        for (key, _) in members where !allowed.contains(key) {
            throw fail(path.isEmpty ? key : "\(path).\(key)", "is not a member of this document")
        }
    }

    static func keyIdentifiers(_ value: JSONValue?, _ path: String) throws(Failure) -> [[UInt8]] {
        var identifiers: [[UInt8]] = []
        for (index, text) in try strings(value, path).enumerated() {
            guard let bytes = Hex.bytes(text), bytes.count == 20 else { throw fail("\(path)[\(index)]", "is not a 20-byte hex key identifier") }
            identifiers.append(bytes)
        }
        return identifiers
    }

    static func statement(_ value: JSONValue, _ path: String) throws(Failure) -> MetadataStatement {
        guard value.members != nil else { throw fail(path, "must be an object") }
        var roots: [[UInt8]] = []
        for (index, text) in try strings(value["attestationRootCertificates"], "\(path).attestationRootCertificates").enumerated() {
            // Published statements wrap some roots in line breaks: whitespace is not part of the value.
            guard let der = Base64.decode(text.filter { !$0.isWhitespace }) else {
                throw fail("\(path).attestationRootCertificates[\(index)]", "is not base64")
            }
            roots.append(der)
        }
        var details: [[String]] = []
        if let list = value["userVerificationDetails"] {
            guard let alternatives = list.array else { throw fail("\(path).userVerificationDetails", "must be an array") }
            for (i, alternative) in alternatives.enumerated() {
                guard let combination = alternative.array else { throw fail("\(path).userVerificationDetails[\(i)]", "must be an array") }
                var methods: [String] = []
                for (j, method) in combination.enumerated() {
                    // Conformance statements still spell some entries as MDS2 did (`userVerification`).
                    guard let name = method["userVerificationMethod"]?.string ?? method["userVerification"]?.string else {
                        throw fail("\(path).userVerificationDetails[\(i)][\(j)].userVerificationMethod", "is required")
                    }
                    methods.append(name)
                }
                details.append(methods)
            }
        }
        let algorithms = try strings(value["authenticationAlgorithms"], "\(path).authenticationAlgorithms")
        return MetadataStatement(
            description: try string(value["description"], "\(path).description", required: true) ?? "",
            aaguid: try aaguid(value["aaguid"], "\(path).aaguid"), aaid: try string(value["aaid"], "\(path).aaid"),
            attestationCertificateKeyIdentifiers: try keyIdentifiers(
                value["attestationCertificateKeyIdentifiers"], "\(path).attestationCertificateKeyIdentifiers"),
            protocolFamily: try string(value["protocolFamily"], "\(path).protocolFamily"),
            authenticatorVersion: try integer(value["authenticatorVersion"], "\(path).authenticatorVersion"),
            authenticationAlgorithms: algorithms, attestationTypes: try strings(value["attestationTypes"], "\(path).attestationTypes"),
            userVerificationDetails: details, keyProtection: try strings(value["keyProtection"], "\(path).keyProtection"),
            matcherProtection: try strings(value["matcherProtection"], "\(path).matcherProtection"),
            attachmentHint: try strings(value["attachmentHint"], "\(path).attachmentHint"), attestationRootCertificates: roots,
            icon: try string(value["icon"], "\(path).icon"), getInfo: value["authenticatorGetInfo"],
            multiDeviceCredentialSupport: try string(value["multiDeviceCredentialSupport"], "\(path).multiDeviceCredentialSupport"),
            raw: value)
    }

    static func entry(_ value: JSONValue, _ path: String) throws(Failure) -> MetadataEntry {
        guard value.members != nil else { throw fail(path, "must be an object") }
        guard let reports = value["statusReports"]?.array else { throw fail("\(path).statusReports", "is required (an array)") }
        var statusReports: [StatusReport] = []
        for (index, report) in reports.enumerated() {
            let at = "\(path).statusReports[\(index)]"
            guard let status = try string(report["status"], "\(at).status", required: true) else { continue }
            let dateText = try string(report["effectiveDate"], "\(at).effectiveDate")
            statusReports.append(
                StatusReport(
                    status: AuthenticatorStatus(status), effectiveDate: try date(dateText, "\(at).effectiveDate"), effectiveDateText: dateText,
                    certificateNumber: try string(report["certificateNumber"], "\(at).certificateNumber"),
                    certificationDescriptor: try string(report["certificationDescriptor"], "\(at).certificationDescriptor"),
                    url: try string(report["url"], "\(at).url")))
        }
        let statement = try value["metadataStatement"].map { (s: JSONValue) throws(Failure) in try Self.statement(s, "\(path).metadataStatement") }
        return MetadataEntry(
            aaguid: try aaguid(value["aaguid"], "\(path).aaguid") ?? statement?.aaguid,
            aaid: try string(value["aaid"], "\(path).aaid") ?? statement?.aaid,
            attestationCertificateKeyIdentifiers: try keyIdentifiers(
                value["attestationCertificateKeyIdentifiers"], "\(path).attestationCertificateKeyIdentifiers"),
            statement: statement, statusReports: statusReports,
            timeOfLastStatusChange: try string(value["timeOfLastStatusChange"], "\(path).timeOfLastStatusChange"))
    }
}
