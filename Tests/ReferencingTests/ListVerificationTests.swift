import AuthenticatorCatalog
import AuthenticatorVerification
import PSCPolicy
import Foundation
import SignatureVerification
import Testing
import WireFormat

/// FIDO MDS3 BLOBs from the public corpus (`mds3/manifest.json` gives their expected results),
/// read in place.
@Suite(RequiredMode.needs(TestData.mds3 != nil, "set MIE_EXTERNAL_VECTORS to the external corpus"))
struct MDSBLOBTests {
    static let production = "webauthn4j-production-blob-no9.jwt"

    @Test func productionBLOBVerifiesInItsWindow() throws {
        let blob = try MetadataBLOB.verify(
            try TestData.mds(Self.production), roots: try TestData.productionTrust().mdsRoots, crls: [], at: TestData.productionTime)
        #expect(blob.number == 9)
        #expect(blob.nextUpdate == "2021-12-01")
        #expect(blob.entries.count == 98)
        #expect(blob.entries.filter { $0.aaguid != nil }.count == 46)
        #expect(blob.entries.filter { !$0.attestationCertificateKeyIdentifiers.isEmpty }.count == 35)
        #expect(blob.signer.contains("mds.fidoalliance.org"))
        // The source is the root the chain reached: GlobalSign Root R3.
        #expect(blob.source == "cbb522d7b7f127ad6a0113865bdf1cd4102e7d0759af635a7cf4720dc963c53b")
        let yubikey = try #require(blob.entries.first { $0.aaguid.map(AAGUIDText.string) == "2fc0579f-8113-47ea-b116-bb5a8db9202a" })
        #expect(yubikey.statement?.description == "YubiKey 5 Series with NFC")
        #expect(yubikey.status(at: TestData.productionTime)?.status == .certified(level: 10, name: "FIDO_CERTIFIED_L1"))
        #expect(yubikey.statement?.attestationRootCertificates.isEmpty == false)
    }

    @Test func productionBLOBIsRefusedOnceItsCertificatesExpire() throws {
        #expect(throws: ImportFailure.self) {
            _ = try MetadataBLOB.verify(
                try TestData.mds(Self.production), roots: try TestData.productionTrust().mdsRoots, crls: [], at: TestData.date("2022-06-01T00:00:00Z"))
        }
        let failure = refusal {
            _ = try MetadataBLOB.verify(
                try TestData.mds(Self.production), roots: try TestData.productionTrust().mdsRoots, crls: [], at: TestData.date("2022-06-01T00:00:00Z"))
        }
        #expect(failure?.code == .untrustedSigner)
    }

    @Test func crlsFromAnotherTimeAreNotCurrent() throws {
        var crls: [CertificateRevocationList] = []
        for name in ["globalsign-root-r3.crl", "globalsign-ev-sha256-g3.crl"] {
            crls += try CertificateRevocationList.load(file: try TestData.mds(name))
        }
        let failure = refusal {
            _ = try MetadataBLOB.verify(
                try TestData.mds(Self.production), roots: try TestData.productionTrust().mdsRoots, crls: crls, at: TestData.productionTime)
        }
        #expect(failure?.code == .crlNotCurrent)
    }

    @Test func wrongRootIsRefused() throws {
        let failure = refusal {
            _ = try MetadataBLOB.verify(
                try TestData.mds(Self.production), roots: try TestData.certificates(try TestData.mds("mds3-spec-example-root.der")), crls: [],
                at: TestData.productionTime)
        }
        #expect(failure?.code == .untrustedSigner)
        let none = refusal {
            _ = try MetadataBLOB.verify(try TestData.mds(Self.production), roots: [], crls: [], at: TestData.productionTime)
        }
        #expect(none?.code == .untrustedSigner)
    }

    @Test func tamperedPayloadIsRefused() throws {
        var bytes = try TestData.mds(Self.production)
        let firstDot = try #require(bytes.firstIndex(of: UInt8(ascii: ".")))
        // A letter inside the payload changed for another: still base64url, no longer signed.
        let index = firstDot + 500
        bytes[index] = bytes[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let failure = refusal { _ = try MetadataBLOB.verify(bytes, roots: try TestData.productionTrust().mdsRoots, crls: [], at: TestData.productionTime) }
        #expect(failure?.code == .signatureInvalid)
    }

    @Test func specExampleWithDERSignatureIsRefused() throws {
        // Its ES256 signature is DER, not JOSE r ‖ s: a strict JWS verifier refuses it.
        let failure = refusal {
            _ = try MetadataBLOB.verify(
                try TestData.mds("mds3-spec-example-blob-no15.jwt"), roots: try TestData.certificates(try TestData.mds("mds3-spec-example-root.der")),
                crls: [], at: TestData.date("2022-01-01T00:00:00Z"))
        }
        #expect(failure?.code == .signatureInvalid)
    }

    @Test func conformanceBLOBVerifiesAgainstItsOwnRootAndCarriesNegativeStatuses() throws {
        // The FAKE conformance root is not published with it; its intermediate is configured
        // as the root (partial chain), as a conformance operator would.
        let bytes = try TestData.mds("webauthn4j-conformance-test-blob-no42.jwt")
        let header = try #require(String(decoding: bytes, as: UTF8.self).split(separator: ".").first)
        let headerJSON = try #require(Base64URL.decode(Array(header.utf8)))
        let value = try JSONValue.parse(headerJSON, document: "header")
        let encoded = try #require(value["x5c"]?.array?.last?.string)
        let intermediate = try #require(Base64.decode(encoded))
        let blob = try MetadataBLOB.verify(bytes, roots: [try Certificate(der: intermediate)], crls: [], at: TestData.date("2022-06-01T00:00:00Z"))
        #expect(blob.number == 42)
        #expect(blob.entries.count == 200)
        let statuses = Set(blob.entries.flatMap { $0.statusReports.map(\.status.description) })
        for negative in ["ATTESTATION_KEY_COMPROMISE", "USER_VERIFICATION_BYPASS", "USER_KEY_REMOTE_COMPROMISE", "USER_KEY_PHYSICAL_COMPROMISE"] {
            #expect(statuses.contains(negative))
        }
        // Without that root, the production root does not vouch for it.
        let failure = refusal { _ = try MetadataBLOB.verify(bytes, roots: try TestData.productionTrust().mdsRoots, crls: [], at: TestData.productionTime) }
        #expect(failure?.code == .untrustedSigner)
    }

    @Test func latestStatusReportByEffectiveDateGoverns() throws {
        let blob = try MetadataBLOB.verify(
            try TestData.mds(Self.production), roots: try TestData.productionTrust().mdsRoots, crls: [], at: TestData.productionTime)
        // Entries whose reports are not in date order in the document still resolve by date.
        for entry in blob.entries where entry.statusReports.count > 1 {
            let governing = try #require(entry.status(at: .distantFuture))
            let latest = entry.statusReports.compactMap(\.effectiveDate).max()
            #expect(governing.effectiveDate == latest)
        }
    }
}

/// The ANS list format and its detached signature, with the demo list and the invalid ones
/// `Tools/referencing/make_lists.py` signs on purpose.
struct ANSListTests {
    func verify(_ name: String, signature: [UInt8]? = nil) throws -> ANSList {
        let document = try TestData.demo(name)
        return try ANSList.verify(document, signature: signature ?? (try TestData.demo(name + ".jws")), keys: try TestData.demoTrust().ansKeys)
    }

    @Test func demoListVerifies() throws {
        let list = try verify("demo-ans-list.json")
        #expect(list.number == 1)
        #expect(list.demo)
        #expect(list.issuer.contains("DEMO"))
        #expect(list.authenticators.count == 10)
        #expect(Set(list.cardFamilies.map(\.family)) == ["CPS3", "CPS4", "PSI"])
        let software = try #require(list.authenticators.first { $0.aaguid == Array("MIE-Verifier-Tes".utf8) })
        #expect(software.decision.status == .referenced)
        #expect(software.decision.acceptedFirmware == [5])
        let cps3 = try #require(list.cardFamilies.first { $0.family == "CPS3" })
        #expect(cps3.atrPatterns[0].matches(Hex.bytes("3BAC00402A001225006480000310009000") ?? []))
        // The mask ignores bytes 1-4 and 11-13 of the contact ATR.
        #expect(cps3.atrPatterns[0].matches(Hex.bytes("3BFF00FF2A001225006480FFFFFF009000") ?? []))
        #expect(!cps3.atrPatterns[0].matches(Hex.bytes("3BAC00402A001225006480000310009001") ?? []))
    }

    @Test(arguments: [
        ("invalid/schema-version-2.json", ImportFailure.Code.schemaVersion),
        ("invalid/unknown-member.json", .malformed),
        ("invalid/bad-decision.json", .malformed),
        ("invalid/not-json.json", .malformed),
        ("invalid/other-key.json", .untrustedSigner),
    ])
    func signedButInvalidListsAreRefused(_ name: String, _ code: ImportFailure.Code) throws {
        let failure = refusal { _ = try verify(name) }
        #expect(failure?.code == code, "\(name): \(failure?.description ?? "accepted")")
    }

    @Test func tamperedDocumentOrSignatureIsRefused() throws {
        var document = try TestData.demo("demo-ans-list.json")
        let signature = try TestData.demo("demo-ans-list.json.jws")
        let index = try #require(document.firstIndex(of: UInt8(ascii: "5")))
        document[index] = UInt8(ascii: "6")  // one digit of one decision changed
        let keys = try TestData.demoTrust().ansKeys
        #expect(refusal { _ = try ANSList.verify(document, signature: signature, keys: keys) }?.code == .signatureInvalid)
        var badSignature = signature
        badSignature[badSignature.count - 5] = badSignature[badSignature.count - 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(refusal { _ = try ANSList.verify(try TestData.demo("demo-ans-list.json"), signature: badSignature, keys: keys) }?.code == .signatureInvalid)
        // A JWS that is not detached, or a header member this verifier does not understand.
        let attached = Array("eyJhbGciOiJFUzI1NiJ9.e30.AAAA".utf8)
        #expect(refusal { _ = try ANSList.verify(try TestData.demo("demo-ans-list.json"), signature: attached, keys: keys) }?.code == .malformed)
        let critical = Array((Base64URL.encode(Array(#"{"alg":"ES256","crit":["b64"],"b64":false}"#.utf8)) + "..AAAA").utf8)
        #expect(refusal { _ = try ANSList.verify(try TestData.demo("demo-ans-list.json"), signature: critical, keys: keys) }?.code == .malformed)
        #expect(refusal { _ = try ANSList.verify(try TestData.demo("demo-ans-list.json"), signature: signature, keys: []) }?.code == .untrustedSigner)
    }

    @Test func kindIsDetectedAndOversizeRefused() throws {
        let trust = try TestData.demoTrust()
        #expect(ListKind.detect(try TestData.demo("demo-ans-list.json")) == .ans)
        #expect(ListKind.detect(try TestData.demo("demo-mds-blob-no1.jwt")) == .mds)
        #expect(refusal { _ = try VerifiedList.verify(Array("<html>".utf8), signature: nil, trust: trust, at: TestData.demoTime) }?.code == .unknownKind)
        #expect(refusal { _ = try VerifiedList.verify([], signature: nil, trust: trust, at: TestData.demoTime) }?.code == .unknownKind)
        let huge = [UInt8](repeating: UInt8(ascii: "e"), count: maximumListSize + 1)
        #expect(refusal { _ = try VerifiedList.verify(huge, signature: nil, trust: trust, at: TestData.demoTime) }?.code == .tooLarge)
        #expect(
            refusal { _ = try VerifiedList.verify(try TestData.demo("demo-ans-list.json"), signature: nil, trust: trust, at: TestData.demoTime) }?.code
                == .signatureInvalid)
        // A compact JWS that is not a BLOB, and a BLOB whose payload is not JSON.
        #expect(refusal { _ = try VerifiedList.verify(Array("eyJ.x.y".utf8), signature: nil, trust: trust, at: TestData.demoTime) }?.code == .malformed)
    }

    @Test func demoBLOBsVerifyWithTheDemoRootOnly() throws {
        let trust = try TestData.demoTrust()
        let blob = try MetadataBLOB.verify(try TestData.demo("demo-mds-blob-no1.jwt"), roots: trust.mdsRoots, crls: [], at: TestData.demoTime)
        #expect(blob.entries.count == 3)
        #expect(blob.entries[0].statement?.icon?.hasPrefix("data:image/png;base64,") == true)
        #expect(blob.entries[1].attestationCertificateKeyIdentifiers.count == 1)
        if TestData.mds3 != nil {
            #expect(
                refusal {
                    _ = try MetadataBLOB.verify(
                        try TestData.demo("demo-mds-blob-no1.jwt"), roots: try TestData.productionTrust().mdsRoots, crls: [], at: TestData.demoTime)
                }?.code == .untrustedSigner)
        }
    }
}

/// The ImportFailure a throwing body ended with (nil if it did not throw one).
func refusal(_ body: () throws -> Void) -> ImportFailure? {
    do {
        try body()
        return nil
    } catch let failure as ImportFailure {
        return failure
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

/// The codes an operator sees are documented where they are explained.
struct DocumentedCodesTests {
    @Test func everyImportCodeIsDocumented() throws {
        let page = try String(contentsOf: packageRoot.appendingPathComponent("docs/referencing.md"), encoding: .utf8)
        for code in ImportFailure.Code.allCases {
            #expect(page.contains("`\(code.rawValue)`"), "\(code.rawValue) in docs/referencing.md")
        }
    }

    @Test func everyCheckAndProfileCodeIsDocumented() throws {
        let page = try String(contentsOf: packageRoot.appendingPathComponent("docs/psc-criteria.md"), encoding: .utf8)
        for check in CheckKind.allCases {
            #expect(page.contains("`\(check.rawValue)`"), "\(check.rawValue) in docs/psc-criteria.md")
        }
        for code in ["profile.malformed", "profile.unknown-check", "profile.parameter"] {
            #expect(page.contains("`\(code)`"))
        }
    }
}
