import Foundation
import Hummingbird
import HummingbirdTesting
import Storage
import Testing
import VerificationAPI

/// The stateful ceremonies: options, registration with the PSC verdict and the credential
/// store, sign-in with the counter compare-and-set, challenges single use and expiring.
@Suite struct CeremonyTests {
    static var holder: [String: Any] { ["id": "holder-1", "name": "dr.martin", "displayName": "Dr Claire Martin", "rpps": "10001234565"] }

    /// Registers a key for `holder` and returns the service's answer.
    static func enrol(
        _ client: any TestClientProtocol, key: String?, authenticator: SoftwareAuthenticator, holder: [String: Any] = holder
    ) async throws -> Reply {
        let options = try await client.call(.post, "/v1/registrations/options", key: key, json: ["holder": holder])
        #expect(options.status == .ok, "\(options.text)")
        let publicKey = try #require(options.json["publicKey"] as? [String: Any])
        let response = try authenticator.create(publicKey)
        return try await client.call(.post, "/v1/registrations", key: key, json: ["ceremonyId": options.json["ceremonyId"]!, "response": response])
    }

    static func signIn(
        _ client: any TestClientProtocol, key: String?, authenticator: SoftwareAuthenticator, holder: String? = "holder-1",
        counterStep: UInt32 = 1
    ) async throws -> Reply {
        let options = try await client.call(.post, "/v1/assertions/options", key: key, json: holder.map { ["holder": $0] } ?? [String: Any]())
        #expect(options.status == .ok, "\(options.text)")
        let response = try authenticator.get(try #require(options.json["publicKey"] as? [String: Any]), counterStep: counterStep)
        return try await client.call(.post, "/v1/assertions", key: key, json: ["ceremonyId": options.json["ceremonyId"]!, "response": response])
    }

    @Test func creationOptionsAreWhatABrowserParses() async throws {
        let harness = try ServiceHarness()
        let key = harness.keys["enrolment"]
        try await harness.test { client in
            let reply = try await client.call(.post, "/v1/registrations/options", key: key, json: ["holder": Self.holder])
            #expect(reply.status == .ok)
            let options = try #require(reply.json["publicKey"] as? [String: Any])
            #expect((options["rp"] as? [String: Any])?["id"] as? String == "mie.example")
            let challenge = try SoftwareAuthenticator.decode(try #require(options["challenge"] as? String))
            #expect(challenge.count == 32)
            let user = try #require(options["user"] as? [String: Any])
            #expect(try SoftwareAuthenticator.decode(try #require(user["id"] as? String)).count == 32)
            #expect(user["displayName"] as? String == "Dr Claire Martin")
            #expect((options["pubKeyCredParams"] as? [[String: Any]])?.first?["alg"] as? Int == -7)
            #expect((options["authenticatorSelection"] as? [String: Any])?["userVerification"] as? String == "required")
            #expect(options["attestation"] as? String == "direct")
            // Each ceremony has its own challenge; the holder keeps one user handle.
            let again = try await client.call(.post, "/v1/registrations/options", key: key, json: ["holder": Self.holder])
            let second = try #require(again.json["publicKey"] as? [String: Any])
            #expect(second["challenge"] as? String != options["challenge"] as? String)
            #expect((second["user"] as? [String: Any])?["id"] as? String == user["id"] as? String)
        }
    }

    @Test func holderInputIsChecked() async throws {
        let harness = try ServiceHarness()
        let key = harness.keys["enrolment"]
        try await harness.test { client in
            for holder: [String: Any] in [
                ["id": "h", "name": "n", "rpps": "10001234567"],  // Luhn key wrong
                ["id": "h", "name": "n", "rpps": "1000123456"],  // 10 digits
                ["id": "h", "name": "n", "rpps": "１0001234565"],  // a full-width digit
                ["id": "", "name": "n"], ["name": "n"], ["id": "h", "name": String(repeating: "x", count: 65)],
                ["id": "h", "name": "line\nbreak"], ["id": "h", "name": "n", "role": "admin"],
            ] {
                let reply = try await client.call(.post, "/v1/registrations/options", key: key, json: ["holder": holder])
                #expect(reply.status == .badRequest, "\(holder)")
                #expect(reply.code == "request.malformed")
            }
        }
    }

    @Test func aReferencedKeyIsEnrolledAndSignsInWithItsAMR() async throws {
        let harness = try ServiceHarness()
        let key = harness.keys["enrolment"]
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            let registration = try await Self.enrol(client, key: key, authenticator: authenticator)
            #expect(registration.status == .ok, "\(registration.text)")
            #expect(registration.json["registered"] as? Bool == true, "\(registration.text)")
            #expect(registration.json["verdict"] as? String == "accepted", "\(registration.text)")
            #expect((registration.json["amr"] as? [String])?.contains("hwk") == true)
            #expect((registration.json["holder"] as? [String: Any])?["rpps"] as? String == "10001234565")

            let signIn = try await Self.signIn(client, key: key, authenticator: authenticator)
            #expect(signIn.status == .ok)
            #expect(signIn.json["verified"] as? Bool == true, "\(signIn.text)")
            #expect(signIn.json["pscAcceptable"] as? Bool == true)
            #expect((signIn.json["amr"] as? [String])?.contains("hwk") == true)
            #expect((signIn.json["holder"] as? [String: Any])?["id"] as? String == "holder-1")
            #expect(signIn.json["signCount"] as? Int == 1)

            // Discoverable: no holder named, the credential says who it is.
            let discoverable = try await Self.signIn(client, key: key, authenticator: authenticator, holder: nil)
            #expect(discoverable.json["verified"] as? Bool == true, "\(discoverable.text)")
            #expect(discoverable.json["signCount"] as? Int == 2)

            // Registering the same holder again excludes the key already held.
            let options = try await client.call(.post, "/v1/registrations/options", key: key, json: ["holder": Self.holder])
            let excluded = (options.json["publicKey"] as? [String: Any])?["excludeCredentials"] as? [[String: Any]]
            #expect(excluded?.count == 1)
        }
        let stored = try harness.state.credentials.credentials(holder: "holder-1")
        #expect(stored.count == 1)
        #expect(stored.first?.signCount == 2)
        #expect(stored.first?.verdict == "accepted")
        #expect(stored.first?.lastUsedAt != nil)
    }

    @Test func anUnreferencedKeyIsNotEnrolledUnlessTheServiceAllowsIt() async throws {
        let strict = try ServiceHarness()
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin, aaguid: SoftwareAuthenticator.unknownAAGUID, attestation: .none)
        try await strict.test { client in
            let reply = try await Self.enrol(client, key: strict.keys["enrolment"], authenticator: authenticator)
            #expect(reply.status == .ok)
            #expect(reply.json["registered"] as? Bool == false)
            #expect(reply.json["verdict"] as? String == "refused")
            #expect((reply.json["verification"] as? [String: Any])?["verified"] as? Bool == true)
        }
        #expect(try strict.state.credentials.credentials(holder: "holder-1").isEmpty)

        let relaxed = try ServiceHarness { $0.enrolsUnacceptableKeys = true }
        let other = try SoftwareAuthenticator(origin: ServiceHarness.origin, aaguid: SoftwareAuthenticator.unknownAAGUID, attestation: .none)
        try await relaxed.test { client in
            let key = relaxed.keys["enrolment"]
            let reply = try await Self.enrol(client, key: key, authenticator: other)
            #expect(reply.json["registered"] as? Bool == true)
            #expect(reply.json["verdict"] as? String == "refused")
            let signIn = try await Self.signIn(client, key: key, authenticator: other)
            #expect(signIn.json["verified"] as? Bool == true)
            #expect(signIn.json["pscAcceptable"] as? Bool == false)
            #expect((signIn.json["amr"] as? [String]) == [])
        }
    }

    @Test func aChallengeServesOnceAndExpires() async throws {
        let harness = try ServiceHarness()
        let key = harness.keys["enrolment"]
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            let options = try await client.call(.post, "/v1/registrations/options", key: key, json: ["holder": Self.holder])
            let id = try #require(options.json["ceremonyId"] as? String)
            let response = try authenticator.create(try #require(options.json["publicKey"] as? [String: Any]))
            let first = try await client.call(.post, "/v1/registrations", key: key, json: ["ceremonyId": id, "response": response])
            #expect(first.json["registered"] as? Bool == true)
            let replay = try await client.call(.post, "/v1/registrations", key: key, json: ["ceremonyId": id, "response": response])
            #expect(replay.status == .conflict)
            #expect(replay.code == "ceremony.replayed")
            let unknown = try await client.call(.post, "/v1/registrations", key: key, json: ["ceremonyId": "nope", "response": response])
            #expect(unknown.status == .notFound)
            #expect(unknown.code == "ceremony.unknown")
            // Another client cannot use this client's ceremony.
            let other = try await client.call(.post, "/v1/registrations", key: harness.keys["all"], json: ["ceremonyId": id, "response": response])
            #expect(other.code == "ceremony.unknown")

            // A sign-in ceremony cannot serve a registration, and the reverse.
            let signInOptions = try await client.call(.post, "/v1/assertions/options", key: key, json: ["holder": "holder-1"])
            let crossed = try await client.call(
                .post, "/v1/registrations", key: key, json: ["ceremonyId": signInOptions.json["ceremonyId"]!, "response": response])
            #expect(crossed.code == "ceremony.unknown")

            // A response signed over another challenge fails verification (200, verified false).
            let fresh = try await client.call(.post, "/v1/registrations/options", key: key, json: ["holder": Self.holder])
            let forged = try authenticator.create(
                try #require(fresh.json["publicKey"] as? [String: Any]), challengeOverride: [UInt8](repeating: 7, count: 32))
            let mismatch = try await client.call(.post, "/v1/registrations", key: key, json: ["ceremonyId": fresh.json["ceremonyId"]!, "response": forged])
            #expect(mismatch.status == .ok)
            #expect(mismatch.json["registered"] as? Bool == false)
            #expect(((mismatch.json["verification"] as? [String: Any])?["error"] as? [String: Any])?["code"] as? String == "mismatch.challenge")
        }

        let expiring = try ServiceHarness { $0.challengeLifetime = 0 }
        try await expiring.test { client in
            let key = expiring.keys["enrolment"]
            let options = try await client.call(.post, "/v1/registrations/options", key: key, json: ["holder": Self.holder])
            let response = try authenticator.create(try #require(options.json["publicKey"] as? [String: Any]))
            let late = try await client.call(.post, "/v1/registrations", key: key, json: ["ceremonyId": options.json["ceremonyId"]!, "response": response])
            #expect(late.status == .gone)
            #expect(late.code == "ceremony.expired")
        }
    }

    @Test func aClonedCounterAndAnUnknownCredentialAreRefused() async throws {
        let harness = try ServiceHarness()
        let key = harness.keys["enrolment"]
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        let stranger = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            _ = try await Self.enrol(client, key: key, authenticator: authenticator)
            #expect(try await Self.signIn(client, key: key, authenticator: authenticator, counterStep: 5).json["verified"] as? Bool == true)
            let id = try #require(authenticator.credentials.keys.first)
            authenticator.setCounter(id, 2)
            let clone = try await Self.signIn(client, key: key, authenticator: authenticator)
            #expect(clone.json["verified"] as? Bool == false)
            #expect((clone.json["error"] as? [String: Any])?["code"] as? String == "mismatch.sign-count")

            _ = try await Self.enrol(client, key: key, authenticator: stranger, holder: ["id": "holder-2", "name": "other"])
            // holder-2's key cannot sign in as holder-1.
            let options = try await client.call(.post, "/v1/assertions/options", key: key, json: ["holder": "holder-1"])
            let response = try stranger.get(try #require(options.json["publicKey"] as? [String: Any]), credential: stranger.credentials.keys.first)
            let wrongHolder = try await client.call(.post, "/v1/assertions", key: key, json: ["ceremonyId": options.json["ceremonyId"]!, "response": response])
            #expect(wrongHolder.json["verified"] as? Bool == false)
            #expect((wrongHolder.json["error"] as? [String: Any])?["code"] as? String == "credential.unknown")

            let noHolder = try await client.call(.post, "/v1/assertions/options", key: key, json: ["holder": "nobody"])
            #expect(noHolder.status == .notFound)
        }
        #expect(try harness.state.credentials.credentials(holder: "holder-1").first?.signCount == 5)
    }

    @Test func twoSignInsRacingOnOneCredentialMoveTheCounterOnce() async throws {
        let harness = try ServiceHarness()
        let key = harness.keys["enrolment"]
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            _ = try await Self.enrol(client, key: key, authenticator: authenticator)
            let id = try #require(authenticator.credentials.keys.first)
            for round in 0..<10 {
                // Two ceremonies, two assertions carrying the same new counter value.
                var requests: [[String: Any]] = []
                for _ in 0..<2 {
                    let options = try await client.call(.post, "/v1/assertions/options", key: key, json: ["holder": "holder-1"])
                    authenticator.setCounter(id, UInt32(round * 10))
                    let response = try authenticator.get(try #require(options.json["publicKey"] as? [String: Any]), counterStep: 10)
                    requests.append(["ceremonyId": options.json["ceremonyId"]!, "response": response])
                }
                let bodies = try requests.map { try JSONSerialization.data(withJSONObject: $0) }
                let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                    for body in bodies {
                        group.addTask { try await client.call(.post, "/v1/assertions", key: key, raw: Array(body)) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let winners = replies.filter { $0.json["verified"] as? Bool == true }
                #expect(winners.count == 1, "round \(round): \(replies.map(\.text))")
                let loser = try #require(replies.first { $0.json["verified"] as? Bool != true })
                #expect(loser.code == "conflict" || (loser.json["error"] as? [String: Any])?["code"] as? String == "mismatch.sign-count", "\(loser.text)")
            }
        }
        #expect(try harness.state.credentials.credentials(holder: "holder-1").first?.signCount == 100)
    }

    @Test func theCounterCompareAndSetAllowsOneWriter() throws {
        let harness = try ServiceHarness()
        let store = harness.state.credentials
        let client = try #require(try harness.state.clients.list().first)
        let holder = Holder(rpID: "mie.example", id: "h", name: "h", displayName: "h", rpps: nil, userHandle: [7])
        #expect(try store.create(holder, event: AuditEvent(action: "holder.created", result: "created"), at: Date()))
        let record = StoredCredentialRecord(
            id: [1, 2, 3], holderID: "h", identityEvidence: "asserted-by-client", publicKey: [0xA0], algorithm: "ES256", signCount: 4,
            backupEligible: false, aaguid: "00000000-0000-0000-0000-000000000000", authenticator: "x", verdict: "accepted", amr: ["hwk"],
            clientID: client.id, rpID: "mie.example", createdAt: "2026-12-01T00:00:00Z")
        try store.insert(record, event: AuditEvent(action: "registration", result: "accepted"), at: Date())
        #expect(throws: StoreError.self) { try store.insert(record, event: AuditEvent(action: "registration", result: "accepted"), at: Date()) }
        let event = AuditEvent(action: "assertion", result: "verified")
        #expect(try store.recordUse([1, 2, 3], expectedCount: 4, newCount: 5, event: event, at: Date()))
        #expect(try !store.recordUse([1, 2, 3], expectedCount: 4, newCount: 6, event: event, at: Date()))
        #expect(try store.delete([1, 2, 3], event: AuditEvent(action: "credential.delete", result: "deleted"), at: Date()))
        #expect(try !store.recordUse([1, 2, 3], expectedCount: 5, newCount: 6, event: event, at: Date()))
        #expect(try !store.delete([1, 2, 3], event: AuditEvent(action: "credential.delete", result: "deleted"), at: Date()))
        // Every state change above left exactly one event, chained.
        try harness.state.audit.settle()
        let audit = try harness.state.audit.verify()
        #expect(audit.broken == nil)
        let actions = try harness.state.database.query("SELECT event FROM audit_events ORDER BY seq") { $0.text(0) ?? "" }
        #expect(actions.filter { $0.contains(#""action":"assertion""#) }.count == 1)
        #expect(actions.filter { $0.contains(#""action":"credential.delete""#) }.count == 1)
    }
}
