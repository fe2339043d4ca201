@_spi(Internals) import AuthenticatorVerification
import CBORDecoding
import Crypto
import Foundation
import MallocInterposerSwift
import SignatureVerification
import VerificationRequests
import WireFormat

// One core, one thread: every number is a median of timed batches.
// Usage: mie-bench [--seconds S] [--json FILE]   (run from the package root or Benchmarks/)

struct Options {
    var secondsPerCase = 3.0
    var jsonPath: String?
    var only: String?
    /// A JSON lines file of ES256 assertion requests: measure the raw P-256 verify rate over
    /// exactly its keys, signatures and messages (prepared in memory first), and stop.
    var rawFrom: String?

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--seconds": secondsPerCase = Double(iterator.next() ?? "") ?? secondsPerCase
            case "--json": jsonPath = iterator.next()
            case "--only": only = iterator.next()
            case "--raw-from": rawFrom = iterator.next()
            default: break
            }
        }
    }
}

@MainActor func locateVectors() -> URL {
    for candidate in ["TestVectors/generated", "../TestVectors/generated"] {
        let url = URL(fileURLWithPath: candidate)
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("vectors.jsonl").path) { return url }
    }
    fatalError("run from the repository root or Benchmarks/: TestVectors/generated not found")
}

let options = Options(CommandLine.arguments)
if let path = options.rawFrom {
    RawVerifyLimit.run(path: path, seconds: options.secondsPerCase, jsonPath: options.jsonPath)
    exit(0)
}
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

@MainActor func bytes(_ id: String, _ field: String) -> [UInt8] {
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

/// An assertion vector's response, expectation and stored COSE key.
@MainActor func assertionInputs(_ id: String) -> (AssertionResponse, CeremonyExpectation, [UInt8]) {
    let response = AssertionResponse(
        rawID: bytes(id, "credential_id_b64url"), clientDataJSON: bytes(id, "client_data_json_b64url"),
        authenticatorData: bytes(id, "authenticator_data_b64url"), signature: bytes(id, "signature_b64url"))
    let expectation = CeremonyExpectation(
        challenge: bytes(id, "challenge_b64url"), origins: ["https://mie.example"], rpID: "mie.example", userVerification: .required)
    return (response, expectation, bytes(id, "credential_public_key_cose_b64url"))
}

let (assertion, assertionExpectation, coseKey) = assertionInputs("gen-auth-ES256")
let preparedKey = try! CredentialPublicKey.decode(coseKey)
let storedCredential = StoredCredential(id: nil, publicKey: preparedKey, signCount: 6)
let signedMessage = assertion.authenticatorData + Digest.sha256(assertion.clientDataJSON)

@MainActor func registration(_ id: String) -> RegistrationResponse {
    RegistrationResponse(
        rawID: bytes(id, "credential_id_b64url"), clientDataJSON: bytes(id, "client_data_json_b64url"),
        attestationObject: bytes(id, "attestation_object_b64url"))
}

@MainActor func expectation(_ id: String) -> CeremonyExpectation {
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

/// Whether the interposer sees this process's allocations (it does when its library comes
/// first in the symbol search, or under LD_PRELOAD as run.sh sets).
let countsAllocations: Bool = {
    MallocInterposerSwift.initialize()
    MallocInterposerSwift.reset()
    MallocInterposerSwift.hook()
    let probe = [UInt8](repeating: 1, count: 4096)
    MallocInterposerSwift.unhook()
    return probe.count > 0 && MallocInterposerSwift.getStatistics().mallocCount > 0
}()

/// Runs `body` in batches for about `options.secondsPerCase` and keeps the median batch rate.
@inline(never)
@MainActor func measure(_ name: String, countAllocations: Bool = true, _ body: () -> Bool) {
    if let only = options.only, !name.contains(only) { return }
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
    if countAllocations && countsAllocations {
        MallocInterposerSwift.reset()
        MallocInterposerSwift.hook()
        for _ in 0..<1000 { _ = body() }
        MallocInterposerSwift.unhook()
        allocations = Double(MallocInterposerSwift.getStatistics().mallocCount) / 1000
    }
    let median = rates[rates.count / 2]
    results.append(Measurement(name: name, opsPerSecond: median, allocationsPerOp: allocations))
    let allocationText = allocations.map { String(format: "%8.1f allocs/op", $0) } ?? "   (allocations: run under LD_PRELOAD, see run.sh)"
    let padded = name.count >= 44 ? name : name + String(repeating: " ", count: 44 - name.count)
    print(padded + String(format: " %10.0f ops/s  ", median) + allocationText)
}

print("mie-bench: one thread; median of batches, \(options.secondsPerCase) s per case")

measure("p256-verify-openssl-evp-prepared-key") {
    preparedKey.key.isValidSignature(assertion.signature, over: signedMessage, scheme: .ecdsa(.sha256), backend: .openSSL)
}
measure("p256-verify-product-path-prepared-key") {
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
let (rsaAssertion, rsaExpectation, rsaCOSE) = assertionInputs("gen-auth-RS256")
let rsaStored = StoredCredential(id: nil, publicKey: try! CredentialPublicKey.decode(rsaCOSE), signCount: 6)
measure("assertion-rs256-prepared-key") {
    (try? AssertionVerifier.verify(rsaAssertion, expecting: rsaExpectation, credential: rsaStored)) != nil
}
measure("assertion-rs256-key-decoded-per-call") {
    guard let key = try? CredentialPublicKey.decode(rsaCOSE) else { return false }
    let stored = StoredCredential(id: nil, publicKey: key, signCount: 6)
    return (try? AssertionVerifier.verify(rsaAssertion, expecting: rsaExpectation, credential: stored)) != nil
}
measure("registration-packed-x5c-es256-cold") {
    (try? RegistrationVerifier.verify(
        packedRegistration, expecting: expectation(packedID), policy: .strict, trust: trust, at: verificationTime)) != nil
}
// The service keeps VerificationCaches: every authenticator of a batch presents the same x5c,
// so its certificates are parsed and its path verified once.
let caches = VerificationCaches()
measure("registration-packed-x5c-es256") {
    (try? RegistrationVerifier.verify(
        packedRegistration, expecting: expectation(packedID), policy: .strict, trust: trust, at: verificationTime,
        caches: caches)) != nil
}
let tpmID = "gen-reg-tpm-nuvoton"
let tpmRegistration = registration(tpmID)
measure("registration-tpm-rs256") {
    (try? RegistrationVerifier.verify(
        tpmRegistration, expecting: expectation(tpmID), policy: .strict, trust: trust, at: verificationTime, caches: caches)) != nil
}
let androidID = "gen-reg-android-key-ES256"
let androidRegistration = registration(androidID)
measure("registration-android-key-es256") {
    (try? RegistrationVerifier.verify(
        androidRegistration, expecting: expectation(androidID), policy: .strict, trust: trust, at: verificationTime,
        caches: caches)) != nil
}
measure("registration-none-es256") {
    (try? RegistrationVerifier.verify(
        noneRegistration, expecting: expectation(noneID), policy: .acceptUntrustedAttestationForTesting,
        trust: FixedTrustAnchors.none, at: verificationTime)) != nil
}
// The request edge in process: JSON bytes in, JSON bytes out, the key from the service cache.
let service = VerificationService()
let assertionRequest = Array((try? Data(contentsOf: directory.deletingLastPathComponent().appendingPathComponent("samples/assertion-es256.json"))) ?? Data())
let compactRequest = Array(try! JSONSerialization.data(withJSONObject: try! JSONSerialization.jsonObject(with: Data(assertionRequest))))
measure("service-assertion-es256-json-in-out") {
    let outcome = service.verify(.assertion, requestJSON: compactRequest)
    return outcome.disposition == .verified && !outcome.json().isEmpty
}
measure("service-read-assertion-request") {
    (try? VerificationRequest.read(compactRequest, ceremony: .assertion)) != nil
}
measure("parse-client-data-json") {
    (try? CollectedClientData.parse(assertion.clientDataJSON)) != nil
}
measure("parse-authenticator-data-assertion") {
    (try? AuthenticatorData.parse(assertion.authenticatorData)) != nil
}
measure("sha256-client-data-json") {
    Digest.sha256(assertion.clientDataJSON).count == 32
}
measure("base64url-decode-challenge") {
    Base64URL.decode("dGhpcyBpcyBhIDMyLWJ5dGUgY2hhbGxlbmdlIGZvciB0ZXN0cw") != nil
}
measure("decode-cose-key-p256") {
    (try? CredentialPublicKey.decode(coseKey)) != nil
}
let point = Array(preparedKey.key.subjectPublicKeyInfo.suffix(65))
measure("swift-crypto-p256-key-from-point") {
    (try? P256.Signing.PublicKey(x963Representation: point)) != nil
}
measure("parse-attestation-object-none") {
    (try? AttestationObject.parse(noneRegistration.attestationObject)) != nil
}
let decoder = CBORDecoder()
measure("cbor-decode-packed-attestation-object") {
    (try? decoder.decode(packedRegistration.attestationObject)) != nil
}

/// Runs two cases in alternating batches and returns the median of their per-pair rate
/// ratios: drift of a shared, noisy machine hits both sides of every pair alike.
@MainActor func interleavedRatio(_ name: String, _ numerator: () -> Bool, _ denominator: () -> Bool) {
    if let only = options.only, !name.contains(only) { return }
    let clock = ContinuousClock()
    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
    let batch = 400
    var ratios: [Double] = []
    for _ in 0..<max(5, Int(options.secondsPerCase * 2 / 0.1)) {
        let a = clock.measure { for _ in 0..<batch { _ = numerator() } }
        let b = clock.measure { for _ in 0..<batch { _ = denominator() } }
        ratios.append(seconds(b) / seconds(a))
    }
    ratios.sort()
    let median = ratios[ratios.count / 2]
    results.append(Measurement(name: name, opsPerSecond: median, allocationsPerOp: nil))
    let padded = name.count >= 52 ? name : name + String(repeating: " ", count: 52 - name.count)
    print("ratio  " + padded + String(format: " %.3f (interleaved batches)", median))
}

@MainActor func rate(_ name: String) -> Double { results.first { $0.name == name }?.opsPerSecond ?? .nan }
let limit = max(rate("p256-verify-openssl-evp-prepared-key"), rate("p256-verify-swift-crypto-prepared-key"))
print("")
print(
    String(
        format: "ratio  full ES256 assertion / fastest raw P-256 verify      %.2f  (target >= 0.90)",
        rate("assertion-es256-prepared-key") / limit))
print(
    String(
        format: "ratio  full ES256 assertion / OpenSSL EVP raw P-256 verify  %.2f",
        rate("assertion-es256-prepared-key") / rate("p256-verify-openssl-evp-prepared-key")))
print(
    String(
        format: "ratio  swift-crypto / OpenSSL EVP raw P-256 verify          %.2f",
        rate("p256-verify-swift-crypto-prepared-key") / rate("p256-verify-openssl-evp-prepared-key")))
print(
    String(
        format: "ratio  prepared key / key decoded per call, ES256          %.2f",
        rate("assertion-es256-prepared-key") / rate("assertion-es256-key-decoded-per-call")))
print(
    String(
        format: "ratio  prepared key / key decoded per call, RS256          %.2f",
        rate("assertion-rs256-prepared-key") / rate("assertion-rs256-key-decoded-per-call")))

print("")
interleavedRatio("full-assertion-vs-raw-p256-verify") {
    (try? AssertionVerifier.verify(assertion, expecting: assertionExpectation, credential: storedCredential)) != nil
} _: {
    preparedKey.key.isValidSignature(assertion.signature, over: signedMessage, scheme: .ecdsa(.sha256))
}
interleavedRatio("swift-crypto-direct-vs-openssl-evp") {
    cryptoKey.isValidSignature(cryptoSignature, for: signedMessage)
} _: {
    preparedKey.key.isValidSignature(assertion.signature, over: signedMessage, scheme: .ecdsa(.sha256), backend: .openSSL)
}
interleavedRatio("full-assertion-vs-swift-crypto-direct") {
    (try? AssertionVerifier.verify(assertion, expecting: assertionExpectation, credential: storedCredential)) != nil
} _: {
    cryptoKey.isValidSignature(cryptoSignature, for: signedMessage)
}

CatalogCases.run()

if let path = options.jsonPath {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try! encoder.encode(results).write(to: URL(fileURLWithPath: path))
}
