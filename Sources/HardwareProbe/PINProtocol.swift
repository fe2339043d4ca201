import CBORDecoding
import Crypto
import CryptoExtras
import Foundation

/// PIN/UV auth protocols one and two (CTAP 2.1 §6.5.6, §6.5.7): the platform's half of the key
/// agreement with the authenticator, the encryption of the PIN hash and the token, and the
/// `pinUvAuthParam` over a request. The PIN itself never leaves this process; only
/// LEFT(SHA-256(PIN), 16), encrypted under the agreed key, does.
package enum PINProtocol: Int, Sendable, CaseIterable {
    case one = 1
    case two = 2

    /// The protocol's number as CTAP sends it.
    package var number: Int64 { self == .one ? 1 : 2 }

    /// The shared secret of one key agreement, and the platform's public key to send with it.
    package struct Agreement: Sendable {
        package let sharedSecret: [UInt8]
        /// The platform's COSE_Key (EC2, P-256, alg -25: ECDH-ES+HKDF-256).
        package let platformKey: [UInt8]
    }

    package enum Failure: Error, Equatable, CustomStringConvertible {
        case badPeerKey(String)
        case badCiphertext

        package var description: String {
            switch self {
            case .badPeerKey(let why): "the authenticator's key agreement key is not usable: \(why)"
            case .badCiphertext: "the authenticator's encrypted answer is malformed"
            }
        }
    }

    /// The authenticator's key agreement key (a COSE_Key map from getKeyAgreement).
    package static func peerKey(_ value: CBORValue) throws(Failure) -> P256.KeyAgreement.PublicKey {
        guard let map = value.map else { throw .badPeerKey("not a map") }
        guard map[int: 1]?.integer == 2, map[int: -1]?.integer == 1 else { throw .badPeerKey("not an EC2 P-256 key") }
        guard let x = map[int: -2]?.bytes, let y = map[int: -3]?.bytes, x.count == 32, y.count == 32 else {
            throw .badPeerKey("coordinates are not 32 bytes each")
        }
        do {
            return try P256.KeyAgreement.PublicKey(x963Representation: [0x04] + Array(x) + Array(y))
        } catch {
            throw .badPeerKey("the point is not on P-256")
        }
    }

    /// encapsulate(peerCoseKey): a fresh platform key, ECDH with the authenticator's, and the KDF.
    package func encapsulate(_ peer: P256.KeyAgreement.PublicKey, platform: P256.KeyAgreement.PrivateKey = .init()) throws -> Agreement {
        let z = try platform.sharedSecretFromKeyAgreement(with: peer).withUnsafeBytes { Array($0) }
        let point = Array(platform.publicKey.x963Representation)
        let cose = CTAPEncoding.encode(
            .map([(1, .int(2)), (3, .int(-25)), (-1, .int(1)), (-2, .bytes(Array(point[1...32]))), (-3, .bytes(Array(point[33...64])))]))
        return Agreement(sharedSecret: kdf(z), platformKey: cose)
    }

    /// Protocol one: SHA-256(Z). Protocol two: HKDF-SHA-256 with 32 zero bytes of salt, the HMAC
    /// key then the AES key.
    func kdf(_ z: [UInt8]) -> [UInt8] {
        switch self {
        case .one: return Array(SHA256.hash(data: z))
        case .two:
            let salt = [UInt8](repeating: 0, count: 32)
            func derive(_ info: String) -> [UInt8] {
                HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: z), salt: salt, info: Array(info.utf8), outputByteCount: 32)
                    .withUnsafeBytes { Array($0) }
            }
            return derive("CTAP2 HMAC key") + derive("CTAP2 AES key")
        }
    }

    private func aesKey(_ secret: [UInt8]) -> SymmetricKey {
        SymmetricKey(data: self == .two && secret.count == 64 ? Array(secret[32...]) : secret)
    }

    private func hmacKey(_ secret: [UInt8]) -> SymmetricKey {
        SymmetricKey(data: self == .two && secret.count == 64 ? Array(secret[..<32]) : secret)
    }

    /// AES-256-CBC without padding: protocol one with a zero IV, protocol two with a random IV
    /// sent in front.
    package func encrypt(_ secret: [UInt8], _ plaintext: [UInt8], iv fixed: [UInt8]? = nil) throws -> [UInt8] {
        switch self {
        case .one:
            return Array(try AES._CBC.encrypt(plaintext, using: aesKey(secret), iv: try AES._CBC.IV(ivBytes: [UInt8](repeating: 0, count: 16)), noPadding: true))
        case .two:
            let iv = fixed ?? (0..<16).map { _ in UInt8.random(in: 0...255) }
            return iv + Array(try AES._CBC.encrypt(plaintext, using: aesKey(secret), iv: try AES._CBC.IV(ivBytes: iv), noPadding: true))
        }
    }

    package func decrypt(_ secret: [UInt8], _ ciphertext: [UInt8]) throws -> [UInt8] {
        switch self {
        case .one:
            guard !ciphertext.isEmpty, ciphertext.count % 16 == 0 else { throw Failure.badCiphertext }
            return Array(try AES._CBC.decrypt(ciphertext, using: aesKey(secret), iv: try AES._CBC.IV(ivBytes: [UInt8](repeating: 0, count: 16)), noPadding: true))
        case .two:
            guard ciphertext.count >= 32, ciphertext.count % 16 == 0 else { throw Failure.badCiphertext }
            let iv = Array(ciphertext[..<16])
            return Array(try AES._CBC.decrypt(Array(ciphertext[16...]), using: aesKey(secret), iv: try AES._CBC.IV(ivBytes: iv), noPadding: true))
        }
    }

    /// authenticate(key, message): HMAC-SHA-256, truncated to 16 bytes for protocol one.
    package func authenticate(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        let mac = Array(HMAC<SHA256>.authenticationCode(for: message, using: hmacKey(key)))
        return self == .one ? Array(mac.prefix(16)) : mac
    }

    /// The PIN as the authenticator expects it: LEFT(SHA-256(PIN), 16).
    package static func pinHash(_ pin: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(pin.utf8)).prefix(16))
    }
}
