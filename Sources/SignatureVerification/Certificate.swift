internal import COpenSSL
import Foundation
import Synchronization
import SwiftASN1

/// An X.509 certificate parsed by OpenSSL from DER. Immutable; safe to share.
public final class Certificate: @unchecked Sendable {
    let x509: OpaquePointer
    /// The exact DER bytes received.
    public let der: [UInt8]
    /// Decoded on first use: the key and the fingerprint are asked for on every verification.
    private let decodedKey = Mutex<PublicKey?>(nil)
    public let sha256Fingerprint: [UInt8]

    /// Certificates larger than this are refused before parsing.
    public static let maximumSize = 16 * 1024

    public init(der: some Collection<UInt8>) throws(OpenSSLError) {
        let bytes = Array(der)
        guard !bytes.isEmpty, bytes.count <= Certificate.maximumSize else {
            throw OpenSSLError(.invalidCertificate, "certificate size \(bytes.count) is outside 1...\(Certificate.maximumSize)")
        }
        guard let parsed = decodeWholeDER(bytes, { d2i_X509(nil, $0, $1) }, free: X509_free) else {
            throw OpenSSLError.fromQueue(.invalidCertificate, "unreadable X.509 DER")
        }
        guard let toBeSigned = StrictDER.toBeSigned(bytes), StrictDER.reencodes(to: toBeSigned, { i2d_re_X509_tbs(parsed, $0) }) else {
            X509_free(parsed)
            throw OpenSSLError(.invalidCertificate, "certificate is not DER (BER or non-canonical encoding)")
        }
        self.x509 = parsed
        self.der = bytes
        self.sha256Fingerprint = Digest.sha256(bytes)
    }

    /// Parses PEM text holding one or more certificates.
    public static func fromPEM(_ text: String) throws(OpenSSLError) -> [Certificate] {
        try load(file: Array(text.utf8))
    }

    deinit {
        X509_free(x509)
    }

    /// The X.509 version as written (3 for v3).
    public var version: Int { Int(X509_get_version(x509)) + 1 }

    public enum NameAttribute: Sendable {
        case country, organization, organizationalUnit, commonName

        var nid: Int32 {
            switch self {
            case .country: NID_countryName
            case .organization: NID_organizationName
            case .organizationalUnit: NID_organizationalUnitName
            case .commonName: NID_commonName
            }
        }
    }

    /// Every value of `attribute` in the subject, in order.
    public func subject(_ attribute: NameAttribute) -> [String] {
        guard let name = X509_get_subject_name(x509) else { return [] }
        var values: [String] = []
        var index: Int32 = -1
        while true {
            index = X509_NAME_get_index_by_NID(name, attribute.nid, index)
            if index < 0 { break }
            guard let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else { continue }
            var utf8: UnsafeMutablePointer<UInt8>? = nil
            let length = ASN1_STRING_to_UTF8(&utf8, data)
            if length >= 0, let utf8 {
                values.append(String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self))
                mie_openssl_free(utf8)
            }
        }
        return values
    }

    /// The first subject attribute with dotted OID `oid` (title, givenName, surname, …).
    public func subjectAttribute(oid: String) -> String? {
        guard let name = X509_get_subject_name(x509), let object = OBJ_txt2obj(oid, 1) else { return nil }
        defer { ASN1_OBJECT_free(object) }
        let index = X509_NAME_get_index_by_OBJ(name, object, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>? = nil
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else { return nil }
        defer { mie_openssl_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }

    /// Extended key usages (dotted OIDs), empty when the extension is absent or not a DER
    /// SEQUENCE OF OBJECT IDENTIFIER.
    public var extendedKeyUsages: [String] {
        guard let ext = extensionValue(oid: "2.5.29.37"), let node = try? SwiftASN1.DER.parse(ext.value), node.identifier == .sequence,
            case .constructed(let children) = node.content
        else { return [] }
        return children.compactMap { (try? ASN1ObjectIdentifier(derEncoded: $0))?.description }
    }

    /// True when the subject name has no attributes at all.
    public var hasEmptySubject: Bool {
        guard let name = X509_get_subject_name(x509) else { return true }
        return X509_NAME_entry_count(name) == 0
    }

    public var subjectDescription: String { x509NameText(X509_get_subject_name(x509)) }
    public var issuerDescription: String { x509NameText(X509_get_issuer_name(x509)) }

    /// Whether the certificate is issued to `hostname` (subjectAltName dNSName, or subject CN
    /// when there is no SAN), per RFC 6125 as OpenSSL implements it.
    public func matchesHostname(_ hostname: String) -> Bool {
        let result = hostname.withCString { X509_check_host(x509, $0, strlen($0), 0, nil) }
        ERR_clear_error()
        return result == 1
    }

    /// Whether the certificate has a basicConstraints extension saying it is a CA.
    public var isCertificateAuthority: Bool {
        let flags = X509_get_extension_flags(x509)
        return flags & UInt32(EXFLAG_CA) != 0
    }

    public struct Extension: Sendable {
        public let critical: Bool
        /// The extnValue OCTET STRING contents (itself DER).
        public let value: [UInt8]
    }

    /// The extension with dotted OID `oid`, when present exactly once.
    public func extensionValue(oid: String) -> Extension? {
        guard let object = OBJ_txt2obj(oid, 1) else { return nil }
        defer { ASN1_OBJECT_free(object) }
        let index = X509_get_ext_by_OBJ(x509, object, -1)
        guard index >= 0, X509_get_ext_by_OBJ(x509, object, index) < 0,
            let ext = X509_get_ext(x509, index), let data = X509_EXTENSION_get_data(ext)
        else { return nil }
        let length = Int(ASN1_STRING_length(data))
        let bytes = ASN1_STRING_get0_data(data).map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
        return Extension(critical: X509_EXTENSION_get_critical(ext) != 0, value: bytes)
    }

    /// The key identifier of RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT
    /// STRING's value. FIDO metadata names U2F authenticators by it
    /// (`attestationCertificateKeyIdentifiers`), whatever the certificate's own SKI says.
    public var publicKeyIdentifier: [UInt8] {
        guard let bits = X509_get0_pubkey_bitstr(x509), let data = ASN1_STRING_get0_data(bits) else { return [] }
        let length = Int(ASN1_STRING_length(bits))
        return Digest.hash(.sha1, Array(UnsafeBufferPointer(start: data, count: length)))
    }

    /// The certificate's public key, decoded once.
    public func publicKey() throws(OpenSSLError) -> PublicKey {
        if let key = decodedKey.withLock({ $0 }) { return key }
        let key: PublicKey
        if let pkey = X509_get_pubkey(x509) {
            key = try PublicKey.adopt(pkey, spki: subjectPublicKeyInfo())
        } else if let spki = subjectPublicKeyInfo(), let mlDSA = try PublicKey.mlDSA(subjectPublicKeyInfo: spki) {
            // OpenSSL 3.0 knows no ML-DSA; swift-crypto verifies with the raw key.
            ERR_clear_error()
            key = mlDSA
        } else {
            throw OpenSSLError.fromQueue(.invalidKey, "certificate public key unreadable")
        }
        decodedKey.withLock { $0 = key }
        return key
    }

    /// The SubjectPublicKeyInfo as it stands in the certificate.
    private func subjectPublicKeyInfo() -> [UInt8]? {
        guard let info = X509_get_X509_PUBKEY(x509) else { return nil }
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_X509_PUBKEY(info, &out)
        guard length > 0, let out else { return nil }
        defer { mie_openssl_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }

    public var notBefore: Date? { date(X509_get0_notBefore(x509)) }
    public var notAfter: Date? { date(X509_get0_notAfter(x509)) }

    private func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
        guard let time else { return nil }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    /// The signature algorithm's long name (for example "ecdsa-with-SHA256").
    public var signatureAlgorithmName: String {
        let nid = X509_get_signature_nid(x509)
        guard let name = OBJ_nid2ln(nid) else { return "unknown" }
        return String(cString: name)
    }

    /// Certificates signed with SHA-1, MD5, MD4 or MD2 are reported as weak. Decided by the
    /// signature algorithm's digest (no string work: every attestation chain asks); an
    /// algorithm OpenSSL cannot split is judged by its name.
    public var hasWeakSignatureAlgorithm: Bool {
        let nid = X509_get_signature_nid(x509)
        var digest: Int32 = 0
        var key: Int32 = 0
        if OBJ_find_sigid_algs(nid, &digest, &key) == 1 {
            return digest == NID_sha1 || digest == NID_md5 || digest == NID_md4 || digest == NID_md2
        }
        let name = signatureAlgorithmName.lowercased()
        return name.contains("sha1") || name.contains("md5") || name.contains("md2")
    }

}

/// An X.509 name on one line, RFC 2253 style.
func x509NameText(_ name: OpaquePointer?) -> String {
    guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
    defer { BIO_free(bio) }
    X509_NAME_print_ex(bio, name, 0, mie_xn_flag_rfc2253())
    var pointer: UnsafeMutablePointer<CChar>? = nil
    let length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &pointer)
    guard length > 0, let pointer else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
}
