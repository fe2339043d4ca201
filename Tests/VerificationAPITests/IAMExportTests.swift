import AuthenticatorCatalog
import Ceremonies
import Foundation
import Hummingbird
import HummingbirdTesting
import PSCPolicy
import SignatureVerification
import Storage
import Testing
import VerificationAPI
import WireFormat

/// The lists as IAM policies, a list's impact before it is imported, and an IAM's fleet audited.
@Suite struct IAMExportTests {
    /// The demo ANS list no 1's models with an AAGUID that are referenced (a suspended, two
    /// withdrawn and a U2F key without AAGUID are not).
    static let referenced: Set<String> = [
        "4d49452d-5665-7269-6669-65722d546573", "4d49452d-5669-7274-7561-6c2d4e464321", "2fc0579f-8113-47ea-b116-bb5a8db9202a",
        "c5ef55ff-ad9a-4b9f-b580-adebafe026d0", "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73", "e1a96183-5016-4f24-b55b-e3ae23614cc6",
    ]
    static let software = "4d49452d-5665-7269-6669-65722d546573"

    static func export(_ client: any TestClientProtocol, _ key: String?, _ target: String) async throws -> [String: Any] {
        let reply = try await client.call(.get, "/v1/referencing/export?for=\(target)", key: key)
        #expect(reply.status == .ok, "\(reply.text)")
        return reply.json
    }

    static func body(_ document: [String: Any], at index: Int = -1) throws -> [String: Any] {
        let requests = try #require(document["requests"] as? [[String: Any]])
        let request = requests[index < 0 ? requests.count + index : index]
        return try #require(request["body"] as? [String: Any])
    }

    @Test func eachIAMGetsItsOwnShapeWithAttestationEnforced() async throws {
        let harness = try ServiceHarness()
        let key = harness.keys["verifier"]
        try await harness.test { client in
            // Entra: the Graph fido2 method configuration, PATCHed.
            let entra = try await Self.export(client, key, "entra")
            let entraRequest = try #require((entra["requests"] as? [[String: Any]])?.first)
            #expect(entraRequest["method"] as? String == "PATCH")
            #expect((entraRequest["path"] as? String)?.hasSuffix("/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2") == true)
            let graph = try Self.body(entra)
            #expect(graph["@odata.type"] as? String == "#microsoft.graph.fido2AuthenticationMethodConfiguration")
            #expect(graph["isAttestationEnforced"] as? Bool == true)
            let restrictions = try #require(graph["keyRestrictions"] as? [String: Any])
            #expect(restrictions["@odata.type"] as? String == "#microsoft.graph.fido2KeyRestrictions")
            #expect(restrictions["isEnforced"] as? Bool == true)
            #expect(restrictions["enforcementType"] as? String == "allow")
            let allowed = try #require(restrictions["aaGuids"] as? [String])
            #expect(Set(allowed) == Self.referenced)
            #expect(allowed.allSatisfy { $0.range(of: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", options: .regularExpression) != nil })
            #expect(Set(graph.keys) == ["@odata.type", "isAttestationEnforced", "keyRestrictions"])
            // Provenance and what was left out.
            #expect((entra["lists"] as? [[String: Any]])?.compactMap { $0["label"] as? String } == ["FIDO MDS no 1", "ANS list no 1"])
            let excluded = try #require(entra["excluded"] as? [[String: Any]])
            #expect(excluded.contains { ($0["reason"] as? String)?.contains("suspended") == true })
            #expect(excluded.contains { ($0["reason"] as? String)?.contains("no AAGUID") == true })

            // Okta: the WebAuthn method's AAGUID group; models FIDO MDS does not know first, as custom AAGUIDs.
            let okta = try await Self.export(client, key, "okta")
            let oktaRequests = try #require(okta["requests"] as? [[String: Any]])
            let method = try Self.body(okta)
            #expect(oktaRequests.last?["method"] as? String == "PUT")
            #expect((oktaRequests.last?["path"] as? String)?.hasSuffix("/methods/webauthn") == true)
            #expect(method["type"] as? String == "webauthn")
            let settings = try #require(method["settings"] as? [String: Any])
            #expect(settings["userVerification"] as? String == "REQUIRED")
            let group = try #require((settings["aaguidGroups"] as? [[String: Any]])?.first)
            #expect(Set(group["aaguids"] as? [String] ?? []) == Self.referenced)
            let custom = oktaRequests.dropLast()
            #expect(!custom.isEmpty && custom.allSatisfy { ($0["path"] as? String)?.hasSuffix("/aaguids") == true && $0["method"] as? String == "POST" })
            // The software authenticator is in the (demo) FIDO MDS: no custom AAGUID for it.
            #expect(!custom.contains { ($0["body"] as? [String: Any])?["aaguid"] as? String == Self.software })

            // Keycloak: the realm's WebAuthn policies, attestation asked for.
            let keycloak = try Self.body(try await Self.export(client, key, "keycloak"))
            #expect(Set(keycloak["webAuthnPolicyAcceptableAaguids"] as? [String] ?? []) == Self.referenced)
            #expect(Set(keycloak["webAuthnPolicyPasswordlessAcceptableAaguids"] as? [String] ?? []) == Self.referenced)
            #expect(keycloak["webAuthnPolicyAttestationConveyancePreference"] as? String == "direct")
            #expect(keycloak["webAuthnPolicyUserVerificationRequirement"] as? String == "required")
            #expect(keycloak.keys.allSatisfy { $0.hasPrefix("webAuthnPolicy") })

            #expect(try await client.call(.get, "/v1/referencing/export?for=ping", key: key).status == .badRequest)
            #expect(try await client.call(.get, "/v1/referencing/export", key: key).status == .badRequest)
            #expect(try await client.call(.get, "/v1/referencing/export?for=entra", key: nil).status == .unauthorized)

            // A model turned negative leaves the allow-list at once.
            try await ReferencingOperationsTests.importList(client, harness, "demo-mds-blob-no2.jwt")
            let after = try Self.body(try await Self.export(client, key, "keycloak"))
            #expect(Set(after["webAuthnPolicyAcceptableAaguids"] as? [String] ?? []) == Self.referenced.subtracting([Self.software]))
        }
    }

    @Test func anImpactReportChangesNothingAndNamesWhatAnImportWould() async throws {
        let harness = try ServiceHarness()
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            _ = try await CeremonyTests.enrol(client, key: harness.keys["enrolment"], authenticator: authenticator, holder: ReferencingOperationsTests.holder("holder-1"))
        }
        let document = try ReferencingOperationsTests.demo("demo-mds-blob-no2.jwt")
        let trust = ReferencingTrust(mdsRoots: try Certificate.load(file: try ReferencingOperationsTests.demo("demo-mds-root.pem")))
        let list = try VerifiedList.verify(document, signature: nil, trust: trust, at: Date())
        let impact = try ListImpact.of(
            list, document: document, referencing: harness.state.stores.referencing, verdicts: harness.state.stores.verdicts,
            profile: harness.state.profile, at: Date())
        #expect(impact.replacing == "FIDO MDS no 1 -> FIDO MDS no 2")
        #expect(impact.judged == 1)
        #expect(impact.changes.count == 1)
        #expect(impact.changes.first?.before.verdict == "accepted")
        #expect(impact.changes.first?.after.verdict == "refused")
        #expect(impact.changes.first?.after.cause.contains("USER_VERIFICATION_BYPASS") == true)
        // Nothing written: the credential keeps its verdict, no change is recorded.
        let stored = try #require(try harness.state.credentials.credentials(holder: "holder-1").first)
        #expect(stored.verdict == "accepted")
        #expect(try harness.state.stores.verdicts.changes(credential: stored.id).isEmpty)
        #expect(harness.state.current.catalog.lists.map(\.label).contains("FIDO MDS no 1"))
        // The list in force again: an import would be a rollback.
        let same = try ReferencingOperationsTests.demo("demo-mds-blob-no1.jwt")
        #expect(throws: ListImpact.Refusal.self) {
            _ = try ListImpact.of(
                try VerifiedList.verify(same, signature: nil, trust: trust, at: Date()), document: same, referencing: harness.state.stores.referencing,
                verdicts: harness.state.stores.verdicts, profile: harness.state.profile, at: Date())
        }
    }

    @Test func aFleetIsJudgedPerPersonAndPerModel() throws {
        let harness = try ServiceHarness()
        let catalog = harness.state.current.catalog
        let entra = """
            [{"userPrincipalName": "claire@chu.example", "fido2Methods": [
                {"id": "m1", "displayName": "Yubi", "aaGuid": "2FC0579F-8113-47EA-B116-BB5A8DB9202A", "model": "YubiKey 5 NFC", "attestationLevel": "attested"},
                {"id": "m2", "aaGuid": "08987058-cadc-4b81-b6e1-30de50dcbe96", "model": "Windows Hello", "attestationLevel": "attested"}]},
             {"userPrincipalName": "<b>paul</b>@chu.example", "fido2Methods": [
                {"id": "m3", "aaGuid": "c5ef55ff-ad9a-4b9f-b580-adebafe026d0", "model": "YubiKey 5Ci", "attestationLevel": "notAttested"},
                {"id": "m4", "aaGuid": "00000000-0000-0000-0000-000000000000", "model": "Unknown key"},
                {"id": "m5", "aaGuid": "01020304-0506-0708-090a-0b0c0d0e0f10", "model": "Someone's key"}]}]
            """
        let credentials = try FleetAudit.read(Array(entra.utf8))
        #expect(credentials.count == 5)
        let report = FleetAudit.Report(findings: FleetAudit.judge(credentials, catalog: catalog, at: Date()), lists: catalog.lists.map(\.label), generatedAt: Date())
        let standing = Dictionary(uniqueKeysWithValues: report.findings.map { ($0.credential.id, $0.standing) })
        #expect(standing == ["m1": .accepted, "m2": .refused, "m3": .refused, "m4": .unknown, "m5": .unknown])
        #expect(report.findings.first { $0.credential.id == "m3" }?.reason.contains("no attestation") == true)
        #expect(report.findings.first { $0.credential.id == "m2" }?.reason.contains("withdrawn") == true)
        let people = Dictionary(uniqueKeysWithValues: report.people.map { ($0.person, $0.standing) })
        #expect(people == ["claire@chu.example": .accepted, "<b>paul</b>@chu.example": .refused])
        #expect(report.json["summary"]?["accepted"]?.integer == 1)
        let html = try report.html(tool: "test")
        #expect(html.contains("&lt;b&gt;paul&lt;/b&gt;@chu.example") && !html.contains("<b>paul</b>"))
        #expect(html.contains("Content-Security-Policy"))

        // Keycloak: a realm export and rows of the credential table say the same.
        let data = #"{\"aaguid\":\"2fc0579f-8113-47ea-b116-bb5a8db9202a\",\"credentialId\":\"AQID\",\"attestationStatementFormat\":\"packed\",\"counter\":3}"#
        let none = #"{\"aaguid\":\"2fc0579f-8113-47ea-b116-bb5a8db9202a\",\"credentialId\":\"BAUG\",\"attestationStatementFormat\":\"none\",\"counter\":0}"#
        let realm = """
            {"realm": "chu", "users": [{"username": "claire", "credentials": [
                {"id": "k1", "type": "password", "credentialData": "{}"},
                {"id": "k2", "type": "webauthn", "credentialData": "\(data)"},
                {"id": "k3", "type": "webauthn-passwordless", "credentialData": "\(none)"}]}]}
            """
        let rows = """
            [{"id": "k2", "user_id": "claire", "type": "webauthn", "credential_data": "\(data)"},
             {"id": "k3", "user_id": "claire", "type": "webauthn-passwordless", "credential_data": "\(none)"}]
            """
        for export in [realm, rows] {
            let found = try FleetAudit.judge(FleetAudit.read(Array(export.utf8)), catalog: catalog, at: Date())
            #expect(found.map(\.credential.id) == ["k2", "k3"])
            #expect(found.map(\.standing) == [.accepted, .refused])
        }
        #expect(throws: FleetAudit.Failure.self) { _ = try FleetAudit.read(Array(#"{"something": 1}"#.utf8)) }
        #expect(throws: FleetAudit.Failure.self) { _ = try FleetAudit.read(Array("[{\"fido2Methods\": [{\"aaGuid\": 1}]}".utf8)) }
        #expect(throws: FleetAudit.Failure.self) { _ = try FleetAudit.read(Array("not json".utf8)) }

        // Ten thousand credentials: each judged.
        var big = "["
        for index in 0..<10_000 {
            if index > 0 { big += "," }
            big += #"{"userPrincipalName": "p\#(index)@chu.example", "id": "m\#(index)", "aaGuid": "\#(index % 2 == 0 ? "2fc0579f-8113-47ea-b116-bb5a8db9202a" : "08987058-cadc-4b81-b6e1-30de50dcbe96")", "attestationLevel": "attested"}"#
        }
        big += "]"
        let fleet = FleetAudit.Report(
            findings: FleetAudit.judge(try FleetAudit.read(Array(big.utf8), source: .entra), catalog: catalog, at: Date()), lists: [], generatedAt: Date())
        #expect(fleet.count(.accepted) == 5_000)
        #expect(fleet.count(.refused) == 5_000)
        #expect(fleet.models.count == 2)
    }
}
