internal import COpenSSL
internal import Crypto
import Synchronization

/// Which library checks a signature. `.openSSL` exists for comparison and tests; products use
/// `.fastest`, which is OpenSSL except for ECDSA P-256 with SHA-256.
public enum SignatureBackend: Sendable {
    case fastest
    case openSSL
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

    init(
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
