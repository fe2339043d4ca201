import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Storage
import Synchronization
import Testing
import VerificationAPI

/// Referencing in operation: stored credentials judged again when a list changes (FI 46), the
/// changes sent to a webhook, the FIDO MDS fetched and refreshed by the service.
@Suite struct ReferencingOperationsTests {
    static let referencing = packageRoot.appendingPathComponent("TestVectors/referencing")
    static func demo(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: referencing.appendingPathComponent(name))) }

    static func holder(_ id: String) -> [String: Any] { ["id": id, "name": id, "displayName": "Dr \(id)"] }

    static func importList(_ client: any TestClientProtocol, _ harness: ServiceHarness, _ name: String) async throws {
        let reply = try await client.call(
            .post, "/v1/referencing/import", key: harness.keys["operator"], json: ["document": SoftwareAuthenticator.encode(try demo(name))])
        #expect(reply.status == .ok, "\(reply.text)")
    }

    @Test func aModelTurnedNegativeLosesItsAMRFromTheMomentTheListIsInForce() async throws {
        let harness = try ServiceHarness()
        let key = harness.keys["enrolment"]
        let first = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        let second = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        // A client of another relying party, with a key of its own.
        let (_, otherKey) = try harness.state.clients.add(
            name: "other-party", roles: [.enrolment, .operator], rpID: "other.example", origins: ["https://other.example"], at: Date())
        let other = try SoftwareAuthenticator(origin: "https://other.example")
        try await harness.test { client in
            for (authenticator, holder) in [(first, "holder-1"), (second, "holder-2")] {
                let enrolled = try await CeremonyTests.enrol(client, key: key, authenticator: authenticator, holder: Self.holder(holder))
                #expect(enrolled.json["verdict"] as? String == "accepted", "\(enrolled.text)")
            }
            let otherEnrolled = try await CeremonyTests.enrol(client, key: otherKey, authenticator: other, holder: Self.holder("holder-9"))
            #expect(otherEnrolled.json["verdict"] as? String == "accepted", "\(otherEnrolled.text)")
            let before = try await CeremonyTests.signIn(client, key: key, authenticator: first, holder: "holder-1")
            #expect(before.json["pscAcceptable"] as? Bool == true)

            // FIDO MDS no 2 reports the software authenticator USER_VERIFICATION_BYPASS.
            try await Self.importList(client, harness, "demo-mds-blob-no2.jwt")

            // Before any batch has run: the sign-in judges the credential under the lists in force.
            let after = try await CeremonyTests.signIn(client, key: key, authenticator: first, holder: "holder-1")
            #expect(after.json["verified"] as? Bool == true, "\(after.text)")
            #expect(after.json["pscAcceptable"] as? Bool == false)
            #expect(after.json["amr"] as? [String] == [])
            #expect(after.json["verdict"] as? String == "refused")

            // The batch judges the others; the one judged at sign-in is not judged twice.
            let changes = try await harness.state.rejudgeStoredCredentials()
            #expect(changes.count == 2)
            #expect(Set(changes.map(\.holderID)) == ["holder-2", "holder-9"])
            #expect(try await harness.state.rejudgeStoredCredentials().isEmpty)

            let listed = try await client.call(.get, "/v1/credentials?holder=holder-2", key: key)
            let credential = try #require((listed.json["credentials"] as? [[String: Any]])?.first)
            #expect(credential["verdict"] as? String == "refused")
            #expect(credential["pscAcceptable"] as? Bool == false)
            let change = try #require((credential["verdictChanges"] as? [[String: Any]])?.first)
            #expect((change["old"] as? [String: Any])?["verdict"] as? String == "accepted")
            #expect(((change["old"] as? [String: Any])?["amr"] as? [String])?.contains("hwk") == true)
            #expect((change["new"] as? [String: Any])?["verdict"] as? String == "refused")
            #expect((change["new"] as? [String: Any])?["amr"] as? [String] == [])
            #expect((change["cause"] as? String)?.contains("USER_VERIFICATION_BYPASS") == true, "\(change)")
            #expect((change["lists"] as? [String])?.contains("FIDO MDS no 2") == true)

            // Each party sees its own changes only.
            let mine = try await client.call(.get, "/v1/verdict-changes", key: key)
            #expect(Set(((mine.json["changes"] as? [[String: Any]]) ?? []).compactMap { $0["holderId"] as? String }) == ["holder-1", "holder-2"])
            let theirs = try await client.call(.get, "/v1/verdict-changes", key: otherKey)
            #expect(((theirs.json["changes"] as? [[String: Any]]) ?? []).compactMap { $0["holderId"] as? String } == ["holder-9"])
            #expect(try await client.call(.get, "/v1/verdict-changes?limit=0", key: key).status == .badRequest)
            #expect(try await client.call(.get, "/v1/verdict-changes", key: harness.keys["verifier"]).status == .forbidden)

            let metrics = try await client.call(.get, "/metrics", key: nil).text
            #expect(metrics.contains(#"mie_verdict_changes_total{from="accepted",to="refused"} 3"#), "\(metrics)")
        }
        var events: [String] = []
        try harness.state.audit.settle()
        try harness.state.audit.export { events.append($0) }
        #expect(events.filter { $0.contains(#""action":"credential.rejudged""#) }.count == 3)
    }

    @Test func aListThatChangesNothingRecordsNothingAndTheStoredVerdictStands() async throws {
        let harness = try ServiceHarness()
        let key = harness.keys["enrolment"]
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            _ = try await CeremonyTests.enrol(client, key: key, authenticator: authenticator, holder: Self.holder("holder-1"))
            // ANS list no 2 withdraws a YubiKey, not this model.
            let reply = try await client.call(
                .post, "/v1/referencing/import", key: harness.keys["operator"],
                json: [
                    "document": SoftwareAuthenticator.encode(try Self.demo("demo-ans-list-no2.json")),
                    "signature": String(decoding: try Self.demo("demo-ans-list-no2.json.jws"), as: UTF8.self),
                ])
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(try await harness.state.rejudgeStoredCredentials().isEmpty)
            let stored = try #require(try harness.state.credentials.credentials(holder: "holder-1").first)
            #expect(stored.verdict == "accepted")
            #expect(stored.lists.contains("ANS list no 2"))
            let signIn = try await CeremonyTests.signIn(client, key: key, authenticator: authenticator, holder: "holder-1")
            #expect(signIn.json["pscAcceptable"] as? Bool == true)
        }
    }

    @Test func theDeskShowsWhatAListChangedOnAKey() async throws {
        let harness = try ServiceHarness()
        let operatorKey = try SoftwareAuthenticator(origin: ServiceHarness.origin, aaguid: SoftwareAuthenticator.unknownAAGUID, attestation: .none)
        let holderKey = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            _ = try await DeskTests.bootstrap(client, harness, name: "alice", key: operatorKey)
            let (browser, _) = try await DeskTests.signIn(client, name: "alice", key: operatorKey)
            let enrolled = try await DeskTests.enrol(client, browser, key: holderKey)
            #expect(enrolled.json["verdict"] as? String == "accepted", "\(enrolled.text)")
            try await Self.importList(client, harness, "demo-mds-blob-no2.jwt")
            _ = try await harness.state.rejudgeStoredCredentials()
            let keys = try await browser.call(client, .get, "/enrol/api/holders/10001234565", language: "fr")
            let listed = try #require((keys.json["credentials"] as? [[String: Any]])?.first)
            #expect(listed["verdict"] as? String == "refused")
            let text = try #require(listed["verdictChangeText"] as? String)
            #expect(text.hasPrefix("verdict changé le") && text.contains("accepté → refusé") && text.contains("FIDO MDS no 2"), "\(text)")
        }
    }

    @Test func verdictChangesReachTheWebhookSignedAndRetried() async throws {
        let failuresLeft = Counter(2)
        let receiver = try await LocalHTTPServer { _ in
            // The receiver is down for the first two attempts.
            failuresLeft.take() ? .init(status: .internalServerError) : .init(status: .noContent)
        }
        defer { receiver.stop() }
        let secret = Array("a webhook secret of 32 bytes!!!!".utf8)
        let clock = HandClock()
        var secretFile = URL(fileURLWithPath: "")
        let harness = try ServiceHarness(
            configure: { configuration in
                secretFile = URL(fileURLWithPath: configuration.databasePath).deletingLastPathComponent().appendingPathComponent("webhook.secret")
                FileManager.default.createFile(atPath: secretFile.path, contents: Data(secret + [0x0A]))
                configuration.webhook = WebhookSettings(url: receiver.url("/hook"), secretFile: secretFile.path)
            }, clock: clock.read)
        let key = harness.keys["enrolment"]
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            _ = try await CeremonyTests.enrol(client, key: key, authenticator: authenticator, holder: Self.holder("holder-1"))
            try await Self.importList(client, harness, "demo-mds-blob-no2.jwt")
            #expect(try await harness.state.rejudgeStoredCredentials().count == 1)
        }
        // First attempt: 500, retried after 2 s; not due before.
        #expect(await harness.state.deliverVerdictChanges() == 0)
        #expect(await harness.state.deliverVerdictChanges() == 0)
        #expect(receiver.requests.count == 1)
        clock.advance(3)
        #expect(await harness.state.deliverVerdictChanges() == 0)
        #expect(receiver.requests.count == 2)
        clock.advance(5)
        #expect(await harness.state.deliverVerdictChanges() == 1)
        #expect(receiver.requests.count == 3)
        // Delivered once: nothing more is sent.
        clock.advance(3600)
        #expect(await harness.state.deliverVerdictChanges() == 0)
        #expect(receiver.requests.count == 3)

        let request = try #require(receiver.requests.last)
        #expect(request.method == "POST")
        #expect(request.headers["mie-event"] == "credential.verdict-changed")
        let signature = try #require(request.headers["mie-signature"])
        let parts = Dictionary(uniqueKeysWithValues: signature.split(separator: ",").map { part in
            let pair = part.split(separator: "=", maxSplits: 1)
            return (String(pair[0]), String(pair[1]))
        })
        let stamp = try #require(parts["t"])
        let expected = HMAC<SHA256>.authenticationCode(for: Array((stamp + ".").utf8) + request.body, using: SymmetricKey(data: secret))
        #expect(parts["v1"] == expected.map { String(format: "%02x", $0) }.joined())
        // A body changed in transit no longer matches.
        let tampered = HMAC<SHA256>.authenticationCode(for: Array((stamp + ".").utf8) + request.body + [0x20], using: SymmetricKey(data: secret))
        #expect(parts["v1"] != tampered.map { String(format: "%02x", $0) }.joined())
        let body = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])
        let change = try #require(body["change"] as? [String: Any])
        #expect(change["holderId"] as? String == "holder-1")
        #expect((change["new"] as? [String: Any])?["pscAcceptable"] as? Bool == false)
        #expect(request.headers["mie-delivery"] == String(change["id"] as? Int ?? -1))
    }

    /// Shown by order, not by time: the receiver holds the POST until the test lets it go, and
    /// a sign-in completes while the delivery is still waiting for it.
    @Test func aSlowWebhookNeverHoldsARequest() async throws {
        let gate = Gate()
        let receiver = try await LocalHTTPServer { _ in
            for _ in 0..<3000 where !gate.isOpen { try? await Task.sleep(for: .milliseconds(10)) }
            return .init(status: .ok)
        }
        defer { receiver.stop() }
        let harness = try ServiceHarness { configuration in
            let secret = URL(fileURLWithPath: configuration.databasePath).deletingLastPathComponent().appendingPathComponent("webhook.secret")
            FileManager.default.createFile(atPath: secret.path, contents: Data(repeating: 0x61, count: 32))
            configuration.webhook = WebhookSettings(url: receiver.url("/hook"), secretFile: secret.path)
            configuration.webhook?.timeout = 60
        }
        let key = harness.keys["enrolment"]
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            _ = try await CeremonyTests.enrol(client, key: key, authenticator: authenticator, holder: Self.holder("holder-1"))
            try await Self.importList(client, harness, "demo-mds-blob-no2.jwt")
            _ = try await harness.state.rejudgeStoredCredentials()
            let finished = Gate()
            let delivery = Task {
                let delivered = await harness.state.deliverVerdictChanges()
                finished.open()
                return delivered
            }
            for _ in 0..<1000 where receiver.requests.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            #expect(receiver.requests.count == 1, "the delivery reached the receiver")
            let signIn = try await CeremonyTests.signIn(client, key: key, authenticator: authenticator, holder: "holder-1")
            #expect(signIn.json["verified"] as? Bool == true)
            #expect(!finished.isOpen, "the sign-in was answered while the delivery still waited")
            gate.open()
            #expect(await delivery.value == 1)
        }
        let changes = try harness.state.stores.verdicts.changes(credential: try #require(try harness.state.credentials.credentials(holder: "holder-1").first).id)
        #expect(changes.first?.deliveredAt != nil)
    }

    @Test func anUnreadableWebhookSecretStopsTheStart() throws {
        #expect(throws: ConfigurationError.self) {
            _ = try ServiceHarness { configuration in
                configuration.webhook = WebhookSettings(url: "http://127.0.0.1:9/hook", secretFile: "/nonexistent/secret")
            }
        }
    }
}

/// A flag one task opens and others read.
final class Gate: Sendable {
    private let state = Mutex(false)
    var isOpen: Bool { state.withLock { $0 } }
    func open() { state.withLock { $0 = true } }
}

/// Counts down from a number, across tasks.
final class Counter: Sendable {
    private let left: Mutex<Int>
    init(_ value: Int) { left = Mutex(value) }
    /// True while the count was above zero (and takes one).
    func take() -> Bool {
        left.withLock { value in
            guard value > 0 else { return false }
            value -= 1
            return true
        }
    }
}
