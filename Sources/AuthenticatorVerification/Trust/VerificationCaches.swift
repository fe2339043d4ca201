import SignatureVerification

/// Memory shared between verifications: decoded credential keys, parsed attestation
/// certificates and verified certificate paths. Each cache memoises a pure decoding or
/// verification step, so results are the same with or without it; only time changes.
public final class VerificationCaches: Sendable {
    package let credentialKeys: DecodingCache<CredentialPublicKey>
    package let certificates: DecodingCache<Certificate>
    package let revocationLists: DecodingCache<CertificateRevocationList>
    package let chains: ChainVerificationCache

    public init(credentialKeys: Int = 10_000, certificates: Int = 4096, revocationLists: Int = 64, chains: Int = 4096) {
        self.credentialKeys = DecodingCache(capacity: credentialKeys)
        self.certificates = DecodingCache(capacity: certificates)
        self.revocationLists = DecodingCache(capacity: revocationLists)
        self.chains = ChainVerificationCache(capacity: chains)
    }

    /// A certificate parsed from DER (strict), cached by those bytes.
    package func certificate(_ der: [UInt8]) throws(OpenSSLError) -> Certificate {
        try certificates.value(for: der) { (bytes: [UInt8]) throws(OpenSSLError) in try Certificate(der: bytes) }
    }

    /// A CRL parsed from DER (strict), cached by those bytes.
    package func revocationList(_ der: [UInt8]) throws(OpenSSLError) -> CertificateRevocationList {
        try revocationLists.value(for: der) { (bytes: [UInt8]) throws(OpenSSLError) in try CertificateRevocationList(der: bytes) }
    }

    /// A credential key decoded from COSE bytes, cached by those bytes.
    package func credentialKey(for encoded: [UInt8]) throws(VerificationFailure) -> CredentialPublicKey {
        try credentialKeys.value(for: encoded) { (bytes: [UInt8]) throws(VerificationFailure) in try CredentialPublicKey.decode(bytes) }
    }
}
