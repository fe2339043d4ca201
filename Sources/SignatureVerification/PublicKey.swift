internal import COpenSSL
internal import Crypto
import Synchronization

/// Which library checks a signature. `.openSSL` exists for comparison and tests; products use
/// `.fastest`, which is OpenSSL except for ECDSA P-256 with SHA-256.
public enum SignatureBackend: Sendable {
    case fastest
    case openSSL
}

/// Elliptic curves for ECDSA keys.
public enum EllipticCurve: String, Sendable, CaseIterable {
    case p256 = "P-256"
    case p384 = "P-384"
    case p521 = "P-521"
    case secp256k1

    /// Length of one affine coordinate in bytes.
    public var coordinateSize: Int {
        switch self {
        case .p256, .secp256k1: 32
        case .p384: 48
        case .p521: 66
        }
    }

    /// The DER of a SubjectPublicKeyInfo for this curve up to the point itself.
    var subjectPublicKeyInfoPrefix: [UInt8] {
        switch self {
        case .p256: Self.prefixes.p256
        case .p384: Self.prefixes.p384
        case .p521: Self.prefixes.p521
        case .secp256k1: Self.prefixes.secp256k1
        }
    }

    private static let prefixes = (
        p256: prefix(.p256), p384: prefix(.p384), p521: prefix(.p521), secp256k1: prefix(.secp256k1)
    )

    private static func prefix(_ curve: EllipticCurve) -> [UInt8] {
        let placeholder = [UInt8](repeating: 0, count: 1 + 2 * curve.coordinateSize)
        let full = DER.sequence(DER.sequence(ObjectIdentifierDER.ecPublicKey, curve.oid), DER.bitString(placeholder))
        return Array(full.dropLast(placeholder.count))
    }

    var openSSLGroupName: String {
        switch self {
        case .p256: "prime256v1"
        case .p384: "secp384r1"
        case .p521: "secp521r1"
        case .secp256k1: "secp256k1"
        }
    }

    var oid: [UInt8] {
        switch self {
        case .p256: ObjectIdentifierDER.prime256v1
        case .p384: ObjectIdentifierDER.secp384r1
        case .p521: ObjectIdentifierDER.secp521r1
        case .secp256k1: ObjectIdentifierDER.secp256k1
        }
    }
}

/// Edwards curves for EdDSA keys.
public enum EdwardsCurve: String, Sendable, CaseIterable {
    case ed25519 = "Ed25519"
    case ed448 = "Ed448"

    public var keySize: Int {
        switch self {
        case .ed25519: 32
        case .ed448: 57
        }
    }

    var oid: [UInt8] {
        switch self {
        case .ed25519: ObjectIdentifierDER.ed25519
        case .ed448: ObjectIdentifierDER.ed448
        }
    }
}

/// A public key decoded once into an OpenSSL `EVP_PKEY` and reused for every verification.
///
/// Decoding a key costs several times a P-256 signature check in OpenSSL 3, so stored
/// credentials keep a `PublicKey` rather than their COSE bytes (see `DecodingCache`).
/// Instances are immutable and safe to share between threads: OpenSSL only reads a key while
/// verifying with it.
public final class PublicKey: @unchecked Sendable {
    public enum KeyType: Sendable, Equatable, CustomStringConvertible {
        case ec(EllipticCurve)
        case edwards(EdwardsCurve)
        case rsa(modulusBits: Int)
        case mlDSA(MLDSAParameterSet)

        public var description: String {
            switch self {
            case .ec(let curve): "EC \(curve.rawValue)"
            case .edwards(let curve): curve.rawValue
            case .rsa(let bits): "RSA-\(bits)"
            case .mlDSA(let set): set.rawValue
            }
        }
    }

    /// FIPS 204 parameter sets this build verifies (ML-DSA-44 is not exposed by swift-crypto).
    public enum MLDSAParameterSet: String, Sendable, CaseIterable {
        case mlDSA65 = "ML-DSA-65"
        case mlDSA87 = "ML-DSA-87"

        var oid: [UInt8] {
            // id-ml-dsa-65 / -87: 2.16.840.1.101.3.4.3.18 / .19
            [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, self == .mlDSA65 ? 0x12 : 0x13]
        }
    }

    /// Bounds on RSA moduli: smaller keys are broken, larger ones make verification a
    /// denial-of-service lever.
    public static let minimumRSABits = 1024
    public static let maximumRSABits = 8192

    public let type: KeyType
    /// The key as DER SubjectPublicKeyInfo.
    public let subjectPublicKeyInfo: [UInt8]
    /// ES256's hot path: BoringSSL's P-256 (through swift-crypto) verifies faster than OpenSSL
    /// 3.0 and imports a point twenty times faster (Benchmarks/). Every other scheme and key
    /// type uses OpenSSL.
    private let p256: P256.Signing.PublicKey?
    /// ML-DSA keys live in swift-crypto only: OpenSSL 3.0 has no ML-DSA.
    private let mlDSA65: MLDSA65.PublicKey?
    private let mlDSA87: MLDSA87.PublicKey?
    /// The OpenSSL key. A P-256 key built from coordinates imports it only if a scheme other
    /// than ECDSA-SHA256 is ever asked of it.
    private let eagerKey: OpaquePointer?
    private let lazyKey = Mutex<OpaquePointer?>(nil)

    private init(
        pkey: OpaquePointer?, p256: P256.Signing.PublicKey? = nil, mlDSA65: MLDSA65.PublicKey? = nil,
        mlDSA87: MLDSA87.PublicKey? = nil, type: KeyType, spki: [UInt8]
    ) {
        self.eagerKey = pkey
        self.type = type
        self.subjectPublicKeyInfo = spki
        self.mlDSA65 = mlDSA65
        self.mlDSA87 = mlDSA87
        if let p256 {
            self.p256 = p256
        } else if type == .ec(.p256), spki.count >= 65 {
            self.p256 = try? P256.Signing.PublicKey(x963Representation: spki.suffix(65))
        } else {
            self.p256 = nil
        }
    }

    deinit {
        if let eagerKey { EVP_PKEY_free(eagerKey) }
        lazyKey.withLock { key in
            if let key { EVP_PKEY_free(key) }
        }
    }

    /// The OpenSSL key, imported on first use for keys that deferred it.
    var pkey: OpaquePointer? {
        if let eagerKey { return eagerKey }
        return lazyKey.withLock { key -> OpaquePointer? in
            if key == nil, case .ec(let curve) = type {
                key = Self.importECPoint(curve: curve, point: Array(subjectPublicKeyInfo.suffix(1 + 2 * curve.coordinateSize)))
            }
            return key
        }
    }

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
    private static func importECPoint(curve: EllipticCurve, point: [UInt8]) -> OpaquePointer? {
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

    /// An ML-DSA key from a SubjectPublicKeyInfo, or nil when the SPKI names another algorithm.
    static func mlDSA(subjectPublicKeyInfo spki: [UInt8]) throws(OpenSSLError) -> PublicKey? {
        for parameterSet in MLDSAParameterSet.allCases {
            let prefix = DER.sequence(parameterSet.oid)
            // 30 82 LL LL | 30 0B <oid> | 03 82 LL LL 00 <key>
            guard spki.count > 8 + prefix.count, Array(spki[4..<(4 + prefix.count)]) == prefix else { continue }
            let bitString = spki[(4 + prefix.count)...]
            guard bitString.count > 5, bitString.first == 0x03, bitString[bitString.startIndex + 1] == 0x82,
                bitString[bitString.startIndex + 4] == 0x00
            else { continue }
            return try mlDSA(parameterSet, raw: bitString.dropFirst(5))
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

    /// Whether both keys are the same public key (same type and numbers), whatever the
    /// encoding they arrived in.
    public func isSameKey(as other: PublicKey) -> Bool {
        guard type == other.type else { return false }
        if subjectPublicKeyInfo == other.subjectPublicKeyInfo { return true }
        guard let a = pkey, let b = other.pkey else { return false }
        let equal = EVP_PKEY_eq(a, b) == 1
        ERR_clear_error()
        return equal
    }

    /// RSA public-key operation on `signature` with PKCS#1 v1.5 type 1 padding removed: the
    /// data a card's INTERNAL AUTHENTICATE signed. Nil for non-RSA keys or bad padding.
    public func recoverPKCS1(_ signature: [UInt8]) -> [UInt8]? {
        recover(signature, padding: RSA_PKCS1_PADDING)
    }

    /// Raw RSA public-key operation (s^e mod n), the full block.
    public func recoverRaw(_ signature: [UInt8]) -> [UInt8]? {
        recover(signature, padding: RSA_NO_PADDING)
    }

    private func recover(_ signature: [UInt8], padding: Int32) -> [UInt8]? {
        guard case .rsa = type, let pkey, let context = EVP_PKEY_CTX_new(pkey, nil) else { return nil }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_verify_recover_init(context) == 1, EVP_PKEY_CTX_set_rsa_padding(context, padding) == 1 else {
            ERR_clear_error()
            return nil
        }
        var length = 0
        guard EVP_PKEY_verify_recover(context, nil, &length, signature, signature.count) == 1 else {
            ERR_clear_error()
            return nil
        }
        var out = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_verify_recover(context, &out, &length, signature, signature.count) == 1 else {
            ERR_clear_error()
            return nil
        }
        return Array(out.prefix(length))
    }

    /// Whether `scheme` can be used with this key at all.
    public func accepts(_ scheme: SignatureScheme) -> Bool {
        switch (type, scheme) {
        case (.ec, .ecdsa), (.edwards, .eddsa), (.rsa, .rsaPKCS1v15), (.rsa, .rsaPSS), (.mlDSA, .mlDSA): true
        default: false
        }
    }

    /// Checks `signature` over the concatenation `first ‖ second` (pass an empty second part
    /// for a single message). Returns false for a wrong or malformed signature and for a scheme
    /// that does not fit the key.
    public func isValidSignature(
        _ signature: some ContiguousBytesSequence,
        over first: some ContiguousBytesSequence,
        _ second: some ContiguousBytesSequence = [UInt8](),
        scheme: SignatureScheme,
        backend: SignatureBackend = .fastest
    ) -> Bool {
        guard accepts(scheme) else { return false }
        if backend == .fastest, let p256, scheme == .ecdsa(.sha256) {
            return Self.verifyP256(p256, signature, first, second)
        }
        if scheme == .mlDSA {
            var message = [UInt8]()
            first.withBytes { message.append(contentsOf: $0) }
            second.withBytes { message.append(contentsOf: $0) }
            return signature.withBytes { sig in
                if let mlDSA65 { return mlDSA65.isValidSignature(Array(sig), for: message) }
                if let mlDSA87 { return mlDSA87.isValidSignature(Array(sig), for: message) }
                return false
            }
        }
        guard let pkey, let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        let digests = FetchedDigests.shared
        var pctx: OpaquePointer? = nil
        let md: OpaquePointer?
        switch scheme {
        case .ecdsa(let d), .rsaPKCS1v15(let d), .rsaPSS(let d): md = digests.md(d)
        case .eddsa, .mlDSA: md = nil
        }
        guard EVP_DigestVerifyInit(ctx, &pctx, md, nil, pkey) == 1 else {
            ERR_clear_error()
            return false
        }
        if case .rsaPSS = scheme {
            guard EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1,
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1,
                EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1
            else {
                ERR_clear_error()
                return false
            }
        }
        let result: Int32 = signature.withBytes { sig in
            first.withBytes { a in
                second.withBytes { b in
                    if case .eddsa = scheme {
                        // EdDSA is one-shot only: join the parts.
                        if b.isEmpty {
                            return EVP_DigestVerify(ctx, sig.baseAddress, sig.count, a.baseAddress, a.count)
                        }
                        var joined = [UInt8](a)
                        joined.append(contentsOf: b)
                        return joined.withUnsafeBufferPointer {
                            EVP_DigestVerify(ctx, sig.baseAddress, sig.count, $0.baseAddress, $0.count)
                        }
                    }
                    guard EVP_DigestVerifyUpdate(ctx, a.baseAddress, a.count) == 1,
                        b.isEmpty || EVP_DigestVerifyUpdate(ctx, b.baseAddress, b.count) == 1
                    else { return 0 }
                    return EVP_DigestVerifyFinal(ctx, sig.baseAddress?.assumingMemoryBound(to: UInt8.self), sig.count)
                }
            }
        }
        if result != 1 { ERR_clear_error() }
        return result == 1
    }
}

extension PublicKey {
    /// ECDSA P-256 with SHA-256 through swift-crypto: DER signature, strict parsing.
    fileprivate static func verifyP256(
        _ key: P256.Signing.PublicKey, _ signature: some ContiguousBytesSequence, _ first: some ContiguousBytesSequence,
        _ second: some ContiguousBytesSequence
    ) -> Bool {
        let parsed: P256.Signing.ECDSASignature? = signature.withBytes { try? P256.Signing.ECDSASignature(derRepresentation: $0) }
        guard let parsed else { return false }
        var hasher = SHA256()
        first.withBytes { hasher.update(bufferPointer: $0) }
        second.withBytes { hasher.update(bufferPointer: $0) }
        return key.isValidSignature(parsed, for: hasher.finalize())
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
