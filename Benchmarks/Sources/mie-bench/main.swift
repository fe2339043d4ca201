import AuthenticatorVerification
import CBORDecoding
import Crypto
import Foundation
import MallocInterposerSwift
import SignatureVerification

// One core, one thread: every number is a median of timed batches.
// Usage: mie-bench [--seconds S] [--json FILE]   (run from the package root or Benchmarks/)

struct Options {
    var secondsPerCase = 3.0
    var jsonPath: String?

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--seconds": secondsPerCase = Double(iterator.next() ?? "") ?? secondsPerCase
            case "--json": jsonPath = iterator.next()
            default: break
            }
        }
    }
}

func locateVectors() -> URL {
    for candidate in ["TestVectors/generated", "../TestVectors/generated"] {
        let url = URL(fileURLWithPath: candidate)
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("vectors.jsonl").path) { return url }
    }
    fatalError("run from the repository root or Benchmarks/: TestVectors/generated not found")
}

let options = Options(CommandLine.arguments)
let directory = locateVectors()
let vectors: [String: [String: Any]] = {
    let text = (try? String(contentsOf: directory.appendingPathComponent("vectors.jsonl"), encoding: .utf8)) ?? ""
    var result: [String: [String: Any]] = [:]
    for line in text.split(separator: "\n") {
        if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let id = object["id"] as? String {
            result[id] = object
        }
    }
    return result
}()

func bytes(_ id: String, _ field: String) -> [UInt8] {
    guard let text = vectors[id]?[field] as? String, let decoded = Base64URL.decode(text) else {
        fatalError("vector \(id) has no \(field)")
    }
    return decoded
}

let anchors: [Certificate] = {
    let data = try! Data(contentsOf: directory.appendingPathComponent("trust_anchors.json"))
    let object = try! JSONSerialization.jsonObject(with: data) as! [String: [String: String]]
    return [try! Certificate(der: Base64URL.decode(object["mie-test-attestation-root"]!["der_b64url"]!)!)]
}()

// MARK: Inputs

let assertionID = "gen-auth-ES256"
let assertion = AssertionResponse(
    rawID: bytes(assertionID, "credential_id_b64url"), clientDataJSON: bytes(assertionID, "client_data_json_b64url"),
    authenticatorData: bytes(assertionID, "authenticator_data_b64url"), signature: bytes(assertionID, "signature_b64url"))
let assertionExpectation = CeremonyExpectation(
    challenge: bytes(assertionID, "challenge_b64url"), origins: ["https://mie.example"], rpID: "mie.example", userVerification: .required)
let coseKey = bytes(assertionID, "credential_public_key_cose_b64url")
let preparedKey = try! CredentialPublicKey.decode(coseKey)
let storedCredential = StoredCredential(id: nil, publicKey: preparedKey, signCount: 6)
let signedMessage = assertion.authenticatorData + Digest.sha256(assertion.clientDataJSON)

func registration(_ id: String) -> RegistrationResponse {
    RegistrationResponse(
        rawID: bytes(id, "credential_id_b64url"), clientDataJSON: bytes(id, "client_data_json_b64url"),
        attestationObject: bytes(id, "attestation_object_b64url"))
}

func expectation(_ id: String) -> CeremonyExpectation {
    CeremonyExpectation(challenge: bytes(id, "challenge_b64url"), origins: ["https://mie.example"], rpID: "mie.example")
}

let packedID = "gen-reg-packed-x5c-ES256"
let noneID = "gen-reg-none-ES256"
let packedRegistration = registration(packedID)
let noneRegistration = registration(noneID)
let verificationTime = Date(timeIntervalSince1970: 1_795_000_000)
let trust = FixedTrustAnchors(anchors)

// swift-crypto's key, from the same coordinates.
let cryptoKey: P256.Signing.PublicKey = {
    let spki = preparedKey.key.subjectPublicKeyInfo
    return try! P256.Signing.PublicKey(x963Representation: spki.suffix(65))
}()
let cryptoSignature = try! P256.Signing.ECDSASignature(derRepresentation: assertion.signature)

// MARK: Harness

struct Measurement: Codable {
    let name: String
    let opsPerSecond: Double
    let allocationsPerOp: Double?
}

var results: [Measurement] = []

/// Runs `body` in batches for about `options.secondsPerCase` and keeps the median batch rate.
@inline(never)
func measure(_ name: String, countAllocations: Bool = true, _ body: () -> Bool) {
    // Warm up and check the case really verifies.
    for _ in 0..<200 {
        guard body() else { fatalError("\(name): the benchmarked operation failed") }
    }
    let clock = ContinuousClock()
    var batch = 64
    while true {
        let elapsed = clock.measure { for _ in 0..<batch { _ = body() } }
        if elapsed > .milliseconds(100) { break }
        batch *= 2
    }
    let batches = max(5, Int(options.secondsPerCase / 0.1))
    var rates: [Double] = []
    for _ in 0..<batches {
        let elapsed = clock.measure { for _ in 0..<batch { _ = body() } }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        rates.append(Double(batch) / seconds)
    }
    rates.sort()
    var allocations: Double? = nil
    if countAllocations {
        MallocInterposerSwift.initialize()
        MallocInterposerSwift.reset()
        MallocInterposerSwift.hook()
        for _ in 0..<1000 { _ = body() }
        MallocInterposerSwift.unhook()
        let count = MallocInterposerSwift.getStatistics().mallocCount
        allocations = count > 0 ? Double(count) / 1000 : nil
    }
    let median = rates[rates.count / 2]
    results.append(Measurement(name: name, opsPerSecond: median, allocationsPerOp: allocations))
    let allocationText = allocations.map { String(format: "%8.1f allocs/op", $0) } ?? "   (allocations: run under LD_PRELOAD, see run.sh)"
    print(String(format: "%-44@ %10.0f ops/s  %@", name as NSString, median, allocationText))
}

print("mie-bench: one thread; median of batches, \(options.secondsPerCase) s per case")

measure("p256-verify-openssl-prepared-key") {
    preparedKey.key.isValidSignature(assertion.signature, over: signedMessage, scheme: .ecdsa(.sha256))
}
measure("p256-verify-swift-crypto-prepared-key") {
    cryptoKey.isValidSignature(cryptoSignature, for: signedMessage)
}
measure("assertion-es256-prepared-key") {
    (try? AssertionVerifier.verify(assertion, expecting: assertionExpectation, credential: storedCredential)) != nil
}
measure("assertion-es256-key-decoded-per-call") {
    guard let key = try? CredentialPublicKey.decode(coseKey) else { return false }
    let stored = StoredCredential(id: nil, publicKey: key, signCount: 6)
    return (try? AssertionVerifier.verify(assertion, expecting: assertionExpectation, credential: stored)) != nil
}
measure("registration-packed-x5c-es256") {
    (try? RegistrationVerifier.verify(
        packedRegistration, expecting: expectation(packedID), policy: .strict, trust: trust, at: verificationTime)) != nil
}
measure("registration-none-es256") {
    (try? RegistrationVerifier.verify(
        noneRegistration, expecting: expectation(noneID), policy: .acceptUntrustedAttestationForTesting,
        trust: FixedTrustAnchors.none, at: verificationTime)) != nil
}
let decoder = CBORDecoder()
measure("cbor-decode-packed-attestation-object") {
    (try? decoder.decode(packedRegistration.attestationObject)) != nil
}

func rate(_ name: String) -> Double { results.first { $0.name == name }?.opsPerSecond ?? .nan }
let limit = max(rate("p256-verify-openssl-prepared-key"), rate("p256-verify-swift-crypto-prepared-key"))
print("")
print(String(format: "ratio  full ES256 assertion / fastest raw P-256 verify      %.2f  (target >= 0.90)", rate("assertion-es256-prepared-key") / limit))
print(String(format: "ratio  full ES256 assertion / OpenSSL raw P-256 verify      %.2f", rate("assertion-es256-prepared-key") / rate("p256-verify-openssl-prepared-key")))
print(String(format: "ratio  swift-crypto / OpenSSL raw P-256 verify              %.2f", rate("p256-verify-swift-crypto-prepared-key") / rate("p256-verify-openssl-prepared-key")))
print(String(format: "ratio  prepared key / key decoded per call                  %.2f", rate("assertion-es256-prepared-key") / rate("assertion-es256-key-decoded-per-call")))

if let path = options.jsonPath {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try! encoder.encode(results).write(to: URL(fileURLWithPath: path))
}
