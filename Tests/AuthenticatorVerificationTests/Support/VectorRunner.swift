@_spi(Internals) import AuthenticatorVerification
import CBORDecoding
import Foundation
import SignatureVerification
import Testing
import WireFormat

/// The package's root folder, found from this file's location.
let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// One test vector in the corpus schema (external corpus README; TestVectors/README.md).
struct Vector: Sendable, CustomTestStringConvertible {
    let folder: String
    let fields: [String: JSONField]
    /// Where it was read from (`file:line`), for messages.
    let location: String

    var id: String { fields["id"]?.string ?? location }
    var testDescription: String { id }
    var ceremony: String { fields["ceremony"]?.string ?? "" }
    var format: String? { fields["fmt"]?.string }
    var algorithm: String? { fields["alg"]?.string }
    var expected: String { fields["expected"]?.string ?? "" }

    /// A base64url member the vector must have.
    func bytes(_ key: String) throws -> [UInt8] {
        guard let field = fields[key] else { throw VectorError("\(id): \(key) is missing") }
        guard let text = field.string, let bytes = Base64URL.decode(text) else { throw VectorError("\(id): \(key) is not base64url") }
        return bytes
    }

    /// A base64url member the vector may have (absent or null: nil; anything else must decode).
    func optionalBytes(_ key: String) throws -> [UInt8]? {
        guard let field = fields[key], field != .null else { return nil }
        return try bytes(key)
    }

    func string(_ key: String) throws -> String {
        guard let text = fields[key]?.string else { throw VectorError("\(id): \(key) is missing or not a string") }
        return text
    }

    var policyFields: [String: JSONField] { fields["policy"]?.object ?? [:] }
}

/// A vector or corpus file the runner cannot read: a test failure, never a skip.
struct VectorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A JSON value kept as a Sendable enum.
enum JSONField: Sendable, Equatable {
    case string(String), number(Double), bool(Bool), array([JSONField]), object([String: JSONField]), null

    init(_ any: Any) throws {
        switch any {
        case let b as Bool where type(of: any) == Bool.self: self = .bool(b)
        case let s as String: self = .string(s)
        case let n as NSNumber:
            self = String(cString: n.objCType) == "c" ? .bool(n.boolValue) : .number(n.doubleValue)
        case let a as [Any]: self = .array(try a.map(JSONField.init))
        case let o as [String: Any]: self = .object(try o.mapValues(JSONField.init))
        case is NSNull: self = .null
        default: throw VectorError("unexpected JSON value \(any)")
        }
    }

    var string: String? { if case .string(let s) = self { s } else { nil } }
    var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    var object: [String: JSONField]? { if case .object(let o) = self { o } else { nil } }
    var array: [JSONField]? { if case .array(let a) = self { a } else { nil } }
    var integer: Int64? {
        switch self {
        case .number(let n): Int64(exactly: n)
        default: nil
        }
    }
}

enum VectorCorpus {
    /// Every vector of every `vectors.jsonl` below `directory`, sorted by folder and id. A line
    /// that is not a JSON object fails the load.
    static func load(_ directory: URL) throws -> [Vector] {
        var vectors: [Vector] = []
        for url in try files(named: "vectors.jsonl", below: directory) {
            let folder = url.deletingLastPathComponent().lastPathComponent
            let text = try String(contentsOf: url, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
                let location = "\(url.path):\(number + 1)"
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw VectorError("\(location) is not a JSON object")
                }
                let fields = try object.mapValues(JSONField.init)
                guard fields["id"]?.string != nil, fields["ceremony"]?.string != nil, fields["expected"]?.string != nil else {
                    throw VectorError("\(location) lacks id, ceremony or expected")
                }
                vectors.append(Vector(folder: folder, fields: fields, location: location))
            }
        }
        guard !vectors.isEmpty else { throw VectorError("no vectors.jsonl below \(directory.path)") }
        return vectors.sorted { ($0.folder, $0.id) < ($1.folder, $1.id) }
    }

    /// `crls.json` of each folder below `directory`, by folder then name.
    static func crls(_ directory: URL) throws -> [String: [String: CertificateRevocationList]] {
        try namedDER(in: directory, file: "crls.json") { try CertificateRevocationList(der: $0) }
    }

    /// `trust_anchors.json` of each folder below `directory`, by folder then name.
    static func anchors(_ directory: URL) throws -> [String: [String: Certificate]] {
        try namedDER(in: directory, file: "trust_anchors.json") { try Certificate(der: $0) }
    }

    private static func files(named name: String, below directory: URL) throws -> [URL] {
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else {
            throw VectorError("cannot list \(directory.path)")
        }
        return enumerator.compactMap { $0 as? URL }.filter { $0.lastPathComponent == name }
    }

    /// `{name: {"der_b64url": …}}` files below `directory`, decoded, by folder then name. An
    /// entry that does not decode fails the load.
    private static func namedDER<T>(in directory: URL, file: String, _ decode: ([UInt8]) throws -> T) throws -> [String: [String: T]] {
        var result: [String: [String: T]] = [:]
        for url in try files(named: file, below: directory) {
            let folder = url.deletingLastPathComponent().lastPathComponent
            guard let object = try JSONSerialization.jsonObject(with: try Data(contentsOf: url)) as? [String: [String: Any]] else {
                throw VectorError("\(url.path) is not an object of objects")
            }
            for (name, entry) in object {
                guard let text = entry["der_b64url"] as? String, let der = Base64URL.decode(text) else {
                    throw VectorError("\(url.path): \(name) has no base64url der_b64url")
                }
                do {
                    result[folder, default: [:]][name] = try decode(der)
                } catch {
                    throw VectorError("\(url.path): \(name) does not decode: \(error)")
                }
            }
        }
        return result
    }
}

/// Replays a vector through the core and says what the core decided.
struct VectorRunner: Sendable {
    let anchors: [String: [String: Certificate]]
    var crls: [String: [String: CertificateRevocationList]] = [:]

    enum Verdict: Equatable, CustomStringConvertible {
        case valid
        case invalid(FailureCode)
        /// The vector itself could not be read (a fault of the corpus or of the runner).
        case unreadable(String)

        var description: String {
            switch self {
            case .valid: "valid"
            case .invalid(let code): "invalid:\(code.rawValue)"
            case .unreadable(let why): "unreadable: \(why)"
            }
        }
    }

    func run(_ vector: Vector) -> (Verdict, String) {
        do {
            try verify(vector)
            return (.valid, "")
        } catch let failure as VerificationFailure {
            return (.invalid(failure.code), failure.message)
        } catch {
            return (.unreadable("\(error)"), "\(error)")
        }
    }

    /// The relying-party policy a vector assumes, from its `policy` member. Attestation must be
    /// trusted when the vector names an anchor, and is reported otherwise. Two named profiles
    /// stand for the RPs the external corpus was produced under (docs/interop.md):
    /// - "library defaults": external vectors state verdicts under their libraries' default
    ///   algorithm lists, which include RS1, and accept SHA-1 attestation signatures; without
    ///   `allowed_algs` / `allow_sha1_attestation` they run that way. Our own default refuses
    ///   both.
    /// - "W3C test-vector RP": the spec's vectors come from an RP that embeds itself
    ///   cross-origin: cross-origin allowed, the vector's topOrigin listed; its android-key
    ///   certificate carries empty authorization lists, so origin/purpose are not checked.
    /// - "py_webauthn RP": py_webauthn enforces Level 2's token binding rule.
    /// - "webauthn-rs RP": webauthn-rs accepts no android-safetynet attestation.
    /// - "python-fido2 statements": the corpus re-assembled these statement-level vectors and
    ///   its TPM statement lacks `ver`; tolerated there only.
    func policy(for vector: Vector) -> VerificationPolicy {
        let fields = vector.policyFields
        var policy = VerificationPolicy.strict
        policy.attestation = vector.fields["trust_anchor"] != nil ? .trusted : .any
        if vector.folder != "generated" {
            policy.allowedAlgorithms = Set(COSEAlgorithm.allCases.filter(\.isSupported))
            policy.allowsSHA1AttestationSignatures = true
        }
        if let attestation = fields["attestation"]?.string, let value = VerificationPolicy.AttestationRequirement(rawValue: attestation) {
            policy.attestation = value
        }
        if let algs = fields["allowed_algs"]?.array {
            policy.allowedAlgorithms = Set(algs.compactMap { $0.integer.flatMap(COSEAlgorithm.init(rawValue:)) })
        }
        if let sha1 = fields["allow_sha1_attestation"]?.bool { policy.allowsSHA1AttestationSignatures = sha1 }
        if let cross = fields["allow_cross_origin"]?.bool { policy.allowsCrossOrigin = cross }
        if let tops = fields["top_origins"]?.array { policy.allowedTopOrigins = tops.compactMap(\.string) }
        if fields["safetynet_timestamp_check"]?.bool == false { policy.safetyNetMaximumAge = nil }
        if let age = fields["safetynet_max_age"]?.integer { policy.safetyNetMaximumAge = Double(age) }
        if let known = fields["require_known_tpm_manufacturer"]?.bool { policy.requiresKnownTPMManufacturer = known }
        if let name = fields["android_key_authorization"]?.string,
            let value = VerificationPolicy.AndroidKeyAuthorization(rawValue: name)
        {
            policy.androidKeyAuthorization = value
        }
        if let formats = fields["allowed_formats"]?.array { policy.allowedAttestationFormats = Set(formats.compactMap(\.string)) }
        if let cts = fields["attestationSafetyNetEnforceCTSCheck"]?.bool { policy.requiresSafetyNetCTSProfileMatch = cts }
        if vector.folder == "webauthn-rs" {
            policy.allowedAttestationFormats = Set(AttestationStatementVerifier.supportedFormats).subtracting(["android-safetynet"])
        }
        if vector.folder == "python-fido2" {
            policy.allowsTPMStatementWithoutVersion = true
        }
        if vector.folder == "py_webauthn" {
            policy.enforcesLevel2TokenBinding = true
        }
        if vector.folder == "w3c-spec" {
            policy.androidKeyAuthorization = .notCheckedForTesting
        }
        if vector.folder == "w3c-spec" {
            policy.allowsCrossOrigin = true
            policy.allowedTopOrigins = vector.fields["top_origin"]?.string.map { [$0] } ?? []
        }
        return policy
    }

    func expectation(for vector: Vector) throws -> CeremonyExpectation {
        let origins: [String]
        if let list = vector.fields["expected_origins"]?.array {
            origins = list.compactMap(\.string)
        } else {
            origins = [try vector.string("origin")]
        }
        let required = vector.fields["require_user_verification"]?.bool ?? vector.policyFields["require_user_verification"]?.bool
        return CeremonyExpectation(
            challenge: try vector.bytes("challenge_b64url"), origins: origins, rpID: try vector.string("rp_id"),
            userVerification: required == true ? .required : .preferred)
    }

    func time(for vector: Vector) throws -> Date {
        guard let text = vector.fields["verification_time"]?.string else { return Date() }
        guard let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) else {
            throw VectorError("\(vector.id): verification_time \(text) is not ISO 8601")
        }
        return date
    }

    /// The vector's anchor and CRLs; a name that resolves to nothing fails the vector.
    func trust(for vector: Vector) throws -> FixedTrustAnchors {
        let lists = try (vector.fields["crls"]?.array ?? []).map { entry -> CertificateRevocationList in
            guard let name = entry.string, let crl = crls[vector.folder]?[name] else {
                throw VectorError("\(vector.id): CRL \(entry) is not in \(vector.folder)/crls.json")
            }
            return crl
        }
        guard let field = vector.fields["trust_anchor"], field != .null else { return FixedTrustAnchors([], crls: lists) }
        guard let name = field.string, let cert = anchors[vector.folder]?[name] else {
            throw VectorError("\(vector.id): trust anchor \(field) is not in \(vector.folder)/trust_anchors.json")
        }
        return FixedTrustAnchors([cert], crls: lists)
    }

    /// The verified registration of a (non statement-only) registration vector.
    func registration(_ vector: Vector) throws -> VerifiedRegistration {
        let object = try vector.bytes("attestation_object_b64url")
        // The credential ID the client reported: its own member, else the corpus's extracted
        // one, else (objects that do not parse) the ID inside the object if there is one.
        let rawID =
            try vector.optionalBytes("raw_id_b64url") ?? vector.optionalBytes("credential_id_b64url")
            ?? (try? AttestationObject.parse(object))?.authenticatorData.attestedCredentialData?.credentialID ?? []
        let response = RegistrationResponse(rawID: rawID, clientDataJSON: try vector.bytes("client_data_json_b64url"), attestationObject: object)
        return try RegistrationVerifier.verify(
            response, expecting: try expectation(for: vector), policy: policy(for: vector), trust: try trust(for: vector),
            at: try time(for: vector))
    }

    /// rawId for assertion vectors whose corpus entry names no credential ID (schema: "when known").
    static let unknownCredentialID = Array("credential ID not given by the corpus".utf8)

    private func verify(_ vector: Vector) throws {
        let policy = policy(for: vector)
        switch vector.ceremony {
        case "registration":
            if vector.fields["statement_only"]?.bool == true {
                let parsed = try AttestationObject.parse(try vector.bytes("attestation_object_b64url"))
                _ = try AttestationStatementVerifier.verify(
                    parsed, clientDataHash: try vector.bytes("client_data_hash_b64url"), policy: policy, trust: try trust(for: vector),
                    at: try time(for: vector))
                return
            }
            _ = try registration(vector)
        case "authentication":
            let key = try CredentialPublicKey.decode(try vector.bytes("credential_public_key_cose_b64url"))
            // The corpus schema: a null or absent stored counter means 0.
            let before = vector.fields["sign_count_before"]
            guard before == nil || before == .null || before?.integer.flatMap(UInt32.init(exactly:)) != nil else {
                throw VectorError("\(vector.id): sign_count_before is not a 32-bit count")
            }
            let stored = StoredCredential(
                id: try vector.optionalBytes("expected_credential_id_b64url"), publicKey: key,
                signCount: before?.integer.flatMap(UInt32.init(exactly:)) ?? 0,
                backupEligible: vector.fields["backup_eligible_before"]?.bool,
                userHandle: try vector.optionalBytes("expected_user_handle_b64url"))
            // The corpus gives an assertion's credential ID only "when known"; without one the
            // vector does not exercise the ID, and a fixed stand-in is sent as rawId.
            let rawID = try vector.optionalBytes("credential_id_b64url") ?? Self.unknownCredentialID
            let response = AssertionResponse(
                rawID: rawID, clientDataJSON: try vector.bytes("client_data_json_b64url"),
                authenticatorData: try vector.bytes("authenticator_data_b64url"), signature: try vector.bytes("signature_b64url"),
                userHandle: try vector.optionalBytes("user_handle_b64url"))
            _ = try AssertionVerifier.verify(response, expecting: try expectation(for: vector), credential: stored, policy: policy)
        default:
            throw VectorError("\(vector.id): unknown ceremony \(vector.ceremony)")
        }
    }
}

/// How the external corpus names failures, and the codes of ours that mean the same.
enum ExternalReasons {
    static let codes: [String: Set<FailureCode>] = [
        "challenge_mismatch": [.challengeMismatch],
        "origin_mismatch": [.originMismatch],
        "rp_id_hash_mismatch": [.rpIDMismatch],
        "client_data_type": [.typeMismatch],
        "cross_origin_not_allowed": [.crossOriginNotAllowed],
        "user_not_present": [.userNotPresent],
        "user_not_verified": [.userNotVerified],
        "backup_state_without_eligibility": [.backupStateWithoutEligibility],
        "sign_count_regression": [.signCountRegression],
        "bad_signature": [.signatureInvalid],
        // A self-attestation key that cannot be decoded cannot verify the statement either; we
        // name the earlier fault (webauthn-rs's Solo V2 vector has a COSE key without x).
        "bad_attestation_signature": [.attestationSignatureInvalid, .malformedCOSEKey],
        "attestation_alg_mismatch": [.attestationAlgorithmMismatch],
        "aaguid_extension_mismatch": [.aaguidMismatch],
        "attestation_untrusted_chain": [.attestationChainUntrusted],
        "attestation_statement_malformed": [.malformedAttestationStatement],
        "unsupported_attestation_format": [.attestationFormatUnsupported],
        "alg_not_allowed": [.algorithmNotAllowed],
        "insecure_attestation_alg": [.algorithmNotAllowed],
        // A broken attestation object: libraries differ on whether CBOR or structure is blamed.
        "malformed_cbor": [.malformedCBOR, .malformedAttestationObject],
        "malformed_authenticator_data": [.malformedAuthenticatorData, .malformedCBOR, .malformedCredentialID],
        "malformed_cose_key": [.malformedCOSEKey],
        "missing_attested_credential_data": [.missingAttestedCredentialData],
        "token_binding_status_invalid": [.malformedClientData],
        "apple_nonce_mismatch": [.attestationNonceMismatch],
        "safetynet_wrong_hostname": [.attestationCertificateInvalid],
        "safetynet_cts_profile_mismatch": [.safetyNetIntegrityFailed],
        "attestation_not_supported": [.attestationFormatNotAllowed],
    ]

    /// Whether `verdict` is what `expected` (`valid`, `invalid:<reason>` or `invalid:<our code>`) asks.
    static func matches(_ verdict: VectorRunner.Verdict, expected: String) -> Bool {
        if expected == "valid" { return verdict == .valid }
        guard expected.hasPrefix("invalid:"), case .invalid(let code) = verdict else { return false }
        let reason = String(expected.dropFirst("invalid:".count))
        if let ours = FailureCode(rawValue: reason) { return code == ours }
        return codes[reason]?.contains(code) ?? false
    }
}
