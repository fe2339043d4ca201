import Foundation
import HummingbirdTesting
import Storage
import Synchronization
import Testing
import VerificationAPI

/// A sign-in is one transaction: the ceremony taken, the counter moved and the audit event
/// commit together (one durable commit to wait for), a store failure anywhere leaves none of
/// it (the ceremony still open), and a refusal keeps the ceremony taken. The watched database
/// forwards its writer, so on SQLite these sign-ins run on it, as the service's do. Each test
/// runs twice: through the router, and on a socket where the hot path takes the sign-in.
@Suite struct SignInTransactionTests {
    enum Path: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case router, hotPath
        var testDescription: String { rawValue }
    }

    /// A service on a watched database, a key enrolled for holder-1, and a sign-in ceremony
    /// opened and answered by it but not sent.
    struct Scene {
        let harness: ServiceHarness
        let database: WatchedDatabase
        let key: String?
        let ceremonyID: String
        let response: [String: Any]
        let path: Path

        /// Sends the answer (or `response`) with `key` (the enrolment client's by default); on
        /// the hot path, checks that the hot path answered it.
        func send(_ client: any TestClientProtocol, _ response: [String: Any]? = nil, key: String?? = nil) async throws -> Reply {
            let key = key ?? self.key
            let hotBefore = path == .hotPath ? try await Self.warm(client, key) : 0
            let reply = try await client.call(
                .post, "/v1/assertions", key: key, json: ["ceremonyId": ceremonyID, "response": response ?? self.response])
            if path == .hotPath { #expect(try await HotPathTests.hotAnswers(client) == hotBefore + 1, "the hot path did not answer") }
            return reply
        }

        /// The key into the client cache (its entry lives two seconds), so the hot path takes
        /// the next request; the hot path's answers so far.
        static func warm(_ client: any TestClientProtocol, _ key: String?) async throws -> Int {
            #expect(try await client.call(.get, "/v1/referencing", key: key).status == .ok)
            return try await HotPathTests.hotAnswers(client)
        }

        var storedCredential: StoredCredentialRecord {
            get throws { try #require(try harness.state.credentials.credentials(holder: "holder-1").first) }
        }
    }

    static func withAnsweredCeremony(_ path: Path, _ body: @Sendable (any TestClientProtocol, Scene) async throws -> Void) async throws {
        let watched = WatchedDatabase.wrapping()
        // On the hot path the key must stay cached from the warm-up to the sign-in, on a loaded
        // machine too.
        let harness = try ServiceHarness(configure: { $0.clientCacheLifetime = .seconds(120) }, database: watched.wrap)
        let key = harness.keys["enrolment"]
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test(live: path == .hotPath) { client in
            #expect(try await CeremonyTests.enrol(client, key: key, authenticator: authenticator).json["registered"] as? Bool == true)
            let options = try await client.call(.post, "/v1/assertions/options", key: key, json: ["holder": "holder-1"])
            let response = try authenticator.get(try #require(options.json["publicKey"] as? [String: Any]))
            let scene = Scene(
                harness: harness, database: watched.database, key: key, ceremonyID: try #require(options.json["ceremonyId"] as? String),
                response: response, path: path)
            try await body(client, scene)
        }
    }

    /// The statement that records a state change's audit event.
    static let auditInsert = TestPostgres.selected ? "INSERT INTO audit_pending" : "INSERT INTO audit_events"

    @Test(arguments: Path.allCases) func aSignInCommitsOnce(path: Path) async throws {
        try await Self.withAnsweredCeremony(path) { client, scene in
            scene.database.forget()
            let queued = scene.database.writesQueued
            let reply = try await scene.send(client)
            #expect(reply.json["verified"] as? Bool == true, "\(reply.text)")
            // On SQLite the sign-in went through the database's writer.
            #expect(scene.database.writesQueued == (TestPostgres.selected ? 0 : queued + 1))
            // (On PostgreSQL the service's linker chains queued events in transactions of its own.)
            // (On PostgreSQL a write may be a statement with its CTEs: `WITH … AS (UPDATE …)`.)
            let writes = scene.database.transactions.filter {
                $0.contains { $0.contains("UPDATE ") || $0.hasPrefix("INSERT") } && !$0.contains { $0.hasPrefix("DELETE FROM audit_pending") }
            }
            #expect(writes.count == 1, "\(writes)")
            let signIn = try #require(writes.first)
            #expect(signIn.contains { $0.contains("UPDATE ceremonies SET used_at") })
            #expect(signIn.contains { $0.contains("UPDATE credentials SET sign_count") })
            // Its audit event: chained at once on SQLite, queued for the chain on PostgreSQL.
            #expect(signIn.contains { $0.contains(Self.auditInsert) })
        }
    }

    @Test(arguments: Path.allCases) func aStoreFailureLeavesTheCeremonyOpenAndNothingWritten(path: Path) async throws {
        try await Self.withAnsweredCeremony(path) { client, scene in
            let eventsBefore = try scene.harness.state.audit.count()
            // The disk refuses the audit event, after the ceremony was taken and the counter moved.
            scene.database.fail(containing: Self.auditInsert)
            let failed = try await scene.send(client)
            scene.database.fail(containing: nil)
            #expect(failed.status == .serviceUnavailable, "\(failed.text)")
            #expect(failed.json["verified"] == nil)
            #expect(try scene.harness.state.audit.count() == eventsBefore)
            #expect(try scene.storedCredential.lastUsedAt == nil)
            // Nothing of the failed attempt stands: the same answer, sent again, signs in.
            let retry = try await scene.send(client)
            #expect(retry.json["verified"] as? Bool == true, "\(retry.text)")
            #expect(try scene.harness.state.audit.count() == eventsBefore + 1)
            #expect(try await scene.send(client).code == "ceremony.replayed")
        }
    }

    /// Another client (same relying party, its own key) sends this client's answered ceremony:
    /// the ceremony is not its own, nothing is taken or written, and the owner still signs in.
    @Test(arguments: Path.allCases) func anotherClientCannotFinishThisClientsSignIn(path: Path) async throws {
        try await Self.withAnsweredCeremony(path) { client, scene in
            let eventsBefore = try scene.harness.state.audit.count()
            let stranger = try await scene.send(client, key: scene.harness.keys["all"])
            #expect(stranger.code == "ceremony.unknown", "\(stranger.text)")
            #expect(stranger.json["verified"] == nil)
            #expect(try scene.harness.state.audit.count() == eventsBefore)
            #expect(try scene.storedCredential.lastUsedAt == nil)
            let owner = try await scene.send(client)
            #expect(owner.json["verified"] as? Bool == true, "\(owner.text)")
            #expect(try scene.harness.state.audit.count() == eventsBefore + 1)
        }
    }

    @Test(arguments: Path.allCases) func aRefusedSignInStillTakesTheCeremony(path: Path) async throws {
        try await Self.withAnsweredCeremony(path) { client, scene in
            var forged = scene.response
            var fields = try #require(scene.response["response"] as? [String: Any])
            var signature = try SoftwareAuthenticator.decode(try #require(fields["signature"] as? String))
            signature[signature.count - 3] ^= 0x01
            fields["signature"] = SoftwareAuthenticator.encode(signature)
            forged["response"] = fields
            let eventsBefore = try scene.harness.state.audit.count()
            let refused = try await scene.send(client, forged)
            #expect(refused.json["verified"] as? Bool != true, "\(refused.text)")
            #expect(refused.status != .serviceUnavailable)
            // The refusal and its audit event stand: the genuine answer comes too late.
            #expect(try scene.harness.state.audit.count() == eventsBefore + 1)
            #expect(try await scene.send(client).code == "ceremony.replayed")
            #expect(try scene.storedCredential.lastUsedAt == nil)
        }
    }
}

/// A database that keeps, for each outermost transaction, the SQL run inside it (per thread:
/// the stores make every call of a transaction on its thread), and can fail the statements
/// that contain a text, as a disk refusing one write would.
final class WatchedDatabase: SQLDatabase, Sendable {
    private struct Watch {
        var depth: [UInt: Int] = [:]
        var open: [UInt: [String]] = [:]
        var transactions: [[String]] = []
        var failing: String?
    }

    /// The watcher, filled in once the harness has opened the database it wraps.
    final class Slot: Sendable {
        private let slot = Mutex<WatchedDatabase?>(nil)
        var database: WatchedDatabase { slot.withLock { $0! } }
        var wrap: (any SQLDatabase) -> any SQLDatabase {
            { [self] inner in
                let watched = WatchedDatabase(inner)
                slot.withLock { $0 = watched }
                return watched
            }
        }
    }

    static func wrapping() -> Slot { Slot() }

    private let inner: any SQLDatabase
    private let watch = Mutex(Watch())

    init(_ inner: any SQLDatabase) {
        self.inner = inner
    }

    var location: String { inner.location }
    /// The inner database's writer: what the service queues there still calls this database.
    var writer: (any QueuedWriting)? { inner.writer }
    var dialect: SQLDialect { inner.dialect }
    var filePath: String? { inner.filePath }

    /// Writes queued for the inner database's writer (0 without one).
    var writesQueued: Int { (inner as? SQLiteDatabase)?.writesQueued ?? 0 }

    /// The outermost transactions run since the last `forget`, each as its statements.
    var transactions: [[String]] { watch.withLock { $0.transactions } }

    func forget() {
        watch.withLock { $0.transactions = [] }
    }

    func fail(containing text: String?) {
        watch.withLock { $0.failing = text }
    }

    private static var thread: UInt { UInt(pthread_self()) }

    private func note(_ sql: String) throws(StoreError) {
        let refused = watch.withLock { watch -> Bool in
            if let failing = watch.failing, sql.contains(failing) { return true }
            if watch.depth[Self.thread, default: 0] > 0 { watch.open[Self.thread, default: []].append(sql) }
            return false
        }
        if refused { throw StoreError(.sql, "the test's disk refuses this write") }
    }

    func run(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> Int {
        try note(sql)
        return try inner.run(sql, parameters)
    }

    func query<T>(_ sql: String, _ parameters: [SQLValue], _ map: (SQLRow) throws(StoreError) -> T) throws(StoreError) -> [T] {
        try note(sql)
        return try inner.query(sql, parameters, map)
    }

    func forEach(_ sql: String, _ parameters: [SQLValue], _ body: (SQLRow) throws(StoreError) -> Void) throws(StoreError) {
        try note(sql)
        try inner.forEach(sql, parameters, body)
    }

    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        watch.withLock { $0.depth[Self.thread, default: 0] += 1 }
        defer {
            watch.withLock { watch in
                let thread = Self.thread
                watch.depth[thread, default: 1] -= 1
                if watch.depth[thread] == 0, let statements = watch.open.removeValue(forKey: thread) {
                    watch.transactions.append(statements)
                }
            }
        }
        return try inner.transaction(body)
    }
}
