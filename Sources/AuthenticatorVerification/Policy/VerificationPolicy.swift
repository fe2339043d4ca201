/// The relying party's rules for a ceremony. `.strict` is the default; every relaxation is a
/// named property that reads as one.
public struct VerificationPolicy: Sendable, Equatable {
    public enum AttestationRequirement: String, Sendable, Codable {
        /// The statement must verify and its chain reach a trust anchor.
        case trusted
        /// The statement's signature must still verify, but self, none and untrusted chains are
        /// accepted and reported as untrusted.
        case any
    }

    public var attestation: AttestationRequirement
    /// Credential key algorithms accepted. RS1 is never in the default set.
    public var allowedAlgorithms: Set<COSEAlgorithm>
    /// Accept `crossOrigin: true` (the ceremony ran in a cross-origin iframe).
    public var allowsCrossOrigin: Bool
    /// Top-level origins accepted for cross-origin ceremonies.
    public var allowedTopOrigins: [String]
    /// Accept attestation statements signed with SHA-1 (some TPMs). Reported in the result.
    public var allowsSHA1AttestationSignatures: Bool
    /// Apply WebAuthn Level 2's token binding rule (`tokenBinding.status` must be "present" or
    /// "supported"). Level 3 removed token binding, so by default any defined status passes.
    public var enforcesLevel2TokenBinding: Bool = false
    /// Refuse TPM attestation from a manufacturer outside `TPMManufacturers.known`. Off by
    /// default: an unknown manufacturer is reported as a warning and trust rests on the chain.
    public var requiresKnownTPMManufacturer: Bool = false
    /// Attestation formats accepted; nil accepts every supported one.
    public var allowedAttestationFormats: Set<String>? = nil
    /// Accept a `tpm` statement that lacks `ver` (it must still not be anything but "2.0").
    /// A relaxation for replaying statement-level test data that dropped the member; never
    /// needed with real authenticators.
    public var allowsTPMStatementWithoutVersion: Bool = false
    /// Where android-key attestation must show origin = generated and purpose = sign (§8.4).
    public enum AndroidKeyAuthorization: String, Sendable {
        /// In the TEE-enforced list: hardware-backed keys only.
        case teeEnforced
        /// In either list (the spec's default).
        case teeOrSoftwareEnforced
        /// Not checked: a relaxation for synthetic test data with empty authorization lists.
        case notCheckedForTesting
    }

    public var androidKeyAuthorization: AndroidKeyAuthorization = .teeOrSoftwareEnforced
    /// SafetyNet: require `ctsProfileMatch` (the device passed compatibility checks).
    public var requiresSafetyNetCTSProfileMatch: Bool = true
    /// SafetyNet: the JWS timestamp must lie within this many seconds before the verification
    /// time; nil disables the check (replaying old vectors).
    public var safetyNetMaximumAge: Double? = 60

    public init(
        attestation: AttestationRequirement = .trusted,
        allowedAlgorithms: Set<COSEAlgorithm> = COSEAlgorithm.defaultAllowed,
        allowsCrossOrigin: Bool = false,
        allowedTopOrigins: [String] = [],
        allowsSHA1AttestationSignatures: Bool = false
    ) {
        self.attestation = attestation
        self.allowedAlgorithms = allowedAlgorithms
        self.allowsCrossOrigin = allowsCrossOrigin
        self.allowedTopOrigins = allowedTopOrigins
        self.allowsSHA1AttestationSignatures = allowsSHA1AttestationSignatures
    }

    /// Every attestation format this verifier checks (WebAuthn L3 §8), for `allowedAttestationFormats`.
    public static var supportedAttestationFormats: [String] { AttestationStatementVerifier.supportedFormats }

    /// Trusted attestation required, default algorithms, no cross-origin use.
    public static let strict = VerificationPolicy()

    /// Accepts self, none and untrusted attestation (still reported as untrusted). For tests
    /// and for deployments that decide trust later from the referencing list.
    public static let acceptUntrustedAttestationForTesting = VerificationPolicy(attestation: .any)
}

/// What the relying party asked the authenticator for.
public enum UserVerificationRequirement: String, Sendable, Codable {
    case required, preferred, discouraged
}
