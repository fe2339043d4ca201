import Foundation
import Testing

/// `mie-probe` against the virtual CPS card through a real pcscd (started by
/// Tools/virtualcard/with-virtual-cards.sh, which `make test` and CI use). Serialized: one card.
@Suite(
    .serialized,
    RequiredMode.needs(ProcessInfo.processInfo.environment["MIE_VIRTUAL_CARD_READER"] != nil, "no virtual card (run through make test)"))
struct VirtualCardTests {
    static let root = IGCSantePKI.root
    static let reader = ProcessInfo.processInfo.environment["MIE_VIRTUAL_CARD_READER"] ?? ""
    static let anchors = root.appendingPathComponent("TestVectors/cards/cps-test/anchors-test.pem").path
    static let currentCRL = root.appendingPathComponent("TestVectors/cards/cps-test/crl-current.pem").path

    /// A database holding the demo referencing lists (which reference the virtual card's CA
    /// and the virtual NFC authenticator), imported with mie-verifier as an operator would.
    static let database: String = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mie-probe-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("mie.sqlite").path
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mie-verifier")
        let verifier = FileManager.default.isExecutableFile(atPath: beside.path) ? beside : root.appendingPathComponent(".build/debug/mie-verifier")
        let lists = root.appendingPathComponent("TestVectors/referencing")
        for arguments in [
            ["referencing", "import", lists.appendingPathComponent("demo-mds-blob-no1.jwt").path, "--database", path, "--root", lists.appendingPathComponent("demo-mds-root.pem").path],
            ["referencing", "import", lists.appendingPathComponent("demo-ans-list.json").path, "--database", path, "--ans-key", lists.appendingPathComponent("demo-ans-key.pem").path],
        ] {
            let process = Process()
            process.executableURL = verifier
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            try? process.run()
            process.waitUntilExit()
        }
        return path
    }()

    func psc(_ run: Run) -> [String: Any] { run.json["psc"] as? [String: Any] ?? [:] }

    func criterion(_ run: Run, _ number: Int) -> String? {
        (psc(run)["criteria"] as? [[String: Any]])?.first { $0["id"] as? String == "EXI EDC PSC FI \(number)" }?["status"] as? String
    }

    struct Run {
        let status: Int32
        let output: String
        var errors = ""
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: Any] ?? [:] }
    }

    func probe(_ arguments: [String]) throws -> Run {
        let process = Process()
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mie-probe")
        process.executableURL =
            FileManager.default.isExecutableFile(atPath: beside.path)
            ? beside : Self.root.appendingPathComponent(".build/debug/mie-probe")
        process.arguments = arguments
        let pipe = Pipe()
        let errors = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        try process.run()
        // Diagnostics are short: read them after the output, which may be long.
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, output: String(decoding: data, as: UTF8.self),
            errors: String(decoding: errorData, as: UTF8.self))
    }

    /// Another PC/SC program connecting to the reader again and again: pcscd 1.9.9 can power
    /// the card down inside our transaction when such a connection ends (each APDU then fails
    /// with SCARD_E_PROTO_MISMATCH). The probe starts its session over: every read is whole.
    @Test func aNeighbourOnTheReaderDoesNotBreakTheCardSession() throws {
        let neighbour = Process()
        neighbour.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        neighbour.arguments = [
            "python3", Self.root.appendingPathComponent("Tools/virtualcard/pcsc_neighbour.py").path, Self.reader, "--seconds", "120",
            "--until-stdin-closes",
        ]
        let stop = Pipe()
        neighbour.standardInput = stop
        neighbour.standardOutput = FileHandle.nullDevice
        try neighbour.run()
        defer {
            try? stop.fileHandleForWriting.close()
            neighbour.waitUntilExit()
        }
        for round in 0..<6 {
            let run = try probe(["card", "--reader", Self.reader, "--anchors", Self.anchors, "--json"])
            #expect(run.json["authentication"] is [String: Any], "round \(round): \(run.json["notes"] ?? run.errors)")
            #expect((run.json["certificates"] as? [[String: Any]])?.count == 3, "round \(round)")
        }
    }

    @Test func readersListsTheVirtualReaderWithACard() throws {
        let run = try probe(["readers"])
        #expect(run.status == 0)
        #expect(run.output.contains("\(Self.reader)\tcard present\t3B AC 00 40"))
    }

    @Test func cardIsIdentifiedAndVerifiedButUndecidedWithoutThePIN() throws {
        let run = try probe(["card", "--reader", Self.reader, "--anchors", Self.anchors, "--database", Self.database, "--json"])
        #expect(run.status == 1, "no PIN: the engine cannot decide FI 20")
        let json = run.json
        #expect(json["generation"] as? String == "CPS3 (contact)")
        #expect(json["issuedByANS"] as? Bool == true)
        let authentication = try #require(json["authentication"] as? [String: Any], "\(json["notes"] ?? run.errors)")
        #expect(authentication["trusted"] as? Bool == true)
        #expect(authentication["environment"] as? String == "test")
        let identity = try #require(authentication["identity"] as? [String: Any])
        #expect(identity["nationalID"] as? String == "810003456786")
        #expect(identity["identifierType"] as? String == "RPPS")
        #expect(identity["luhnValid"] as? Bool == true)
        #expect(identity["userPrincipalName"] as? String == "8.10003456786@carte-cps.fr")
        #expect(authentication["issuer"] as? String == "CN=MIE TEST AC IGC-SANTE-LIKE PERSONNES,OU=IGC-SANTE TEST,O=MIE VERIFIER TESTS,C=FR")
        #expect(authentication["keyBits"] as? Int == 2048)
        #expect(psc(run)["verdict"] as? String == "indeterminate")
        #expect(criterion(run, 19) == "satisfied")
        #expect(criterion(run, 20) == "indeterminate")
        #expect(psc(run)["amr"] as? [String] == [])
        #expect((json["certificates"] as? [[String: Any]])?.count == 3)
        let publicData = try #require(json["publicData"] as? [[String: Any]])
        #expect(publicData.compactMap { $0["label"] as? String } == ["CPS_ID_CARD", "CPS_DATA"])
        #expect(publicData.first?["text"] as? String == "810003456786|DUPONT|JEANNE|CPS")
    }

    @Test func withThePINTheCardIsAnAcceptedMIE() throws {
        let run = try probe([
            "card", "--reader", Self.reader, "--anchors", Self.anchors, "--crl", Self.currentCRL, "--pin-for-testing", "1234", "--database",
            Self.database, "--json",
        ])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.json["pinVerified"] as? Bool == true)
        #expect(run.json["possessionProven"] as? Bool == true)
        #expect(psc(run)["verdict"] as? String == "accepted")
        #expect(psc(run)["amr"] as? [String] == ["sc", "pin", "mfa", "hwk"])
        // Without the referencing list the card family cannot be decided; without a CRL, revocation.
        let bare = try probe(["card", "--reader", Self.reader, "--anchors", Self.anchors, "--pin-for-testing", "1234", "--json"])
        #expect(bare.status == 1)
        #expect(criterion(bare, 19) == "indeterminate")
        #expect(criterion(bare, 23) == "indeterminate")
        // The table says the same.
        let table = try probe([
            "card", "--reader", Self.reader, "--anchors", Self.anchors, "--crl", Self.currentCRL, "--pin-for-testing", "1234", "--database",
            Self.database,
        ])
        #expect(table.output.contains("PSC             accepted, AMR sc pin mfa hwk"))
    }

    @Test func theVirtualReaderIsConfigured() {
        #expect(!Self.reader.isEmpty, "MIE_VIRTUAL_CARD_READER names the reader of the virtual CPS card")
    }

    @Test func wrongPINsAreCountedAndTheLastTryIsKept() throws {
        // Each wrong PIN is refused as such, with the tries the card reports left.
        let first = try probe(["card", "--reader", Self.reader, "--anchors", Self.anchors, "--pin-for-testing", "9999"])
        #expect(first.status == 1)
        #expect((first.output + first.errors).contains("wrong PIN, 2 tries left"), "\(first.output)\(first.errors)")
        let second = try probe(["card", "--reader", Self.reader, "--anchors", Self.anchors, "--pin-for-testing", "9999"])
        #expect(second.status == 1)
        #expect((second.output + second.errors).contains("wrong PIN, 1 tries left"), "\(second.output)\(second.errors)")
        let counter = try probe(["card", "--reader", Self.reader, "--anchors", Self.anchors, "--json"])
        #expect(counter.json["pinTriesLeft"] as? Int == 1)
        // One try left: refused without --force, so the correct PIN is not even sent.
        let refused = try probe(["card", "--reader", Self.reader, "--anchors", Self.anchors, "--pin-for-testing", "1234"])
        #expect(refused.status == 1)
        #expect((refused.output + refused.errors).contains("one PIN try is left"), "\(refused.output)\(refused.errors)")
        let forced = try probe([
            "card", "--reader", Self.reader, "--anchors", Self.anchors, "--crl", Self.currentCRL, "--pin-for-testing", "1234", "--force",
            "--database", Self.database, "--json",
        ])
        #expect(forced.status == 0)
        #expect(forced.json["possessionProven"] as? Bool == true)
        #expect(try probe(["card", "--reader", Self.reader, "--anchors", Self.anchors, "--json"]).json["pinTriesLeft"] as? Int == 3)
    }

    @Test func revokedOrUnanchoredCardsAreNotCompatible() throws {
        let crl = Self.root.appendingPathComponent("TestVectors/cards/cps-test/crl-auth-revoked.pem").path
        let revoked = try probe(["card", "--reader", Self.reader, "--anchors", Self.anchors, "--crl", crl, "--database", Self.database, "--json"])
        #expect(revoked.status == 1)
        #expect((revoked.json["authentication"] as? [String: Any])?["revocation"] as? String == "revoked")
        #expect(psc(revoked)["verdict"] as? String == "refused")
        #expect(criterion(revoked, 23) == "not_satisfied")
        let noAnchors = try probe(["card", "--reader", Self.reader, "--database", Self.database, "--json"])
        #expect(noAnchors.status == 1)
        #expect(criterion(noAnchors, 19) == "indeterminate")
        #expect(psc(noAnchors)["verdict"] as? String != "accepted")
    }

    @Test func watchSeesTheCard() throws {
        let run = try probe(["watch", "--seconds", "0.5"])
        #expect(run.status == 0)
        #expect(run.output.contains("\(Self.reader): card present"))
    }
}

/// `mie-probe fido` against the virtual FIDO2 NFC authenticator through the real pcscd.
@Suite(
    .serialized,
    RequiredMode.needs(ProcessInfo.processInfo.environment["MIE_VIRTUAL_FIDO_READER"] != nil, "no virtual FIDO card (run through make test)"))
struct VirtualFIDOTests {
    static let reader = ProcessInfo.processInfo.environment["MIE_VIRTUAL_FIDO_READER"] ?? ""

    @Test func theVirtualReaderIsConfigured() {
        #expect(!Self.reader.isEmpty, "MIE_VIRTUAL_FIDO_READER names the reader of the virtual FIDO2 authenticator")
    }

    @Test func listFindsTheNFCAuthenticator() throws {
        let run = try VirtualCardTests().probe(["fido", "list", "--json"])
        #expect(run.status == 0)
        #expect(run.output.contains("\"reader\" : \"\(Self.reader)\""))
        #expect(run.output.contains("FIDO_2_0"))
    }

    @Test func getInfoIsDecoded() throws {
        let run = try VirtualCardTests().probe(["fido", "info", "--reader", Self.reader, "--json"])
        #expect(run.status == 0)
        let json = run.json
        #expect(json["aaguid"] as? String == "4d49452d-5669-7274-7561-6c2d4e464321")
        #expect(json["versions"] as? [String] == ["FIDO_2_0", "FIDO_2_1"])
        #expect(json["algorithms"] as? [Int] == [-7, -8])
        #expect((json["options"] as? [String: Bool])?["uv"] == true)
        #expect(json["minPINLength"] as? Int == 6)
        #expect((json["certifications"] as? [String: Int])?["FIDO"] == 2)
    }

    @Test func getInfoIsComparedWithTheCatalog() throws {
        let run = try VirtualCardTests().probe(["fido", "info", "--reader", Self.reader, "--database", VirtualCardTests.database, "--json"])
        #expect(run.status == 0, "\(run.output)")
        let items = try #require(run.json["catalog"] as? [[String: Any]])
        let statuses = Dictionary(uniqueKeysWithValues: items.compactMap { item in
            (item["check"] as? String).map { ($0, item["status"] as? String ?? "") }
        })
        for check in ["aaguid.listed", "ans.decision", "firmware.accepted", "option.uv", "option.clientPin", "versions", "algorithms"] {
            #expect(statuses[check] == "satisfied", "\(check)")
        }
    }

    @Test func registerVerifiesAFreshAttestationAndGivesTheVerdict() throws {
        let probe = VirtualCardTests()
        let run = try probe.probe(["fido", "register", "--reader", Self.reader, "--database", VirtualCardTests.database, "--json"])
        #expect(run.status == 1, "self attestation: not an accepted MIE")
        let json = run.json
        #expect(json["format"] as? String == "packed")
        #expect(json["type"] as? String == "self")
        #expect(json["alg"] as? String == "ES256")
        #expect(json["uv"] as? String == "true")
        #expect(probe.psc(run)["verdict"] as? String == "refused")
        #expect(probe.criterion(run, 19) == "not_satisfied")
        // The UV flag is set, but no statement can be applied to a model nothing attests.
        #expect(probe.criterion(run, 20) == "indeterminate")
    }
}
