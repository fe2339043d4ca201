import CBORDecoding
import Crypto
import Foundation
import Testing
import WireFormat

@testable import HardwareProbe

/// PIN/UV auth protocols one and two against values computed by python-fido2
/// (TestVectors/ctap/pin-protocol.json, Tools/vectorgen/pin_vectors.py).
@Suite struct PINProtocolTests {
    struct Vectors {
        let json: [String: Any]
        func hex(_ key: String) throws -> [UInt8] {
            let text = try #require(json[key] as? String)
            return try #require(Hex.bytes(text))
        }
    }

    static func vectors() throws -> Vectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TestVectors/ctap/pin-protocol.json")
        return Vectors(json: try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]))
    }

    @Test(arguments: PINProtocol.allCases) func agreesWithPythonFido2(_ pinProtocol: PINProtocol) throws {
        let v = try Self.vectors()
        let platform = try P256.KeyAgreement.PrivateKey(rawRepresentation: try v.hex("platformPrivate"))
        let peer = try P256.KeyAgreement.PublicKey(x963Representation: [0x04] + (try v.hex("authenticatorPublic")))
        let expected = try #require((v.json["protocols"] as? [[String: Any]])?.first { $0["protocol"] as? Int == pinProtocol.rawValue })
        func hex(_ key: String) throws -> [UInt8] {
            let text = try #require(expected[key] as? String)
            return try #require(Hex.bytes(text))
        }

        let agreement = try pinProtocol.encapsulate(peer, platform: platform)
        #expect(agreement.sharedSecret == (try hex("sharedSecret")))
        let iv = try v.hex("iv")
        #expect(try pinProtocol.encrypt(agreement.sharedSecret, try v.hex("pinHash"), iv: iv) == (try hex("pinHashEnc")))
        #expect(try pinProtocol.decrypt(agreement.sharedSecret, try hex("tokenEnc")) == (try v.hex("token")))
        #expect(pinProtocol.authenticate(try v.hex("token"), try v.hex("message")) == (try hex("pinUvAuthParam")))
        #expect(PINProtocol.pinHash(try #require(v.json["pin"] as? String)) == (try v.hex("pinHash")))
    }

    @Test func hostileAnswersAreRefused() throws {
        #expect(throws: PINProtocol.Failure.badCiphertext) { try PINProtocol.one.decrypt([UInt8](repeating: 1, count: 32), [1, 2, 3]) }
        #expect(throws: PINProtocol.Failure.badCiphertext) { try PINProtocol.two.decrypt([UInt8](repeating: 1, count: 64), [UInt8](repeating: 0, count: 16)) }
        let offCurve = try CBORDecoder().decode(
            CTAPEncoding.encode(.map([(1, .int(2)), (-1, .int(1)), (-2, .bytes([UInt8](repeating: 1, count: 32))), (-3, .bytes([UInt8](repeating: 2, count: 32)))])))
        #expect(throws: PINProtocol.Failure.self) { try PINProtocol.peerKey(offCurve) }
        let short = try CBORDecoder().decode(CTAPEncoding.encode(.map([(1, .int(2)), (-1, .int(1)), (-2, .bytes([1])), (-3, .bytes([2]))])))
        #expect(throws: PINProtocol.Failure.self) { try PINProtocol.peerKey(short) }
    }
}
