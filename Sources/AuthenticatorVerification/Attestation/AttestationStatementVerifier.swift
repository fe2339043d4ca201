import CBORDecoding
import Foundation
import SignatureVerification

/// Verifies the attestation statement of one format (WebAuthn L3 §8).
protocol AttestationFormatVerifier: Sendable {
    static var format: String { get }
    func verify(_ statement: CBORMap, _ context: AttestationContext) throws(VerificationFailure) -> AttestationResult
}

/// Dispatches a statement to its format's verifier.
@_spi(Internals) public enum AttestationStatementVerifier {
    /// Longest x5c accepted; real chains have two or three certificates.
    package static let maximumCertificates = 8

    static let verifiers: [String: any AttestationFormatVerifier] = [
        NoneAttestation.format: NoneAttestation(),
        PackedAttestation.format: PackedAttestation(),
        FIDOU2FAttestation.format: FIDOU2FAttestation(),
        TPMAttestation.format: TPMAttestation(),
        AndroidKeyAttestation.format: AndroidKeyAttestation(),
        AppleAttestation.format: AppleAttestation(),
        SafetyNetAttestation.format: SafetyNetAttestation(),
    ]

    package static var supportedFormats: [String] { (verifiers.keys + [CompoundAttestation.format]).sorted() }

    /// Verifies an attestation object's statement against a client data hash (§7.1 steps
    /// 21–24). Used by registration, and on its own for statement-only checks.
    public static func verify(
        _ object: AttestationObject, clientDataHash: [UInt8], policy: VerificationPolicy,
        trust: any AttestationTrustSource, at time: Date, caches: VerificationCaches? = nil
    ) throws(VerificationFailure) -> AttestationResult {
        guard let credential = object.authenticatorData.attestedCredentialData else {
            throw VerificationFailure(.missingAttestedCredentialData, "authenticatorData of a registration has no attested credential data")
        }
        let context = AttestationContext(
            authenticatorData: object.authenticatorData, credential: credential, clientDataHash: clientDataHash,
            trust: trust, policy: policy, time: time.timeIntervalSince1970, caches: caches)
        let result = try verify(format: object.format, statement: object.statement, context)
        try enforce(policy, on: result)
        return result
    }

    /// One statement of `format` (compound attestation calls this for each of its parts).
    static func verify(format: String, statement: CBORValue, _ context: AttestationContext) throws(VerificationFailure) -> AttestationResult
    {
        let verifier = verifiers[format]
        guard verifier != nil || format == CompoundAttestation.format else {
            throw VerificationFailure(.attestationFormatUnsupported, "attestation format \"\(format.prefix(64))\" is not supported")
        }
        if let allowed = context.policy.allowedAttestationFormats, !allowed.contains(format) {
            throw VerificationFailure(.attestationFormatNotAllowed, "attestation format \"\(format)\" is not allowed by the policy")
        }
        if let verifier {
            guard let map = statement.map else { throw malformed(format, "attStmt must be a map") }
            return try verifier.verify(map, context)
        }
        guard let items = statement.array else { throw malformed(format, "attStmt must be an array of statements") }
        return try CompoundAttestation().verify(items, context)
    }

    /// §7.1 step 24 under the relying party's policy.
    static func enforce(_ policy: VerificationPolicy, on result: AttestationResult) throws(VerificationFailure) {
        guard policy.attestation == .trusted, !result.isTrusted else { return }
        if result.type == .compound {
            for component in result.components { try enforce(policy, on: component) }
            return
        }
        switch result.type {
        case .none, .self:
            throw VerificationFailure(.attestationRequired, "policy requires trusted attestation; got \(result.type.rawValue) attestation")
        case .basic, .attCA, .anonCA, .compound:
            throw VerificationFailure(
                .attestationChainUntrusted, "attestation chain does not reach a trust anchor: \(result.untrustedReason ?? "no anchor")")
        }
    }

    // MARK: Shared statement pieces

    static func malformed(_ format: String, _ what: String) -> VerificationFailure {
        VerificationFailure(.malformedAttestationStatement, "\(format) attStmt: \(what)")
    }

    /// Reads `x5c`: a non-empty array of DER certificates, leaf first; nil when absent.
    static func certificates(
        _ statement: CBORMap, format: String, _ context: AttestationContext
    ) throws(VerificationFailure) -> [Certificate]? {
        guard let value = statement[text: "x5c"] else { return nil }
        guard let items = value.array, !items.isEmpty else { throw malformed(format, "x5c must be a non-empty array") }
        var ders: [[UInt8]] = []
        for item in items {
            guard let der = item.bytes else { throw malformed(format, "x5c entries must be byte strings") }
            ders.append(Array(der))
        }
        return try certificates(ders, format: format, context)
    }

    /// Parses a chain of DER certificates (strict DER, bounded in number and size), through the
    /// certificate cache when there is one.
    static func certificates(_ ders: [[UInt8]], format: String, _ context: AttestationContext) throws(VerificationFailure) -> [Certificate] {
        guard !ders.isEmpty else { throw malformed(format, "x5c must not be empty") }
        guard ders.count <= maximumCertificates else {
            throw malformed(format, "x5c holds \(ders.count) certificates, more than \(maximumCertificates)")
        }
        var certificates: [Certificate] = []
        certificates.reserveCapacity(ders.count)
        for der in ders {
            do {
                if let caches = context.caches {
                    certificates.append(try caches.certificate(der))
                } else {
                    certificates.append(try Certificate(der: der))
                }
            } catch {
                throw malformed(format, "x5c certificate: \(error.message)")
            }
        }
        return certificates
    }

    static func signature(_ statement: CBORMap, format: String) throws(VerificationFailure) -> ArraySlice<UInt8> {
        guard let sig = statement[text: "sig"]?.bytes else { throw malformed(format, "sig must be a byte string") }
        return sig
    }

    /// The public key of an attestation certificate.
    static func publicKey(of certificate: Certificate, format: String) throws(VerificationFailure) -> PublicKey {
        do {
            return try certificate.publicKey()
        } catch {
            throw VerificationFailure(.attestationCertificateInvalid, "\(format) certificate key: \(error.message)")
        }
    }

    /// Chains the leaf to the anchors the trust source gives for the authenticator this
    /// statement vouches for (the AAGUID unless the format names another identifier).
    /// A revoked certificate is refused whatever the policy: it means a compromised key.
    static func evaluateTrust(
        format: String, type: AttestationResult.AttestationType, certificates: [Certificate], _ context: AttestationContext,
        authenticator: AuthenticatorIdentifier? = nil
    ) throws(VerificationFailure) -> AttestationResult {
        let identifier = authenticator ?? context.aaguid
        let time = Date(timeIntervalSince1970: context.time)
        let match = context.trust.match(for: identifier, format: format, at: time)
        let outcome = CertificateChainVerifier.verify(
            leaf: certificates[0], intermediates: Array(certificates.dropFirst()), anchors: match.anchors, at: time, crls: match.crls,
            cache: context.caches?.chains)
        if outcome.isRevoked {
            throw VerificationFailure(.certificateRevoked, "\(format): an attestation certificate is revoked")
        }
        var result = AttestationResult(
            format: format, type: type, certificates: certificates, verifiedPath: outcome.path, untrustedReason: outcome.failure,
            authenticator: identifier)
        result.revocation = outcome.revocation
        result.referencingEntry = match.entry
        for certificate in outcome.path where certificate.hasWeakSignatureAlgorithm {
            result.evidence.append(.weakCertificateSignature(algorithm: certificate.signatureAlgorithmName))
        }
        return result
    }

    /// The statement's signature by the x5c leaf: the key decodes, the algorithm is allowed
    /// and fits the key exactly (ES256 needs a P-256 key, not any EC key), and the signature
    /// over `first ‖ second` verifies.
    static func checkSignature(
        by leaf: Certificate, algorithm: COSEAlgorithm, _ signature: ArraySlice<UInt8>,
        over first: [UInt8], _ second: [UInt8] = [], context: AttestationContext, format: String
    ) throws(VerificationFailure) {
        let leafKey = try publicKey(of: leaf, format: format)
        try checkSHA1(algorithm, context, format: format)
        guard let scheme = algorithm.scheme, algorithm.fits(leafKey.type) else {
            throw VerificationFailure(
                .attestationAlgorithmMismatch, "\(format) alg \(algorithm.name) does not fit the certificate's \(leafKey.type) key")
        }
        guard leafKey.isValidSignature(signature, over: first, second, scheme: scheme) else {
            throw VerificationFailure(.attestationSignatureInvalid, "\(format) signature does not verify with the x5c leaf")
        }
    }

    /// SHA-1 attestation signatures only under a policy that names them.
    static func checkSHA1(_ algorithm: COSEAlgorithm, _ context: AttestationContext, format: String) throws(VerificationFailure) {
        if algorithm == .rs1, !context.policy.allowsSHA1AttestationSignatures {
            throw VerificationFailure(
                .algorithmNotAllowed, "\(format): SHA-1 attestation signatures are refused unless the policy allows them")
        }
    }

    /// The attestation certificate's key must be the credential key (android-key, apple).
    static func checkLeafKeyIsCredentialKey(_ leaf: Certificate, _ context: AttestationContext, format: String) throws(VerificationFailure)
    {
        let leafKey = try publicKey(of: leaf, format: format)
        guard leafKey.isSameKey(as: context.credential.credentialPublicKey.key) else {
            throw VerificationFailure(.attestedKeyMismatch, "\(format): the certificate's key is not the credential key")
        }
    }

    /// id-fido-gen-ce-aaguid (1.3.6.1.4.1.45724.1.1.4): when present it must be non-critical and
    /// hold the authenticator's AAGUID as an OCTET STRING.
    static func checkAAGUIDExtension(_ certificate: Certificate, aaguid: [UInt8], format: String) throws(VerificationFailure) {
        guard let ext = certificate.extensionValue(oid: "1.3.6.1.4.1.45724.1.1.4") else { return }
        guard !ext.critical else {
            throw VerificationFailure(.attestationCertificateInvalid, "\(format): AAGUID extension must not be critical")
        }
        guard ext.value.count == 18, ext.value[0] == 0x04, ext.value[1] == 0x10 else {
            throw malformed(format, "AAGUID extension is not a 16-byte OCTET STRING")
        }
        guard Array(ext.value[2...]) == aaguid else {
            throw VerificationFailure(.aaguidMismatch, "\(format): certificate AAGUID differs from authenticatorData's")
        }
    }
}
