import SignatureVerification

/// Where attestation trust anchors come from: a fixed list (tests, per-request anchors) or the
/// referencing list of authenticators.
public protocol AttestationTrustSource: Sendable {
    /// Anchors that may vouch for an authenticator of this AAGUID using this format.
    func trustAnchors(aaguid: [UInt8], format: String) -> [Certificate]
    /// CRLs to check the attestation path against (none: revocation is not checked).
    func revocationLists(aaguid: [UInt8], format: String) -> [CertificateRevocationList]
}

extension AttestationTrustSource {
    public func revocationLists(aaguid: [UInt8], format: String) -> [CertificateRevocationList] { [] }
}

/// The same anchors for every authenticator.
public struct FixedTrustAnchors: AttestationTrustSource {
    public let certificates: [Certificate]
    public let crls: [CertificateRevocationList]

    public init(_ certificates: [Certificate], crls: [CertificateRevocationList] = []) {
        self.certificates = certificates
        self.crls = crls
    }

    public func trustAnchors(aaguid: [UInt8], format: String) -> [Certificate] {
        certificates
    }

    public func revocationLists(aaguid: [UInt8], format: String) -> [CertificateRevocationList] {
        crls
    }

    public static let none = FixedTrustAnchors([])
}

/// Anchors of several sources together.
public struct CombinedTrustSource: AttestationTrustSource {
    public let sources: [any AttestationTrustSource]

    public init(_ sources: [any AttestationTrustSource]) {
        self.sources = sources
    }

    public func trustAnchors(aaguid: [UInt8], format: String) -> [Certificate] {
        sources.flatMap { $0.trustAnchors(aaguid: aaguid, format: format) }
    }

    public func revocationLists(aaguid: [UInt8], format: String) -> [CertificateRevocationList] {
        sources.flatMap { $0.revocationLists(aaguid: aaguid, format: format) }
    }
}
