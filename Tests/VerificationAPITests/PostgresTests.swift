import Crypto
import Foundation
import Logging
import PostgresStorage
import Storage
import Synchronization
import Testing
import VerificationAPI

/// The stores on a real PostgreSQL (Tools/postgres/with-postgres.sh), with two `PostgresDatabase`
/// objects on one database standing for two nodes: what one node changes, the other sees, and
/// what must happen once happens once when both try at the same moment. The two-process tests
/// (two `serve` nodes, nginx, kill -9, a server restart) are Tools/postgres/two_nodes_test.py.
@Suite(.serialized, RequiredMode.needs(TestPostgres.available, "needs PostgreSQL: run under Tools/postgres/with-postgres.sh"))
struct PostgresTests {
    /// Two nodes' stores on one fresh database, with a client and a holder.
    struct TwoNodes {
        let first: ServiceStores
        let second: ServiceStores
        let client: APIClient
        let configuration: PostgresConfiguration

        init() throws {
            configuration = try TestPostgres.freshDatabase()
            first = try ServiceStores.postgres(configuration, logger: TestPostgres.quiet)
            second = try ServiceStores.postgres(configuration, logger: TestPostgres.quiet)
            client = try first.clients.add(name: "iam", roles: [.enrolment, .verifier], rpID: nil, origins: [], at: Date()).0
            let holder = Holder(rpID: "mie.example", id: "h", name: "h", displayName: "h", rpps: nil, userHandle: [7])
            #expect(try first.credentials.create(holder, event: AuditEvent(action: "holder.created", result: "created"), at: Date()))
        }

        func credential(_ id: [UInt8], count: UInt32) -> StoredCredentialRecord {
            StoredCredentialRecord(
                id: id, holderID: "h", identityEvidence: "asserted-by-client", publicKey: [0xA0], algorithm: "ES256", signCount: count,
                backupEligible: false, aaguid: "00000000-0000-0000-0000-000000000000", authenticator: "x", verdict: "accepted", amr: ["hwk"],
                clientID: client.id, rpID: "mie.example", createdAt: "2026-12-01T00:00:00Z")
        }
    }

    /// Runs both closures at the same moment on two threads (the stores block); their results.
    static func race<T: Sendable>(_ a: @escaping @Sendable () throws -> T, _ b: @escaping @Sendable () throws -> T) -> [Result<T, any Error>] {
        let results = Mutex<[Int: Result<T, any Error>]>([:])
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for (index, body) in [a, b].enumerated() {
            group.enter()
            Thread.detachNewThread {
                start.wait()
                let result = Result { try body() }
                results.withLock { $0[index] = result }
                group.leave()
            }
        }
        start.signal()
        start.signal()
        group.wait()
        return results.withLock { [$0[0]!, $0[1]!] }
    }

    @Test func placeholdersAreNumberedOutsideQuotedText() {
        #expect(PostgresDatabase.numberPlaceholders("SELECT a FROM t WHERE b = ? AND c = '?' AND d = ?") == "SELECT a FROM t WHERE b = $1 AND c = '?' AND d = $2")
        #expect(PostgresDatabase.statements("CREATE TABLE a (x BIGINT);\n CREATE INDEX i ON a (x);\n") == ["CREATE TABLE a (x BIGINT)", "CREATE INDEX i ON a (x)"])
    }

    @Test func theMigrationsRunOnceWhenNodesStartTogether() throws {
        let configuration = try TestPostgres.freshDatabase()
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do {
                _ = try PostgresDatabase(configuration, migrations: StorageSchema.postgresMigrations, logger: TestPostgres.quiet)
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        let database = try PostgresDatabase(configuration, migrations: [], logger: TestPostgres.quiet)
        let versions = try database.query("SELECT version FROM schema_migrations ORDER BY version") { $0.int(0) }
        #expect(versions == StorageSchema.postgresMigrations.map(\.version))
    }

    @Test func aNodeRefusesASchemaNewerThanItKnows() throws {
        let configuration = try TestPostgres.freshDatabase()
        let database = try PostgresDatabase(configuration, migrations: StorageSchema.postgresMigrations, logger: TestPostgres.quiet)
        try database.run("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", [.int(99), .text("2027-01-01T00:00:00Z")])
        #expect {
            _ = try PostgresDatabase(configuration, migrations: StorageSchema.postgresMigrations, logger: TestPostgres.quiet)
        } throws: { ($0 as? StoreError)?.code == .schemaTooNew }
    }

    @Test func aDatabaseOutOfReachFailsWithUnavailableWithinItsTimeout() throws {
        var configuration = try TestPostgres.server
        // A port nothing listens on.
        configuration.port = 1
        configuration.timeout = 2
        let started = Date()
        #expect {
            _ = try PostgresDatabase(configuration, migrations: StorageSchema.postgresMigrations, logger: TestPostgres.quiet)
        } throws: { ($0 as? StoreError)?.code == .unavailable }
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func theConnectionIsEncryptedAndTheServerCheckedWhenAsked() throws {
        let root = try #require(TestPostgres.environment["MIE_POSTGRES_TLS_ROOT"], "with-postgres.sh names the server's certificate")
        for (mode, rootFile) in [(PostgresConfiguration.TLSMode.require, nil), (.verifyFull, root)] {
            var configuration = try TestPostgres.server
            configuration.tls = mode
            configuration.rootCertificate = rootFile
            // By name, so that verify-full checks the name too (the certificate says localhost).
            configuration.host = "localhost"
            let database = try PostgresDatabase(configuration, migrations: [], logger: TestPostgres.quiet)
            let encrypted = try database.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") { $0.int(0) }
            #expect(encrypted == [1], "\(mode)")
        }
        // Another root: the server's certificate is refused, nothing is sent in clear instead.
        var configuration = try TestPostgres.server
        configuration.tls = .verifyFull
        configuration.host = "localhost"
        configuration.rootCertificate = packageRoot.appendingPathComponent("TestVectors/referencing/demo-mds-root.pem").path
        #expect {
            let database = try PostgresDatabase(configuration, migrations: [], logger: TestPostgres.quiet)
            try database.run("SELECT 1", [])
        } throws: { ($0 as? StoreError)?.code == .unavailable }
        // sslmode in the URL.
        let url = try #require(TestPostgres.environment["MIE_POSTGRES_URL"])
        #expect(try PostgresConfiguration.parse(url + "?sslmode=verify-full&sslrootcert=/r.pem").tls == .verifyFull)
        #expect(throws: StoreError.self) { try PostgresConfiguration.parse(url + "?sslmode=sometimes") }
        #expect(throws: StoreError.self) { try PostgresConfiguration.parse("postgres://127.0.0.1/mie") }
    }

    @Test func callersWaitingForTheOnlyConnectionAreServedInTurn() throws {
        var configuration = try TestPostgres.server
        configuration.poolSize = 1
        configuration.timeout = 2
        let database = try PostgresDatabase(configuration, migrations: [], logger: TestPostgres.quiet)
        let failures = Atomic<Int>(0)
        let started = Date()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<50 where (try? database.query("SELECT 1", [], { $0.int(0) })) != [1] {
                failures.add(1, ordering: .relaxed)
            }
        }
        // 200 statements on one connection: a waiter never sleeps through a connection given back.
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(Date().timeIntervalSince(started) < 2)
    }

    @Test func aNodeOnPostgreSQLNamesItsAuditFiles() throws {
        var configuration = ServiceConfiguration()
        configuration.postgres = try TestPostgres.freshDatabase()
        let stores = try ServiceStores.open(configuration, logger: TestPostgres.quiet)
        #expect {
            _ = try ServiceState(configuration: configuration, stores: stores, logger: TestPostgres.quiet)
        } throws: { ($0 as? ConfigurationError)?.code == .auditFilesUnnamed }
    }

    @Test func aCeremonyOpenedOnOneNodeIsTakenOnceWhenBothTryAtOnce() throws {
        let nodes = try TwoNodes()
        var wins = 0
        for _ in 0..<40 {
            let ceremony = try nodes.first.credentials.open(
                .assertion, clientID: nodes.client.id, holderID: "h", profile: nil, lifetime: 300, at: Date(), evidence: nil, operator: nil,
                rpID: "mie.example")
            let id = ceremony.id
            let client = nodes.client.id
            let outcomes = Self.race(
                { [nodes] in try nodes.first.credentials.take(id, kind: .assertion, clientID: client, at: Date()) },
                { [nodes] in try nodes.second.credentials.take(id, kind: .assertion, clientID: client, at: Date()) })
            let taken = outcomes.filter { if case .success(.success(let record)) = $0 { return record.challenge == ceremony.challenge } else { return false } }
            let replayed = outcomes.filter { if case .success(.failure(.replayed)) = $0 { return true } else { return false } }
            #expect(taken.count == 1 && replayed.count == 1, "\(outcomes)")
            wins += taken.count
        }
        #expect(wins == 40)
    }

    @Test func twoSignInsOnOneCounterValueMoveItOnce() throws {
        let nodes = try TwoNodes()
        try nodes.first.credentials.insert(nodes.credential([1, 2, 3], count: 0), event: AuditEvent(action: "registration", result: "accepted"), at: Date())
        for count in UInt32(0)..<30 {
            let event = AuditEvent(action: "assertion", result: "verified")
            let outcomes = Self.race(
                { [nodes] in try nodes.first.credentials.recordUse([1, 2, 3], expectedCount: count, newCount: count + 1, event: event, at: Date()) },
                { [nodes] in try nodes.second.credentials.recordUse([1, 2, 3], expectedCount: count, newCount: count + 1, event: event, at: Date()) })
            let moved = outcomes.compactMap { try? $0.get() }.filter { $0 }
            #expect(moved.count == 1, "\(outcomes)")
        }
        #expect(try nodes.second.credentials.find(credential: [1, 2, 3])?.signCount == 30)
        // One event per move, none for the losers, one chain.
        try nodes.second.audit.settle()
        let audit = try nodes.second.audit.verify()
        #expect(audit.broken == nil)
        let moves = try nodes.first.database.query("SELECT COUNT(*) FROM audit_events WHERE event LIKE '%\"action\":\"assertion\"%'") { $0.int(0) }
        #expect(moves == [30])
    }

    @Test func theAuditChainStaysOneChainUnderWritersAndLinkersOnBothNodes() throws {
        let nodes = try TwoNodes()
        try nodes.first.audit.settle()
        let before = try nodes.first.audit.count()
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 10) { worker in
            let stores = worker % 2 == 0 ? nodes.first : nodes.second
            do {
                if worker >= 8 {
                    // Two linkers, one per node, racing the writers and each other: one reads the
                    // whole queue, the other from the last number linked.
                    for _ in 0..<40 { try stores.audit.link(atMost: 37, recent: worker == 9) }
                    return
                }
                for n in 0..<25 {
                    try stores.audit.append([AuditEvent(action: "test.burst", client: "w\(worker)", result: "\(n)")], at: Date())
                }
                // And a batch (several statements, one transaction): queued as a state change's
                // events are, or chained at once as the stateless flush writes them.
                let batch = (0..<100).map { AuditEvent(action: "test.batch", client: "w\(worker)", result: "\($0)") }
                if worker % 4 < 2 {
                    try stores.audit.append(batch, at: Date())
                } else {
                    try stores.audit.appendChained(batch, at: Date())
                }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(try nodes.first.audit.count() == before + 1000)
        try nodes.second.audit.settle()
        let verification = try nodes.second.audit.verify()
        #expect(verification.broken == nil, "\(String(describing: verification.broken))")
        #expect(verification.events == before + 1000)
        #expect(verification.waiting == 0)
        // Each event chained once: none lost, none twice.
        let burst = try nodes.first.database.query("SELECT event FROM audit_events WHERE event LIKE '%test.%'") { $0.text(0) ?? "" }
        #expect(burst.count == 1000 && Set(burst).count == 1000)
        // A batch keeps its order in the chain.
        let batch = try nodes.first.database.query("SELECT event FROM audit_events WHERE event LIKE '%test.batch%w3%' ORDER BY seq") { $0.text(0) ?? "" }
        #expect(batch == (0..<100).map { String(decoding: AuditEvent(action: "test.batch", client: "w3", result: "\($0)").json, as: UTF8.self) })
    }

    /// Runs `body` in a transaction on a thread of its own and leaves the transaction open;
    /// the closure returned commits it and waits for that.
    static func openTransaction(on database: any SQLDatabase, _ body: @escaping @Sendable () throws(StoreError) -> Void) -> @Sendable () -> Void {
        let opened = DispatchSemaphore(value: 0)
        let commit = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        done.enter()
        Thread.detachNewThread {
            _ = try? database.transaction { () throws(StoreError) in
                try body()
                opened.signal()
                _ = commit.wait(timeout: .now() + 10)
            }
            // A body that failed opened nothing: the test goes on (and fails) rather than hang.
            opened.signal()
            done.leave()
        }
        opened.wait()
        return {
            commit.signal()
            done.wait()
        }
    }

    /// A state change queues its event without the chain's lock: it commits while a linker
    /// holds that lock (before, every sign-in on every node waited for it in turn).
    @Test func aStateChangeCommitsWhileTheChainsLockIsHeld() throws {
        let nodes = try TwoNodes()
        let commit = Self.openTransaction(on: nodes.first.database) { () throws(StoreError) in
            _ = try nodes.first.database.run("UPDATE audit_counter SET last_seq = last_seq WHERE id = 1", [])
        }
        let started = Date()
        try nodes.second.credentials.insert(nodes.credential([4, 5, 6], count: 0), event: AuditEvent(action: "registration", result: "accepted"), at: Date())
        let took = Date().timeIntervalSince(started)
        commit()
        #expect(took < 5, "the registration waited \(took) s for the chain's lock")
        #expect(try nodes.first.credentials.find(credential: [4, 5, 6]) != nil)
        try nodes.first.audit.settle()
        let verification = try nodes.first.audit.verify()
        #expect(verification.broken == nil && verification.waiting == 0)
        #expect(try nodes.first.database.query("SELECT COUNT(*) FROM audit_events WHERE event LIKE '%\"registration\"%'") { $0.int(0) } == [1])
    }

    /// A stateless batch is chained at once, after what was queued before it.
    @Test func aStatelessBatchIsChainedAfterWhatWaits() throws {
        let nodes = try TwoNodes()
        try nodes.first.audit.settle()
        try nodes.first.audit.append([AuditEvent(action: "test.queued", result: "state change")], at: Date())
        try nodes.second.audit.appendChained((0..<3).map { AuditEvent(action: "test.stateless", result: "\($0)") }, at: Date())
        let verification = try nodes.first.audit.verify()
        #expect(verification.broken == nil && verification.waiting == 0)
        let order = try nodes.first.database.query("SELECT event FROM audit_events WHERE event LIKE '%test.%' ORDER BY seq") { $0.text(0) ?? "" }
        #expect(order.map { $0.contains("test.queued") ? "q" : $0.contains("test.stateless") ? "s" : "?" } == ["q", "s", "s", "s"])
    }

    /// An event queued first but committed after a later one is left for the next link, never
    /// removed unlinked: the linker removes the rows it chained by their numbers. A `recent`
    /// link (the service's frequent one) takes it too: it is within the window read.
    @Test(arguments: [false, true]) func anEventCommittedBehindALaterOneIsChainedByTheNextLink(recent: Bool) throws {
        let nodes = try TwoNodes()
        try nodes.first.audit.settle()
        let commit = Self.openTransaction(on: nodes.first.database) { () throws(StoreError) in
            try nodes.first.audit.append([AuditEvent(action: "test.early", result: "queued first")], at: Date())
        }
        try nodes.second.audit.append([AuditEvent(action: "test.late", result: "committed first")], at: Date())
        #expect(try nodes.second.audit.link(atMost: 1_000, recent: recent) == 1)
        commit()
        #expect(try nodes.second.audit.verify().waiting == 1)
        #expect(try nodes.second.audit.link(atMost: 1_000, recent: recent) == 1)
        let verification = try nodes.second.audit.verify()
        #expect(verification.broken == nil && verification.waiting == 0)
        let order = try nodes.first.database.query("SELECT event FROM audit_events WHERE event LIKE '%test.%' ORDER BY seq") { $0.text(0) ?? "" }
        #expect(order.count == 2 && order[0].contains("test.late") && order[1].contains("test.early"))
    }

    /// The service's frequent links read the queue from just before the last number linked (its
    /// index, not the dead rows of every row linked since the last vacuum). An event committed
    /// behind more than that window of later ones waits, counted as waiting, for a whole read
    /// (every few seconds, and `settle`), and is never lost.
    @Test func anEventCommittedBehindTheRecentWindowIsChainedByAWholeLink() throws {
        let nodes = try TwoNodes()
        try nodes.first.audit.settle()
        let commit = Self.openTransaction(on: nodes.first.database) { () throws(StoreError) in
            try nodes.first.audit.append([AuditEvent(action: "test.far", result: "queued first")], at: Date())
        }
        let window = Int(AuditLog.stragglerWindow)
        try nodes.second.audit.append((0...window).map { AuditEvent(action: "test.after-far", result: "\($0)") }, at: Date())
        #expect(try nodes.second.audit.settle(recent: true) == window + 1)
        commit()
        #expect(try nodes.second.audit.link(atMost: 1_000, recent: true) == 0)
        #expect(try nodes.second.audit.verify().waiting == 1)
        #expect(try nodes.first.audit.link(atMost: 1_000, recent: false) == 1)
        let verification = try nodes.second.audit.verify()
        #expect(verification.broken == nil && verification.waiting == 0)
        let order = try nodes.first.database.query("SELECT event FROM audit_events WHERE event LIKE '%test.%' ORDER BY seq") { $0.text(0) ?? "" }
        #expect(order.count == window + 2)
        #expect(order.first?.contains("test.after-far") == true && order.last?.contains("test.far") == true)
    }

    @Test func aDeskSessionIsSharedAndEndsOnBothNodes() throws {
        let nodes = try TwoNodes()
        let (found, _) = try nodes.first.operators.add(name: "alice", lifetime: 3600, at: Date())
        let now = Date()
        let one = DeskSessionsProbe(store: nodes.first.deskSessions)
        let two = DeskSessionsProbe(store: nodes.second.deskSessions)
        let token = try one.open(operatorID: found.id, name: "alice", at: now)
        #expect(try two.find(token)?.name == "alice")
        try two.store.remember(ceremony: "c1", for: DeskSessionsProbe.key(token), at: now)
        #expect(try one.find(token)?.ceremonies == ["c1"])
        try two.store.end(DeskSessionsProbe.key(token))
        #expect(try one.find(token) == nil)
        // Revoking the operator on one node is seen by the other's session check (it reads the
        // operator with every desk request).
        let again = try two.open(operatorID: found.id, name: "alice", at: now)
        let session = try #require(try one.find(again))
        #expect(try nodes.first.operators.revoke(name: "alice", at: Date()))
        #expect(try nodes.second.operators.find(id: session.operatorID)?.revokedAt != nil)
        try nodes.second.deskSessions.end(operatorID: session.operatorID)
        #expect(try one.find(again) == nil)
    }

    @Test func aClientRevokedOnOneNodeIsRefusedByTheOther() throws {
        let nodes = try TwoNodes()
        let (_, key) = try nodes.first.clients.add(name: "short", roles: [.verifier], rpID: nil, origins: [], at: Date())
        #expect(try nodes.second.clients.authenticate(key: key)?.name == "short")
        #expect(try nodes.first.clients.revoke(name: "short", at: Date()))
        #expect(try nodes.second.clients.authenticate(key: key) == nil)
    }
}

/// The desk's session store as DeskSessions uses it (token digests, liveness cut-offs).
struct DeskSessionsProbe {
    let store: any DeskSessionStoring

    static func key(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Data(token.utf8))) }

    func open(operatorID: Int64, name: String, at now: Date) throws -> String {
        let token = UUID().uuidString
        try store.open(
            Self.key(token), DeskSessionRecord(operatorID: operatorID, name: name, csrf: "csrf", created: now, lastSeen: now), limit: 100,
            isLiveAfter: (idle: now.addingTimeInterval(-900), created: now.addingTimeInterval(-3600)))
        return token
    }

    func find(_ token: String) throws -> DeskSessionRecord? { try store.find(Self.key(token)) }
}
