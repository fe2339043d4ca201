import AuthenticatorVerification
import Foundation
import Testing
import VerificationRequests

/// The JSON contract shared by the CLI and the HTTP API.
@Suite struct VerificationServiceTests {
    let service = VerificationService()

    static func sample(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: packageRoot.appendingPathComponent("TestVectors/samples/\(name).json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func run(_ ceremony: Ceremony, _ object: Any) throws -> (VerificationOutcome, [String: Any]) {
        let outcome = service.verify(ceremony, requestJSON: try JSONSerialization.data(withJSONObject: object))
        let json = try #require(try JSONSerialization.jsonObject(with: outcome.json()) as? [String: Any])
        return (outcome, json)
    }

    @Test func registrationSampleVerifies() throws {
        let (outcome, json) = try run(.registration, try Self.sample("registration-packed-es256"))
        #expect(outcome.disposition == .verified)
        #expect(json["verified"] as? Bool == true)
        let credential = try #require(json["credential"] as? [String: Any])
        #expect(credential["alg"] as? String == "ES256")
        #expect(credential["aaguid"] as? String == "4d49452d-5665-7269-6669-65722d546573")
        let attestation = try #require(json["attestation"] as? [String: Any])
        #expect(attestation["format"] as? String == "packed")
        #expect(attestation["trusted"] as? Bool == true)
        #expect(attestation["type"] as? String == "basic")
        #expect((attestation["trustPath"] as? [String])?.count == 2)
    }

    @Test func assertionSampleVerifiesAndRepeatsWithTheCachedKey() throws {
        let request = try Self.sample("assertion-es256")
        for _ in 0..<3 {
            let (outcome, json) = try run(.assertion, request)
            #expect(outcome.disposition == .verified)
            #expect(json["signCount"] as? Int == 7)
            #expect(json["userVerified"] as? Bool == true)
        }
        #expect(service.caches.credentialKeys.count == 1)
    }

    @Test func withoutTheAnchorTheSameRegistrationIsUntrusted() throws {
        var request = try Self.sample("registration-packed-es256")
        request["trustAnchors"] = nil
        let (outcome, json) = try run(.registration, request)
        #expect(outcome.disposition == .rejected)
        #expect((json["error"] as? [String: Any])?["code"] as? String == "untrusted.attestation-chain")
        request["policy"] = ["attestation": "any"]
        let (relaxed, relaxedJSON) = try run(.registration, request)
        #expect(relaxed.disposition == .verified)
        #expect((relaxedJSON["attestation"] as? [String: Any])?["trusted"] as? Bool == false)
    }

    @Test func rejectionCarriesAStableCode() throws {
        var request = try Self.sample("assertion-es256")
        var expected = try #require(request["expected"] as? [String: Any])
        expected["challenge"] = "AAAA"
        request["expected"] = expected
        let (outcome, json) = try run(.assertion, request)
        #expect(outcome.disposition == .rejected)
        #expect(json["verified"] as? Bool == false)
        #expect((json["error"] as? [String: Any])?["code"] as? String == "mismatch.challenge")
    }

    static let badRequests = [
        "unknown top-level member", "unknown expected member", "unknown policy member", "unknown algorithm",
        "bad attestation requirement", "missing expected", "challenge not base64url", "empty origins",
        "origins of the wrong type", "bad time", "bad anchor", "id and rawId differ", "wrong credential type",
        "no attestationObject",
    ]

    /// One mutation of a valid registration request per name in `badRequests`.
    static func breakRequest(_ name: String, _ r: inout [String: Any]) {
        var expected = r["expected"] as? [String: Any] ?? [:]
        var credential = r["response"] as? [String: Any] ?? [:]
        switch name {
        case "unknown top-level member": r["atTime"] = "x"
        case "unknown expected member": expected["rpID"] = "x"
        case "unknown policy member": r["policy"] = ["attestations": "any"]
        case "unknown algorithm": r["policy"] = ["algorithms": ["ES999"]]
        case "bad attestation requirement": r["policy"] = ["attestation": "maybe"]
        case "missing expected": r["expected"] = nil; return
        case "challenge not base64url": expected["challenge"] = "a+b/"
        case "empty origins": expected["origins"] = [String]()
        case "origins of the wrong type": expected["origins"] = "https://x"
        case "bad time": r["at"] = "yesterday"
        case "bad anchor": r["trustAnchors"] = ["AAAA"]
        case "id and rawId differ": credential["id"] = "AAAA"
        case "wrong credential type": credential["type"] = "password"
        case "no attestationObject":
            var inner = credential["response"] as? [String: Any] ?? [:]
            inner["attestationObject"] = nil
            credential["response"] = inner
        default: break
        }
        r["expected"] = expected
        r["response"] = credential
    }

    @Test(arguments: badRequests)
    func badRequestsExitWithTwo(_ name: String) throws {
        var request = try Self.sample("registration-packed-es256")
        Self.breakRequest(name, &request)
        let (outcome, json) = try run(.registration, request)
        #expect(outcome.disposition == .badRequest, "\(name)")
        #expect((json["error"] as? [String: Any])?["code"] as? String == "malformed.request", "\(name)")
    }

    @Test func nonJSONAndOversizeRequests() {
        #expect(service.verify(.assertion, requestJSON: Data("not json".utf8)).disposition == .badRequest)
        #expect(service.verify(.assertion, requestJSON: Data()).disposition == .badRequest)
        let huge = Data(count: VerificationService.maximumRequestSize + 1)
        #expect(service.verify(.assertion, requestJSON: huge).disposition == .badRequest)
    }

    @Test func assertionNeedsTheStoredCredential() throws {
        var request = try Self.sample("assertion-es256")
        var expected = try #require(request["expected"] as? [String: Any])
        expected["credential"] = nil
        request["expected"] = expected
        #expect(try run(.assertion, request).0.disposition == .badRequest)
    }
}

/// The `mie-verifier` executable, run as a user would.
@Suite struct CommandLineTests {
    static let binary: URL = {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mie-verifier")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        return packageRoot.appendingPathComponent(".build/debug/mie-verifier")
    }()

    struct Run {
        let status: Int32
        let output: String
    }

    func run(_ arguments: [String], input: Data? = nil) throws -> Run {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        let stdout = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardInput = stdin
        process.standardError = FileHandle.nullDevice
        try process.run()
        if let input { stdin.fileHandleForWriting.write(input) }
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary.path)))
    func exitStatusTellsTheVerdict() throws {
        let ok = try run(["verify", "registration", "--request", "TestVectors/samples/registration-packed-es256.json"])
        #expect(ok.status == 0)
        #expect(ok.output.hasPrefix("{") && ok.output.contains(#""verified":true"#))
        let wrongCeremony = try run(["verify", "assertion", "--request", "TestVectors/samples/registration-packed-es256.json"])
        #expect(wrongCeremony.status == 2)
        let bad = try run(["verify", "assertion", "--request", "-"], input: Data("{}".utf8))
        #expect(bad.status == 2)
        #expect(bad.output.contains("malformed.request"))
        let missing = try run(["verify", "assertion", "--request", "/nonexistent/file.json"])
        #expect(missing.status == 2)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary.path)))
    func jsonlKeepsOrderAndReportsTheWorstStatus() throws {
        let registration = try Data(contentsOf: packageRoot.appendingPathComponent("TestVectors/samples/registration-packed-es256.json"))
        let compact = try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: registration))
        var input = Data()
        for index in 0..<300 {
            input.append(index % 100 == 7 ? Data("{\"nope\":1}".utf8) : compact)
            input.append(0x0A)
        }
        let result = try run(["verify", "registration", "--jsonl", "--request", "-"], input: input)
        let lines = result.output.split(separator: "\n")
        #expect(lines.count == 300)
        for (index, line) in lines.enumerated() {
            #expect(line.contains(index % 100 == 7 ? "malformed.request" : #""verified":true"#), "line \(index)")
        }
        #expect(result.status == 2)
        let allGood = try run(["verify", "registration", "--jsonl"], input: compact + Data("\n\n".utf8) + compact)
        #expect(allGood.status == 0)
        #expect(allGood.output.split(separator: "\n").count == 2)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary.path)))
    func codesListsEveryFailureCode() throws {
        let result = try run(["codes"])
        #expect(result.status == 0)
        for code in FailureCode.allCases {
            #expect(result.output.contains(code.rawValue + "\t"))
        }
    }
}

/// docs/failure-codes.md documents every code, and only real ones.
@Suite struct FailureCodeDocumentationTests {
    @Test func everyCodeIsDocumented() throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("docs/failure-codes.md"), encoding: .utf8)
        for code in FailureCode.allCases {
            #expect(text.contains("`\(code.rawValue)`"), "\(code.rawValue) is not in docs/failure-codes.md")
        }
        let codeTable = text.components(separatedBy: "| code | when |").last ?? ""
        let documented = codeTable.split(separator: "\n").filter { $0.hasPrefix("| `") }.compactMap { line in
            line.split(separator: "`").dropFirst().first.map(String.init)
        }
        #expect(Set(documented) == Set(FailureCode.allCases.map(\.rawValue)))
    }
}
