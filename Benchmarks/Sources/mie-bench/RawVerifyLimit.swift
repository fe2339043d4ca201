import Crypto
import Foundation
import SignatureVerification
import WireFormat

/// The raw crypto limit of a request file: every assertion's key, signature and signed message
/// prepared in memory, then only the P-256 verifications timed, through swift-crypto
/// (BoringSSL) and through OpenSSL 3 (EVP), over the same distinct inputs the end-to-end run
/// verifies (variable-time steps see the same data as there).
enum RawVerifyLimit {
    struct Input {
        let swiftCryptoKey: P256.Signing.PublicKey
        let swiftCryptoSignature: P256.Signing.ECDSASignature
        let openSSLKey: PublicKey
        let derSignature: [UInt8]
        let message: [UInt8]
    }

    static func load(_ path: String, limit: Int = 100_000) -> [Input] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fatalError("cannot read \(path)") }
        var inputs: [Input] = []
        var keys: [String: (P256.Signing.PublicKey, PublicKey)] = [:]
        for line in text.split(separator: "\n").prefix(limit) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let response = (object["response"] as? [String: Any])?["response"] as? [String: String],
                let credential = (object["expected"] as? [String: Any])?["credential"] as? [String: Any],
                let coseText = credential["publicKey"] as? String, let cose = Base64URL.decode(coseText),
                let authData = response["authenticatorData"].flatMap(Base64URL.decode),
                let clientData = response["clientDataJSON"].flatMap(Base64URL.decode),
                let signature = response["signature"].flatMap(Base64URL.decode)
            else { fatalError("\(path): not an ES256 assertion request line") }
            // COSE EC2 P-256: ... -2: bstr(32) x, -3: bstr(32) y, as the generator writes them.
            let pair: (P256.Signing.PublicKey, PublicKey)
            if let known = keys[coseText] {
                pair = known
            } else {
                let x = cose[10..<42], y = cose[45..<77]
                guard let swiftKey = try? P256.Signing.PublicKey(x963Representation: [0x04] + x + y),
                    let openSSLKey = try? PublicKey.ec(curve: .p256, x: x, y: y)
                else { fatalError("bad key in \(path)") }
                pair = (swiftKey, openSSLKey)
                keys[coseText] = pair
            }
            guard let parsed = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { fatalError("bad signature") }
            inputs.append(
                Input(
                    swiftCryptoKey: pair.0, swiftCryptoSignature: parsed, openSSLKey: pair.1, derSignature: signature,
                    message: authData + Digest.sha256(clientData)))
        }
        return inputs
    }

    /// Median rate of passes over all inputs, for about `seconds`.
    static func rate(_ inputs: [Input], seconds: Double, _ verify: (Input) -> Bool) -> Double {
        let clock = ContinuousClock()
        var rates: [Double] = []
        let deadline = clock.now.advanced(by: .milliseconds(Int64(seconds * 1000)))
        repeat {
            var ok = 0
            let elapsed = clock.measure {
                for input in inputs where verify(input) { ok += 1 }
            }
            guard ok == inputs.count else { fatalError("a prepared signature did not verify") }
            rates.append(Double(inputs.count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
        } while clock.now < deadline || rates.count < 3
        rates.sort()
        return rates[rates.count / 2]
    }

    static func run(path: String, seconds: Double, jsonPath: String?) {
        let inputs = load(path)
        let swiftCrypto = rate(inputs, seconds: seconds) { $0.swiftCryptoKey.isValidSignature($0.swiftCryptoSignature, for: $0.message) }
        let openSSL = rate(inputs, seconds: seconds) {
            $0.openSSLKey.isValidSignature($0.derSignature, over: $0.message, scheme: .ecdsa(.sha256), backend: .openSSL)
        }
        print(String(format: "raw P-256 verify over %d distinct inputs: swift-crypto %.0f/s, OpenSSL EVP %.0f/s", inputs.count, swiftCrypto, openSSL))
        if let jsonPath {
            let object = ["inputs": Double(inputs.count), "swiftCrypto": swiftCrypto, "openSSLEVP": openSSL]
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
                try? data.write(to: URL(fileURLWithPath: jsonPath))
            }
        }
    }
}
