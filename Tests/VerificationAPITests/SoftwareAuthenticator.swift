import Crypto
import Foundation
import Testing

/// A WebAuthn client and authenticator in software, for the service's ceremonies: it answers
/// the service's options with `PublicKeyCredential.toJSON()` objects, signed with fresh P-256
/// keys. Attestation is `packed` with the DEMO attestation key of the model the demo lists
/// reference (TestVectors/referencing/demo-authenticator-attestation.pem), or `none`.
final class SoftwareAuthenticator: @unchecked Sendable {
    enum Attestation { case packed, none }

    /// The AAGUID of the demo software authenticator (Tools/vectorgen/generate.py).
    static let referencedAAGUID: [UInt8] = Array("MIE-Verifier-Tes".utf8)
    static let unknownAAGUID = [UInt8](repeating: 0x42, count: 16)

    let origin: String
    let aaguid: [UInt8]
    let attestation: Attestation
    /// The flags the authenticator sets (UP | UV by default).
    var flags: UInt8 = 0x05
    private(set) var credentials: [[UInt8]: (key: P256.Signing.PrivateKey, userHandle: [UInt8], count: UInt32)] = [:]
    private var attestationKey: P256.Signing.PrivateKey?
    private var chain: [[UInt8]] = []

    init(origin: String, aaguid: [UInt8] = referencedAAGUID, attestation: Attestation = .packed) throws {
        self.origin = origin
        self.aaguid = aaguid
        self.attestation = attestation
        if attestation == .packed {
            let pem = try String(contentsOf: packageRoot.appendingPathComponent("TestVectors/referencing/demo-authenticator-attestation.pem"), encoding: .utf8)
            let keyPEM = try #require(Self.blocks(pem, "PRIVATE KEY").first)
            attestationKey = try P256.Signing.PrivateKey(derRepresentation: keyPEM)
            chain = Self.blocks(pem, "CERTIFICATE")
        }
    }

    static func blocks(_ pem: String, _ label: String) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var current: String?
        for line in pem.split(separator: "\n") {
            if line == "-----BEGIN \(label)-----" {
                current = ""
            } else if line == "-----END \(label)-----", let text = current {
                result.append(Array(Data(base64Encoded: text) ?? Data()))
                current = nil
            } else if current != nil {
                current! += line
            }
        }
        return result
    }

    // MARK: Ceremonies

    /// `navigator.credentials.create()` for these creation options (the service's `publicKey`).
    func create(_ options: [String: Any], challengeOverride: [UInt8]? = nil) throws -> [String: Any] {
        let rp = try #require(options["rp"] as? [String: Any])
        let rpID = try #require(rp["id"] as? String)
        let user = try #require(options["user"] as? [String: Any])
        let userHandle = try Self.decode(try #require(user["id"] as? String))
        let challenge = try challengeOverride ?? Self.decode(try #require(options["challenge"] as? String))
        let key = P256.Signing.PrivateKey()
        let id = (0..<32).map { _ in UInt8.random(in: 0...255) }
        credentials[id] = (key, userHandle, 0)
        let clientData = Self.clientData("webauthn.create", challenge, origin)
        let point = Array(key.publicKey.x963Representation)
        let coseKey = CBOR.map([
            (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(1)), (.int(-2), .bytes(Array(point[1...32]))),
            (.int(-3), .bytes(Array(point[33...64]))),
        ])
        var authData = Array(SHA256.hash(data: Array(rpID.utf8)))
        authData.append(flags | 0x40)
        authData += [0, 0, 0, 0]
        authData += aaguid
        authData += [UInt8(id.count >> 8), UInt8(id.count & 0xFF)]
        authData += id
        authData += coseKey.encoded
        let statement: CBOR
        let format: String
        switch attestation {
        case .none:
            format = "none"
            statement = .map([])
        case .packed:
            format = "packed"
            let signed = authData + Array(SHA256.hash(data: clientData))
            let signature = try #require(attestationKey).signature(for: signed)
            statement = .map([(.text("alg"), .int(-7)), (.text("sig"), .bytes(Array(signature.derRepresentation))), (.text("x5c"), .array(chain.map { .bytes($0) }))])
        }
        let object = CBOR.map([(.text("fmt"), .text(format)), (.text("attStmt"), statement), (.text("authData"), .bytes(authData))])
        return [
            "id": Self.encode(id), "rawId": Self.encode(id), "type": "public-key", "authenticatorAttachment": "cross-platform",
            "response": [
                "clientDataJSON": Self.encode(clientData), "attestationObject": Self.encode(object.encoded), "transports": ["usb"],
            ],
            "clientExtensionResults": [String: Any](),
        ]
    }

    /// `navigator.credentials.get()` with one of this authenticator's credentials.
    func get(_ options: [String: Any], credential id: [UInt8]? = nil, counterStep: UInt32 = 1) throws -> [String: Any] {
        let rpID = try #require(options["rpId"] as? String)
        let challenge = try Self.decode(try #require(options["challenge"] as? String))
        let allowed = try (options["allowCredentials"] as? [[String: Any]] ?? []).map { try Self.decode(try #require($0["id"] as? String)) }
        let chosen = try #require(id ?? allowed.first(where: { credentials[$0] != nil }) ?? credentials.keys.first)
        var credential = try #require(credentials[chosen])
        credential.count &+= counterStep
        credentials[chosen] = credential
        let clientData = Self.clientData("webauthn.get", challenge, origin)
        var authData = Array(SHA256.hash(data: Array(rpID.utf8)))
        authData.append(flags)
        authData += withUnsafeBytes(of: credential.count.bigEndian, Array.init)
        let signature = try credential.key.signature(for: authData + Array(SHA256.hash(data: clientData)))
        return [
            "id": Self.encode(chosen), "rawId": Self.encode(chosen), "type": "public-key",
            "response": [
                "clientDataJSON": Self.encode(clientData), "authenticatorData": Self.encode(authData),
                "signature": Self.encode(Array(signature.derRepresentation)), "userHandle": Self.encode(credential.userHandle),
            ],
            "clientExtensionResults": [String: Any](),
        ]
    }

    /// Rewinds a credential's counter (a clone would sign with an old one).
    func setCounter(_ id: [UInt8], _ value: UInt32) {
        credentials[id]?.count = value
    }

    static func clientData(_ type: String, _ challenge: [UInt8], _ origin: String) -> [UInt8] {
        Array(#"{"type":"\#(type)","challenge":"\#(encode(challenge))","origin":"\#(origin)","crossOrigin":false}"#.utf8)
    }

    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) throws -> [UInt8] {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Array(try #require(Data(base64Encoded: base64)))
    }
}

/// Just enough CBOR to write attestation objects and COSE keys (definite lengths, canonical
/// heads).
indirect enum CBOR {
    case int(Int64)
    case bytes([UInt8])
    case text(String)
    case array([CBOR])
    case map([(CBOR, CBOR)])

    var encoded: [UInt8] {
        switch self {
        case .int(let value): value >= 0 ? Self.head(0, UInt64(value)) : Self.head(1, UInt64(-1 - value))
        case .bytes(let bytes): Self.head(2, UInt64(bytes.count)) + bytes
        case .text(let text): Self.head(3, UInt64(text.utf8.count)) + Array(text.utf8)
        case .array(let items): Self.head(4, UInt64(items.count)) + items.flatMap(\.encoded)
        case .map(let pairs): Self.head(5, UInt64(pairs.count)) + pairs.flatMap { $0.0.encoded + $0.1.encoded }
        }
    }

    static func head(_ major: UInt8, _ value: UInt64) -> [UInt8] {
        let type = major << 5
        switch value {
        case 0..<24: return [type | UInt8(value)]
        case 24..<256: return [type | 24, UInt8(value)]
        case 256..<65536: return [type | 25, UInt8(value >> 8), UInt8(value & 0xFF)]
        case 65536..<(1 << 32): return [type | 26] + withUnsafeBytes(of: UInt32(value).bigEndian, Array.init)
        default: return [type | 27] + withUnsafeBytes(of: value.bigEndian, Array.init)
        }
    }
}
