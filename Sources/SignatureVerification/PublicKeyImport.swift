internal import COpenSSL
internal import Crypto
import SwiftASN1

/// Building keys: from COSE coordinates (EC, Edwards, RSA, ML-DSA) through OpenSSL's parameter
/// import or swift-crypto, and from DER SubjectPublicKeyInfo (certificates).
extension PublicKey {
    /// An ECDSA key from its affine coordinates (each exactly `curve.coordinateSize` bytes).
    /// OpenSSL rejects points that are not on the curve.
    ///
    /// Built with `EVP_PKEY_fromdata`: OpenSSL 3's DER decoder (`d2i_PUBKEY`) costs more than a
    /// signature check, the parameter import a fraction of one.
    public static func ec(curve: EllipticCurve, x: some Collection<UInt8>, y: some Collection<UInt8>) throws(OpenSSLError) -> PublicKey {
        guard x.count == curve.coordinateSize, y.count == curve.coordinateSize else {
            throw OpenSSLError(.invalidKey, "\(curve.rawValue) coordinates must be \(curve.coordinateSize) bytes")
        }
        // SubjectPublicKeyInfo = a fixed prefix per curve, then the uncompressed point.
        let prefix = curve.subjectPublicKeyInfoPrefix
        var spki = prefix
        spki.reserveCapacity(prefix.count + 1 + 2 * curve.coordinateSize)
        spki.append(0x04)
        spki += x
        spki += y
        let point = Array(spki[prefix.count...])
        if curve == .p256 {
            // BoringSSL checks that the point is on the curve; OpenSSL's import waits.
            guard let key = try? P256.Signing.PublicKey(x963Representation: point) else {
                throw OpenSSLError(.invalidKey, "the P-256 point is not on the curve")
            }
            return PublicKey(pkey: nil, p256: key, type: .ec(curve), spki: spki)
        }
        guard let pkey = importECPoint(curve: curve, point: point) else {
            throw OpenSSLError.fromQueue(.invalidKey, "OpenSSL rejected the \(curve.rawValue) point")
        }
        return PublicKey(pkey: pkey, type: .ec(curve), spki: spki)
    }

    /// An uncompressed point imported into OpenSSL, which rejects points off the curve.
    static func importECPoint(curve: EllipticCurve, point: [UInt8]) -> OpaquePointer? {
        var point = point
        return curve.openSSLGroupName.withCString { group in
            point.withUnsafeMutableBytes { pointBytes in
                importKey(
                    type: "EC",
                    [
                        OSSL_PARAM_construct_utf8_string(ParameterName.group, UnsafeMutablePointer(mutating: group), 0),
                        OSSL_PARAM_construct_octet_string(ParameterName.publicKey, pointBytes.baseAddress, pointBytes.count),
                    ])
            }
        }
    }

    /// `EVP_PKEY_fromdata` for a public key of `type` from parameters (end marker added here).
    private static func importKey(type: String, _ parameters: [OSSL_PARAM]) -> OpaquePointer? {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, type, nil) else { return nil }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_fromdata_init(context) == 1 else { return nil }
        var list = parameters
        list.append(OSSL_PARAM_construct_end())
        var pkey: OpaquePointer? = nil
        let status = list.withUnsafeMutableBufferPointer { buffer in
            EVP_PKEY_fromdata(context, &pkey, mie_evp_pkey_public_key_selection(), buffer.baseAddress)
        }
        guard status == 1, let pkey else { return nil }
        return pkey
    }

    /// An ML-DSA key from its FIPS 204 encoding.
    public static func mlDSA(_ parameterSet: MLDSAParameterSet, raw: some Collection<UInt8>) throws(OpenSSLError) -> PublicKey {
        let bytes = Array(raw)
        let spki = DER.sequence(DER.sequence(parameterSet.oid), DER.bitString(bytes))
        do {
            switch parameterSet {
            case .mlDSA65:
                return PublicKey(
                    pkey: nil, mlDSA65: try MLDSA65.PublicKey(rawRepresentation: bytes), type: .mlDSA(parameterSet), spki: spki)
            case .mlDSA87:
                return PublicKey(
                    pkey: nil, mlDSA87: try MLDSA87.PublicKey(rawRepresentation: bytes), type: .mlDSA(parameterSet), spki: spki)
            }
        } catch {
            throw OpenSSLError(.invalidKey, "\(parameterSet.rawValue) public key of \(bytes.count) bytes is not valid")
        }
    }

    /// An ML-DSA key from a SubjectPublicKeyInfo, or nil when the SPKI names another algorithm
    /// (SEQUENCE { SEQUENCE { OID }, BIT STRING key }, read with swift-asn1).
    static func mlDSA(subjectPublicKeyInfo spki: [UInt8]) throws(OpenSSLError) -> PublicKey? {
        guard let root = try? SwiftASN1.DER.parse(spki), root.identifier == .sequence, case .constructed(let parts) = root.content
        else { return nil }
        let fields = Array(parts)
        guard fields.count == 2, fields[0].identifier == .sequence, case .constructed(let algorithm) = fields[0].content,
            let oid = algorithm.first(where: { _ in true }), let key = try? ASN1BitString(derEncoded: fields[1]), key.paddingBits == 0
        else { return nil }
        for parameterSet in MLDSAParameterSet.allCases where oid.encodedBytes.elementsEqual(parameterSet.oid) {
            return try mlDSA(parameterSet, raw: key.bytes)
        }
        return nil
    }

    /// An EdDSA key from its encoded point.
    public static func edwards(curve: EdwardsCurve, x: some Collection<UInt8>) throws(OpenSSLError) -> PublicKey {
        guard x.count == curve.keySize else {
            throw OpenSSLError(.invalidKey, "\(curve.rawValue) keys are \(curve.keySize) bytes")
        }
        let raw = Array(x)
        do throws(EdwardsPointValidation.Rejection) {
            try EdwardsPointValidation.check(raw, curve: curve)
        } catch {
            throw OpenSSLError(.invalidKey, error.reason)
        }
        let type = curve == .ed25519 ? EVP_PKEY_ED25519 : EVP_PKEY_ED448
        guard let pkey = raw.withUnsafeBufferPointer({ EVP_PKEY_new_raw_public_key(type, nil, $0.baseAddress, $0.count) }) else {
            throw OpenSSLError.fromQueue(.invalidKey, "OpenSSL rejected the \(curve.rawValue) key")
        }
        let spki = DER.sequence(DER.sequence(curve.oid), DER.bitString(raw))
        return PublicKey(pkey: pkey, type: .edwards(curve), spki: spki)
    }

    /// An RSA key from its modulus and public exponent (big-endian magnitudes).
    public static func rsa(modulus: some Collection<UInt8>, exponent: some Collection<UInt8>) throws(OpenSSLError) -> PublicKey {
        let n = Array(modulus.drop(while: { $0 == 0 }))
        let e = Array(exponent.drop(while: { $0 == 0 }))
        let bits = n.isEmpty ? 0 : (n.count - 1) * 8 + (8 - n[0].leadingZeroBitCount)
        guard bits >= minimumRSABits, bits <= maximumRSABits else {
            throw OpenSSLError(.invalidKey, "RSA modulus of \(bits) bits is outside \(minimumRSABits)...\(maximumRSABits)")
        }
        guard let last = e.last, e.count <= 8, last & 1 == 1, e != [1] else {
            throw OpenSSLError(.invalidKey, "RSA public exponent must be odd, greater than 1 and at most 64 bits")
        }
        // OSSL_PARAM BIGNUMs are native-endian (little-endian here) unsigned magnitudes.
        var nLittle = Array(n.reversed())
        var eLittle = Array(e.reversed())
        let pkey: OpaquePointer? = nLittle.withUnsafeMutableBufferPointer { nBuffer in
            eLittle.withUnsafeMutableBufferPointer { eBuffer in
                importKey(
                    type: "RSA",
                    [
                        OSSL_PARAM_construct_BN(ParameterName.rsaModulus, nBuffer.baseAddress, nBuffer.count),
                        OSSL_PARAM_construct_BN(ParameterName.rsaExponent, eBuffer.baseAddress, eBuffer.count),
                    ])
            }
        }
        guard let pkey else { throw OpenSSLError.fromQueue(.invalidKey, "OpenSSL rejected the RSA key") }
        let rsaKey = DER.sequence(DER.unsignedInteger(n), DER.unsignedInteger(e))
        let spki = DER.sequence(DER.sequence(ObjectIdentifierDER.rsaEncryption, DER.null), DER.bitString(rsaKey))
        return PublicKey(pkey: pkey, type: .rsa(modulusBits: bits), spki: spki)
    }

    /// A key from DER SubjectPublicKeyInfo (as found in certificates).
    public static func subjectPublicKeyInfo(_ der: some Collection<UInt8>) throws(OpenSSLError) -> PublicKey {
        let bytes = Array(der)
        guard let pkey = parse(bytes) else { throw OpenSSLError.fromQueue(.invalidKey, "unreadable SubjectPublicKeyInfo") }
        return try adopt(pkey, spki: bytes)
    }

    /// Wraps an `EVP_PKEY` whose reference this key now owns.
    static func adopt(_ pkey: OpaquePointer, spki: [UInt8]?) throws(OpenSSLError) -> PublicKey {
        let type: KeyType
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_EC:
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, &name, name.count, &length)
            let group = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            switch group {
            case "prime256v1", "P-256": type = .ec(.p256)
            case "secp384r1", "P-384": type = .ec(.p384)
            case "secp521r1", "P-521": type = .ec(.p521)
            case "secp256k1": type = .ec(.secp256k1)
            default:
                EVP_PKEY_free(pkey)
                throw OpenSSLError(.unsupported, "unsupported EC group \(group)")
            }
        case EVP_PKEY_ED25519, EVP_PKEY_ED448:
            let curve: EdwardsCurve = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 ? .ed25519 : .ed448
            var raw = [UInt8](repeating: 0, count: curve.keySize)
            var length = raw.count
            do throws(EdwardsPointValidation.Rejection) {
                guard EVP_PKEY_get_raw_public_key(pkey, &raw, &length) == 1, length == curve.keySize else {
                    throw EdwardsPointValidation.Rejection(reason: "unreadable \(curve.rawValue) key")
                }
                try EdwardsPointValidation.check(raw, curve: curve)
            } catch {
                ERR_clear_error()
                EVP_PKEY_free(pkey)
                throw OpenSSLError(.invalidKey, error.reason)
            }
            type = .edwards(curve)
        case EVP_PKEY_RSA:
            let bits = Int(EVP_PKEY_get_bits(pkey))
            guard bits >= minimumRSABits, bits <= maximumRSABits else {
                EVP_PKEY_free(pkey)
                throw OpenSSLError(.invalidKey, "RSA modulus of \(bits) bits is outside \(minimumRSABits)...\(maximumRSABits)")
            }
            type = .rsa(modulusBits: bits)
        default:
            EVP_PKEY_free(pkey)
            throw OpenSSLError(.unsupported, "unsupported public key type")
        }
        let encoded = spki ?? encodeSubjectPublicKeyInfo(pkey)
        return PublicKey(pkey: pkey, type: type, spki: encoded)
    }

    private static func parse(_ spki: [UInt8]) -> OpaquePointer? {
        decodeWholeDER(spki, { d2i_PUBKEY(nil, $0, $1) }, free: EVP_PKEY_free)
    }

    private static func encodeSubjectPublicKeyInfo(_ pkey: OpaquePointer) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_PUBKEY(pkey, &out)
        guard length > 0, let out else { return [] }
        defer { mie_openssl_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }

}

/// OSSL_PARAM keeps a pointer to its key name, so names must outlive the call that builds the
/// parameter: static string literals (NUL-terminated in the binary), not bridged Swift strings.
private enum ParameterName {
    static var group: UnsafePointer<CChar> { cString("group") }
    static var publicKey: UnsafePointer<CChar> { cString("pub") }
    static var rsaModulus: UnsafePointer<CChar> { cString("n") }
    static var rsaExponent: UnsafePointer<CChar> { cString("e") }

    private static func cString(_ literal: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(literal.utf8Start).assumingMemoryBound(to: CChar.self)
    }
}
