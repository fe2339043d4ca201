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
    package let certificates: [Certificate]
    /// The verified path from the leaf to an anchor, when one was found.
    package let verifiedPath: [Certificate]
    /// Why no trusted path was found (nil when trusted or when there was nothing to chain).
    public let untrustedReason: String?
    /// Which authenticator the attestation key vouches for: the AAGUID where the statement's
    /// signature covers it, the attestation certificate's key identifier for fido-u2f (whose
    /// signature does not cover authenticatorData). Nil for none and self attestation.
    public let authenticator: AuthenticatorIdentifier?
    /// Typed facts the statement established (TPM vendor, Android security levels, …) and
    /// things a relying party should know although it verified (a deprecated format, SHA-1).
    public var evidence: [AttestationEvidence] = []
    /// The referencing entry whose roots the chain was checked against, when a referencing
    /// list supplied them.
    public var referencingEntry: TrustMatch.Entry?
    /// How far the path was checked for revocation.
    public var revocation: CertificateChainVerifier.Revocation = .notChecked
    /// Sub-statements of a compound attestation, in order.
    public var components: [AttestationResult] = []

    init(
        format: String, type: AttestationType, certificates: [Certificate], verifiedPath: [Certificate],
        untrustedReason: String?, authenticator: AuthenticatorIdentifier?
    ) {
        self.format = format
        self.type = type
        self.certificates = certificates
        self.verifiedPath = verifiedPath
        self.untrustedReason = untrustedReason
        self.authenticator = authenticator
    }

    /// x5c as received, leaf first (DER).
    public var certificateChain: [[UInt8]] { certificates.map(\.der) }
    /// The verified path from the leaf to the anchor (DER), empty when untrusted.
    public var verifiedPathDER: [[UInt8]] { verifiedPath.map(\.der) }

    /// A compound attestation is trusted when every one of its statements is.
    public var isTrusted: Bool {
        if type == .compound { return !components.isEmpty && components.allSatisfy(\.isTrusted) }
        return !verifiedPath.isEmpty && untrustedReason == nil
    }

    /// The evidence items that are warnings.
    public var warnings: [AttestationEvidence] { evidence.filter(\.isWarning) }
}

/// A fact an attestation statement established, with a stable code (docs/failure-codes.md,
/// "Evidence codes") so policies can decide on it.
public enum AttestationEvidence: Sendable, Equatable {
    /// The TPM's vendor, model and firmware from the AIK certificate.
    case tpmManufacturer(id: String, name: String?, model: String?, version: String?)
    /// A TPM vendor id outside the TCG registry table.
    case tpmManufacturerUnknown(id: String)
    /// Android Keystore security levels (0 Software, 1 TrustedEnvironment, 2 StrongBox).
    case androidKey(attestationSecurityLevel: Int, keymasterSecurityLevel: Int, attestationVersion: Int)
    case safetyNet(version: String, ctsProfileMatch: Bool, basicIntegrity: Bool)
    /// The statement was signed with SHA-1 (allowed only by an explicit policy).
    case sha1StatementSignature
    /// A certificate of the verified path is signed with SHA-1, MD5 or MD2.
    case weakCertificateSignature(algorithm: String)
    /// A format its own authors retired (android-safetynet).
    case deprecatedFormat(String)

    public var code: String {
        switch self {
        case .tpmManufacturer: "tpm.manufacturer"
        case .tpmManufacturerUnknown: "tpm.manufacturer-unknown"
        case .androidKey: "android-key.security-levels"
        case .safetyNet: "safetynet.verdict"
        case .sha1StatementSignature: "signature.sha1"
        case .weakCertificateSignature: "certificate.weak-signature"
        case .deprecatedFormat: "format.deprecated"
        }
    }

    public var isWarning: Bool {
        switch self {
        case .tpmManufacturer, .androidKey, .safetyNet: false
        case .tpmManufacturerUnknown, .sha1StatementSignature, .weakCertificateSignature, .deprecatedFormat: true
        }
    }

    /// One sentence for people.
    public var summary: String {
        switch self {
        case .tpmManufacturer(let id, let name, let model, let version):
            "TPM \(name ?? id)" + (model.map { " model \($0)" } ?? "") + (version.map { " firmware \($0)" } ?? "")
        case .tpmManufacturerUnknown(let id): "unknown TPM manufacturer \(id)"
        case .androidKey(let attestation, let keymaster, let version):
            "Android attestation v\(version): attestation \(AttestationEvidence.androidLevel(attestation)), keymaster \(AttestationEvidence.androidLevel(keymaster))"
        case .safetyNet(let version, let cts, let basic): "SafetyNet \(version): ctsProfileMatch \(cts), basicIntegrity \(basic)"
        case .sha1StatementSignature: "the attestation statement is signed with SHA-1"
        case .weakCertificateSignature(let algorithm): "a certificate of the path is signed with \(algorithm)"
        case .deprecatedFormat(let format): "\(format) is deprecated: its issuer retired it"
        }
    }

    public static func androidLevel(_ level: Int) -> String {
        switch level {
        case 0: "Software"
        case 1: "TrustedEnvironment"
        case 2: "StrongBox"
        default: "unknown(\(level))"
        }
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

    /// The AAGUID as an identifier, for formats whose signature covers authenticatorData.
    var aaguid: AuthenticatorIdentifier { .aaguid(credential.aaguid) }
}
