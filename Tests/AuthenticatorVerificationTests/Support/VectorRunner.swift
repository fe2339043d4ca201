import AuthenticatorVerification
import CBORDecoding
import Foundation
import SignatureVerification
import Testing

/// The package's root folder, found from this file's location.
let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// One test vector in the corpus schema (external corpus README; TestVectors/README.md).
struct Vector: Sendable, CustomTestStringConvertible {
    let folder: String
    let fields: [String: JSONField]

    var id: String { fields["id"]?.string ?? "?" }
    var testDescription: String { id }
    var ceremony: String { fields["ceremony"]?.string ?? "" }
    var format: String? { fields["fmt"]?.string }
    var algorithm: String? { fields["alg"]?.string }
    var expected: String { fields["expected"]?.string ?? "" }

    func bytes(_ key: String) -> [UInt8]? {
        fields[key]?.string.flatMap(Base64URL.decode)
    }

    var policyFields: [String: JSONField] { fields["policy"]?.object ?? [:] }
}

/// A JSON value kept as a Sendable enum.
enum JSONField: Sendable {
    case string(String), number(Double), bool(Bool), array([JSONField]), object([String: JSONField]), null

    init(_ any: Any) {
        switch any {
        case let b as Bool where type(of: any) == Bool.self: self = .bool(b)
        case let s as String: self = .string(s)
        case let n as NSNumber:
            self = String(cString: n.objCType) == "c" ? .bool(n.boolValue) : .number(n.doubleValue)
        case let a as [Any]: self = .array(a.map(JSONField.init))
        case let o as [String: Any]: self = .object(o.mapValues(JSONField.init))
        default: self = .null
        }
    }

    var string: String? { if case .string(let s) = self { s } else { nil } }
    var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    var object: [String: JSONField]? { if case .object(let o) = self { o } else { nil } }
    var array: [JSONField]? { if case .array(let a) = self { a } else { nil } }
    var integer: Int64? {
        switch self {
        case .number(let n): Int64(exactly: n)
        case .string(let s): Int64(s)
        default: nil
        }
    }
}

enum VectorCorpus {
    /// Every vector of every `vectors.jsonl` below `directory`, sorted by folder and id.
    static func load(_ directory: URL) -> [Vector] {
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return [] }
        var vectors: [Vector] = []
        for case let url as URL in enumerator where url.lastPathComponent == "vectors.jsonl" {
            let folder = url.deletingLastPathComponent().lastPathComponent
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") where !line.isEmpty {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
                vectors.append(Vector(folder: folder, fields: object.mapValues(JSONField.init)))
            }
        }
        return vectors.sorted { ($0.folder, $0.id) < ($1.folder, $1.id) }
    }

    /// `crls.json` of each folder below `directory`, by folder then name.
    static func crls(_ directory: URL) -> [String: [String: CertificateRevocationList]] {
        namedDER(in: directory, file: "crls.json") { try CertificateRevocationList(der: $0) }
    }

    /// `trust_anchors.json` of each folder below `directory`, by folder then name.
    static func anchors(_ directory: URL) -> [String: [String: Certificate]] {
        namedDER(in: directory, file: "trust_anchors.json") { try Certificate(der: $0) }
    }

    /// `{name: {"der_b64url": …}}` files below `directory`, decoded, by folder then name.
    private static func namedDER<T>(in directory: URL, file: String, _ decode: ([UInt8]) throws -> T) -> [String: [String: T]] {
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return [:] }
        var result: [String: [String: T]] = [:]
        for case let url as URL in enumerator where url.lastPathComponent == file {
            let folder = url.deletingLastPathComponent().lastPathComponent
            guard let data = try? Data(contentsOf: url),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: [String: Any]]
            else { continue }
            for (name, entry) in object {
                if let text = entry["der_b64url"] as? String, let der = Base64URL.decode(text), let value = try? decode(der) {
                    result[folder, default: [:]][name] = value
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

        var description: String {
            switch self {
            case .valid: "valid"
            case .invalid(let code): "invalid:\(code.rawValue)"
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
            return (.invalid(.internalError), "\(error)")
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

    func expectation(for vector: Vector) -> CeremonyExpectation {
        let origins = vector.fields["expected_origins"]?.array?.compactMap(\.string) ?? [vector.fields["origin"]?.string ?? ""]
        let required = vector.fields["require_user_verification"]?.bool ?? vector.policyFields["require_user_verification"]?.bool
        return CeremonyExpectation(
            challenge: vector.bytes("challenge_b64url") ?? [], origins: origins, rpID: vector.fields["rp_id"]?.string ?? "",
            userVerification: required == true ? .required : .preferred)
    }

    func time(for vector: Vector) -> Date {
        if let text = vector.fields["verification_time"]?.string, let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) {
            return date
        }
        return Date()
    }

    func trust(for vector: Vector) -> FixedTrustAnchors {
        let lists = (vector.fields["crls"]?.array ?? []).compactMap { $0.string.flatMap { crls[vector.folder]?[$0] } }
        guard let name = vector.fields["trust_anchor"]?.string, let cert = anchors[vector.folder]?[name] else {
            return FixedTrustAnchors([], crls: lists)
        }
        return FixedTrustAnchors([cert], crls: lists)
    }

    /// The verified registration of a (non statement-only) registration vector.
    func registration(_ vector: Vector) throws -> VerifiedRegistration {
        let object = vector.bytes("attestation_object_b64url") ?? []
        let rawID =
            vector.bytes("raw_id_b64url") ?? vector.bytes("credential_id_b64url")
            ?? (try? AttestationObject.parse(object))?.authenticatorData.attestedCredentialData?.credentialID ?? []
        let response = RegistrationResponse(
            rawID: rawID, clientDataJSON: vector.bytes("client_data_json_b64url") ?? [], attestationObject: object)
        return try RegistrationVerifier.verify(
            response, expecting: expectation(for: vector), policy: policy(for: vector), trust: trust(for: vector), at: time(for: vector))
    }

    private func verify(_ vector: Vector) throws {
        let policy = policy(for: vector)
        if vector.ceremony == "registration" {
            let object = vector.bytes("attestation_object_b64url") ?? []
            if vector.fields["statement_only"]?.bool == true {
                let parsed = try AttestationObject.parse(object)
                _ = try AttestationStatementVerifier.verify(
                    parsed, clientDataHash: vector.bytes("client_data_hash_b64url") ?? [], policy: policy,
                    trust: trust(for: vector), at: time(for: vector))
                return
            }
            _ = try registration(vector)
        } else {
            let key = try CredentialPublicKey.decode(vector.bytes("credential_public_key_cose_b64url") ?? [])
            let stored = StoredCredential(
                id: vector.bytes("expected_credential_id_b64url"), publicKey: key,
                signCount: UInt32(clamping: vector.fields["sign_count_before"]?.integer ?? 0),
                backupEligible: vector.fields["backup_eligible_before"]?.bool,
                userHandle: vector.bytes("expected_user_handle_b64url"))
            let response = AssertionResponse(
                rawID: vector.bytes("credential_id_b64url") ?? [], clientDataJSON: vector.bytes("client_data_json_b64url") ?? [],
                authenticatorData: vector.bytes("authenticator_data_b64url") ?? [], signature: vector.bytes("signature_b64url") ?? [],
                userHandle: vector.bytes("user_handle_b64url"))
            _ = try AssertionVerifier.verify(response, expecting: expectation(for: vector), credential: stored, policy: policy)
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
