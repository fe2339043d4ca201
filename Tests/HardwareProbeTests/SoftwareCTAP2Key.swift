import CBORDecoding
import Crypto
import Foundation

@testable import HardwareProbe

/// The candidate model of TestVectors/candidate as an in-process CTAP2 authenticator, for the
/// battery over CTAPHID: clientPIN with PIN/UV auth protocols one and two (the authenticator's
/// side), packed attestation by the vendor's attestation key, getAssertion with per-credential
/// counters and discoverable credentials, credProtect and hmac-secret. `fault` makes it
/// misbehave as the NFC one does (Tools/virtualcard/fido_card.py).
final class SoftwareCTAP2Key {
    enum Fault { case counterStuck, uvNever }

    struct Credential {
        let key: P256.Signing.PrivateKey
        let rpID: String
        let user: [UInt8]
        let resident: Bool
        var counter: UInt32
    }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("TestVectors/candidate")
    static let aaguid = Array("MIE-Candidate-01".utf8)

    let fault: Fault?
    let pinHash = PINProtocol.pinHash("123456")
    var retries = 8
    var agreement = P256.KeyAgreement.PrivateKey()
    var token: (PINProtocol, [UInt8])?
    var credentials: [[UInt8]: Credential] = [:]
    let attestationKey: P256.Signing.PrivateKey
    let certificate: [UInt8]

    init(fault: Fault? = nil) throws {
        self.fault = fault
        attestationKey = try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOf: Self.folder.appendingPathComponent("attestation-key.pem"), encoding: .utf8))
        let pem = try String(contentsOf: Self.folder.appendingPathComponent("attestation.pem"), encoding: .utf8)
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        certificate = Array(Data(base64Encoded: body) ?? Data())
    }

    var info: [UInt8] {
        var options: [(String, CTAPEncoding.Item)] = [
            ("rk", .bool(true)), ("up", .bool(true)), ("plat", .bool(false)), ("clientPin", .bool(true)), ("pinUvAuthToken", .bool(true)),
        ]
        if fault == .uvNever { options.append(("uv", .bool(true))) }
        return CTAPEncoding.encode(
            .map([
                (1, .array([.text("FIDO_2_0"), .text("FIDO_2_1")])), (2, .array([.text("credProtect"), .text("hmac-secret")])), (3, .bytes(Self.aaguid)),
                (4, .textMap(options)), (5, .int(1200)), (6, .array([.int(2), .int(1)])), (9, .array([.text("nfc")])),
                (10, .array([.textMap([("alg", .int(-7)), ("type", .text("public-key"))])])), (13, .int(4)), (14, .int(0x050102)),
            ]))
    }

    struct Status: Error { let code: UInt8 }

    /// One CBOR command: status ‖ answer.
    func handle(_ command: UInt8, _ parameters: [UInt8]) -> [UInt8] {
        do {
            let request = try CBORDecoder().decode(parameters)
            guard let map = request.map else { return [0x12] }
            switch command {
            case 0x06: return [0x00] + (try clientPIN(map))
            case 0x01: return [0x00] + (try makeCredential(map))
            case 0x02: return [0x00] + (try getAssertion(map))
            default: return [0x01]
            }
        } catch let status as Status {
            return [status.code]
        } catch {
            return [0x12]
        }
    }

    func clientPIN(_ map: CBORMap) throws -> [UInt8] {
        let sub = map[int: 2]?.integer
        if sub == 0x01 { return CTAPEncoding.encode(.map([(3, .int(Int64(retries)))])) }
        guard let number = map[int: 1]?.integer, let pinProtocol = PINProtocol(rawValue: Int(number)) else { throw Status(code: 0x02) }
        if sub == 0x02 {
            let point = Array(agreement.publicKey.x963Representation)
            return CTAPEncoding.encode(
                .map([(1, .map([(1, .int(2)), (3, .int(-25)), (-1, .int(1)), (-2, .bytes(Array(point[1...32]))), (-3, .bytes(Array(point[33...64])))]))]))
        }
        guard sub == 0x05 || sub == 0x09, let platform = map[int: 3], let hashEnc = map[int: 6]?.bytes else { throw Status(code: 0x14) }
        guard retries > 0 else { throw Status(code: 0x32) }
        let z = try agreement.sharedSecretFromKeyAgreement(with: try PINProtocol.peerKey(platform)).withUnsafeBytes { Array($0) }
        let secret = pinProtocol.kdf(z)
        guard try pinProtocol.decrypt(secret, Array(hashEnc)) == pinHash else {
            retries -= 1
            agreement = P256.KeyAgreement.PrivateKey()
            throw Status(code: retries == 0 ? 0x32 : 0x31)
        }
        retries = 8
        let fresh = (0..<32).map { _ in UInt8.random(in: 0...255) }
        token = (pinProtocol, fresh)
        return CTAPEncoding.encode(.map([(2, .bytes(try pinProtocol.encrypt(secret, fresh)))]))
    }

    /// Whether a valid pinUvAuthParam came with the request.
    func verified(_ map: CBORMap, hash: Int64, param: Int64, protocolKey: Int64) throws -> Bool {
        guard let sent = map[int: param]?.bytes else { return false }
        guard let (pinProtocol, key) = token, map[int: protocolKey]?.integer == pinProtocol.number, let message = map[int: hash]?.bytes,
            pinProtocol.authenticate(key, Array(message)) == Array(sent)
        else { throw Status(code: 0x33) }
        return true
    }

    func flags(uv: Bool, attested: Bool = false, extensions: Bool = false) -> UInt8 {
        0x01 | (uv && fault != .uvNever ? 0x04 : 0) | (attested ? 0x40 : 0) | (extensions ? 0x80 : 0)
    }

    func counter(_ id: [UInt8]) -> [UInt8] {
        if fault != .counterStuck { credentials[id]?.counter += 1 }
        let value = fault == .counterStuck ? 7 : credentials[id]?.counter ?? 0
        return withUnsafeBytes(of: value.bigEndian, Array.init)
    }

    func makeCredential(_ map: CBORMap) throws -> [UInt8] {
        guard let hash = map[int: 1]?.bytes, let rpID = map[int: 2]?.map?[text: "id"]?.text, let user = map[int: 3]?.map?[text: "id"]?.bytes else {
            throw Status(code: 0x14)
        }
        let uv = try verified(map, hash: 1, param: 8, protocolKey: 9)
        let key = P256.Signing.PrivateKey()
        let id = (0..<48).map { _ in UInt8.random(in: 0...255) }
        credentials[id] = Credential(key: key, rpID: rpID, user: Array(user), resident: map[int: 7]?.map?[text: "rk"] == .bool(true), counter: 0)
        let point = Array(key.publicKey.x963Representation)
        let cose = CTAPEncoding.encode(.map([(1, .int(2)), (3, .int(-7)), (-1, .int(1)), (-2, .bytes(Array(point[1...32]))), (-3, .bytes(Array(point[33...64])))]))
        var outputs: [(String, CTAPEncoding.Item)] = []
        if let level = map[int: 6]?.map?[text: "credProtect"]?.integer { outputs.append(("credProtect", .int(level))) }
        if map[int: 6]?.map?[text: "hmac-secret"] == .bool(true) { outputs.append(("hmac-secret", .bool(true))) }
        var authData = Array(SHA256.hash(data: Array(rpID.utf8))) + [flags(uv: uv, attested: true, extensions: !outputs.isEmpty)] + counter(id)
        authData += Self.aaguid + [0, UInt8(id.count)] + id + cose
        if !outputs.isEmpty { authData += CTAPEncoding.encode(.textMap(outputs)) }
        let signature = try attestationKey.signature(for: authData + Array(hash)).derRepresentation
        return CTAPEncoding.encode(
            .map([
                (1, .text("packed")), (2, .bytes(authData)),
                (3, .textMap([("alg", .int(-7)), ("sig", .bytes(Array(signature))), ("x5c", .array([.bytes(certificate)]))])),
            ]))
    }

    func getAssertion(_ map: CBORMap) throws -> [UInt8] {
        guard let rpID = map[int: 1]?.text, let hash = map[int: 2]?.bytes else { throw Status(code: 0x14) }
        let uv = try verified(map, hash: 2, param: 6, protocolKey: 7)
        let allowed = map[int: 3]?.array?.compactMap { $0.map?[text: "id"]?.bytes.map(Array.init) } ?? []
        let found = allowed.isEmpty
            ? credentials.filter { $0.value.rpID == rpID && $0.value.resident }.map(\.key) : allowed.filter { credentials[$0]?.rpID == rpID }
        guard let id = found.first, let credential = credentials[id] else { throw Status(code: 0x2E) }
        let authData = Array(SHA256.hash(data: Array(rpID.utf8))) + [flags(uv: uv)] + counter(id)
        let signature = try credential.key.signature(for: authData + Array(hash)).derRepresentation
        var answer: [(Int64, CTAPEncoding.Item)] = [
            (1, .textMap([("id", .bytes(id)), ("type", .text("public-key"))])), (2, .bytes(authData)), (3, .bytes(Array(signature))),
        ]
        if credential.resident { answer.append((4, .textMap([("id", .bytes(credential.user))]))) }
        if allowed.isEmpty { answer.append((5, .int(Int64(found.count)))) }
        return CTAPEncoding.encode(.map(answer))
    }
}
