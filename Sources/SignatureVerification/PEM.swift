import Foundation

/// PEM (RFC 7468) blocks and files that hold either PEM or one DER object: how operators
/// hand over roots, CRLs and keys.
public enum PEM {
    /// The DER bodies of every `-----BEGIN <label>-----` block, in order; nil when a block's
    /// base64 is bad or a block is not closed.
    public static func blocks(_ text: String, label: String) -> [[UInt8]]? {
        var result: [[UInt8]] = []
        var body: String? = nil
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == "-----BEGIN \(label)-----" {
                guard body == nil else { return nil }
                body = ""
            } else if trimmed == "-----END \(label)-----" {
                guard let encoded = body, let der = Data(base64Encoded: encoded) else { return nil }
                result.append(Array(der))
                body = nil
            } else if body != nil {
                body? += trimmed
            }
        }
        return body == nil ? result : nil
    }

    /// The DER objects of a file: its PEM blocks of `label` when it is PEM text, else the file
    /// itself as one DER object.
    public static func objects(inFile bytes: [UInt8], label: String) -> [[UInt8]]? {
        let text = bytes.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        guard text.starts(with: Array("-----BEGIN".utf8)) else { return [bytes] }
        return blocks(String(decoding: text, as: UTF8.self), label: label)
    }
}

extension Certificate {
    /// Every certificate of a PEM bundle or a DER file.
    public static func load(file bytes: [UInt8]) throws(OpenSSLError) -> [Certificate] {
        guard let ders = PEM.objects(inFile: bytes, label: "CERTIFICATE") else {
            throw OpenSSLError(.invalidCertificate, "bad PEM: a CERTIFICATE block is not closed or not base64")
        }
        var certificates: [Certificate] = []
        for der in ders { certificates.append(try Certificate(der: der)) }
        return certificates
    }
}

extension CertificateRevocationList {
    /// Every CRL of a PEM file (`X509 CRL` blocks) or a DER file.
    public static func load(file bytes: [UInt8]) throws(OpenSSLError) -> [CertificateRevocationList] {
        guard let ders = PEM.objects(inFile: bytes, label: "X509 CRL") else {
            throw OpenSSLError(.invalidCertificate, "bad PEM: an X509 CRL block is not closed or not base64")
        }
        var crls: [CertificateRevocationList] = []
        for der in ders { crls.append(try CertificateRevocationList(der: der)) }
        return crls
    }
}
