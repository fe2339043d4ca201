import SignatureVerification

/// What an attestation statement proved (WebAuthn L3 §6.5.3 attestation types).
public struct AttestationResult: Sendable {
    public enum AttestationType: String, Sendable, Codable {
        case none
        case `self` = "self"
        case basic
        case attCA
        case anonCA
        /// Several statements, each with its own type (`components`).
        case compound
    }

    public let format: String
    public let type: AttestationType
    /// The certificates the statement carried, leaf first, as received.
    public let certificates: [Certificate]
    /// The verified path from the leaf to an anchor, when one was found.
    public let verifiedPath: [Certificate]
    /// Why no trusted path was found (nil when trusted or when there was nothing to chain).
    public let untrustedReason: String?
    /// What the statement said about the authenticator (TPM manufacturer, Android security
    /// level, …), by dotted name.
    public var properties: [String: String] = [:]
    /// Things a relying party should know although the statement verified (a deprecated
    /// format, an unknown TPM manufacturer, a SHA-1 signature).
    public var warnings: [String] = []
    /// How far the path was checked for revocation.
    public var revocation: CertificateChainVerifier.Revocation = .notChecked
    /// Sub-statements of a compound attestation, in order.
    public var components: [AttestationResult] = []

    init(
        format: String, type: AttestationType, certificates: [Certificate], verifiedPath: [Certificate],
        untrustedReason: String?
    ) {
        self.format = format
        self.type = type
        self.certificates = certificates
        self.verifiedPath = verifiedPath
        self.untrustedReason = untrustedReason
    }

    /// A compound attestation is trusted when every one of its statements is.
    public var isTrusted: Bool {
        if type == .compound { return !components.isEmpty && components.allSatisfy(\.isTrusted) }
        return !verifiedPath.isEmpty && untrustedReason == nil
    }
}

/// Inputs every statement verifier needs.
struct AttestationContext {
    let authenticatorData: AuthenticatorData
    let credential: AuthenticatorData.AttestedCredentialData
    let clientDataHash: [UInt8]
    let trust: any AttestationTrustSource
    let policy: VerificationPolicy
    let time: Double
    let caches: VerificationCaches?
}
