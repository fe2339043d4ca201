/// Every way a verification can fail. The raw values are the stable codes clients see; the
/// list is documented in docs/failure-codes.md and each code is exercised by a test. (A request
/// that cannot be read at all is the request layer's `malformed.request`.)
public enum FailureCode: String, CaseIterable, Sendable, Codable {
    // The authenticator's bytes are not well-formed.
    case malformedCBOR = "malformed.cbor"
    case malformedClientData = "malformed.client-data"
    case malformedAuthenticatorData = "malformed.authenticator-data"
    case malformedAttestationObject = "malformed.attestation-object"
    case malformedAttestationStatement = "malformed.attestation-statement"
    case malformedCOSEKey = "malformed.cose-key"
    case malformedCredentialID = "malformed.credential-id"
    case missingAttestedCredentialData = "malformed.no-attested-credential-data"
    case backupStateWithoutEligibility = "malformed.backup-state-without-eligibility"
    // Well-formed, but not what this ceremony expected.
    case typeMismatch = "mismatch.type"
    case challengeMismatch = "mismatch.challenge"
    case originMismatch = "mismatch.origin"
    case rpIDMismatch = "mismatch.rp-id"
    case credentialIDMismatch = "mismatch.credential-id"
    case userHandleMismatch = "mismatch.user-handle"
    case signatureInvalid = "mismatch.signature"
    case attestationSignatureInvalid = "mismatch.attestation-signature"
    case attestationAlgorithmMismatch = "mismatch.attestation-algorithm"
    case aaguidMismatch = "mismatch.aaguid"
    case attestationNonceMismatch = "mismatch.attestation-nonce"
    /// The key an attestation certifies (TPM pubArea, android-key and apple certificate) is not
    /// the credential key.
    case attestedKeyMismatch = "mismatch.attested-key"
    case signCountRegression = "mismatch.sign-count"
    case backupEligibilityChanged = "mismatch.backup-eligibility"
    // Refused by the relying party's policy.
    case userNotPresent = "policy.user-not-present"
    case userNotVerified = "policy.user-not-verified"
    case crossOriginNotAllowed = "policy.cross-origin"
    case topOriginNotAllowed = "policy.top-origin"
    case algorithmNotAllowed = "policy.algorithm-not-allowed"
    case attestationRequired = "policy.attestation-required"
    case attestationFormatNotAllowed = "policy.attestation-format-not-allowed"
    case safetyNetIntegrityFailed = "policy.safetynet-integrity"
    case safetyNetStale = "policy.safetynet-stale"
    // The attestation does not lead to a trusted anchor.
    case attestationCertificateInvalid = "untrusted.attestation-certificate"
    case attestationChainUntrusted = "untrusted.attestation-chain"
    case certificateRevoked = "untrusted.certificate-revoked"
    // Recognised but not supported by this verifier.
    case attestationFormatUnsupported = "attestation.format-unsupported"
    case algorithmUnsupported = "alg.unsupported"
    // A fault of ours, never of the input.
    case internalError = "internal"

    public enum Category: String, Sendable {
        case malformed, mismatch, policy, untrusted, unsupported, `internal`
    }

    public var category: Category {
        switch rawValue.prefix(while: { $0 != "." }) {
        case "malformed": .malformed
        case "mismatch": .mismatch
        case "policy": .policy
        case "untrusted": .untrusted
        case "attestation", "alg": .unsupported
        default: .internal
        }
    }
}

/// A rejection: a stable code plus a human explanation for logs. Messages never hold key
/// material or whole challenges.
public struct VerificationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: FailureCode
    public let message: String

    public init(_ code: FailureCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
