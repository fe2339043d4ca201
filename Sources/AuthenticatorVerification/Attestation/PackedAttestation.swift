import CBORDecoding
import SignatureVerification

/// §8.2 packed attestation: full (x5c) or self attestation.
struct PackedAttestation: AttestationFormatVerifier {
    static let format = "packed"

    func verify(_ statement: CBORMap, _ context: AttestationContext) throws(VerificationFailure) -> AttestationResult {
        typealias Shared = AttestationStatementVerifier
        guard let algValue = statement[text: "alg"]?.integer else { throw Shared.malformed(Self.format, "alg must be an integer") }
        let signature = try Shared.signature(statement, format: Self.format)
        if statement[text: "ecdaaKeyId"] != nil {
            throw VerificationFailure(
                .attestationFormatUnsupported, "packed ECDAA attestation was removed from WebAuthn and is not supported")
        }
        guard let algorithm = COSEAlgorithm(rawValue: algValue), algorithm.isSupported else {
            throw VerificationFailure(.algorithmUnsupported, "packed attestation algorithm \(algValue) is not supported")
        }
        let signed = context.authenticatorData.bytes

        guard let certificates = try Shared.certificates(statement, format: Self.format, context) else {
            // Self attestation: signed by the credential key itself, with its algorithm.
            let credentialKey = context.credential.credentialPublicKey
            guard algorithm == credentialKey.algorithm else {
                throw VerificationFailure(
                    .attestationAlgorithmMismatch,
                    "self attestation alg \(algorithm.name) differs from the credential's \(credentialKey.algorithm.name)")
            }
            guard credentialKey.isValidSignature(signature, over: signed, context.clientDataHash) else {
                throw VerificationFailure(.attestationSignatureInvalid, "packed self attestation signature does not verify")
            }
            return AttestationResult(format: Self.format, type: .self, certificates: [], verifiedPath: [], untrustedReason: nil, authenticator: nil)
        }

        let leaf = certificates[0]
        try AttestationStatementVerifier.checkSignature(
            by: leaf, algorithm: algorithm, signature, over: signed, context.clientDataHash, context: context, format: Self.format)
        try checkCertificateRequirements(leaf, aaguid: context.credential.aaguid)
        return try Shared.evaluateTrust(format: Self.format, type: .basic, certificates: certificates, context)
    }

    /// §8.2.1 packed attestation statement certificate requirements.
    private func checkCertificateRequirements(_ leaf: Certificate, aaguid: [UInt8]) throws(VerificationFailure) {
        func invalid(_ what: String) -> VerificationFailure {
            VerificationFailure(.attestationCertificateInvalid, "packed attestation certificate: \(what)")
        }
        guard leaf.version == 3 else { throw invalid("version must be 3") }
        let country = leaf.subject(.country)
        guard country.count == 1, country[0].count == 2 else { throw invalid("subject C must be one ISO 3166 code") }
        guard leaf.subject(.organization).count == 1 else { throw invalid("subject O missing") }
        guard leaf.subject(.organizationalUnit) == ["Authenticator Attestation"] else {
            throw invalid("subject OU must be \"Authenticator Attestation\"")
        }
        guard leaf.subject(.commonName).count == 1 else { throw invalid("subject CN missing") }
        guard !leaf.isCertificateAuthority else { throw invalid("basic constraints must say CA=false") }
        try AttestationStatementVerifier.checkAAGUIDExtension(leaf, aaguid: aaguid, format: Self.format)
    }
}
