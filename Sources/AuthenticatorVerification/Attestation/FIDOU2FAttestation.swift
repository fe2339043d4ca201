import CBORDecoding
import SignatureVerification

/// §8.6 FIDO U2F attestation: an ES256 signature by the attestation certificate over the U2F
/// registration data layout.
struct FIDOU2FAttestation: AttestationFormatVerifier {
    static let format = "fido-u2f"

    func verify(_ statement: CBORMap, _ context: AttestationContext) throws(VerificationFailure) -> AttestationResult {
        typealias Shared = AttestationStatementVerifier
        let signature = try Shared.signature(statement, format: Self.format)
        guard let certificates = try Shared.certificates(statement, format: Self.format, context) else {
            throw Shared.malformed(Self.format, "x5c is required")
        }
        guard certificates.count == 1 else { throw Shared.malformed(Self.format, "x5c must hold exactly one certificate") }
        let leafKey: PublicKey
        do {
            leafKey = try certificates[0].publicKey()
        } catch {
            throw VerificationFailure(.attestationCertificateInvalid, "fido-u2f certificate key: \(error.message)")
        }
        guard leafKey.type == .ec(.p256) else {
            throw VerificationFailure(.attestationCertificateInvalid, "fido-u2f certificate key must be EC P-256")
        }
        let credentialKey = context.credential.credentialPublicKey
        guard credentialKey.key.type == .ec(.p256) else {
            throw Shared.malformed(Self.format, "the credential key must be EC2 P-256")
        }
        // The SubjectPublicKeyInfo of a P-256 key ends with the 65-byte uncompressed point.
        let point = credentialKey.key.subjectPublicKeyInfo.suffix(65)
        var verificationData: [UInt8] = [0x00]
        verificationData.reserveCapacity(1 + 32 + 32 + context.credential.credentialID.count + 65)
        verificationData += context.authenticatorData.rpIDHash
        verificationData += context.clientDataHash
        verificationData += context.credential.credentialID
        verificationData += point
        guard leafKey.isValidSignature(signature, over: verificationData, scheme: .ecdsa(.sha256)) else {
            throw VerificationFailure(.attestationSignatureInvalid, "fido-u2f attestation signature does not verify")
        }
        return try Shared.evaluateTrust(format: Self.format, type: .basic, certificates: certificates, context)
    }
}
