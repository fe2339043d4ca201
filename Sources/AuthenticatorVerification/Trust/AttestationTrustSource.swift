import Foundation
import SignatureVerification
import WireFormat

/// How an authenticator model is named: by AAGUID (FIDO2), or for fido-u2f, whose signature
/// does not cover the AAGUID, by its attestation certificate's key identifier (the SHA-1 of
/// the certificate's public key, RFC 5280 §4.2.1.2 method 1, as FIDO metadata lists U2F keys).
public enum AuthenticatorIdentifier: Sendable, Hashable, CustomStringConvertible {
    case aaguid([UInt8])
    case certificateKeyIdentifier([UInt8])

    public var description: String {
        switch self {
        case .aaguid(let bytes): "aaguid \(AAGUIDText.string(bytes))"
        case .certificateKeyIdentifier(let bytes): "attestation key identifier \(Hex.string(bytes))"
        }
    }
}

/// Where attestation trust anchors come from: a fixed list (tests, per-request anchors) or the
/// referencing list of authenticators. Trust is a pair (root, authenticator): a source answers
/// for one authenticator at a time.
public protocol AttestationTrustSource: Sendable {
    /// Anchors that may vouch for this authenticator using this format.
    func trustAnchors(for authenticator: AuthenticatorIdentifier, format: String) -> [Certificate]
    /// CRLs to check the attestation path against (none: revocation is not checked).
    func revocationLists(for authenticator: AuthenticatorIdentifier, format: String) -> [CertificateRevocationList]
    /// Everything the source knows of this authenticator at `time`: its anchors and CRLs, and
    /// the referencing entry that listed them, with that entry's status then.
    func match(for authenticator: AuthenticatorIdentifier, format: String, at time: Date) -> TrustMatch
}

extension AttestationTrustSource {
    public func revocationLists(for authenticator: AuthenticatorIdentifier, format: String) -> [CertificateRevocationList] { [] }

    public func match(for authenticator: AuthenticatorIdentifier, format: String, at time: Date) -> TrustMatch {
        TrustMatch(
            anchors: trustAnchors(for: authenticator, format: format), crls: revocationLists(for: authenticator, format: format),
            entry: nil)
    }
}

/// What a trust source matched for an authenticator.
public struct TrustMatch: Sendable {
    /// The referencing entry the anchors come from: which list, which entry, its status.
    public struct Entry: Sendable, Equatable {
        /// The list, as `source no N` (for example `FIDO MDS no 9`).
        public let list: String
        /// The entry's description (model name).
        public let description: String
        /// The status in force at the verification time (`FIDO_CERTIFIED_L1`, `REVOKED`, …).
        public let status: String?

        public init(list: String, description: String, status: String?) {
            self.list = list
            self.description = description
            self.status = status
        }
    }

    public let anchors: [Certificate]
    public let crls: [CertificateRevocationList]
    public let entry: Entry?

    public init(anchors: [Certificate], crls: [CertificateRevocationList], entry: Entry?) {
        self.anchors = anchors
        self.crls = crls
        self.entry = entry
    }
}

/// The same anchors for every authenticator.
public struct FixedTrustAnchors: AttestationTrustSource {
    public let certificates: [Certificate]
    public let crls: [CertificateRevocationList]

    public init(_ certificates: [Certificate], crls: [CertificateRevocationList] = []) {
        self.certificates = certificates
        self.crls = crls
    }

    public func trustAnchors(for authenticator: AuthenticatorIdentifier, format: String) -> [Certificate] {
        certificates
    }

    public func revocationLists(for authenticator: AuthenticatorIdentifier, format: String) -> [CertificateRevocationList] {
        crls
    }

    /// Anchors and CRLs from DER (strict), for callers that hold bytes rather than parsed
    /// certificates.
    public init(derCertificates: [[UInt8]], derCRLs: [[UInt8]] = []) throws(OpenSSLError) {
        var certificates: [Certificate] = []
        for der in derCertificates { certificates.append(try Certificate(der: der)) }
        var crls: [CertificateRevocationList] = []
        for der in derCRLs { crls.append(try CertificateRevocationList(der: der)) }
        self.init(certificates, crls: crls)
    }

    public static let none = FixedTrustAnchors([])
}

/// Anchors of several sources together.
public struct CombinedTrustSource: AttestationTrustSource {
    public let sources: [any AttestationTrustSource]

    public init(_ sources: [any AttestationTrustSource]) {
        self.sources = sources
    }

    public func trustAnchors(for authenticator: AuthenticatorIdentifier, format: String) -> [Certificate] {
        sources.flatMap { $0.trustAnchors(for: authenticator, format: format) }
    }

    public func revocationLists(for authenticator: AuthenticatorIdentifier, format: String) -> [CertificateRevocationList] {
        sources.flatMap { $0.revocationLists(for: authenticator, format: format) }
    }

    public func match(for authenticator: AuthenticatorIdentifier, format: String, at time: Date) -> TrustMatch {
        let matches = sources.map { $0.match(for: authenticator, format: format, at: time) }
        return TrustMatch(
            anchors: matches.flatMap(\.anchors), crls: matches.flatMap(\.crls), entry: matches.lazy.compactMap(\.entry).first)
    }
}
