import CBORDecoding
import Foundation

/// A pinUvAuthToken and the protocol that obtained it.
package struct PINToken: Sendable {
    package let pinProtocol: PINProtocol
    package let token: [UInt8]

    /// pinUvAuthParam over `message` (the clientDataHash for makeCredential and getAssertion).
    package func param(_ message: [UInt8]) -> [UInt8] { pinProtocol.authenticate(token, message) }
}

/// authenticatorGetAssertion's request (CTAP 2.2 §6.2).
package struct AssertionRequest: Sendable {
    package var rpID: String
    package var clientDataHash: [UInt8]
    package var allow: [[UInt8]] = []
    /// The `up` option; nil leaves the authenticator's default (true).
    package var userPresence: Bool?
    /// Built-in user verification: the `uv` option.
    package var userVerification = false
    package var pinToken: PINToken?

    package init(rpID: String, clientDataHash: [UInt8]) {
        self.rpID = rpID
        self.clientDataHash = clientDataHash
    }
}

/// authenticatorGetAssertion's answer.
package struct AssertionResult: Sendable {
    package let credentialID: [UInt8]
    package let authenticatorData: [UInt8]
    package let signature: [UInt8]
    package let userHandle: [UInt8]?
    package let numberOfCredentials: Int?
}

extension CTAPAuthenticator {
    /// authenticatorClientPIN with `parameters` (subCommand and the rest); its answer map.
    func clientPIN(_ parameters: [(Int64, CTAPEncoding.Item)]) throws -> CBORValue? {
        let answer = try send(.clientPIN, CTAPEncoding.encode(.map(parameters)))
        guard !answer.isEmpty else { return nil }
        return try CTAPEncoding.decode(answer, "the clientPIN answer")
    }

    /// getPINRetries (subCommand 0x01): tries left before the PIN blocks.
    package func pinRetries(_ pinProtocol: PINProtocol = .two) throws -> Int {
        guard let retries = try clientPIN([(1, .int(pinProtocol.number)), (2, .int(0x01))])?.map?[int: 3]?.integer else {
            throw CardError.malformed("getPINRetries answered no pinRetries")
        }
        return Int(clamping: retries)
    }

    /// getKeyAgreement (subCommand 0x02), then the platform's half of the agreement.
    package func agreement(_ pinProtocol: PINProtocol) throws -> PINProtocol.Agreement {
        guard let key = try clientPIN([(1, .int(pinProtocol.number)), (2, .int(0x02))])?.map?[int: 1] else {
            throw CardError.malformed("getKeyAgreement answered no keyAgreement")
        }
        return try pinProtocol.encapsulate(try PINProtocol.peerKey(key))
    }

    /// A pinUvAuthToken for the PIN: getPinUvAuthTokenUsingPinWithPermissions (0x09) with
    /// `permissions` (0x01 makeCredential, 0x02 getAssertion) for `rpID` when the authenticator
    /// has `pinUvAuthToken`, else getPinToken (0x05). A wrong PIN throws CTAP2_ERR_PIN_INVALID.
    package func pinToken(pin: String, pinProtocol: PINProtocol, permissions: Int64?, rpID: String?) throws -> PINToken {
        let agreement = try agreement(pinProtocol)
        let hashEnc = try pinProtocol.encrypt(agreement.sharedSecret, PINProtocol.pinHash(pin))
        var parameters: [(Int64, CTAPEncoding.Item)] = [
            (1, .int(pinProtocol.number)), (2, .int(permissions == nil ? 0x05 : 0x09)), (3, .raw(agreement.platformKey)), (6, .bytes(hashEnc)),
        ]
        if let permissions {
            parameters.append((9, .int(permissions)))
            if let rpID { parameters.append((10, .text(rpID))) }
        }
        guard let encrypted = try clientPIN(parameters)?.map?[int: 2]?.bytes else { throw CardError.malformed("no pinUvAuthToken in the answer") }
        let token = try pinProtocol.decrypt(agreement.sharedSecret, Array(encrypted))
        guard token.count == 16 || token.count == 32 else { throw CardError.malformed("the pinUvAuthToken is \(token.count) bytes") }
        return PINToken(pinProtocol: pinProtocol, token: token)
    }

    /// authenticatorGetAssertion: the first (or only) assertion.
    package func getAssertion(_ request: AssertionRequest) throws -> AssertionResult {
        var parameters: [(Int64, CTAPEncoding.Item)] = [(1, .text(request.rpID)), (2, .bytes(request.clientDataHash))]
        if !request.allow.isEmpty {
            parameters.append((3, .array(request.allow.map { .textMap([("id", .bytes($0)), ("type", .text("public-key"))]) })))
        }
        var options: [(String, CTAPEncoding.Item)] = []
        if let up = request.userPresence { options.append(("up", .bool(up))) }
        if request.userVerification { options.append(("uv", .bool(true))) }
        if !options.isEmpty { parameters.append((5, .textMap(options))) }
        if let token = request.pinToken {
            parameters.append((6, .bytes(token.param(request.clientDataHash))))
            parameters.append((7, .int(token.pinProtocol.number)))
        }
        let answer = try send(.getAssertion, CTAPEncoding.encode(.map(parameters)))
        let value = try CTAPEncoding.decode(answer, "the getAssertion answer")
        guard let map = value.map, let authData = map[int: 2]?.bytes, let signature = map[int: 3]?.bytes else {
            throw CardError.malformed("the getAssertion answer lacks authData or signature")
        }
        let credential = map[int: 1]?.map?[text: "id"]?.bytes.map(Array.init) ?? request.allow.first ?? []
        return AssertionResult(
            credentialID: credential, authenticatorData: Array(authData), signature: Array(signature),
            userHandle: map[int: 4]?.map?[text: "id"]?.bytes.map(Array.init), numberOfCredentials: map[int: 5]?.integer.map { Int(clamping: $0) })
    }
}
