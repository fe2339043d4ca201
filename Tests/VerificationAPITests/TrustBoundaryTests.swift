import Ceremonies
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PSCPolicy
import Storage
import Testing
@testable import VerificationAPI

/// Every caller is a stranger: a client reaches only its own relying party's holders and
/// credentials, and its answers about another party's are the answers about nothing; a holder's
/// identity is changed, or given a key, only by evidence at least as strong as what set it.
@Suite struct TrustBoundaryTests {
    static var professional: [String: Any] { ["id": "810003456786", "name": "810003456786", "displayName": "Dr Alice Durand", "rpps": "10003456786"] }
    static let otherOrigin = "https://other.example"

    /// A client of another relying party, with the enrolment and operator roles.
    static func otherParty(_ harness: ServiceHarness) throws -> String {
        try harness.state.clients.add(
            name: "other-party", roles: [.enrolment, .operator], rpID: "other.example", origins: [otherOrigin], at: Date()
        ).key
    }

    /// A second client of the same relying party as the harness's.
    static func sameParty(_ harness: ServiceHarness, name: String = "client-b") throws -> String {
        try harness.state.clients.add(name: name, roles: [.enrolment, .operator], rpID: nil, origins: [], at: Date()).key
    }

    @Test func anotherRelyingPartysHoldersAndCredentialsAreNotReached() async throws {
        let harness = try ServiceHarness()
        let a = harness.keys["all"]
        let b = try Self.otherParty(harness)
        let keyA = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            let enrolled = try await CeremonyTests.enrol(client, key: a, authenticator: keyA, holder: Self.professional)
            #expect(enrolled.json["registered"] as? Bool == true, "\(enrolled.text)")
            let credential = try #require(enrolled.json["credentialId"] as? String)
            let handleA = try #require((enrolled.json["holder"] as? [String: Any])?["id"] as? String)

            // B's view of A's holder is its view of a holder nobody has.
            for (uri, method) in [
                ("/v1/credentials?holder=810003456786", HTTPRequest.Method.get), ("/v1/credentials/\(credential)", .get), ("/v1/credentials/\(credential)", .delete),
            ] {
                let reply = try await client.call(method, uri, key: b)
                let unknown = try await client.call(
                    method, uri.replacingOccurrences(of: "810003456786", with: "810009999999").replacingOccurrences(of: credential, with: "AAAAAAAAAAAAAAAAAAAAAA"),
                    key: b)
                #expect(reply.status == .notFound, "\(method) \(uri): \(reply.text)")
                #expect(reply.code == unknown.code && reply.json["detail"] as? String == (unknown.json["detail"] as? String)?.replacingOccurrences(of: "810009999999", with: "810003456786"),
                    "\(reply.text) vs \(unknown.text)")
            }
            let options = try await client.call(.post, "/v1/assertions/options", key: b, json: ["holder": "810003456786"])
            let nobody = try await client.call(.post, "/v1/assertions/options", key: b, json: ["holder": "810009999999"])
            #expect(options.status == .notFound && nobody.status == .notFound)
            #expect(options.json["detail"] as? String == (nobody.json["detail"] as? String)?.replacingOccurrences(of: "810009999999", with: "810003456786"))

            // B enrols the same id in its own party: another holder, another user handle; A's stays.
            let keyB = try SoftwareAuthenticator(origin: Self.otherOrigin)
            let opened = try await client.call(
                .post, "/v1/registrations/options", key: b, json: ["holder": ["id": "810003456786", "name": "x", "displayName": "Dr Mallory"]])
            #expect(opened.status == .ok, "\(opened.text)")
            let userB = ((opened.json["publicKey"] as? [String: Any])?["user"] as? [String: Any])?["id"] as? String
            let userA = try await client.call(.post, "/v1/registrations/options", key: a, json: ["holder": Self.professional])
            #expect(userB != nil && userB != ((userA.json["publicKey"] as? [String: Any])?["user"] as? [String: Any])?["id"] as? String)
            let created = try keyB.create(try #require(opened.json["publicKey"] as? [String: Any]))
            let registeredB = try await client.call(.post, "/v1/registrations", key: b, json: ["ceremonyId": opened.json["ceremonyId"]!, "response": created])
            #expect(registeredB.status == .ok, "\(registeredB.text)")

            let listed = try await client.call(.get, "/v1/credentials?holder=810003456786", key: a)
            let holder = try #require(listed.json["holder"] as? [String: Any])
            #expect(holder["rpps"] as? String == "10003456786" && holder["displayName"] as? String == "Dr Alice Durand", "\(listed.text)")
            #expect((listed.json["credentials"] as? [[String: Any]])?.map { $0["id"] as? String } == [credential])
            // A's sign-in offers A's key only, and B's key does not sign in as A's holder.
            let signIn = try await client.call(.post, "/v1/assertions/options", key: a, json: ["holder": "810003456786"])
            #expect(((signIn.json["publicKey"] as? [String: Any])?["allowCredentials"] as? [[String: Any]])?.count == 1)
            #expect(handleA == "810003456786")
        }
    }

    /// A client of another party cannot finish a sign-in with a credential of this party: its
    /// ceremony answers `credential.unknown`, and the counter does not move.
    @Test func anotherPartysSignInCannotUseThisPartysCredential() async throws {
        let harness = try ServiceHarness()
        let a = harness.keys["enrolment"]
        let b = try Self.otherParty(harness)
        let keyA = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            let enrolled = try await CeremonyTests.enrol(client, key: a, authenticator: keyA, holder: Self.professional)
            #expect(enrolled.json["registered"] as? Bool == true, "\(enrolled.text)")
            let options = try await client.call(.post, "/v1/assertions/options", key: b, json: [String: Any]())
            #expect(options.status == .ok, "\(options.text)")
            let response = try keyA.get(try #require(options.json["publicKey"] as? [String: Any]))
            let reply = try await client.call(.post, "/v1/assertions", key: b, json: ["ceremonyId": options.json["ceremonyId"]!, "response": response])
            #expect(reply.json["verified"] as? Bool == false, "\(reply.text)")
            #expect((reply.json["error"] as? [String: Any])?["code"] as? String == "credential.unknown")
        }
        #expect(try harness.state.credentials.credentials(holder: "810003456786").first?.signCount == 0)
    }

    /// The hole as it was found: client B, same relying party, typed A's professional with
    /// another name and no RPPS, and finished the ceremony with its own key.
    @Test func anotherClientCannotTakeOverAHolder() async throws {
        let harness = try ServiceHarness()
        let a = harness.keys["enrolment"]
        let b = try Self.sameParty(harness)
        let keyA = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            let enrolled = try await CeremonyTests.enrol(client, key: a, authenticator: keyA, holder: Self.professional)
            #expect(enrolled.json["registered"] as? Bool == true, "\(enrolled.text)")

            for claim: [String: Any] in [
                ["id": "810003456786", "name": "x", "displayName": "Dr Mallory"], Self.professional,
            ] {
                let reply = try await client.call(.post, "/v1/registrations/options", key: b, json: ["holder": claim])
                #expect(reply.status == .conflict, "\(reply.text)")
                #expect(reply.code == "holder.evidence-weaker")
            }
            let signIn = try await client.call(.post, "/v1/assertions/options", key: a, json: ["holder": "810003456786"])
            #expect(((signIn.json["publicKey"] as? [String: Any])?["allowCredentials"] as? [[String: Any]])?.count == 1)
            let listed = try await client.call(.get, "/v1/credentials?holder=810003456786", key: a)
            #expect((listed.json["holder"] as? [String: Any])?["rpps"] as? String == "10003456786", "\(listed.text)")

            // A, whose word set them, may change its holder's fields: an audit event with old and new values.
            let renamed = try await client.call(
                .post, "/v1/registrations/options", key: a,
                json: ["holder": ["id": "810003456786", "name": "810003456786", "displayName": "Dr Alice Durand-Roy", "rpps": "10003456786"]])
            #expect(renamed.status == .ok, "\(renamed.text)")
        }
        try harness.state.audit.settle()
        let events = try harness.state.database.query("SELECT event FROM audit_events ORDER BY seq") { $0.text(0) ?? "" }
        let change = try #require(events.first { $0.contains(#""action":"holder.identity""#) && $0.contains("changed") })
        #expect(change.contains("displayName=Dr Alice Durand rpps") && change.contains("displayName=Dr Alice Durand-Roy"))
        #expect(events.filter { $0.contains(#""result":"holder.evidence-weaker""#) }.count == 2)
        #expect(try harness.state.audit.verify().broken == nil)
    }

    /// An identity a desk operator typed is not overwritten by an API client's word, nor given
    /// the client's key; a card-proven one would override the operator's.
    @Test func anOperatorsIdentityIsNotDowngradedByAClient() async throws {
        let harness = try ServiceHarness()
        let operatorKey = try SoftwareAuthenticator(origin: ServiceHarness.origin, attestation: .none)
        let holderKey = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            let (browser, _) = try await DeskTests.bootstrap(client, harness, name: "erin", key: operatorKey)
            let enrolled = try await DeskTests.enrol(client, browser, key: holderKey)
            #expect(enrolled.json["registered"] as? Bool == true, "\(enrolled.text)")
            let typed = try await client.call(
                .post, "/v1/registrations/options", key: harness.keys["enrolment"],
                json: ["holder": ["id": "810001234565", "name": "810001234565", "displayName": "Dr Mallory"]])
            #expect(typed.status == .conflict && typed.code == "holder.evidence-weaker", "\(typed.text)")
            let page = try await browser.call(client, .get, "/enrol/api/holders/10001234565")
            #expect((page.json["holder"] as? [String: Any])?["displayName"] as? String == "Claire MARTIN", "\(page.text)")
        }
    }

    /// With the named relaxation, another client may add its key, and still changes nothing of
    /// the identity; the key carries its own, weaker, evidence.
    @Test func theRelaxationAddsAKeyWithoutChangingTheIdentity() async throws {
        let harness = try ServiceHarness()
        let a = harness.keys["enrolment"]
        let b = try Self.sameParty(harness)
        #expect(try harness.state.clients.setAddsKeysToStrongerHolders(name: "client-b", true, at: Date()))
        let keyA = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        let keyB = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            _ = try await CeremonyTests.enrol(client, key: a, authenticator: keyA, holder: Self.professional)
            let reply = try await CeremonyTests.enrol(
                client, key: b, authenticator: keyB, holder: ["id": "810003456786", "name": "x", "displayName": "Dr Mallory"])
            #expect(reply.json["registered"] as? Bool == true, "\(reply.text)")
            let holder = try #require(reply.json["holder"] as? [String: Any])
            #expect(holder["displayName"] as? String == "Dr Alice Durand" && holder["rpps"] as? String == "10003456786")
        }
    }

    @Test func theEvidenceRuleDecidesByStrengthAndSource() {
        let held = Holder(
            rpID: "rp", id: "h", name: "n", displayName: "d", rpps: "10003456786", userHandle: [1], evidence: "asserted-by-operator", ownerClientID: 1)
        let same = HolderClaim(id: "h", name: "n", displayName: "d", rpps: "10003456786")
        let other = HolderClaim(id: "h", name: "n", displayName: "Mallory", rpps: nil)
        func decide(_ claim: HolderClaim, _ evidence: DeploymentFacts.IdentityEvidence, client: Int64 = 2, relaxed: Bool = false) -> HolderIdentityRule.Decision {
            HolderIdentityRule.decide(held, claim: claim, evidence: evidence, client: client, addsKeysToStrongerHolders: relaxed)
        }
        // Weaker: refused, whatever the fields; relaxed: a key, no change.
        guard case .refuse = decide(same, .assertedByClient) else { Issue.record("a client over an operator"); return }
        guard case .refuse = decide(other, .assertedByClient, client: 1) else { Issue.record("the owner's client word is still weaker"); return }
        #expect(decide(other, .assertedByClient, relaxed: true) == .unchanged)
        // As strong: the same source updates (operators of the desk correct each other).
        #expect(decide(same, .assertedByOperator) == .unchanged)
        guard case .update(let fixed) = decide(other, .assertedByOperator) else { Issue.record("an operator over an operator"); return }
        #expect(fixed.displayName == "Mallory" && fixed.userHandle == [1])
        // Stronger: the card's identity replaces the typed one.
        guard case .update(let proven) = decide(other, .provenByCard) else { Issue.record("a card over an operator"); return }
        #expect(proven.evidence == "proven-by-card")
        // Two clients' words: the one that set the fields is the only one that changes them.
        let typed = held.with(name: "n", displayName: "d", rpps: nil, evidence: "asserted-by-client", client: 1)
        #expect(HolderIdentityRule.decide(typed, claim: other, evidence: .assertedByClient, client: 1, addsKeysToStrongerHolders: false) != .unchanged)
        guard case .refuse = HolderIdentityRule.decide(typed, claim: other, evidence: .assertedByClient, client: 2, addsKeysToStrongerHolders: false) else {
            Issue.record("another client's word")
            return
        }
    }

    /// FI 25 on the bundled profile: an identity the API client typed is named and not
    /// satisfied (never not applicable), so the key is not stored; the sign-in answers of the
    /// relaxed deployment carry the credential's identity evidence.
    @Test func fi25DecidesAClientsWordAsNotSatisfied() async throws {
        let strict = try ServiceHarness { $0.profilePath = nil }
        let key = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await strict.test { client in
            let reply = try await CeremonyTests.enrol(client, key: strict.keys["enrolment"], authenticator: key, holder: Self.professional)
            #expect(reply.json["registered"] as? Bool == false, "\(reply.text)")
            let fi25 = (reply.json["criteria"] as? [[String: Any]])?.first { $0["id"] as? String == "EXI EDC PSC FI 25" }
            #expect(fi25?["status"] as? String == "not_satisfied", "\(String(describing: fi25))")
        }
        let relaxed = try ServiceHarness()
        let other = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await relaxed.test { client in
            let enrolled = try await CeremonyTests.enrol(client, key: relaxed.keys["enrolment"], authenticator: other, holder: Self.professional)
            #expect(enrolled.json["registered"] as? Bool == true)
            let signIn = try await CeremonyTests.signIn(client, key: relaxed.keys["enrolment"], authenticator: other, holder: "810003456786")
            #expect(signIn.json["verified"] as? Bool == true, "\(signIn.text)")
            #expect(signIn.json["identityEvidence"] as? String == "asserted-by-client")
        }
    }

    /// The desk works in the service's relying party: a credential of another party has no
    /// receipt there and cannot be revoked from it.
    @Test func theDeskReachesOnlyItsOwnRelyingParty() async throws {
        let harness = try ServiceHarness()
        let b = try Self.otherParty(harness)
        let operatorKey = try SoftwareAuthenticator(origin: ServiceHarness.origin, attestation: .none)
        let keyB = try SoftwareAuthenticator(origin: Self.otherOrigin)
        try await harness.test { client in
            let registered = try await CeremonyTests.enrol(client, key: b, authenticator: keyB, holder: Self.professional)
            #expect(registered.json["registered"] as? Bool == true, "\(registered.text)")
            let credential = try #require(registered.json["credentialId"] as? String)
            let (browser, _) = try await DeskTests.bootstrap(client, harness, name: "desk-1", key: operatorKey)
            let receipt = try await browser.call(client, .get, "/enrol/receipt/\(credential)")
            #expect(receipt.status == .notFound, "\(receipt.text)")
            let revoke = try await browser.call(client, .post, "/enrol/api/credentials/\(credential)/revoke")
            #expect(revoke.status == .notFound, "\(revoke.text)")
            let holder = try await browser.call(client, .get, "/enrol/api/holders/10003456786")
            #expect(holder.status == .notFound, "\(holder.text)")
        }
        #expect(try harness.state.credentials.credentials(holder: "810003456786").first?.deletedAt == nil)
    }
}

/// The audit trail is bounded: while its store keeps failing, stateless verifications wait in
/// the queue up to its limit, then are refused (503) rather than acknowledged without an event
/// or kept in memory without end; readiness says so.
@Suite struct AuditQueueTests {
    /// An audit store that refuses every write.
    struct FailingAudit: AuditStoring {
        let inner: any AuditStoring
        func append(_ events: [AuditEvent], at time: Date) throws(StoreError) { throw StoreError(.sql, "disk I/O error (test)") }
        func link(atMost limit: Int, recent: Bool) throws(StoreError) -> Int { throw StoreError(.sql, "disk I/O error (test)") }
        func appendChained(_ events: [AuditEvent], at time: Date) throws(StoreError) { throw StoreError(.sql, "disk I/O error (test)") }
        func verify() throws(StoreError) -> AuditLog.Verification { try inner.verify() }
        func verify(against head: AuditHead) throws(StoreError) -> AuditLog.Verification { try inner.verify(against: head) }
        func head(at time: Date) throws(StoreError) -> AuditHead? { try inner.head(at: time) }
        func export(_ line: (String) -> Void) throws(StoreError) { try inner.export(line) }
        func count() throws(StoreError) -> Int { try inner.count() }
    }

    @Test func aFailingStoreStopsAcknowledgingPastTheLimit() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mie-audit-queue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = ServiceConfiguration()
        configuration.databasePath = directory.appendingPathComponent("mie.sqlite").path
        configuration.demoListsDirectory = packageRoot.appendingPathComponent("TestVectors/referencing").path
        configuration.relyingParty = RelyingParty(id: "mie.example", origins: [ServiceHarness.origin])
        configuration.auditQueueLimit = 2
        var stores = try ServiceStores.sqlite(path: configuration.databasePath)
        let (_, key) = try stores.clients.add(name: "verifier", roles: [.verifier], rpID: nil, origins: [], at: Date())
        stores.audit = FailingAudit(inner: stores.audit)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let state = try ServiceState(configuration: configuration, stores: stores, logger: logger)
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        let app = try buildApplication(state: state, logger: logger)
        try await app.test(.router) { client in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<3 {
                let challenge = (0..<32).map { _ in UInt8.random(in: 0...255) }
                let registration = try authenticator.create(StatelessVerificationTests.creationOptions(challenge))
                let reply = try await client.call(
                    .post, "/v1/registrations/verify", key: key, json: ["response": registration, "challenge": SoftwareAuthenticator.encode(challenge)])
                statuses.append(reply.status)
                if reply.status != .ok { #expect(reply.code == "unavailable") }
                await state.auditBuffer.flush()
            }
            #expect(statuses == [.ok, .ok, .serviceUnavailable])
            #expect(state.auditBuffer.count == 2)
            let ready = try await client.call(.get, "/health/ready", key: nil)
            #expect(ready.status == .serviceUnavailable)
        }
    }
}

/// What an unauthenticated stranger costs: a sprayer of API keys is refused before the store
/// once its source has failed enough, and an unknown key is looked up once, not per request;
/// a flood of sign-in attempts at the desk does not lock a real operator out.
@Suite struct UnauthenticatedCostTests {
    /// A client store that counts key lookups.
    final class CountingClients: ClientStoring, @unchecked Sendable {
        let inner: any ClientStoring
        private let lock = NSLock()
        private var lookups = 0
        init(_ inner: any ClientStoring) { self.inner = inner }
        var count: Int { lock.withLock { lookups } }
        func add(
            name: String, roles: Set<ClientRole>, rpID: String?, origins: [String], profiles: [String], certificateSHA256: [UInt8]?, at time: Date
        ) throws(StoreError) -> (APIClient, key: String) {
            try inner.add(name: name, roles: roles, rpID: rpID, origins: origins, profiles: profiles, certificateSHA256: certificateSHA256, at: time)
        }
        func authenticate(key: String) throws(StoreError) -> APIClient? {
            lock.withLock { lookups += 1 }
            return try inner.authenticate(key: key)
        }
        func authenticate(certificateSHA256 digest: [UInt8]) throws(StoreError) -> APIClient? { try inner.authenticate(certificateSHA256: digest) }
        func list() throws(StoreError) -> [APIClient] { try inner.list() }
        func revoke(name: String, at time: Date) throws(StoreError) -> Bool { try inner.revoke(name: name, at: time) }
        func setAddsKeysToStrongerHolders(name: String, _ allowed: Bool, at time: Date) throws(StoreError) -> Bool {
            try inner.setAddsKeysToStrongerHolders(name: name, allowed, at: time)
        }
        func deskClient(at time: Date) throws(StoreError) -> APIClient { try inner.deskClient(at: time) }
    }

    @Test func aKeySprayerIsRefusedBeforeTheStore() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mie-spray-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = ServiceConfiguration()
        configuration.databasePath = directory.appendingPathComponent("mie.sqlite").path
        var stores = try ServiceStores.sqlite(path: configuration.databasePath)
        let counting = CountingClients(stores.clients)
        stores.clients = counting
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let state = try ServiceState(configuration: configuration, stores: stores, logger: logger)
        let app = try buildApplication(state: state, logger: logger)
        try await app.test(.router) { client in
            // The same unknown key again and again: looked up once per cache lifetime (2 s; a
            // loaded machine may take longer than that for the five requests).
            let started = ContinuousClock.now
            for _ in 0..<5 { #expect(try await client.call(.get, "/v1/referencing", key: "mie_nobody").status == .unauthorized) }
            let lifetimes = Int((ContinuousClock.now - started) / .seconds(2)) + 1
            #expect(counting.count >= 1 && counting.count <= lifetimes, "\(counting.count) lookups in \(lifetimes) cache lifetimes")
            var statuses: [HTTPResponse.Status] = []
            for index in 0..<120 { statuses.append(try await client.call(.get, "/v1/referencing", key: "mie_spray\(index)").status) }
            #expect(statuses.prefix(40).allSatisfy { $0 == .unauthorized })
            // Past its burst (50 failures) the source is refused before the store, one failure a
            // second allowed after (so a slow machine sees a few more 401s).
            #expect(statuses.filter { $0 == .tooManyRequests }.count >= 40, "\(statuses)")
            #expect(counting.count < 80, "the store was asked \(counting.count) times")
        }
    }

    @Test func aDeskFloodDoesNotLockOutAKnownOperator() async throws {
        // Time stands still: the buckets do not refill during the flood, however long each request
        // takes on this store (a PostgreSQL commit is slower than a SQLite one).
        let clock = HandClock()
        let harness = try ServiceHarness(
            configure: {
                $0.trustedProxies = ["127.0.0.1"]
                $0.port = 0
            }, clock: clock.read)
        let operatorKey = try SoftwareAuthenticator(origin: ServiceHarness.origin, attestation: .none)
        let app = try buildApplication(state: harness.state, logger: harness.state.logger)
        try await app.test(.live) { client in
            _ = try await DeskTests.bootstrap(client, harness, name: "alice", key: operatorKey)
            func options(_ name: String, from source: String) async throws -> HTTPResponse.Status {
                var headers = HTTPFields()
                headers[.origin] = ServiceHarness.origin
                headers[.contentType] = "application/json"
                headers[HTTPField.Name("X-Forwarded-For")!] = source
                let body = ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: ["operator": name])))
                return try await client.execute(uri: "/enrol/api/session/options", method: .post, headers: headers, body: body) { $0.status }
            }
            // One source floods, then many sources flood naming nobody.
            var refused = 0
            for index in 0..<300 where try await options("mallory\(index)", from: "198.51.100.9") == .tooManyRequests { refused += 1 }
            #expect(refused > 0, "one source's flood is stopped there (\(refused) refused)")
            refused = 0
            for index in 0..<700 where try await options("nobody\(index)", from: "203.0.113.\(index % 200)") == .tooManyRequests { refused += 1 }
            #expect(refused > 0, "the flood from many sources meets the shared limit")
            // Alice, from her own desk, signs in all the same.
            var browser = DeskTests.Browser()
            let opened = try await browser.call(client, .post, "/enrol/api/session/options", json: ["operator": "alice"])
            #expect(opened.status == .ok, "\(opened.text)")
            let assertion = try operatorKey.get(try #require(opened.json["publicKey"] as? [String: Any]))
            let signedIn = try await browser.call(client, .post, "/enrol/api/session", json: ["ceremonyId": opened.json["ceremonyId"]!, "response": assertion])
            #expect(signedIn.status == .ok, "\(signedIn.text)")
            try browser.signedIn(signedIn)
        }
    }
}
