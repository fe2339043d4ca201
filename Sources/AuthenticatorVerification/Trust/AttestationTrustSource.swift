import SignatureVerification

/// Where attestation trust anchors come from: a fixed list (tests, per-request anchors) or the
/// referencing list of authenticators.
public protocol AttestationTrustSource: Sendable {
    /// Anchors that may vouch for an authenticator of this AAGUID using this format.
    func trustAnchors(aaguid: [UInt8], format: String) -> [Certificate]
}

/// The same anchors for every authenticator.
public struct FixedTrustAnchors: AttestationTrustSource {
    public let certificates: [Certificate]

    public init(_ certificates: [Certificate]) {
        self.certificates = certificates
    }

    public func trustAnchors(aaguid: [UInt8], format: String) -> [Certificate] {
        certificates
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
}
