internal import COpenSSL
import SwiftASN1

/// Certificates and CRLs are accepted only in DER, the one encoding their signatures and
/// fingerprints are defined over. OpenSSL's decoders also read BER (indefinite lengths,
/// non-minimal lengths, `BOOLEAN 01`, explicit DEFAULT values) and keep the received bytes, so
/// a BER certificate would be trusted and echoed as it came.
///
/// Three checks together: every TLV of the whole structure is DER (swift-asn1's DER parser:
/// definite, minimal lengths); every universal primitive is in its one DER form (BOOLEAN 00 or
/// FF, minimal INTEGERs, BIT STRING padding, OIDs, times; no constructed strings); and the
/// to-be-signed part OpenSSL re-encodes from what it parsed is byte for byte the part received
/// (catching DEFAULT values written out).
enum StrictDER {
    /// The to-be-signed element of a signed SEQUENCE (certificate, CRL) when the whole is DER;
    /// nil otherwise.
    static func toBeSigned(_ bytes: [UInt8]) -> ArraySlice<UInt8>? {
        guard let root = try? SwiftASN1.DER.parse(bytes), root.identifier == .sequence, isCanonical(root),
            case .constructed(let children) = root.content
        else { return nil }
        var iterator = children.makeIterator()
        return iterator.next()?.encodedBytes
    }

    /// Whether every universal primitive below `node` is in DER form.
    static func isCanonical(_ node: ASN1Node) -> Bool {
        switch node.content {
        case .constructed(let children):
            // DER has constructed universal encodings for SEQUENCE and SET only.
            if node.identifier.tagClass == .universal, node.identifier != .sequence, node.identifier != .set { return false }
            for child in children where !isCanonical(child) { return false }
            return true
        case .primitive(let bytes):
            guard node.identifier.tagClass == .universal else { return true }
            switch node.identifier {
            case .boolean: return (try? Bool(derEncoded: node)) != nil
            case .integer, .enumerated: return isMinimalInteger(bytes)
            case .bitString: return (try? ASN1BitString(derEncoded: node)) != nil
            case .null: return bytes.isEmpty
            case .objectIdentifier: return (try? ASN1ObjectIdentifier(derEncoded: node)) != nil
            case .utcTime: return (try? UTCTime(derEncoded: node)) != nil
            case .generalizedTime: return (try? GeneralizedTime(derEncoded: node)) != nil
            default: return true
            }
        }
    }

    /// X.690 §8.3.2: no leading 00 before a byte < 80, no leading FF before a byte ≥ 80.
    static func isMinimalInteger(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let first = bytes.first else { return false }
        guard bytes.count > 1 else { return true }
        let second = bytes[bytes.startIndex + 1]
        return !(first == 0x00 && second < 0x80) && !(first == 0xFF && second >= 0x80)
    }

    /// Whether OpenSSL's re-encoding (`encode`, an `i2d_re_*_tbs`) equals `received`.
    static func reencodes(to received: ArraySlice<UInt8>, _ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>) -> Int32) -> Bool {
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = encode(&out)
        guard length > 0, let out else {
            ERR_clear_error()
            return false
        }
        defer { mie_openssl_free(out) }
        return UnsafeBufferPointer(start: out, count: Int(length)).elementsEqual(received)
    }
}
