@_spi(Internals) import AuthenticatorVerification
import Foundation
import SignatureVerification
import WireFormat

/// The ANS decision on one referenced means (an authenticator model or a card family).
public struct ReferencingDecision: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        case referenced
        case suspended
        case withdrawn
    }

    /// What the decision means at a given time.
    public enum Effect: String, Sendable {
        case referenced
        case suspended
        case withdrawn
        /// `since` is after the time asked.
        case notYetEffective = "not-yet-effective"
        /// `until` is not after the time asked.
        case expired
    }

    public let status: Status
    public let since: String
    public let sinceDate: Date
    public let until: String?
    public let untilDate: Date?
    /// The ANS reference number of the decision.
    public let reference: String
    /// Firmware versions accepted (getInfo `firmwareVersion`); nil: any.
    public let acceptedFirmware: [Int64]?
    public let notes: String?

    public func effect(at time: Date) -> Effect {
        if time < sinceDate { return .notYetEffective }
        if let untilDate, time >= untilDate { return .expired }
        switch status {
        case .referenced: return .referenced
        case .suspended: return .suspended
        case .withdrawn: return .withdrawn
        }
    }
}

/// An authenticator model on the ANS list.
public struct ANSAuthenticator: Sendable {
    public let aaguid: [UInt8]?
    public let attestationCertificateKeyIdentifiers: [[UInt8]]
    public let description: String
    public let decision: ReferencingDecision
    /// A statement the ANS publishes itself (MDS3 fields), for a model absent from FIDO MDS.
    public let statement: MetadataStatement?
}

/// A card family on the ANS list (CPS3, CPS4, PSI): which issuing CAs and which ATRs.
public struct ANSCardFamily: Sendable {
    public struct IssuerCA: Sendable, Equatable {
        public let name: String
        /// SHA-256 of the CA certificate's DER.
        public let sha256: [UInt8]
    }

    public struct ATRPattern: Sendable, Equatable {
        public let atr: [UInt8]
        public let mask: [UInt8]

        /// Whether `atr` matches: same length, equal under the mask.
        public func matches(_ atr: [UInt8]) -> Bool {
            guard atr.count == self.atr.count else { return false }
            return zip(zip(atr, self.atr), mask).allSatisfy { pair, mask in pair.0 & mask == pair.1 & mask }
        }
    }

    public let family: String
    public let description: String
    public let decision: ReferencingDecision
    public let issuerCAs: [IssuerCA]
    public let atrPatterns: [ATRPattern]
}

/// The ANS referencing list (our format, `docs/ans-referencing-list.schema.json`): a JSON
/// document signed by a detached JWS (RFC 7515 Appendix F) with a key the operator configures.
public struct ANSList: Sendable {
    public static let schema = "mie-verifier/ans-referencing-list"
    public static let supportedVersion: Int64 = 1

    public let number: Int64
    public let issued: String
    public let nextUpdate: String
    public let nextUpdateDate: Date?
    /// Who publishes the list: the source its numbers increase within.
    public let issuer: String
    /// A demonstration list, not the ANS's: shown on every report built from it.
    public let demo: Bool
    public let authenticators: [ANSAuthenticator]
    public let cardFamilies: [ANSCardFamily]
    /// The signing key's identifier (SHA-256 of its SubjectPublicKeyInfo, hex).
    public let signer: String

    /// Verifies the detached signature with one of `keys`, then reads the document.
    public static func verify(_ document: [UInt8], signature: [UInt8], keys: [PublicKey]) throws(ImportFailure) -> ANSList {
        guard document.count <= maximumListSize else { throw ImportFailure(.tooLarge, "the list is larger than \(maximumListSize) bytes") }
        let detached = try DetachedJWS(signature)
        guard !keys.isEmpty else { throw ImportFailure(.untrustedSigner, "no ANS list key is configured (--ans-key)") }
        let candidates = keys.filter { detached.keyID == nil || KeyIdentifier.of($0) == detached.keyID }
        guard !candidates.isEmpty else {
            throw ImportFailure(.untrustedSigner, "the list is signed by key \(detached.keyID ?? "?"), which is not configured")
        }
        let signingInput = detached.encodedHeader + [UInt8(ascii: ".")] + Array(Base64URL.encode(document).utf8)
        guard
            let key = candidates.first(where: {
                CompactJWS.isSignatureValid(algorithm: detached.algorithm, signature: detached.signature, over: signingInput, with: $0)
            })
        else {
            throw ImportFailure(.signatureInvalid, "the \(detached.algorithm) signature does not verify with a configured ANS key")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(document, document: "the ANS list", maximumDepth: 32)
        } catch {
            throw ImportFailure(.malformed, error.message)
        }
        return try read(value, signer: KeyIdentifier.of(key))
    }

    /// Reads a list verified before (loading stored versions).
    static func load(_ document: [UInt8], signer: String) throws(ImportFailure) -> ANSList {
        do {
            return try read(try JSONValue.parse(document, document: "the ANS list", maximumDepth: 32), signer: signer)
        } catch let failure as ImportFailure {
            throw failure
        } catch {
            throw ImportFailure(.malformed, "a stored ANS list no longer reads")
        }
    }

    static func read(_ value: JSONValue, signer: String) throws(ImportFailure) -> ANSList {
        guard value.members != nil else { throw ImportFailure(.malformed, "the ANS list is not a JSON object") }
        guard value["schema"]?.string == schema else {
            throw ImportFailure(.unknownKind, "schema is not \"\(schema)\"")
        }
        guard let version = value["version"]?.integer else { throw ImportFailure(.malformed, "version is required (an integer)") }
        guard version == supportedVersion else {
            throw ImportFailure(.schemaVersion, "this build reads version \(supportedVersion) of the ANS list, not \(version)")
        }
        do {
            return try ANSListReader.list(value, signer: signer)
        } catch {
            throw ImportFailure(.malformed, "the ANS list: \(error.path) \(error.message)")
        }
    }
}

/// `BASE64URL(header)..BASE64URL(signature)`: a JWS whose payload travels beside it.
struct DetachedJWS {
    let encodedHeader: [UInt8]
    let algorithm: String
    let keyID: String?
    let signature: [UInt8]

    init(_ bytes: [UInt8]) throws(ImportFailure) {
        var text = bytes
        while let last = text.last, last == 0x0A || last == 0x0D || last == 0x20 { text.removeLast() }
        let parts = text.split(separator: UInt8(ascii: "."), maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].isEmpty else {
            throw ImportFailure(.malformed, "the signature file is not a detached JWS (header..signature)")
        }
        guard let header = Base64URL.decode(parts[0]), let signature = Base64URL.decode(parts[2]) else {
            throw ImportFailure(.malformed, "the detached JWS has a part that is not base64url")
        }
        var algorithm: String? = nil
        var keyID: String? = nil
        do {
            try JSONReader.read(header, document: "the JWS header") { (reader: inout JSONReader) throws(JSONError) in
                try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                    switch key {
                    case "alg": algorithm = try reader.readString()
                    case "kid": keyID = try reader.readString()
                    case "typ", "cty": _ = try reader.readString()
                    default: throw reader.invalid("is not a header member this verifier understands")
                    }
                }
            }
        } catch {
            throw ImportFailure(.malformed, error.message)
        }
        guard let algorithm else { throw ImportFailure(.malformed, "the JWS header has no alg") }
        self.encodedHeader = Array(parts[0])
        self.algorithm = algorithm
        self.keyID = keyID
        self.signature = signature
    }
}

/// How lists name a signing key: SHA-256 of its SubjectPublicKeyInfo, lowercase hex.
public enum KeyIdentifier {
    public static func of(_ key: PublicKey) -> String {
        Hex.string(Digest.sha256(key.subjectPublicKeyInfo))
    }
}

enum ANSListReader {
    typealias Failure = MetadataReader.Failure

    static func list(_ value: JSONValue, signer: String) throws(Failure) -> ANSList {
        try MetadataReader.expectMembers(
            value, "", ["schema", "version", "listNumber", "issued", "nextUpdate", "issuer", "demo", "authenticators", "cardFamilies", "notes"])
        guard let number = value["listNumber"]?.integer, number > 0 else {
            throw MetadataReader.fail("listNumber", "is required (a positive integer)")
        }
        let issued = try MetadataReader.string(value["issued"], "issued", required: true) ?? ""
        _ = try MetadataReader.date(issued, "issued")
        let nextUpdate = try MetadataReader.string(value["nextUpdate"], "nextUpdate", required: true) ?? ""
        guard let issuer = try MetadataReader.string(value["issuer"], "issuer", required: true), !issuer.isEmpty else {
            throw MetadataReader.fail("issuer", "must not be empty")
        }
        var demo = false
        if let flag = value["demo"] {
            guard let bool = flag.bool else { throw MetadataReader.fail("demo", "must be a boolean") }
            demo = bool
        }
        var authenticators: [ANSAuthenticator] = []
        for (index, item) in (try MetadataReader.array(value["authenticators"], "authenticators")).enumerated() {
            authenticators.append(try authenticator(item, "authenticators[\(index)]"))
        }
        var families: [ANSCardFamily] = []
        for (index, item) in (try MetadataReader.array(value["cardFamilies"], "cardFamilies")).enumerated() {
            families.append(try cardFamily(item, "cardFamilies[\(index)]"))
        }
        return ANSList(
            number: number, issued: issued, nextUpdate: nextUpdate, nextUpdateDate: try MetadataReader.date(nextUpdate, "nextUpdate"),
            issuer: issuer, demo: demo, authenticators: authenticators, cardFamilies: families, signer: signer)
    }

    static func decision(_ value: JSONValue?, _ path: String) throws(Failure) -> ReferencingDecision {
        guard let value, value.members != nil else { throw MetadataReader.fail(path, "is required (an object)") }
        try MetadataReader.expectMembers(value, path, ["status", "since", "until", "reference", "acceptedFirmware", "notes"])
        let statusText = try MetadataReader.string(value["status"], "\(path).status", required: true) ?? ""
        guard let status = ReferencingDecision.Status(rawValue: statusText) else {
            throw MetadataReader.fail("\(path).status", "must be referenced, suspended or withdrawn")
        }
        let since = try MetadataReader.string(value["since"], "\(path).since", required: true) ?? ""
        guard let sinceDate = try MetadataReader.date(since, "\(path).since") else { throw MetadataReader.fail("\(path).since", "is required") }
        let until = try MetadataReader.string(value["until"], "\(path).until")
        let untilDate = try MetadataReader.date(until, "\(path).until")
        if let untilDate, untilDate <= sinceDate { throw MetadataReader.fail("\(path).until", "must be after since") }
        guard let reference = try MetadataReader.string(value["reference"], "\(path).reference", required: true), !reference.isEmpty else {
            throw MetadataReader.fail("\(path).reference", "must not be empty")
        }
        var firmware: [Int64]? = nil
        if let list = value["acceptedFirmware"] {
            guard let items = list.array else { throw MetadataReader.fail("\(path).acceptedFirmware", "must be an array of integers") }
            var versions: [Int64] = []
            for (index, item) in items.enumerated() {
                guard let version = item.integer, version >= 0 else {
                    throw MetadataReader.fail("\(path).acceptedFirmware[\(index)]", "must be a non-negative integer")
                }
                versions.append(version)
            }
            firmware = versions
        }
        return ReferencingDecision(
            status: status, since: since, sinceDate: sinceDate, until: until, untilDate: untilDate, reference: reference,
            acceptedFirmware: firmware, notes: try MetadataReader.string(value["notes"], "\(path).notes"))
    }

    static func authenticator(_ value: JSONValue, _ path: String) throws(Failure) -> ANSAuthenticator {
        guard value.members != nil else { throw MetadataReader.fail(path, "must be an object") }
        try MetadataReader.expectMembers(
            value, path, ["aaguid", "attestationCertificateKeyIdentifiers", "description", "decision", "metadataStatement"])
        let aaguid = try MetadataReader.aaguid(value["aaguid"], "\(path).aaguid")
        let identifiers = try MetadataReader.keyIdentifiers(
            value["attestationCertificateKeyIdentifiers"], "\(path).attestationCertificateKeyIdentifiers")
        guard (aaguid != nil) != !identifiers.isEmpty else {
            throw MetadataReader.fail(path, "needs an aaguid or attestationCertificateKeyIdentifiers, not both")
        }
        let statement = try value["metadataStatement"].map { (s: JSONValue) throws(Failure) in
            try MetadataReader.statement(s, "\(path).metadataStatement")
        }
        if let statement, let aaguid, statement.aaguid != aaguid {
            throw MetadataReader.fail("\(path).metadataStatement.aaguid", "differs from the entry's aaguid")
        }
        guard let description = try MetadataReader.string(value["description"], "\(path).description", required: true), !description.isEmpty
        else { throw MetadataReader.fail("\(path).description", "must not be empty") }
        return ANSAuthenticator(
            aaguid: aaguid, attestationCertificateKeyIdentifiers: identifiers, description: description,
            decision: try decision(value["decision"], "\(path).decision"), statement: statement)
    }

    static func cardFamily(_ value: JSONValue, _ path: String) throws(Failure) -> ANSCardFamily {
        guard value.members != nil else { throw MetadataReader.fail(path, "must be an object") }
        try MetadataReader.expectMembers(value, path, ["family", "description", "decision", "issuerCAs", "atrPatterns"])
        guard let family = try MetadataReader.string(value["family"], "\(path).family", required: true), !family.isEmpty else {
            throw MetadataReader.fail("\(path).family", "must not be empty")
        }
        var issuers: [ANSCardFamily.IssuerCA] = []
        for (index, item) in (try MetadataReader.array(value["issuerCAs"], "\(path).issuerCAs")).enumerated() {
            let at = "\(path).issuerCAs[\(index)]"
            try MetadataReader.expectMembers(item, at, ["name", "sha256"])
            let name = try MetadataReader.string(item["name"], "\(at).name", required: true) ?? ""
            guard let text = try MetadataReader.string(item["sha256"], "\(at).sha256", required: true), let digest = Hex.bytes(text),
                digest.count == 32
            else { throw MetadataReader.fail("\(at).sha256", "must be 32 bytes of hex") }
            issuers.append(ANSCardFamily.IssuerCA(name: name, sha256: digest))
        }
        var patterns: [ANSCardFamily.ATRPattern] = []
        for (index, item) in (try MetadataReader.array(value["atrPatterns"], "\(path).atrPatterns")).enumerated() {
            let at = "\(path).atrPatterns[\(index)]"
            try MetadataReader.expectMembers(item, at, ["atr", "mask"])
            guard let atrText = try MetadataReader.string(item["atr"], "\(at).atr", required: true),
                let atr = Hex.bytes(atrText.replacingOccurrences(of: " ", with: "")), !atr.isEmpty, atr.count <= 33
            else { throw MetadataReader.fail("\(at).atr", "must be 1 to 33 bytes of hex") }
            var mask = [UInt8](repeating: 0xFF, count: atr.count)
            if let maskText = try MetadataReader.string(item["mask"], "\(at).mask") {
                guard let bytes = Hex.bytes(maskText.replacingOccurrences(of: " ", with: "")), bytes.count == atr.count else {
                    throw MetadataReader.fail("\(at).mask", "must be hex of the ATR's length")
                }
                mask = bytes
            }
            patterns.append(ANSCardFamily.ATRPattern(atr: atr, mask: mask))
        }
        return ANSCardFamily(
            family: family, description: try MetadataReader.string(value["description"], "\(path).description") ?? family,
            decision: try decision(value["decision"], "\(path).decision"), issuerCAs: issuers, atrPatterns: patterns)
    }
}
