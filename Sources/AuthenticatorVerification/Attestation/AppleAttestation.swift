import CBORDecoding
import SignatureVerification

/// §8.8 Apple anonymous attestation: Apple's CA issues a certificate for the credential key
/// whose nonce extension binds this registration.
struct AppleAttestation: AttestationFormatVerifier {
    static let format = "apple"
    static let nonceOID = "1.2.840.113635.100.8.2"

    func verify(_ statement: CBORMap, _ context: AttestationContext) throws(VerificationFailure) -> AttestationResult {
        typealias Shared = AttestationStatementVerifier
        guard let certificates = try Shared.certificates(statement, format: Self.format, context) else {
            throw Shared.malformed(Self.format, "x5c is required")
        }
        let leaf = certificates[0]
        guard let ext = leaf.extensionValue(oid: Self.nonceOID) else {
            throw VerificationFailure(.attestationCertificateInvalid, "apple certificate has no nonce extension")
        }
        // SEQUENCE { [1] EXPLICIT OCTET STRING nonce }
        let failure = VerificationFailure(.attestationCertificateInvalid, "apple nonce extension is not well-formed DER")
        let root = try DERNode.parse(ext.value, failure)
        guard root.identifier == .sequence, let tagged = root.children.first, tagged.isContextTag(1),
            let nonce = tagged.children.first?.octetString
        else { throw failure }
        let expected = Digest.sha256(context.authenticatorData.bytes + context.clientDataHash)
        guard nonce == expected else {
            throw VerificationFailure(.attestationNonceMismatch, "apple nonce is not SHA-256(authenticatorData ‖ clientDataHash)")
        }
        try Shared.checkLeafKeyIsCredentialKey(leaf, context, format: Self.format)
        return try Shared.evaluateTrust(format: Self.format, type: .anonCA, certificates: certificates, context)
    }
}
