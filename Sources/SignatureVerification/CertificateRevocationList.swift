internal import COpenSSL
import Foundation

/// An X.509 CRL parsed by OpenSSL from DER. Revocation data is supplied by the caller (the
/// referencing list, a file): the core never fetches anything.
public final class CertificateRevocationList: @unchecked Sendable {
    let crl: OpaquePointer
    public let der: [UInt8]
    public let sha256Fingerprint: [UInt8]

    /// CRLs larger than this are refused before parsing.
    public static let maximumSize = 4 * 1024 * 1024

    public init(der: some Collection<UInt8>) throws(OpenSSLError) {
        let bytes = Array(der)
        guard !bytes.isEmpty, bytes.count <= Self.maximumSize else {
            throw OpenSSLError(.invalidCertificate, "CRL size \(bytes.count) is outside 1...\(Self.maximumSize)")
        }
        guard let parsed = decodeWholeDER(bytes, { d2i_X509_CRL(nil, $0, $1) }, free: X509_CRL_free) else {
            throw OpenSSLError.fromQueue(.invalidCertificate, "unreadable X.509 CRL DER")
        }
        guard let toBeSigned = StrictDER.toBeSigned(bytes), StrictDER.reencodes(to: toBeSigned, { i2d_re_X509_CRL_tbs(parsed, $0) }) else {
            X509_CRL_free(parsed)
            throw OpenSSLError(.invalidCertificate, "CRL is not DER (BER or non-canonical encoding)")
        }
        crl = parsed
        self.der = bytes
        self.sha256Fingerprint = Digest.sha256(bytes)
    }

    deinit {
        X509_CRL_free(crl)
    }

    /// Whether this CRL speaks for certificates that `certificate` issued.
    func isIssued(by certificate: Certificate) -> Bool {
        guard let issuer = X509_CRL_get_issuer(crl), let subject = X509_get_subject_name(certificate.x509) else { return false }
        return X509_NAME_cmp(issuer, subject) == 0
    }

    /// Whether this CRL covers `certificate` (same issuer name).
    func covers(_ certificate: Certificate) -> Bool {
        guard let issuer = X509_CRL_get_issuer(crl), let certificateIssuer = X509_get_issuer_name(certificate.x509) else { return false }
        return X509_NAME_cmp(issuer, certificateIssuer) == 0
    }

    public var nextUpdate: Date? { date(X509_CRL_get0_nextUpdate(crl)) }

    /// The issuer's name, one line (for readiness and metrics).
    public var issuerDescription: String {
        x509NameText(X509_CRL_get_issuer(crl))
    }
    public var thisUpdate: Date? { date(X509_CRL_get0_lastUpdate(crl)) }

    private func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
        guard let time else { return nil }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}
