import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
@testable import PSCPolicy
import SignatureVerification
import Storage
import Testing
import WireFormat

/// The PSC engine over the bundled profile: each criterion satisfied, not satisfied and
/// indeterminate, the verdict, the AMR, FIDO2 keys and cards alike.
struct PolicyEngineTests {
    static let profile: Profile = {
        do { return try Profile.bundled() } catch { fatalError("the bundled profile does not load: \(error)") }
    }()

    /// The demo lists imported into a real store (so each carries its stored id).
    static func storedCatalog(mds: String = "demo-mds-blob-no1.jwt", ans: String = "demo-ans-list.json") throws -> CatalogSnapshot {
        let (store, _) = try TestData.temporaryDatabase()
        for name in [mds, ans] {
            let signature = name.hasSuffix(".json") ? try TestData.demo(name + ".jws") : nil
            guard case .imported = store.importList(try TestData.demo(name), signature: signature, trust: try TestData.demoTrust(), at: TestData.demoTime)
            else { throw CancellationError() }
        }
        return try store.snapshot()
    }

    func evaluate(
        _ vector: String, catalog: CatalogSnapshot, at time: Date = TestData.demoTime, profile: Profile = PolicyEngineTests.profile,
        deployment: DeploymentFacts? = nil, policy: VerificationPolicy = .strict
    ) throws -> Evaluation {
        let registration = try RegistrationVector.generated(vector).verify(trust: catalog, at: time, policy: policy)
        return PolicyEngine.evaluate(.fido(FIDOFacts(registration: registration)), catalog: catalog, profile: profile, at: time, deployment: deployment)
    }

    func status(_ evaluation: Evaluation, _ number: Int) -> CriterionStatus? {
        evaluation.criteria.first { $0.criterion.id == "EXI EDC PSC FI \(number)" }?.status
    }

    func result(_ evaluation: Evaluation, _ number: Int) throws -> CriterionResult {
        try #require(evaluation.criteria.first { $0.criterion.id == "EXI EDC PSC FI \(number)" })
    }

    @Test func theProfileNamesEveryCriterion() throws {
        let ids = Self.profile.criteria.map(\.id)
        #expect(ids == (19...25).map { "EXI EDC PSC FI \($0)" } + (41...46).map { "EXI EDC PSC FI \($0)" })
        #expect(Self.profile.id == "psc-2026")
        #expect(Self.profile.version == "2026.3")
        #expect(Self.profile.sha256.count == 64)
        // The top-level Profiles/ file is the bundled one.
        let topLevel = try Data(contentsOf: packageRoot.appendingPathComponent("Profiles/psc-2026.json"))
        #expect(try Profile.parse(Array(topLevel)).sha256 == Self.profile.sha256)
    }

    @Test func aReferencedCertifiedKeyWithPINIsAccepted() throws {
        let evaluation = try evaluate("gen-reg-packed-x5c-ES256", catalog: try Self.storedCatalog())
        #expect(evaluation.verdict == .accepted, "\(evaluation.criteria.map { "\($0.criterion.id) \($0.status.rawValue) \($0.reason)" })")
        #expect(evaluation.amr == ["hwk", "pin", "mfa"])
        for number in [19, 20, 21, 22, 23, 24, 41, 44, 46] {
            #expect(status(evaluation, number) == .satisfied, "FI \(number)")
        }
        for number in [25, 42, 43] {
            #expect(status(evaluation, number) == .notApplicable, "FI \(number) needs deployment facts")
        }
        // FI 45 is recommended: a demo list makes it a warning, not a refusal.
        #expect(status(evaluation, 45) == .notSatisfied)
        #expect(evaluation.warnings.map(\.criterion.id) == ["EXI EDC PSC FI 45"])
        let fi23 = try result(evaluation, 23)
        #expect(fi23.evidence.first { $0.0 == "certification" }?.1 == .string("FIDO_CERTIFIED_L2"))
        #expect(evaluation.authenticator.description == "MIE Verifier software authenticator (DEMO)")
        #expect(evaluation.authenticator.attested)
        #expect(evaluation.authenticator.icon?.hasPrefix("data:image/png") == true)
        #expect(evaluation.authenticator.chain.count == 3)
        // Deterministic: the same inputs give the same bytes.
        let again = try evaluate("gen-reg-packed-x5c-ES256", catalog: try Self.storedCatalog())
        #expect(again.json == evaluation.json)
    }

    /// The engine confirms a profile's required evidence from the keys each check declares it
    /// records when satisfied: every satisfied outcome must really record them.
    @Test func declaredEvidenceKeysAreRecorded() throws {
        let catalog = try Self.storedCatalog()
        var evaluations = [try evaluate("gen-reg-packed-x5c-ES256", catalog: catalog), evaluate(card: Self.card(), catalog: catalog)]
        evaluations.append(try evaluate("gen-reg-packed-x5c-RS256", catalog: catalog))
        var seen = Set<CheckKind>()
        for evaluation in evaluations {
            for result in evaluation.criteria {
                for check in result.checks where check.status == .satisfied {
                    let keys = Set(check.evidence.map(\.0))
                    #expect(check.kind.keysWhenSatisfied.isSubset(of: keys), "\(check.kind.rawValue): \(keys.sorted())")
                    seen.insert(check.kind)
                }
            }
        }
        for kind in CheckKind.allCases where !kind.keysWhenSatisfied.isEmpty {
            #expect(seen.contains(kind), "\(kind.rawValue) was satisfied in some scenario")
        }
    }

    @Test func aNegativeStatusRefusesFromItsEffectiveDate() throws {
        let catalog = try Self.storedCatalog(mds: "demo-mds-blob-no2.jwt")
        let after = try evaluate("gen-reg-packed-x5c-ES256", catalog: catalog)
        #expect(after.verdict == .refused)
        #expect(status(after, 23) == .notSatisfied)
        #expect(try result(after, 23).evidence.first { $0.0 == "status" }?.1 == .string("USER_VERIFICATION_BYPASS"))
        #expect(after.amr.isEmpty)
        #expect(after.derivedAMR == ["hwk", "pin", "mfa"])
        let before = try evaluate("gen-reg-packed-x5c-ES256", catalog: catalog, at: TestData.date("2026-05-01T00:00:00Z"))
        #expect(status(before, 23) == .satisfied)
    }

    @Test func unattestedKeysAreNotCompatible() throws {
        let catalog = try Self.storedCatalog()
        let none = try evaluate("gen-reg-none-ES256", catalog: catalog)
        #expect(status(none, 19) == .notSatisfied)
        #expect(status(none, 22) == .notSatisfied)
        #expect(status(none, 23) == .notSatisfied)
        #expect(none.authenticator.attested == false)
        let selfAttested = try evaluate("gen-reg-packed-self-ES256", catalog: catalog)
        #expect(status(selfAttested, 19) == .notSatisfied)
        // Trusted through an anchor the caller gave, not the catalog: still not compatible.
        let alone = try RegistrationVector.generated("gen-reg-packed-x5c-ES256").verify(
            trust: CombinedTrustSource([CatalogSnapshot.empty, FixedTrustAnchors(catalog.trustAnchors(for: .aaguid(Array("MIE-Verifier-Tes".utf8)), format: "packed"))]))
        let evaluation = PolicyEngine.evaluate(.fido(FIDOFacts(registration: alone)), catalog: .empty, profile: Self.profile, at: TestData.demoTime)
        #expect(status(evaluation, 19) == .notSatisfied)
        #expect(status(evaluation, 44) == .indeterminate)
        #expect(status(evaluation, 46) == .indeterminate)
    }

    @Test func presenceOnlyAndSyncedKeysAreRefused() throws {
        let catalog = try Self.storedCatalog()
        let u2f = try evaluate("gen-reg-fido-u2f-ES256", catalog: catalog)
        #expect(status(u2f, 19) == .satisfied)  // listed by its key identifier
        #expect(status(u2f, 20) == .notSatisfied)
        #expect(try result(u2f, 20).checks.first { $0.kind == .userVerificationCapable }?.status == .notSatisfied)
        #expect(u2f.verdict == .refused)
        let synced = try evaluate("gen-reg-none-be-bs", catalog: catalog)
        #expect(try result(synced, 22).checks.first { $0.kind == .notSynced }?.status == .notSatisfied)
    }

    @Test func weakOrUnlistedAlgorithmsAreRefused() throws {
        let catalog = try Self.storedCatalog()
        var policy = VerificationPolicy.strict
        policy.allowedAlgorithms.insert(.rs1)
        let rs1 = try evaluate("gen-reg-packed-x5c-RS1", catalog: catalog, policy: policy)
        #expect(status(rs1, 24) == .notSatisfied)
        let rs256 = try evaluate("gen-reg-packed-x5c-RS256", catalog: catalog)
        #expect(status(rs256, 24) == .satisfied)
        #expect(try result(rs256, 24).evidence.first { $0.0 == "keyBits" }?.1 == .integer(2048))
    }

    @Test func staleListsAreReported() throws {
        let catalog = try Self.storedCatalog()
        let late = try evaluate("gen-reg-packed-x5c-ES256", catalog: catalog, at: TestData.date("2028-01-01T00:00:00Z"))
        #expect(status(late, 46) == .notSatisfied)
        #expect(late.stale)
        #expect(late.verdict == .refused)
    }

    @Test func listsNotFromTheStoreAreNotTraceable() throws {
        let evaluation = try evaluate("gen-reg-packed-x5c-ES256", catalog: CatalogSnapshot(lists: try TestData.demoLists()))
        #expect(status(evaluation, 44) == .notSatisfied)
    }

    @Test func deploymentCriteriaDecideWithTheirFacts() throws {
        let catalog = try Self.storedCatalog()
        let time = TestData.demoTime
        let good = DeploymentFacts(
            holderNationalID: "810003456786", holderLuhnValid: true, identityEvidence: .provenByCard, credentialIDUnique: true,
            tokenClaims: ["tid": "t", "oid": "o", "sub": "s", "auth_time": String(Int(time.timeIntervalSince1970) - 3600)],
            authTime: time.addingTimeInterval(-3600))
        let accepted = try evaluate("gen-reg-packed-x5c-ES256", catalog: catalog, deployment: good)
        for number in [25, 42, 43] { #expect(status(accepted, number) == .satisfied, "FI \(number)") }

        var bad = good
        bad.credentialIDUnique = false
        bad.tokenClaims?["tid"] = nil
        bad.authTime = time.addingTimeInterval(-5 * 3600)
        let refused = try evaluate("gen-reg-packed-x5c-ES256", catalog: catalog, deployment: bad)
        for number in [25, 42, 43] { #expect(status(refused, number) == .notSatisfied, "FI \(number)") }

        let unknown = DeploymentFacts(tokenClaims: ["tid": "t", "oid": "o", "sub": "s", "auth_time": "1"])
        let open = try evaluate("gen-reg-packed-x5c-ES256", catalog: catalog, deployment: unknown)
        for number in [25, 42, 43] { #expect(status(open, number) == .indeterminate, "FI \(number)") }
        #expect(status(open, 45) == .notSatisfied || status(open, 45) == .indeterminate)
        #expect(open.verdict == .indeterminate)
    }

    // MARK: Cards

    static let virtualCA = Digest.sha256((try? Data(contentsOf: packageRoot.appendingPathComponent("TestVectors/cards/cps-test/ca.der"))).map(Array.init) ?? [])

    static func card(_ change: (inout CardFacts) -> Void = { _ in }) -> CardFacts {
        var facts = CardFacts(
            generation: "CPS3", atr: Hex.bytes("3BAC00402A001225006480000310009000") ?? [], issuedByANS: true, anchorsConfigured: true,
            chainTrusted: true, issuerName: "MIE TEST AC IGC-SANTE-LIKE PERSONNES", issuerSHA256: virtualCA, revocation: .good,
            pinVerified: true, possessionProven: true, keyType: "RSA-2048", keyBits: 2048, nationalID: "810003456786", identifierType: "RPPS",
            luhnValid: true)
        change(&facts)
        return facts
    }

    func evaluate(card: CardFacts, catalog: CatalogSnapshot) -> Evaluation {
        PolicyEngine.evaluate(.card(card), catalog: catalog, profile: Self.profile, at: TestData.demoTime)
    }

    @Test func aReferencedCardWithPINIsAccepted() throws {
        let evaluation = evaluate(card: Self.card(), catalog: try Self.storedCatalog())
        #expect(evaluation.verdict == .accepted, "\(evaluation.criteria.map { "\($0.criterion.id) \($0.status.rawValue) \($0.reason)" })")
        #expect(evaluation.amr == ["sc", "pin", "mfa", "hwk"])
        #expect(evaluation.authenticator.identifier == "CPS3")
        // Only the ANS list speaks for cards.
        #expect(evaluation.lists.map(\.kind) == [.ans])
    }

    @Test func cardCriteriaNotSatisfied() throws {
        let catalog = try Self.storedCatalog()
        let cases: [(Int, (inout CardFacts) -> Void)] = [
            (19, { $0.chainTrusted = false }),
            (19, { $0.issuedByANS = false }),
            (19, { $0.issuerSHA256 = [UInt8](repeating: 1, count: 32) }),
            (19, { $0.atr = [0x3B, 0x00] }),
            (20, { $0.pinVerified = false }),
            (21, { $0.possessionProven = false }),
            (23, { $0.revocation = .revoked }),
            (24, { $0.keyBits = 1024; $0.keyType = "RSA-1024" }),
            (25, { $0.luhnValid = false }),
            (41, { $0.pinVerified = false }),
        ]
        for (number, change) in cases {
            let evaluation = evaluate(card: Self.card(change), catalog: catalog)
            #expect(status(evaluation, number) == .notSatisfied, "FI \(number)")
            #expect(evaluation.verdict == .refused)
            #expect(evaluation.amr.isEmpty)
        }
    }

    @Test func cardCriteriaIndeterminate() throws {
        let catalog = try Self.storedCatalog()
        let cases: [(Int, (inout CardFacts) -> Void)] = [
            (19, { $0.anchorsConfigured = false; $0.chainTrusted = false }),
            (20, { $0.pinVerified = nil }),
            (21, { $0.possessionProven = nil }),
            (22, { $0.possessionProven = nil }),
            (23, { $0.revocation = .notChecked }),
            (24, { $0.keyBits = nil }),
            (25, { $0.nationalID = nil }),
            (41, { $0.pinVerified = nil; $0.possessionProven = nil }),
        ]
        for (number, change) in cases {
            let evaluation = evaluate(card: Self.card(change), catalog: catalog)
            #expect(status(evaluation, number) == .indeterminate, "FI \(number)")
            #expect(evaluation.verdict == .indeterminate)
            #expect(status(evaluation, 45) == .indeterminate || status(evaluation, 45) == .notSatisfied)
        }
        // Without any list the family cannot be decided, nor the lists traced.
        let bare = evaluate(card: Self.card(), catalog: .empty)
        #expect(status(bare, 19) == .indeterminate)
        #expect(status(bare, 44) == .indeterminate)
        #expect(status(bare, 46) == .indeterminate)
        // A suspended family (demo list no 2 suspends CPS4) is not referenced.
        let cps4 = evaluate(card: Self.card { $0.atr = Hex.bytes("3B9B188001001225006480040100009044") ?? [] }, catalog: try Self.storedCatalog(ans: "demo-ans-list-no2.json"))
        #expect(status(cps4, 19) == .notSatisfied)
    }

    // MARK: The profile is data

    func remapped(_ edit: (String) -> String) throws -> Profile {
        let text = String(decoding: try Data(contentsOf: packageRoot.appendingPathComponent("Profiles/psc-2026.json")), as: UTF8.self)
        return try Profile.parse(Array(edit(text).utf8))
    }

    @Test func thresholdsAndMappingsChangeWithoutCode() throws {
        let catalog = try Self.storedCatalog()
        // A higher certification level than the key has.
        let level3 = try remapped { $0.replacingOccurrences(of: "\"minimumLevel\": \"FIDO_CERTIFIED_L1\"", with: "\"minimumLevel\": \"FIDO_CERTIFIED_L3\"") }
        #expect(status(try evaluate("gen-reg-packed-x5c-ES256", catalog: catalog, profile: level3), 23) == .notSatisfied)
        // ES256 taken off the algorithm list.
        let noES256 = try remapped { $0.replacingOccurrences(of: "[\"ES256\", ", with: "[") }
        #expect(status(try evaluate("gen-reg-packed-x5c-ES256", catalog: catalog, profile: noES256), 24) == .notSatisfied)
        // An AMR rule producing a value the profile does not allow: never produced, FI 41 fails.
        let otp = try remapped { $0.replacingOccurrences(of: "\"add\": [\"hwk\"]", with: "\"add\": [\"hwk\", \"otp\"]") }
        let withOTP = try evaluate("gen-reg-packed-x5c-ES256", catalog: catalog, profile: otp)
        #expect(!withOTP.derivedAMR.contains("otp"))
        #expect(status(withOTP, 41) == .notSatisfied)
        // A criterion re-mapped to other checks, and FI 45 accepting demo lists.
        let remap = try remapped {
            $0.replacingOccurrences(of: "\"checks\": [\"ceremony.origin-bound\", \"card.possession\"]", with: "\"checks\": [\"credential.not-synced\"]")
                .replacingOccurrences(of: "\"refuseDemoLists\": true", with: "\"refuseDemoLists\": false")
        }
        let evaluation = try evaluate("gen-reg-packed-x5c-ES256", catalog: catalog, profile: remap)
        #expect(try result(evaluation, 21).checks.map(\.kind) == [.notSynced])
        #expect(status(evaluation, 45) == .satisfied)
        // A required evidence key no check records makes the criterion indeterminate.
        let evidence = try remapped { $0.replacingOccurrences(of: "\"evidence\": [\"algorithm\"]", with: "\"evidence\": [\"algorithm\", \"hsmCertificate\"]") }
        #expect(status(try evaluate("gen-reg-packed-x5c-ES256", catalog: catalog, profile: evidence), 24) == .indeterminate)
    }

    @Test(arguments: [
        ("\"uv.capable\"", "\"uv.magic\"", "profile.unknown-check"),
        ("\"maximumAgeSeconds\": 14400", "\"maximumAgeSeconds\": \"4h\"", "profile.parameter"),
        ("\"minimumLevel\": \"FIDO_CERTIFIED_L1\"", "\"minimumLevel\": \"GOOD\"", "profile.parameter"),
        ("\"anyOf\": [", "\"allOf\": [", "profile.parameter"),
        ("\"severity\": \"recommended\"", "\"severity\": \"optional\"", "profile.malformed"),
        ("\"id\": \"EXI EDC PSC FI 20\"", "\"id\": \"EXI EDC PSC FI 19\"", "profile.malformed"),
        ("\"version\": \"2026.3\",", "\"version\": \"2026.3\", \"version\": \"2026.4\",", "profile.malformed"),
    ])
    func badProfilesAreRefusedWithTheirCode(_ find: String, _ replace: String, _ code: String) throws {
        #expect(throws: Profile.Failure.self) { _ = try remapped { $0.replacingOccurrences(of: find, with: replace) } }
        do {
            _ = try remapped { $0.replacingOccurrences(of: find, with: replace) }
        } catch let failure as Profile.Failure {
            #expect(failure.code == code, "\(failure)")
        }
    }
}

/// getInfo against the catalog's statement (what `mie-probe fido info` shows).
struct DeviceComparisonTests {
    static let virtualNFC = AAGUIDText.bytes("4d49452d-5669-7274-7561-6c2d4e464321")

    func statuses(_ device: DeviceInfo) throws -> [String: CriterionStatus] {
        let items = DeviceComparison.compare(device, catalog: try PolicyEngineTests.storedCatalog(), at: TestData.demoTime)
        return Dictionary(uniqueKeysWithValues: items.map { ($0.check, $0.status) })
    }

    static func device(_ change: (inout DeviceInfo) -> Void = { _ in }) -> DeviceInfo {
        var device = DeviceInfo(
            aaguid: virtualNFC, versions: ["FIDO_2_0", "FIDO_2_1"], options: ["rk": true, "up": true, "uv": true, "plat": false, "clientPin": true],
            firmwareVersion: 0x050102, algorithms: [-7, -8])
        change(&device)
        return device
    }

    @Test func aDeviceAsItsStatementSaysAgrees() throws {
        let result = try statuses(Self.device())
        #expect(result.values.allSatisfy { $0 == .satisfied }, "\(result)")
        #expect(result.count == 10)
    }

    @Test func eachDisagreementIsNamed() throws {
        #expect(try statuses(Self.device { $0.firmwareVersion = 0x050101 })["firmware.accepted"] == .notSatisfied)
        #expect(try statuses(Self.device { $0.firmwareVersion = nil })["firmware.accepted"] == .indeterminate)
        #expect(try statuses(Self.device { $0.options["uv"] = false })["option.uv"] == .notSatisfied)
        #expect(try statuses(Self.device { $0.options["clientPin"] = nil })["option.clientPin"] == .notSatisfied)
        #expect(try statuses(Self.device { $0.algorithms = [-7, -257] })["algorithms"] == .notSatisfied)
        #expect(try statuses(Self.device { $0.versions.append("FIDO_2_2") })["versions"] == .notSatisfied)
        #expect(try statuses(Self.device { $0.aaguid = [UInt8](repeating: 9, count: 16) }) == ["aaguid.listed": .notSatisfied])
        #expect(try statuses(Self.device { $0.aaguid = nil }) == ["aaguid.listed": .indeterminate])
    }
}
