@_spi(Internals) import AuthenticatorVerification
import Foundation
import Testing
import VerificationRequests
import WireFormat

/// The JSON contract shared by the CLI and the HTTP API.
@Suite struct VerificationServiceTests {
    let service = VerificationService()

    static func sampleText(_ name: String) throws -> String {
        try String(contentsOf: packageRoot.appendingPathComponent("TestVectors/samples/\(name).json"), encoding: .utf8)
    }

    static func sample(_ name: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(try sampleText(name).utf8)) as? [String: Any])
    }

    static func json(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    func run(_ ceremony: Ceremony, _ object: Any) throws -> (VerificationOutcome, [String: Any]) {
        let outcome = service.verify(ceremony, requestJSON: try JSONSerialization.data(withJSONObject: object))
        return (outcome, try Self.json(outcome.json()))
    }

    func run(_ ceremony: Ceremony, text: String) throws -> (VerificationOutcome, [String: Any]) {
        let outcome = service.verify(ceremony, requestJSON: Array(text.utf8))
        return (outcome, try Self.json(outcome.json()))
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
        #expect((attestation["authenticator"] as? [String: String])?["aaguid"] == "4d49452d-5665-7269-6669-65722d546573")
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

    /// (name, textual mutation of the registration sample, words the message must hold)
    static let looseRegistrations: [(String, @Sendable (String) -> String, String)] = [
        (
            "duplicate policy member",
            { $0.replacingOccurrences(of: #""attestation": "trusted""#, with: #""attestation": "any", "attestation": "trusted""#) },
            "policy.attestation appears more than once"
        ),
        ("duplicate top-level member", { $0.replacingOccurrences(of: #""at": "#, with: #""at": "2020-01-01T00:00:00Z", "at": "#) }, "at appears"),
        (
            "duplicate member inside the WebAuthn response",
            { $0.replacingOccurrences(of: #""type": "public-key","#, with: #""type": "public-key", "type": "public-key","#) },
            "response.type appears"
        ),
        (
            "duplicate member inside ignored extension results",
            { $0.replacingOccurrences(of: #""clientExtensionResults": {}"#, with: #""clientExtensionResults": {"a": 1, "a": 2}"#) },
            "response.clientExtensionResults.a appears"
        ),
        (
            "escaped duplicate", { $0.replacingOccurrences(of: #""rpId": "mie.example","#, with: #""rpId": "mie.example", "rp\u0049d": "x","#) },
            "expected.rpId appears"
        ),
        ("trailing comma in an object", { $0.replacingOccurrences(of: #""userVerification": "required""#, with: #""userVerification": "required","#) }, "trailing comma"),
        ("trailing comma in an array", { $0.replacingOccurrences(of: #""usb""#, with: #""usb","#) }, "trailing comma"),
        ("null for a string", { $0.replacingOccurrences(of: #""rpId": "mie.example""#, with: #""rpId": null"#) }, "expected.rpId must be a string, not null"),
        ("null for a list", { $0.replacingOccurrences(of: #""attestation": "trusted""#, with: #""algorithms": null"#) }, "policy.algorithms must be an array, not null"),
        ("null for a policy switch", { $0.replacingOccurrences(of: #""attestation": "trusted""#, with: #""allowCrossOrigin": null"#) }, "policy.allowCrossOrigin must be a boolean"),
        ("number for a boolean", { $0.replacingOccurrences(of: #""attestation": "trusted""#, with: #""allowCrossOrigin": 1"#) }, "must be a boolean"),
        ("origin with a path", { $0.replacingOccurrences(of: #""https://mie.example""#, with: #""https://mie.example/login""#) }, "expected.origins[0] has a path"),
        ("origin that is not one", { $0.replacingOccurrences(of: #""https://mie.example""#, with: #""mie.example""#) }, "expected.origins[0] is not an origin"),
        ("over-padded base64url", { $0.replacingOccurrences(of: #""challenge": ""#, with: #""challenge": "===="#) }, "expected.challenge is not base64url"),
        ("credential in a registration", { $0.replacingOccurrences(of: #""rpId": "#, with: #""credential": {"publicKey": "AA", "signCount": 0}, "rpId": "#) }, "expected.credential applies to assertions only"),
        ("unknown top-level member", { $0.replacingOccurrences(of: #""at": "#, with: #""atTime": "x", "at": "#) }, #"unknown member "atTime""#),
        ("unknown expected member", { $0.replacingOccurrences(of: #""rpId": "#, with: #""rpID": "x", "rpId": "#) }, #"expected has an unknown member "rpID""#),
        ("unknown policy member", { $0.replacingOccurrences(of: #""attestation": "trusted""#, with: #""attestations": "any""#) }, #"policy has an unknown member"#),
        ("unknown algorithm", { $0.replacingOccurrences(of: #""attestation": "trusted""#, with: #""algorithms": ["ES999"]"#) }, "policy.algorithms[0] names an unknown algorithm"),
        ("bad attestation requirement", { $0.replacingOccurrences(of: #""attestation": "trusted""#, with: #""attestation": "maybe""#) }, "policy.attestation must be trusted or any"),
        ("empty origins", { $0.replacingOccurrences(of: #""https://mie.example""#, with: "") }, "expected.origins must list at least one origin"),
        ("origins of the wrong type", { $0.replacingOccurrences(of: #""origins": ["#, with: #""origins": "https://x", "o": ["#) }, "expected.origins must be an array"),
        ("bad time", { $0.replacingOccurrences(of: #""at": "2026-11-29T00:00:00Z""#, with: #""at": "yesterday""#) }, "at is not an RFC 3339 time"),
        ("bad anchor", { $0.replacingOccurrences(of: #""trustAnchors": ["#, with: #""trustAnchors": ["AAAA", "#) }, "trustAnchors[0] is not a DER certificate"),
        ("wrong credential type", { $0.replacingOccurrences(of: #""type": "public-key""#, with: #""type": "password""#) }, "response.type must be \"public-key\""),
        ("id and rawId differ", { $0.replacingOccurrences(of: #""id": "Pav"#, with: #""id": "AAAA", "x": "Pav"#) }, "response has id and rawId naming different credentials"),
        ("id missing", { $0.replacingOccurrences(of: #""id": "Pav"#, with: #""x": "Pav"#) }, "response.id is required"),
        ("rawId missing", { $0.replacingOccurrences(of: #""rawId": "Pav"#, with: #""x": "Pav"#) }, "response.rawId is required"),
        ("no attestationObject", { $0.replacingOccurrences(of: #""attestationObject""#, with: #""x""#) }, "response.response.attestationObject is required"),
        ("missing expected", { $0.replacingOccurrences(of: #""expected""#, with: #""x""#) }, #"unknown member "x""#),
        ("a second document after the first", { $0 + "{}" }, "has data after its JSON value"),
        ("a byte order mark", { "\u{FEFF}" + $0 }, "byte order mark"),
        ("single quotes", { $0.replacingOccurrences(of: #""rpId""#, with: "'rpId'") }, "not valid JSON"),
    ]

    @Test(arguments: looseRegistrations.indices)
    func looseRequestsAreRefusedNamingTheMember(_ index: Int) throws {
        let (name, mutate, words) = Self.looseRegistrations[index]
        try expectBadRequest(.registration, sample: "registration-packed-es256", name, mutate, words)
    }

    /// Applies `mutate` to a sample request and expects `malformed.request` naming `words`.
    func expectBadRequest(
        _ ceremony: Ceremony, sample: String, _ name: String, _ mutate: (String) -> String, _ words: String
    ) throws {
        let original = try Self.sampleText(sample)
        let text = mutate(original)
        #expect(text != original, "\(name): the mutation did not apply")
        let (outcome, json) = try run(ceremony, text: text)
        #expect(outcome.disposition == .badRequest, "\(name)")
        let error = try #require(json["error"] as? [String: Any])
        #expect(error["code"] as? String == "malformed.request", "\(name)")
        #expect((error["message"] as? String)?.contains(words) == true, "\(name): \(error["message"] ?? "")")
    }

    /// (name, textual mutation of the assertion sample, words the message must hold)
    static let looseAssertions: [(String, @Sendable (String) -> String, String)] = [
        ("signCount null", { $0.replacingOccurrences(of: #""signCount": 6"#, with: #""signCount": null"#) }, "expected.credential.signCount must be a number, not null"),
        ("signCount missing", { $0.replacingOccurrences(of: #""signCount": 6,"#, with: "") }, "expected.credential.signCount is required"),
        ("signCount fraction", { $0.replacingOccurrences(of: #""signCount": 6"#, with: #""signCount": 6.0"#) }, "must be an integer"),
        ("signCount above 32 bits", { $0.replacingOccurrences(of: #""signCount": 6"#, with: #""signCount": 4294967296"#) }, "out of range"),
        ("signCount negative", { $0.replacingOccurrences(of: #""signCount": 6"#, with: #""signCount": -1"#) }, "out of range"),
        ("backupEligible null", { $0.replacingOccurrences(of: #""backupEligible": false"#, with: #""backupEligible": null"#) }, "must be a boolean, not null"),
        ("stored key unusable", { $0.replacingOccurrences(of: #""publicKey": "pQE"#, with: #""publicKey": "oQE"#) }, "expected.credential.publicKey is not a usable COSE key"),
        ("no stored credential", { $0.replacingOccurrences(of: #""credential": {"#, with: #""x": {"#) }, #"unknown member "x""#),
        ("no signature", { $0.replacingOccurrences(of: #""signature""#, with: #""sig""#) }, "response.response.signature is required"),
        ("id and rawId differ", { $0.replacingOccurrences(of: #""id": "-v6"#, with: #""id": "AAAA", "x": "-v6"#) }, "id and rawId naming different credentials"),
    ]

    @Test(arguments: looseAssertions.indices)
    func looseAssertionRequestsAreRefused(_ index: Int) throws {
        let (name, mutate, words) = Self.looseAssertions[index]
        try expectBadRequest(.assertion, sample: "assertion-es256", name, mutate, words)
    }

    /// The first value never wins: the loose reading of `"attestation":"any","attestation":
    /// "trusted"` used to verify this untrusted registration.
    @Test func aDuplicatedPolicyMemberCannotRelaxTrust() throws {
        let text = try Self.sampleText("registration-packed-es256")
            .replacingOccurrences(of: #""attestation": "trusted""#, with: #""attestation": "any", "attestation": "trusted""#)
            .replacingOccurrences(of: #""trustAnchors""#, with: #""crls": [], "ignored""#)
        let (outcome, _) = try run(.registration, text: text)
        #expect(outcome.disposition == .badRequest)
    }

    @Test func utf16AndUTF32RequestsAreRefused() throws {
        let text = try Self.sampleText("assertion-es256")
        let utf16 = Array(text.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        for bytes in [[0xFF, 0xFE] + utf16, utf16, Array(text.unicodeScalars).flatMap { [UInt8($0.value & 0xFF), 0, 0, 0] }] {
            let outcome = service.verify(.assertion, requestJSON: bytes)
            #expect(outcome.disposition == .badRequest)
            #expect(outcome.result.failureCode == "malformed.request")
        }
    }

    @Test func nonJSONAndOversizeRequests() {
        #expect(service.verify(.assertion, requestJSON: Array("not json".utf8)).disposition == .badRequest)
        #expect(service.verify(.assertion, requestJSON: [UInt8]()).disposition == .badRequest)
        let huge = [UInt8](repeating: 0x20, count: VerificationService.maximumRequestSize + 1)
        #expect(service.verify(.assertion, requestJSON: huge).disposition == .badRequest)
    }

    /// A registration request built from a generated vector, attestation not required.
    static func request(fromVector id: String) throws -> [String: Any] {
        let vector = try #require(GeneratedVectorTests.vectors.first { $0.id == id })
        let credentialID = try #require(vector.fields["credential_id_b64url"]?.string)
        return [
            "response": [
                "id": credentialID, "rawId": credentialID, "type": "public-key",
                "response": [
                    "clientDataJSON": try #require(vector.fields["client_data_json_b64url"]?.string),
                    "attestationObject": try #require(vector.fields["attestation_object_b64url"]?.string),
                ],
            ],
            "expected": [
                "challenge": try #require(vector.fields["challenge_b64url"]?.string), "origins": ["https://mie.example"],
                "rpId": "mie.example",
            ],
            "policy": ["attestation": "any"],
            "at": "2026-11-29T00:00:00Z",
        ]
    }

    /// Extension outputs are reported under their text identifiers, nested maps with
    /// non-text keys as pairs (1 and "1" stay apart), and the exact CBOR travels beside them.
    @Test func extensionOutputsAreReportedFaithfully() throws {
        let (outcome, json) = try run(.registration, try Self.request(fromVector: "gen-reg-extensions-nested-values"))
        #expect(outcome.disposition == .verified)
        let extensions = try #require(json["extensions"] as? [String: Any])
        #expect(extensions["credProtect"] as? Int == 2)
        #expect(extensions["hmac-secret"] as? Bool == true)
        let nested = try #require(extensions["mie-nested"] as? [[Any]])
        #expect(nested.count == 2)
        #expect(nested[0][0] as? Int == 1 && nested[0][1] as? String == "a")
        #expect(nested[1][0] as? String == "1" && nested[1][1] as? String == Base64URL.encode(Array("b".utf8)))
        let rawText = try #require(json["extensionsCBOR"] as? String)
        let raw = try #require(Base64URL.decode(rawText))
        #expect(raw.first == 0xA3)  // a three-entry map, exactly as received
    }

    /// A COSE key carrying private material is refused, never echoed back.
    @Test func privateKeyMaterialIsNeverAccepted() throws {
        // {1: 2, 3: -7, -1: 1, -2: x, -3: y, -4: d} with the sample key's x and y.
        let request = try Self.sample("assertion-es256")
        let stored = try #require((request["expected"] as? [String: Any])?["credential"] as? [String: Any])
        let text = try #require(stored["publicKey"] as? String)
        let key = try #require(Base64URL.decode(text))
        let withD = [0xA6] + key.dropFirst() + [0x23, 0x58, 0x20] + [UInt8](repeating: 7, count: 32)
        #expect(throws: Never.self) { _ = try CredentialPublicKey.decode(key) }
        do {
            _ = try CredentialPublicKey.decode(withD)
            Issue.record("a key with d was accepted")
        } catch {
            #expect(error.code == .malformedCOSEKey)
            #expect(error.message.contains("private"))
        }
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
        // The verifier streams: it writes results while it still reads, so feed it from
        // another thread or both sides wait on full pipes.
        let writer = stdin.fileHandleForWriting
        let feeding = Thread {
            if let input { writer.write(input) }
            try? writer.close()
        }
        feeding.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self))
    }

    @Test(RequiredMode.needs(FileManager.default.isExecutableFile(atPath: binary.path), "build mie-verifier first"))
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

    @Test(RequiredMode.needs(FileManager.default.isExecutableFile(atPath: binary.path), "build mie-verifier first"))
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

    @Test(RequiredMode.needs(FileManager.default.isExecutableFile(atPath: binary.path), "build mie-verifier first"))
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
    static func table(_ header: String, endingAt end: String?) throws -> [String] {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("docs/failure-codes.md"), encoding: .utf8)
        var section = text.components(separatedBy: header).last ?? ""
        if let end { section = section.components(separatedBy: end).first ?? "" }
        return section.split(separator: "\n").filter { $0.hasPrefix("| `") }.compactMap { line in
            line.split(separator: "`").dropFirst().first.map(String.init)
        }
    }

    @Test func everyFailureCodeIsDocumented() throws {
        let documented = try Self.table("| code | when |", endingAt: "## Service problem codes")
        let codes = FailureCode.allCases.map(\.rawValue) + RequestFailureCode.allCases.map(\.rawValue)
        #expect(documented.sorted() == codes.sorted())
    }

    @Test func everyEvidenceCodeIsDocumented() throws {
        let documented = try Self.table("| code | warning | what |", endingAt: "## Store codes")
        let samples: [AttestationEvidence] = [
            .tpmManufacturer(id: "", name: nil, model: nil, version: nil), .tpmManufacturerUnknown(id: ""),
            .androidKey(attestationSecurityLevel: 0, keymasterSecurityLevel: 0, attestationVersion: 0),
            .safetyNet(version: "", ctsProfileMatch: false, basicIntegrity: false), .sha1StatementSignature,
            .weakCertificateSignature(algorithm: ""), .deprecatedFormat(""),
        ]
        #expect(documented.sorted() == samples.map(\.code).sorted())
    }
}
