import CBORDecoding
import SignatureVerification

/// A credential public key in COSE_Key form (RFC 9052 §7, RFC 9053), decoded into an OpenSSL
/// key. `encoded` keeps the exact received bytes.
public struct CredentialPublicKey: Sendable {
    /// The key's own numbers, as the COSE_Key gave them.
    public enum Parameters: Sendable, Equatable {
        case ec2(EllipticCurve, x: [UInt8], y: [UInt8])
        case okp(EdwardsCurve, x: [UInt8])
        case rsa(modulus: [UInt8], exponent: [UInt8])
        case akp(publicKey: [UInt8])
    }

    public let algorithm: COSEAlgorithm
    @_spi(Internals) public let key: PublicKey
    public let encoded: [UInt8]
    public let parameters: Parameters

    enum KeyType: Int64 {
        case okp = 1
        case ec2 = 2
        case rsa = 3
        case akp = 7

        /// COSE key parameters that hold private material (RFC 9053 §7, RFC 8230 §4,
        /// draft-ietf-cose-dilithium AKP).
        var privateLabels: [Int64] {
            switch self {
            case .okp, .ec2: [-4]
            case .rsa: [-3, -4, -5, -6, -7, -8, -9, -10, -11, -12]
            case .akp: [-2]
            }
        }
    }

    /// The usual encoding of an ES256 or ESP256 key, byte for byte: a 5-entry map in canonical
    /// order {1: 2, 3: alg, -1: 1, -2: x, -3: y}. A key in exactly this form is read without a
    /// CBOR tree (the result is the one the general path gives for the same bytes); any other
    /// spelling takes the general path.
    static let canonicalP256Length = 77

    static func canonicalP256(_ bytes: ArraySlice<UInt8>) throws(VerificationFailure) -> CredentialPublicKey? {
        guard bytes.count >= canonicalP256Length else { return nil }
        let b = bytes.startIndex
        let algorithm: COSEAlgorithm
        switch bytes[b + 4] {
        case 0x26: algorithm = .es256
        case 0x28: algorithm = .esp256
        default: return nil
        }
        guard bytes[b] == 0xA5, bytes[b + 1] == 0x01, bytes[b + 2] == 0x02, bytes[b + 3] == 0x03,
            bytes[b + 5] == 0x20, bytes[b + 6] == 0x01, bytes[b + 7] == 0x21, bytes[b + 8] == 0x58, bytes[b + 9] == 0x20,
            bytes[b + 42] == 0x22, bytes[b + 43] == 0x58, bytes[b + 44] == 0x20
        else { return nil }
        let x = bytes[(b + 10)..<(b + 42)]
        let y = bytes[(b + 45)..<(b + 77)]
        do {
            let key = try PublicKey.ec(curve: .p256, x: x, y: y)
            return CredentialPublicKey(
                algorithm: algorithm, key: key, encoded: Array(bytes[b..<(b + canonicalP256Length)]),
                parameters: .ec2(.p256, x: Array(x), y: Array(y)))
        } catch {
            throw VerificationFailure(.malformedCOSEKey, "COSE key: \(error.message)")
        }
    }

    private init(algorithm: COSEAlgorithm, key: PublicKey, encoded: [UInt8], parameters: Parameters) {
        self.algorithm = algorithm
        self.key = key
        self.encoded = encoded
        self.parameters = parameters
    }

    /// Decodes and validates COSE_Key bytes (a complete CBOR item).
    public static func decode(_ encoded: [UInt8]) throws(VerificationFailure) -> CredentialPublicKey {
        if encoded.count == canonicalP256Length, let key = try canonicalP256(encoded[...]) { return key }
        let value: CBORValue
        do {
            value = try CBORDecoder().decode(encoded)
        } catch {
            throw VerificationFailure(.malformedCOSEKey, "COSE key is not CBOR: \(error)")
        }
        return try CredentialPublicKey(value, encoded: encoded)
    }

    /// Builds the key from an already decoded COSE_Key map.
    init(_ value: CBORValue, encoded: [UInt8]) throws(VerificationFailure) {
        func fail(_ what: String) -> VerificationFailure { VerificationFailure(.malformedCOSEKey, "COSE key: \(what)") }
        guard let map = value.map else { throw fail("not a map") }
        guard let ktyValue = map[int: 1]?.integer else { throw fail("kty (1) missing or not an integer") }
        guard let algValue = map[int: 3]?.integer else { throw fail("alg (3) missing or not an integer") }
        guard let algorithm = COSEAlgorithm(rawValue: algValue) else {
            throw VerificationFailure(.algorithmUnsupported, "COSE algorithm \(algValue) is not supported")
        }
        guard let kty = KeyType(rawValue: ktyValue) else { throw fail("unknown kty \(ktyValue)") }
        if let label = kty.privateLabels.first(where: { map[int: $0] != nil }) {
            // A relying party must never receive, store or echo private key material.
            throw fail("carries private key parameter \(label): refused")
        }
        self.algorithm = algorithm
        self.encoded = encoded
        do {
            switch (kty, algorithm) {
            case (.ec2, .es256), (.ec2, .esp256), (.ec2, .es384), (.ec2, .esp384), (.ec2, .es512), (.ec2, .esp512), (.ec2, .es256k):
                let curve = try Self.curve(map, for: algorithm)
                guard let x = map[int: -2]?.bytes else { throw fail("EC2 x (-2) missing") }
                guard let y = map[int: -3]?.bytes else { throw fail("EC2 y (-3) missing or compressed") }
                key = try PublicKey.ec(curve: curve, x: x, y: y)
                parameters = .ec2(curve, x: Array(x), y: Array(y))
            case (.okp, .edDSA), (.okp, .ed25519), (.okp, .ed448):
                guard let crv = map[int: -1]?.integer else { throw fail("OKP crv (-1) missing") }
                let curve: EdwardsCurve
                switch (crv, algorithm) {
                case (6, .edDSA), (6, .ed25519): curve = .ed25519
                case (7, .edDSA), (7, .ed448): curve = .ed448
                default: throw fail("OKP curve \(crv) does not fit \(algorithm.name)")
                }
                guard let x = map[int: -2]?.bytes else { throw fail("OKP x (-2) missing") }
                key = try PublicKey.edwards(curve: curve, x: x)
                parameters = .okp(curve, x: Array(x))
            case (.rsa, .rs256), (.rsa, .rs384), (.rsa, .rs512), (.rsa, .rs1), (.rsa, .ps256), (.rsa, .ps384), (.rsa, .ps512):
                guard let n = map[int: -1]?.bytes else { throw fail("RSA n (-1) missing") }
                guard let e = map[int: -2]?.bytes else { throw fail("RSA e (-2) missing") }
                key = try PublicKey.rsa(modulus: n, exponent: e)
                parameters = .rsa(modulus: Array(n), exponent: Array(e))
            case (.akp, .mlDSA65), (.akp, .mlDSA87):
                guard let pub = map[int: -1]?.bytes else { throw fail("AKP pub (-1) missing") }
                key = try PublicKey.mlDSA(algorithm == .mlDSA65 ? .mlDSA65 : .mlDSA87, raw: pub)
                parameters = .akp(publicKey: Array(pub))
            case (.akp, _) where !algorithm.isSupported:
                throw VerificationFailure(.algorithmUnsupported, "\(algorithm.name) is not available in this build (ML-DSA-44)")
            default:
                throw fail("key type \(ktyValue) does not fit algorithm \(algorithm.name)")
            }
        } catch let failure as VerificationFailure {
            throw failure
        } catch let error as OpenSSLError {
            throw fail(error.message)
        } catch {
            throw fail("\(error)")
        }
    }

    private static func curve(_ map: CBORMap, for algorithm: COSEAlgorithm) throws(VerificationFailure) -> EllipticCurve {
        guard let crv = map[int: -1]?.integer else { throw VerificationFailure(.malformedCOSEKey, "COSE key: EC2 crv (-1) missing") }
        switch (crv, algorithm) {
        case (1, .es256), (1, .esp256): return .p256
        case (2, .es384), (2, .esp384): return .p384
        case (3, .es512), (3, .esp512): return .p521
        case (8, .es256k): return .secp256k1
        default:
            throw VerificationFailure(.malformedCOSEKey, "COSE key: curve \(crv) does not fit \(algorithm.name)")
        }
    }

    /// Checks a signature made with this credential over `first ‖ second`.
    package func isValidSignature(
        _ signature: some ContiguousBytesSequence, over first: some ContiguousBytesSequence,
        _ second: some ContiguousBytesSequence = [UInt8]()
    ) -> Bool {
        guard let scheme = algorithm.scheme else { return false }
        return key.isValidSignature(signature, over: first, second, scheme: scheme)
    }
}
