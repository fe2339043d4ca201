import AuthenticatorVerification
import Crypto
import Foundation
import SignatureVerification
import Storage
import WireFormat
import _CryptoExtras

/// A JWT that could not be read or verified, with its reason (said to the IAM as
/// `error_description`, never with key material).
struct JWTFailure: Error, Sendable, CustomStringConvertible {
    let reason: String
    init(_ reason: String) { self.reason = reason }
    var description: String { reason }
}

/// One of the provider's signing keys (ES256 or RS256), with its public JWK and RFC 7638
/// thumbprint as `kid`.
struct OIDCSigningKey: Sendable {
    enum Secret: Sendable {
        case es256(P256.Signing.PrivateKey)
        case rs256(_RSA.Signing.PrivateKey)
    }

    static let algorithms = ["RS256", "ES256"]

    let secret: Secret
    let kid: String
    let publicJWK: JSONValue
    /// When it was made (a stored key's creation time).
    var createdAt = Date()

    var algorithm: String {
        switch secret {
        case .es256: "ES256"
        case .rs256: "RS256"
        }
    }

    init(_ secret: Secret) throws {
        self.secret = secret
        let members: [(String, JSONValue)]
        switch secret {
        case .es256(let key):
            let point = Array(key.publicKey.x963Representation)
            members = [("crv", .string("P-256")), ("kty", .string("EC")), ("x", .string(Base64URL.encode(point[1...32]))), ("y", .string(Base64URL.encode(point[33...64])))]
        case .rs256(let key):
            let primitives = try key.publicKey.getKeyPrimitives()
            func minimal(_ data: Data) -> [UInt8] {
                let bytes = Array(data.drop(while: { $0 == 0 }))
                return bytes.isEmpty ? [0] : bytes
            }
            members = [("e", .string(Base64URL.encode(minimal(primitives.publicExponent)))), ("kty", .string("RSA")), ("n", .string(Base64URL.encode(minimal(primitives.modulus))))]
        }
        // RFC 7638: the required members in lexicographic order, no whitespace.
        kid = Base64URL.encode(Digest.sha256(JSONValue.object(members).json))
        publicJWK = .object(members + [("kid", .string(kid)), ("use", .string("sig")), ("alg", .string(secret.algorithmName))])
    }

    static func generate(_ algorithm: String) throws -> OIDCSigningKey {
        switch algorithm {
        case "ES256": try OIDCSigningKey(.es256(P256.Signing.PrivateKey()))
        case "RS256": try OIDCSigningKey(.rs256(try _RSA.Signing.PrivateKey(keySize: .bits2048)))
        default: throw JWTFailure("\(algorithm) is not a signing algorithm of this provider")
        }
    }

    init(record: OIDCSigningKeyRecord) throws {
        switch record.algorithm {
        case "ES256": try self.init(.es256(try P256.Signing.PrivateKey(derRepresentation: record.privateKey)))
        case "RS256": try self.init(.rs256(try _RSA.Signing.PrivateKey(derRepresentation: record.privateKey)))
        default: throw JWTFailure("stored key \(record.kid) has an unknown algorithm \(record.algorithm)")
        }
        createdAt = record.createdAt
    }

    func record(at time: Date) -> OIDCSigningKeyRecord {
        let der: [UInt8]
        switch secret {
        case .es256(let key): der = Array(key.derRepresentation)
        case .rs256(let key): der = Array(key.derRepresentation)
        }
        return OIDCSigningKeyRecord(kid: kid, algorithm: algorithm, privateKey: der, publicJWK: String(decoding: publicJWK.json, as: UTF8.self), createdAt: time)
    }

    /// A compact JWS of `claims` with `{alg, kid, typ}`.
    func sign(_ claims: JSONValue, type: String = "JWT") throws -> String {
        let header = JSONValue.object([("alg", .string(algorithm)), ("kid", .string(kid)), ("typ", .string(type))])
        let input = Base64URL.encode(header.json) + "." + Base64URL.encode(claims.json)
        let signature: [UInt8]
        switch secret {
        case .es256(let key): signature = Array(try key.signature(for: Data(input.utf8)).rawRepresentation)
        case .rs256(let key): signature = Array(try key.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5).rawRepresentation)
        }
        return input + "." + Base64URL.encode(signature)
    }
}

extension OIDCSigningKey.Secret {
    var algorithmName: String {
        switch self {
        case .es256: "ES256"
        case .rs256: "RS256"
        }
    }
}

/// Public keys from a JWKS document (the IAM's, for its `id_token_hint` or its client
/// assertions): EC P-256/384/521 and RSA of 2048 bits or more; anything else is skipped.
struct JWKSet: Sendable {
    struct Key: Sendable {
        let kid: String?
        let algorithm: String?
        let key: PublicKey
    }

    let keys: [Key]

    static let maximumSize = 64 * 1024

    init(json text: String) throws(JWTFailure) {
        guard text.utf8.count <= Self.maximumSize else { throw JWTFailure("the JWKS is larger than 64 KiB") }
        let value: JSONValue
        do {
            value = try JSONValue.parse(Array(text.utf8), document: "the JWKS")
        } catch {
            throw JWTFailure("the JWKS is not JSON: \(error.message)")
        }
        guard let list = value["keys"]?.array else { throw JWTFailure("the JWKS has no keys array") }
        var keys: [Key] = []
        for item in list {
            if let use = item["use"]?.string, use != "sig" { continue }
            switch item["kty"]?.string {
            case "EC":
                guard let crv = item["crv"]?.string, let curve = EllipticCurve(rawValue: crv), curve != .secp256k1,
                    let x = item["x"]?.string.flatMap(Base64URL.decode), let y = item["y"]?.string.flatMap(Base64URL.decode),
                    let key = try? PublicKey.ec(curve: curve, x: x, y: y)
                else { continue }
                keys.append(Key(kid: item["kid"]?.string, algorithm: item["alg"]?.string, key: key))
            case "RSA":
                guard let n = item["n"]?.string.flatMap(Base64URL.decode), let e = item["e"]?.string.flatMap(Base64URL.decode),
                    n.drop(while: { $0 == 0 }).count >= 256, let key = try? PublicKey.rsa(modulus: n, exponent: e)
                else { continue }
                keys.append(Key(kid: item["kid"]?.string, algorithm: item["alg"]?.string, key: key))
            default: continue
            }
        }
        guard !keys.isEmpty else { throw JWTFailure("the JWKS holds no usable signing key") }
        self.keys = keys
    }
}

/// A JWT read and its signature checked: the header's `alg` must be one of `algorithms` (never
/// `none` or a MAC), its `kid` (when given) must name a key of the set, and no `crit` header
/// is understood. The claims come back for the caller to check.
enum JWT {
    static let maximumSize = 16 * 1024
    static let verifiable: Set<String> = ["RS256", "PS256", "ES256", "ES384", "ES512"]

    static func verify(_ token: String, keys: JWKSet, algorithms: Set<String> = verifiable) throws(JWTFailure) -> JSONValue {
        guard token.utf8.count <= maximumSize else { throw JWTFailure("the JWT is larger than 16 KiB") }
        let bytes = Array(token.utf8)
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]), let payload = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2])
        else { throw JWTFailure("is not a compact JWS") }
        let header: JSONValue
        let claims: JSONValue
        do {
            header = try JSONValue.parse(headerBytes, document: "the JWT header")
            claims = try JSONValue.parse(payload, document: "the JWT claims")
        } catch {
            throw JWTFailure("is not JSON: \(error.message)")
        }
        guard claims.members != nil else { throw JWTFailure("its claims are not an object") }
        guard header["crit"] == nil else { throw JWTFailure("has a crit header this provider does not understand") }
        guard let algorithm = header["alg"]?.string, algorithms.contains(algorithm) else {
            throw JWTFailure("is signed with \(header["alg"]?.string ?? "no algorithm"), not one of \(algorithms.sorted().joined(separator: ", "))")
        }
        let kid = header["kid"]?.string
        let candidates = keys.keys.filter { key in
            (kid == nil || key.kid == kid) && (key.algorithm == nil || key.algorithm == algorithm)
        }
        guard !candidates.isEmpty else { throw JWTFailure("is signed by a key (kid \(kid ?? "none")) the configured JWKS does not hold") }
        let input = bytes[..<(parts[0].count + 1 + parts[1].count)]
        guard candidates.contains(where: { CompactJWS.isSignatureValid(algorithm: algorithm, signature: signature, over: input, with: $0.key) }) else {
            throw JWTFailure("has a signature that does not verify")
        }
        return claims
    }

    /// `verify` against the keys of a JWKS document.
    static func verify(_ token: String, jwks: String) throws(JWTFailure) -> JSONValue {
        try verify(token, keys: try JWKSet(json: jwks))
    }

    /// `aud` as a list (a string or an array of strings).
    static func audiences(_ claims: JSONValue) -> [String] {
        if let one = claims["aud"]?.string { return [one] }
        return claims["aud"]?.strings ?? []
    }

    /// The left half of SHA-256, base64url (`at_hash`, `c_hash` for RS256 and ES256).
    static func halfHash(_ text: String) -> String {
        Base64URL.encode(Digest.sha256(Array(text.utf8)).prefix(16))
    }
}
