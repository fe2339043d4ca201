@_spi(Internals) import AuthenticatorVerification
import AuthenticatorCatalog
import Crypto
import Foundation
import PSCPolicy
import SignatureVerification
import WireFormat

/// The referencing list and the PSC engine: a one-shot import or load is timed as the median
/// of several whole runs; the evaluation's cost is measured per registration beside the
/// registration alone.
enum CatalogCases {
    static func root() -> URL {
        for candidate in [".", ".."] where FileManager.default.fileExists(atPath: "\(candidate)/TestVectors/referencing") {
            return URL(fileURLWithPath: candidate)
        }
        fatalError("run from the repository root or Benchmarks/")
    }

    /// Median wall time of `runs` whole runs, in milliseconds.
    @MainActor static func oneShot(_ name: String, runs: Int = 7, _ body: () -> Bool) -> Double {
        if let only = options.only, !name.contains(only) { return .nan }
        let clock = ContinuousClock()
        var times: [Double] = []
        for _ in 0..<runs {
            var ok = false
            let elapsed = clock.measure { ok = body() }
            guard ok else { fatalError("\(name): the benchmarked operation failed") }
            times.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
        }
        times.sort()
        let median = times[times.count / 2]
        let padded = name.count >= 44 ? name : name + String(repeating: " ", count: 44 - name.count)
        print(padded + String(format: " %10.1f ms (median of %d runs, min %.1f)", median, runs, times[0]))
        results.append(Measurement(name: name, opsPerSecond: 1000 / median, allocationsPerOp: nil))
        return median
    }

    /// The 2021 production payload's entries (icons removed: they are four fifths of the bytes
    /// and nothing reads them at load) cloned under fresh AAGUIDs up to `count`.
    static func syntheticMDS(count: Int, from production: [UInt8]) -> [UInt8] {
        let parts = production.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(parts[1]),
            let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
            let entries = object["entries"] as? [[String: Any]]
        else { fatalError("the production BLOB does not read") }
        var cloned: [[String: Any]] = []
        var generator = SystemRandomNumberGenerator()
        while cloned.count < count {
            for var entry in entries where cloned.count < count {
                var aaguid = [UInt8](repeating: 0, count: 16)
                for i in aaguid.indices { aaguid[i] = UInt8.random(in: 0...255, using: &generator) }
                let text = AAGUIDText.string(aaguid)
                entry["aaguid"] = text
                entry.removeValue(forKey: "attestationCertificateKeyIdentifiers")
                entry.removeValue(forKey: "aaid")
                if var statement = entry["metadataStatement"] as? [String: Any] {
                    statement.removeValue(forKey: "icon")
                    statement.removeValue(forKey: "attestationCertificateKeyIdentifiers")
                    statement.removeValue(forKey: "aaid")
                    statement["aaguid"] = text
                    entry["metadataStatement"] = statement
                }
                cloned.append(entry)
            }
        }
        var copy = object
        copy["entries"] = cloned
        guard let json = try? JSONSerialization.data(withJSONObject: copy) else { fatalError("cannot encode the synthetic BLOB") }
        return Array((String(decoding: parts[0], as: UTF8.self) + "." + Base64URL.encode(Array(json)) + "." + String(decoding: parts[2], as: UTF8.self)).utf8)
    }

    /// An ANS list of `count` authenticators, signed (detached ES256) by a fresh key.
    static func syntheticANS(count: Int) -> (document: [UInt8], signature: [UInt8], key: PublicKey) {
        var authenticators: [String] = []
        for index in 0..<count {
            var aaguid = [UInt8](repeating: 0, count: 16)
            withUnsafeBytes(of: UInt64(index).bigEndian) { aaguid.replaceSubrange(8..<16, with: $0) }
            authenticators.append(
                #"{"aaguid":"\#(AAGUIDText.string(aaguid))","description":"Model \#(index)","decision":{"status":"referenced","since":"2024-01-01","reference":"BENCH-\#(index)","acceptedFirmware":[1,2,3]}}"#)
        }
        let document = Array(
            (#"{"schema":"mie-verifier/ans-referencing-list","version":1,"listNumber":1,"issued":"2026-01-01","nextUpdate":"2027-01-01","issuer":"bench","demo":true,"authenticators":["#
                + authenticators.joined(separator: ",") + #"],"cardFamilies":[]}"#).utf8)
        let signingKey = P256.Signing.PrivateKey()
        let header = Base64URL.encode(Array(#"{"alg":"ES256"}"#.utf8))
        let input = Array((header + "." + Base64URL.encode(document)).utf8)
        guard let signature = try? signingKey.signature(for: input) else { fatalError("cannot sign") }
        guard let key = try? PublicKey.subjectPublicKeyInfo(Array(signingKey.publicKey.derRepresentation)) else { fatalError("key") }
        return (document, Array((header + ".." + Base64URL.encode(Array(signature.rawRepresentation))).utf8), key)
    }

    @MainActor static func run() {
        let root = root()
        print("")
        print("== referencing lists and the PSC engine")
        let shared = root.appendingPathComponent("../shared/vectors/external/mds3").standardizedFileURL
        let productionURL = shared.appendingPathComponent("webauthn4j-production-blob-no9.jwt")
        if let production = try? Data(contentsOf: productionURL).map({ $0 }),
            let rootDER = try? Data(contentsOf: shared.appendingPathComponent("globalsign-root-r3.crt")),
            let r3 = try? Certificate(der: Array(rootDER))
        {
            let time = Date(timeIntervalSince1970: 1_636_934_400)  // 2021-11-15
            let trust = ReferencingTrust(mdsRoots: [r3])
            _ = oneShot("import-production-blob-1MB-sig-chain-parse") {
                (try? VerifiedList.verify(production, signature: nil, trust: trust, at: time)) != nil
            }
            _ = oneShot("import-production-blob-and-build-catalog") {
                guard let list = try? VerifiedList.verify(production, signature: nil, trust: trust, at: time) else { return false }
                return CatalogSnapshot(lists: [(list.version(document: production), list)]).entryCount > 0
            }
            let synthetic = syntheticMDS(count: 5000, from: production)
            print("(synthetic MDS BLOB: 5000 entries, \(synthetic.count / 1024) KiB without icons)")
            _ = oneShot("load-mds-5000-entries-and-build-catalog") {
                guard let list = try? VerifiedList.load(kind: .mds, document: synthetic, signer: "bench", source: "bench") else { return false }
                return CatalogSnapshot(lists: [(list.version(document: synthetic), list)]).entryCount == 5000
            }
        } else {
            print("(the production BLOB sample is not at \(productionURL.path): MDS import cases skipped)")
        }
        let ans = syntheticANS(count: 5000)
        print("(synthetic ANS list: 5000 authenticators, \(ans.document.count / 1024) KiB)")
        _ = oneShot("import-ans-5000-entries-sig-parse-catalog") {
            guard let list = try? VerifiedList.verify(ans.document, signature: ans.signature, trust: ReferencingTrust(ansKeys: [ans.key]), at: Date())
            else { return false }
            return CatalogSnapshot(lists: [(list.version(document: ans.document), list)]).entryCount == 5000
        }

        // Evaluation beside verification: the demo lists as the catalog, the packed sample.
        let lists = root.appendingPathComponent("TestVectors/referencing")
        func file(_ name: String) -> [UInt8] { Array((try? Data(contentsOf: lists.appendingPathComponent(name))) ?? Data()) }
        guard let demoRoot = try? Certificate.load(file: file("demo-mds-root.pem")),
            let keyDER = PEM.blocks(String(decoding: file("demo-ans-key.pem"), as: UTF8.self), label: "PUBLIC KEY")?.first,
            let ansKey = try? PublicKey.subjectPublicKeyInfo(keyDER)
        else { fatalError("demo lists missing") }
        let trust = ReferencingTrust(mdsRoots: demoRoot, ansKeys: [ansKey])
        let time = Date(timeIntervalSince1970: 1_795_000_000)
        var verified: [(ListVersion, VerifiedList)] = []
        for (name, signature) in [("demo-mds-blob-no1.jwt", nil), ("demo-ans-list.json", "demo-ans-list.json.jws")] {
            guard let list = try? VerifiedList.verify(file(name), signature: signature.map(file), trust: trust, at: time) else { fatalError(name) }
            var version = list.version(document: file(name))
            version.id = 1
            verified.append((version, list))
        }
        let catalog = CatalogSnapshot(lists: verified)
        guard let profile = try? Profile.bundled() else { fatalError("profile") }
        let caches = VerificationCaches()
        let expectation = CeremonyExpectation(challenge: bytes(packedID, "challenge_b64url"), origins: ["https://mie.example"], rpID: "mie.example")
        func register() -> VerifiedRegistration? {
            try? RegistrationVerifier.verify(packedRegistration, expecting: expectation, policy: .strict, trust: catalog, at: time, caches: caches)
        }
        guard let sample = register(), PolicyEngine.evaluate(.fido(FIDOFacts(registration: sample)), catalog: catalog, profile: profile, at: time).verdict == .accepted
        else { fatalError("the sample is not accepted") }
        measure("registration-packed-catalog-trust") { register() != nil }
        measure("registration-packed-catalog-trust-and-evaluate") {
            guard let registration = register() else { return false }
            return PolicyEngine.evaluate(.fido(FIDOFacts(registration: registration)), catalog: catalog, profile: profile, at: time).verdict == .accepted
        }
        measure("evaluate-only") {
            PolicyEngine.evaluate(.fido(FIDOFacts(registration: sample)), catalog: catalog, profile: profile, at: time).verdict == .accepted
        }
        measure("evaluate-and-write-json-criteria-evidence") {
            !PolicyEngine.evaluate(.fido(FIDOFacts(registration: sample)), catalog: catalog, profile: profile, at: time).json.isEmpty
        }
        interleavedRatio("registration-alone-vs-with-evaluation") {
            register() != nil
        } _: {
            guard let registration = register() else { return false }
            return PolicyEngine.evaluate(.fido(FIDOFacts(registration: registration)), catalog: catalog, profile: profile, at: time).verdict == .accepted
        }
    }
}
