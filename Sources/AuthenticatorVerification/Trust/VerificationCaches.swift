import SignatureVerification

/// Memory shared between verifications: decoded credential keys, parsed attestation
/// certificates and verified certificate paths. Each cache memoises a pure decoding or
/// verification step, so results are the same with or without it; only time changes.
public final class VerificationCaches: Sendable {
    public let credentialKeys: DecodingCache<CredentialPublicKey>
    public let certificates: DecodingCache<Certificate>
    public let chains: ChainVerificationCache

    public init(credentialKeys: Int = 10_000, certificates: Int = 4096, chains: Int = 4096) {
        self.credentialKeys = DecodingCache(capacity: credentialKeys)
        self.certificates = DecodingCache(capacity: certificates)
        self.chains = ChainVerificationCache(capacity: chains)
    }

    /// A credential key decoded from COSE bytes, cached by those bytes.
    public func credentialKey(for encoded: [UInt8]) throws(VerificationFailure) -> CredentialPublicKey {
        try credentialKeys.value(for: encoded) { (bytes: [UInt8]) throws(VerificationFailure) in try CredentialPublicKey.decode(bytes) }
    }
}
