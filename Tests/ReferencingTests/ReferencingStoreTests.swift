import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import SignatureVerification
import Storage
import Testing
import WireFormat

/// The SQLite store of list versions: a real database file, WAL, every version and attempt
/// kept, refused imports leaving the active lists as they were.
struct ReferencingStoreTests {
    func importDemo(_ store: ReferencingStore, _ name: String, signature: Bool = false) throws -> ReferencingStore.ImportOutcome {
        store.importList(
            try TestData.demo(name), signature: signature ? try TestData.demo(name + ".jws") : nil, trust: try TestData.demoTrust(),
            at: TestData.demoTime, recordedAt: TestData.demoTime)
    }

    func imported(_ outcome: ReferencingStore.ImportOutcome) -> ListVersion? {
        if case .imported(let version, _) = outcome { return version }
        return nil
    }

    func refused(_ outcome: ReferencingStore.ImportOutcome) -> ImportFailure? {
        if case .refused(let failure) = outcome { return failure }
        return nil
    }

    @Test func importsKeepEveryVersionAndTheNewestIsActive() throws {
        let (store, path) = try TestData.temporaryDatabase()
        let first = try #require(imported(try importDemo(store, "demo-mds-blob-no1.jwt")))
        #expect(first.number == 1)
        #expect(first.kind == .mds)
        let ans = try #require(imported(try importDemo(store, "demo-ans-list.json", signature: true)))
        #expect(ans.demo)
        let second = try #require(imported(try importDemo(store, "demo-mds-blob-no2.jwt")))
        #expect(second.number == 2)
        let versions = try store.versions()
        #expect(versions.count == 3)
        #expect(versions.filter(\.active).map(\.version.label).sorted() == ["ANS list no 1", "FIDO MDS no 2"])
        let active = try store.activeLists()
        #expect(active.map(\.version.number).sorted() == [1, 2])
        // The stored bytes are the imported bytes.
        let firstID = try #require(first.id)
        let (_, _, document) = try #require(try store.list(id: firstID))
        #expect(document == (try TestData.demo("demo-mds-blob-no1.jwt")))
        // WAL on a real file.
        #expect(FileManager.default.fileExists(atPath: path.path + "-wal"))
        let reopened = try ReferencingStore(path: path.path)
        #expect(try reopened.versions().count == 3)
    }

    @Test func rollbackIsRefusedAndLeavesTheActiveList() throws {
        let (store, _) = try TestData.temporaryDatabase()
        _ = try #require(imported(try importDemo(store, "demo-mds-blob-no2.jwt")))
        let failure = try #require(refused(try importDemo(store, "demo-mds-blob-no1.jwt")))
        #expect(failure.code == .rollback)
        // Re-importing the same number is a rollback too.
        #expect(refused(try importDemo(store, "demo-mds-blob-no2.jwt"))?.code == .rollback)
        #expect(try store.activeLists().map(\.version.number) == [2])
        let trail = try store.imports()
        #expect(trail.map(\.result) == ["import.rollback", "import.rollback", "imported"])
    }

    @Test(arguments: [
        ("invalid/schema-version-2.json", ImportFailure.Code.schemaVersion),
        ("invalid/unknown-member.json", .malformed),
        ("invalid/not-json.json", .malformed),
        ("invalid/other-key.json", .untrustedSigner),
    ])
    func refusedImportsChangeNothing(_ name: String, _ code: ImportFailure.Code) throws {
        let (store, _) = try TestData.temporaryDatabase()
        _ = try #require(imported(try importDemo(store, "demo-ans-list.json", signature: true)))
        let before = try store.snapshot()
        let failure = try #require(refused(try importDemo(store, name, signature: true)))
        #expect(failure.code == code)
        let after = try store.snapshot()
        #expect(after.lists == before.lists)
        #expect(try store.versions().count == 1)
        let trail = try store.imports()
        let last = try #require(trail.first)
        #expect(last.result == code.rawValue)
        #expect(!last.message.isEmpty)
    }

    @Test func tamperedAndOversizeDocumentsAreRecordedAsRefused() throws {
        let (store, _) = try TestData.temporaryDatabase()
        var blob = try TestData.demo("demo-mds-blob-no1.jwt")
        let index = try #require(blob.firstIndex(of: UInt8(ascii: "."))) + 100  // inside the payload
        blob[index] = blob[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let tampered = store.importList(blob, signature: nil, trust: try TestData.demoTrust(), at: TestData.demoTime)
        #expect(refused(tampered)?.code == .signatureInvalid)
        let huge = store.importList(
            [UInt8](repeating: 0x7B, count: maximumListSize + 1), signature: nil, trust: try TestData.demoTrust(), at: TestData.demoTime)
        #expect(refused(huge)?.code == .tooLarge)
        #expect(try store.versions().isEmpty)
        #expect(try store.imports().count == 2)
    }

    @Test func liveCatalogSwapsWholeSnapshots() throws {
        let (store, _) = try TestData.temporaryDatabase()
        let live = LiveCatalog(try store.snapshot())
        #expect(live.current.lists.isEmpty)
        let held = live.current
        _ = try #require(imported(try importDemo(store, "demo-mds-blob-no1.jwt")))
        live.replace(with: try store.snapshot())
        // A verification that took the old snapshot keeps seeing it whole.
        #expect(held.lists.isEmpty)
        #expect(live.current.lists.map(\.label) == ["FIDO MDS no 1"])
        #expect(live.current.entry(for: .aaguid(Array("MIE-Verifier-Tes".utf8))) != nil)
    }

    @Test func aDatabaseFromANewerVersionIsRefused() throws {
        let (store, path) = try TestData.temporaryDatabase()
        try store.database.run("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'later')")
        #expect(throws: StoreError.self) { _ = try ReferencingStore(path: path.path) }
    }
}

/// Trust is a (root, authenticator) pair; lists compare version to version.
struct CatalogTests {
    @Test func aRootListedForOneModelNeverVouchesForAnother() throws {
        let catalog = CatalogSnapshot(lists: try TestData.demoLists())
        let software = AuthenticatorIdentifier.aaguid(Array("MIE-Verifier-Tes".utf8))
        #expect(catalog.trustAnchors(for: software, format: "packed").count == 1)
        // The same root, asked for another AAGUID, is not offered.
        #expect(catalog.trustAnchors(for: .aaguid([UInt8](repeating: 7, count: 16)), format: "packed").isEmpty)
        // A real model on the demo ANS list but absent from the demo BLOB has no roots here.
        let yubikey = try #require(AAGUIDText.bytes("2fc0579f-8113-47ea-b116-bb5a8db9202a"))
        #expect(catalog.entry(for: .aaguid(yubikey))?.ans != nil)
        #expect(catalog.trustAnchors(for: .aaguid(yubikey), format: "packed").isEmpty)

        let match = catalog.match(for: software, format: "packed", at: TestData.demoTime)
        #expect(match.entry?.description == "MIE Verifier software authenticator (DEMO)")
        #expect(match.entry?.status == "FIDO_CERTIFIED_L2")
        #expect(match.entry?.list == "ANS list no 1, FIDO MDS no 1")
    }

    @Test func generatedRegistrationsAreTrustedThroughTheCatalogOnly() throws {
        let catalog = CatalogSnapshot(lists: try TestData.demoLists())
        let packed = try RegistrationVector.generated("gen-reg-packed-x5c-ES256").verify(trust: catalog)
        #expect(packed.attestation.isTrusted)
        #expect(packed.attestation.referencingEntry?.description == "MIE Verifier software authenticator (DEMO)")
        // fido-u2f is found by its attestation certificate's key identifier, not the AAGUID.
        let u2f = try RegistrationVector.generated("gen-reg-fido-u2f-ES256").verify(trust: catalog)
        #expect(u2f.attestation.isTrusted)
        #expect(u2f.attestation.referencingEntry?.description == "MIE Verifier software U2F key (DEMO)")
        // Without the catalog nothing vouches.
        let alone = try RegistrationVector.generated("gen-reg-packed-x5c-ES256").verify(trust: CatalogSnapshot.empty)
        #expect(!alone.attestation.isTrusted)
    }

    @Test func diffReportsTheChangesThatMatter() throws {
        let first = try TestData.demoLists()
        let second = try TestData.demoLists(mdsNumber: 2, ansNumber: 2)
        let mds = try ReferencingDiff(old: (first[0].version, first[0].list), new: (second[0].version, second[0].list))
        let bypass = try #require(mds.changes.first { $0.code == "mds.status" })
        #expect(bypass.from == "FIDO_CERTIFIED_L2")
        #expect(bypass.to == "USER_VERIFICATION_BYPASS")
        #expect(bypass.alert)
        let ans = try ReferencingDiff(old: (first[1].version, first[1].list), new: (second[1].version, second[1].list))
        let codes = Set(ans.alerts.map(\.code))
        #expect(codes == ["ans.decision", "card.decision", "card.issuer-removed"])
        let withdrawn = try #require(ans.changes.first { $0.code == "ans.decision" })
        #expect(withdrawn.subject == "c5ef55ff-ad9a-4b9f-b580-adebafe026d0")
        #expect(withdrawn.to?.hasPrefix("withdrawn") == true)
        #expect(ans.changes.filter { $0.code == "card.issuer-removed" }.count == 3)  // one CA, three families
        #expect(throws: ReferencingDiff.Failure.self) {
            _ = try ReferencingDiff(old: (first[0].version, first[0].list), new: (second[1].version, second[1].list))
        }
        // Nothing changed: nothing reported.
        #expect(try ReferencingDiff(old: (first[1].version, first[1].list), new: (first[1].version, first[1].list)).changes.isEmpty)
    }
}
