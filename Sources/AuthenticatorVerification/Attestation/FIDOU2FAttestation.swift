import CBORDecoding
import SignatureVerification

/// §8.6 FIDO U2F attestation: an ES256 signature by the attestation certificate over the U2F
/// registration data layout.
///
/// That signature covers the RP ID hash, client data hash, credential ID and key, but not
/// authenticatorData's AAGUID: a U2F statement vouches for the authenticator its certificate
/// names, not for whatever AAGUID the client put beside it. The authenticator is therefore
/// identified, and its trust anchors looked up, by the certificate's key identifier.
struct FIDOU2FAttestation: AttestationFormatVerifier {
    static let format = "fido-u2f"

    func verify(_ statement: CBORMap, _ context: AttestationContext) throws(VerificationFailure) -> AttestationResult {
        typealias Shared = AttestationStatementVerifier
        let signature = try Shared.signature(statement, format: Self.format)
        guard let certificates = try Shared.certificates(statement, format: Self.format, context) else {
            throw Shared.malformed(Self.format, "x5c is required")
        }
        guard certificates.count == 1 else { throw Shared.malformed(Self.format, "x5c must hold exactly one certificate") }
        let leafKey = try Shared.publicKey(of: certificates[0], format: Self.format)
        guard leafKey.type == .ec(.p256) else {
            throw VerificationFailure(.attestationCertificateInvalid, "fido-u2f certificate key must be EC P-256")
        }
        guard case .ec2(.p256, let x, let y) = context.credential.credentialPublicKey.parameters else {
            throw Shared.malformed(Self.format, "the credential key must be EC2 P-256")
        }
        // FIDO U2F raw message formats §4.3: 0x00 ‖ appParam ‖ challengeParam ‖ keyHandle ‖ publicKey.
        var verificationData: [UInt8] = [0x00]
        verificationData.reserveCapacity(1 + 32 + 32 + context.credential.credentialID.count + 65)
        verificationData += context.authenticatorData.rpIDHash
        verificationData += context.clientDataHash
        verificationData += context.credential.credentialID
        verificationData.append(0x04)
        verificationData += x
        verificationData += y
        guard leafKey.isValidSignature(signature, over: verificationData, scheme: .ecdsa(.sha256)) else {
            throw VerificationFailure(.attestationSignatureInvalid, "fido-u2f attestation signature does not verify")
        }
        return try Shared.evaluateTrust(
            format: Self.format, type: .basic, certificates: certificates, context,
            authenticator: .certificateKeyIdentifier(certificates[0].publicKeyIdentifier))
    }
}
