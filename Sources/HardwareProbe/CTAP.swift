import AuthenticatorVerification
import CBORDecoding
import Foundation

/// CTAP2 (FIDO Client to Authenticator Protocol 2.2) commands and the authenticatorGetInfo
/// answer, independent of the transport (USB HID, NFC).
package enum CTAPCommand: UInt8, Sendable {
    case makeCredential = 0x01
    case getAssertion = 0x02
    case getInfo = 0x04
    case clientPIN = 0x06
    case reset = 0x07
    case selection = 0x0B
}

/// A CTAP2 error status (CTAP 2.2 §8.2), with its name.
package struct CTAPError: Error, Sendable, Equatable, CustomStringConvertible {
    package let status: UInt8

    package var name: String {
        switch status {
        case 0x01: "CTAP1_ERR_INVALID_COMMAND"
        case 0x02: "CTAP1_ERR_INVALID_PARAMETER"
        case 0x03: "CTAP1_ERR_INVALID_LENGTH"
        case 0x11: "CTAP2_ERR_CBOR_UNEXPECTED_TYPE"
        case 0x12: "CTAP2_ERR_INVALID_CBOR"
        case 0x14: "CTAP2_ERR_MISSING_PARAMETER"
        case 0x26: "CTAP2_ERR_UNSUPPORTED_ALGORITHM"
        case 0x27: "CTAP2_ERR_OPERATION_DENIED"
        case 0x2E: "CTAP2_ERR_NO_CREDENTIALS"
        case 0x2F: "CTAP2_ERR_USER_ACTION_TIMEOUT"
        case 0x31: "CTAP2_ERR_PIN_INVALID"
        case 0x32: "CTAP2_ERR_PIN_BLOCKED"
        case 0x36: "CTAP2_ERR_PIN_REQUIRED"
        case 0x3A: "CTAP2_ERR_KEEPALIVE_CANCEL"
        default: "CTAP error 0x\(String(status, radix: 16))"
        }
    }

    package var description: String { name }
}

/// authenticatorGetInfo (CTAP 2.2 §6.4), decoded.
package struct AuthenticatorInfo: Encodable, Sendable, Equatable {
    package var versions: [String] = []
    package var extensions: [String] = []
    package var aaguid: String = ""
    package var options: [String: Bool] = [:]
    package var maxMsgSize: Int?
    package var pinUvAuthProtocols: [Int] = []
    package var algorithms: [Int] = []
    package var minPINLength: Int?
    package var firmwareVersion: Int?
    package var certifications: [String: Int] = [:]
    package var transports: [String] = []

    /// Whether the authenticator can verify its user (built-in UV or a client PIN).
    package var supportsUserVerification: Bool { options["uv"] == true || options["clientPin"] != nil }

    package init() {}

    /// Decodes the CBOR map of a successful getInfo response (status byte already removed).
    package init(cbor bytes: [UInt8]) throws(CardError) {
        let value = try CTAPEncoding.decode(bytes, "authenticatorGetInfo")
        guard let map = value.map else { throw CardError.malformed("authenticatorGetInfo is not a map") }
        func texts(_ key: Int64) -> [String] { map[int: key]?.array?.compactMap(\.text) ?? [] }
        versions = texts(0x01)
        guard !versions.isEmpty else { throw CardError.malformed("authenticatorGetInfo lists no versions") }
        extensions = texts(0x02)
        guard let aaguidBytes = map[int: 0x03]?.bytes, aaguidBytes.count == 16 else {
            throw CardError.malformed("authenticatorGetInfo has no 16-byte aaguid")
        }
        aaguid = AAGUIDText.string(Array(aaguidBytes))
        for entry in map[int: 0x04]?.map?.entries ?? [] {
            if let key = entry.key.text, case .bool(let flag) = entry.value { options[key] = flag }
        }
        maxMsgSize = map[int: 0x05]?.integer.map(Int.init)
        pinUvAuthProtocols = map[int: 0x06]?.array?.compactMap { $0.integer.map(Int.init) } ?? []
        transports = texts(0x09)
        algorithms = map[int: 0x0A]?.array?.compactMap { $0.map?[text: "alg"]?.integer.map(Int.init) } ?? []
        minPINLength = map[int: 0x0D]?.integer.map(Int.init)
        firmwareVersion = map[int: 0x0E]?.integer.map(Int.init)
        for entry in map[int: 0x13]?.map?.entries ?? [] {
            if let key = entry.key.text, let level = entry.value.integer { certifications[key] = Int(level) }
        }
    }
}

/// The few CBOR encodings CTAP requests need (canonical: definite lengths, sorted int keys).
enum CTAPEncoding {
    indirect enum Item {
        case int(Int64)
        case bytes([UInt8])
        case text(String)
        case array([Item])
        case map([(Int64, Item)])
        case textMap([(String, Item)])
        case bool(Bool)
        /// Bytes already encoded (a COSE_Key).
        case raw([UInt8])
    }

    static func head(_ major: UInt8, _ value: UInt64) -> [UInt8] {
        switch value {
        case 0..<24: return [major << 5 | UInt8(value)]
        case 24..<0x100: return [major << 5 | 24, UInt8(value)]
        case 0x100..<0x10000: return [major << 5 | 25, UInt8(value >> 8), UInt8(value & 0xFF)]
        case 0x10000..<0x1_0000_0000: return [major << 5 | 26] + (0..<4).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
        default: return [major << 5 | 27] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
        }
    }

    /// A CBOR answer (status byte removed); `what` names it in the error.
    static func decode(_ bytes: [UInt8], _ what: String) throws(CardError) -> CBORValue {
        do {
            return try CBORDecoder().decode(bytes)
        } catch {
            throw CardError.malformed("\(what) is not CBOR: \(error)")
        }
    }

    static func encode(_ item: Item) -> [UInt8] {
        switch item {
        case .int(let n): return n >= 0 ? head(0, UInt64(n)) : head(1, UInt64(-1 - n))
        case .bytes(let b): return head(2, UInt64(b.count)) + b
        case .text(let t): return head(3, UInt64(t.utf8.count)) + Array(t.utf8)
        case .array(let items): return head(4, UInt64(items.count)) + items.flatMap(encode)
        case .map(let pairs):
            return head(5, UInt64(pairs.count)) + pairs.sorted { $0.0 < $1.0 }.flatMap { encode(.int($0.0)) + encode($0.1) }
        case .textMap(let pairs): return head(5, UInt64(pairs.count)) + pairs.flatMap { encode(.text($0.0)) + encode($0.1) }
        case .bool(let b): return [b ? 0xF5 : 0xF4]
        case .raw(let bytes): return bytes
        }
    }

    /// authenticatorMakeCredential parameters (CTAP 2.2 §6.1): algorithms in order of
    /// preference, credentials to exclude, and the `rk` and `uv` options when asked.
    static func makeCredential(_ request: CredentialRequest) -> [UInt8] {
        var parameters: [(Int64, Item)] = [
            (1, .bytes(request.clientDataHash)),
            (2, .textMap([("id", .text(request.rpID)), ("name", .text(request.rpName))])),
            (3, .textMap([("id", .bytes(request.userID)), ("name", .text(request.userName)), ("displayName", .text(request.userDisplayName))])),
            (4, .array(request.algorithms.map { .textMap([("alg", .int(Int64($0))), ("type", .text("public-key"))]) })),
        ]
        if !request.exclude.isEmpty {
            parameters.append((5, .array(request.exclude.map { .textMap([("id", .bytes($0)), ("type", .text("public-key"))]) })))
        }
        var options: [(String, Item)] = []
        if request.residentKey { options.append(("rk", .bool(true))) }
        if request.userVerification { options.append(("uv", .bool(true))) }
        if !options.isEmpty { parameters.append((7, .textMap(options))) }
        var extensions: [(String, Item)] = []
        if let level = request.credProtect { extensions.append(("credProtect", .int(level))) }
        if request.hmacSecret { extensions.append(("hmac-secret", .bool(true))) }
        if !extensions.isEmpty { parameters.append((6, .textMap(extensions))) }
        if let token = request.pinToken {
            parameters.append((8, .bytes(token.param(request.clientDataHash))))
            parameters.append((9, .int(token.pinProtocol.number)))
        }
        return encode(.map(parameters))
    }
}

/// What authenticatorMakeCredential is asked to make: a WebAuthn client's creation options.
package struct CredentialRequest: Sendable {
    package var clientDataHash: [UInt8]
    package var rpID: String
    package var rpName: String
    package var userID: [UInt8]
    package var userName: String
    package var userDisplayName: String
    /// COSE algorithms, preferred first.
    package var algorithms: [Int] = [-7, -8, -257]
    package var exclude: [[UInt8]] = []
    package var residentKey = false
    /// Built-in user verification (fingerprint, on-device PIN): the `uv` option.
    package var userVerification = false
    /// Verification by client PIN: the token's pinUvAuthParam goes with the request.
    package var pinToken: PINToken?
    /// The credProtect extension's level (1 to 3), when asked.
    package var credProtect: Int64?
    /// Ask for the hmac-secret extension.
    package var hmacSecret = false

    package init(clientDataHash: [UInt8], rpID: String, rpName: String? = nil, userID: [UInt8], userName: String, userDisplayName: String? = nil) {
        self.clientDataHash = clientDataHash
        self.rpID = rpID
        self.rpName = rpName ?? rpID
        self.userID = userID
        self.userName = userName
        self.userDisplayName = userDisplayName ?? userName
    }
}

/// A CTAP2 authenticator reachable over some transport: send a command, get its CBOR answer.
package protocol CTAPAuthenticator: AnyObject {
    func send(_ command: CTAPCommand, _ parameters: [UInt8]) throws -> [UInt8]
}

extension CTAPAuthenticator {
    /// authenticatorGetInfo.
    package func info() throws -> AuthenticatorInfo {
        try AuthenticatorInfo(cbor: try send(.getInfo, []))
    }

    /// authenticatorMakeCredential: a fresh credential and its attestation object (the user
    /// must touch the key). Returns the attestation object as WebAuthn builds it.
    package func makeCredential(clientDataHash: [UInt8], rpID: String, userID: [UInt8]) throws -> [UInt8] {
        try makeCredential(CredentialRequest(clientDataHash: clientDataHash, rpID: rpID, userID: userID, userName: "mie-probe"))
    }

    /// authenticatorMakeCredential for `request`; the attestation object as WebAuthn builds it.
    package func makeCredential(_ request: CredentialRequest) throws -> [UInt8] {
        let response = try send(.makeCredential, CTAPEncoding.makeCredential(request))
        // CTAP answers {1: fmt, 2: authData, 3: attStmt}; WebAuthn's attestation object uses text keys.
        let value = try CTAPEncoding.decode(response, "the makeCredential answer")
        guard let map = value.map, let fmt = map[int: 1]?.text, let authData = map[int: 2]?.bytes, let statement = map[int: 3] else {
            throw CardError.malformed("makeCredential response lacks fmt, authData or attStmt")
        }
        return CTAPEncoding.encode(
            .textMap([("fmt", .text(fmt)), ("attStmt", Self.reencode(statement)), ("authData", .bytes(Array(authData)))]))
    }

    private static func reencode(_ value: CBORValue) -> CTAPEncoding.Item {
        switch value {
        case .bytes(let b): return .bytes(Array(b))
        case .text(let t): return .text(t)
        case .array(let items): return .array(items.map(reencode))
        case .map(let map):
            return .textMap(map.entries.map { ($0.key.text ?? "\($0.key.integer ?? 0)", reencode($0.value)) })
        case .bool(let b): return .bool(b)
        default: return .int(value.integer ?? 0)
        }
    }
}

extension CTAPAuthenticator {
    /// Splits `status ‖ CBOR` and throws on a non-zero status.
    static func payload(_ response: [UInt8]) throws -> [UInt8] {
        guard let status = response.first else { throw CardError.truncatedResponse(0) }
        guard status == 0 else { throw CTAPError(status: status) }
        return Array(response.dropFirst())
    }
}

/// CTAP over NFC / contact ISO 7816 (CTAP 2.2 §11.3): SELECT the FIDO AID, then CTAP2 commands
/// in `80 10 00 00` APDUs, answers gathered with GET RESPONSE.
package final class NFCAuthenticator: CTAPAuthenticator {
    package static let aid: [UInt8] = [0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01]
    let channel: CardChannel
    /// What SELECT answered: "FIDO_2_0" for CTAP2, "U2F_V2" for U2F only.
    package let version: String

    package init(_ transport: any CardTransport) throws {
        channel = CardChannel(transport)
        let answer = try channel.expectSuccess(.select(aid: Self.aid, returnFCI: true), "SELECT FIDO")
        version = String(decoding: answer, as: UTF8.self)
    }

    package func send(_ command: CTAPCommand, _ parameters: [UInt8]) throws -> [UInt8] {
        let apdu = CommandAPDU(cla: 0x80, ins: 0x10, p1: 0x00, p2: 0x00, data: [command.rawValue] + parameters, le: 0)
        let response = try channel.send(apdu)
        guard response.isSuccess else { throw CardError.status(command: "CTAP \(command)", statusWord: response.statusWord) }
        return try Self.payload(response.data)
    }
}
