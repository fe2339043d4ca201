import Foundation
import NIOCore
import NIOPosix
import PostgresStorage
import Storage
import Synchronization
import Testing
import VerificationAPI

/// Transactions awaited on an event loop (`AwaitedSQLDatabase`, the sign-in's path on
/// PostgreSQL) on a real server: whole or nothing, prepared statements as the others, the
/// loop's connections shared in turn and bounded in time, and the sign-in's single-use and
/// counter rules across two nodes.
@Suite(.serialized, RequiredMode.needs(TestPostgres.available, "needs PostgreSQL: run under Tools/postgres/with-postgres.sh"))
struct PostgresAwaitedTests {
    /// A fresh database with a table of numbers, and the database object over it.
    static func numbers(poolSize: Int = 8, timeout: TimeInterval = 5) throws -> PostgresDatabase {
        var configuration = try TestPostgres.freshDatabase()
        configuration.poolSize = poolSize
        configuration.timeout = timeout
        let database = try PostgresDatabase(configuration, migrations: [SQLMigration(1, "CREATE TABLE numbers (n BIGINT PRIMARY KEY)")], logger: TestPostgres.quiet)
        return database
    }

    enum InsertNumber: PreparedSQL {
        static let name = "test_insert_number"
        static let sql = "INSERT INTO numbers (n) VALUES (?) RETURNING n"
    }

    enum NumbersFrom: PreparedSQL {
        static let name = "test_numbers_from"
        static let sql = "SELECT n FROM numbers WHERE n >= ? ORDER BY n"
    }

    static let firstLoop: any EventLoop = {
        var loops = MultiThreadedEventLoopGroup.singleton.makeIterator()
        return loops.next()!
    }()

    /// `sql` in a transaction on the first loop fails as `store.unavailable`.
    static func expectUnavailable(_ database: PostgresDatabase, _ sql: String, _ otherwise: Comment) async throws {
        do {
            _ = try await onEventLoop {
                try await database.transaction { transaction throws(StoreError) in try await transaction.rows(sql, []).count }
            }
            Issue.record(otherwise)
        } catch let error as StoreError {
            #expect(error.code == .unavailable, "\(error)")
        }
    }

    static func stored(_ database: PostgresDatabase) throws -> [Int] {
        try database.query("SELECT n FROM numbers ORDER BY n", []) { $0.int(0) }
    }

    /// Runs `body` as a task started on `loop` (the first of the service's by default), as the
    /// hot path starts a sign-in on its request's loop: its transactions use that loop's
    /// connections.
    static func onEventLoop<T: Sendable>(on loop: any EventLoop = firstLoop, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let executor = EventLoopTaskExecutor(group: .singleton)
        return try await loop.submit { Task(executorPreference: executor) { try await body() } }.get().value
    }

    @Test func aTransactionCommitsWholeOrNotAtAll() async throws {
        let database = try Self.numbers()
        for onLoop in [true, false] {
            try database.run("DELETE FROM numbers", [])
            let run: @Sendable (@escaping @Sendable () async throws -> Void) async throws -> Void = { body in
                if onLoop { try await Self.onEventLoop(body) } else { try await body() }
            }
            // Committed: plain and prepared statements alike.
            try await run {
                let changed = try await database.transaction { transaction throws(StoreError) in
                    let plain = try await transaction.run("INSERT INTO numbers (n) VALUES (?), (?)", [.int(1), .int(2)])
                    return plain + (try await transaction.rows(InsertNumber.self, [.int(3)]).count)
                }
                #expect(changed == 3)
            }
            #expect(try Self.stored(database) == [1, 2, 3])
            // A body that throws: nothing it wrote stays.
            try await run {
                await #expect(throws: StoreError.self) {
                    try await database.transaction { transaction throws(StoreError) in
                        _ = try await transaction.run("INSERT INTO numbers (n) VALUES (?)", [.int(4)])
                        throw StoreError(.sql, "refused (test)")
                    }
                }
            }
            // A prepared statement fails: the insert before it goes with it, and the failure keeps
            // its code.
            try await run {
                do {
                    _ = try await database.transaction { transaction throws(StoreError) in
                        _ = try await transaction.run("INSERT INTO numbers (n) VALUES (?)", [.int(5)])
                        return try await transaction.rows(InsertNumber.self, [.int(1)]).count
                    }
                    Issue.record("a duplicate key was committed")
                } catch let error as StoreError {
                    #expect(error.code == .constraint, "\(error)")
                }
            }
            #expect(try Self.stored(database) == [1, 2, 3])
            // The connection is whole again, its statements still prepared: more runs than the
            // server's custom plans (5) before it plans once for all.
            try await run {
                for round in 0..<8 {
                    let rows = try await database.transaction { transaction throws(StoreError) in
                        _ = try await transaction.rows(InsertNumber.self, [.int(Int64(10 + round))])
                        return try await transaction.rows(NumbersFrom.self, [.int(Int64(10 + round))]).map { $0.int(0) }
                    }
                    #expect(rows == [10 + round])
                }
            }
            #expect(try Self.stored(database) == [1, 2, 3] + Array(10..<18))
        }
    }

    @Test func tasksWaitingForTheLoopsOnlyConnectionAreServedInTurn() async throws {
        let database = try Self.numbers(poolSize: 1)
        let started = Date()
        let counted = try await Self.onEventLoop {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<4 {
                    group.addTask {
                        var done = 0
                        for round in 0..<25 {
                            _ = try await database.transaction { transaction throws(StoreError) in
                                try await transaction.rows(InsertNumber.self, [.int(Int64(task * 100 + round))]).count
                            }
                            done += 1
                        }
                        return done
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        #expect(counted == 100)
        #expect(try Self.stored(database).count == 100)
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func theLoopsShareOutPoolSizeConnections() async throws {
        let database = try Self.numbers(poolSize: 4)
        var loops: [any EventLoop] = []
        for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() { loops.append(loop) }
        // Eight tasks on each loop at once, each holding its connection a moment.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for loop in loops {
                for _ in 0..<8 {
                    group.addTask {
                        try await Self.onEventLoop(on: loop) {
                            for _ in 0..<5 {
                                _ = try await database.transaction { transaction throws(StoreError) in
                                    try await transaction.rows("SELECT pg_sleep(0.005)", []).count
                                }
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        // The awaited connections stay open (idle) after: at most poolSize of them, each loop
        // with its own; one more for the blocking call that counts them.
        let count = {
            try database.query(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", []) { $0.int(0) }.first ?? -1
        }
        let open = try count()
        #expect(open >= loops.count && open <= 4, "\(open) connections for \(loops.count) loops")
        // Callers on loops of another group (a service with loops of its own) use the database's
        // loops: still poolSize in all.
        let others = MultiThreadedEventLoopGroup(numberOfThreads: 3)
        for loop in others.makeIterator() {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await Self.onEventLoop(on: loop) {
                            _ = try await database.transaction { transaction throws(StoreError) in
                                try await transaction.rows("SELECT pg_sleep(0.005)", []).count
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await others.shutdownGracefully()
        #expect(try count() <= 4)
    }

    @Test func aTaskWaitingPastTheTimeoutFailsAsUnavailable() async throws {
        let database = try Self.numbers(poolSize: 1, timeout: 1)
        // Both on the same loop: its only connection is the holder's for 2.5 s.
        let holder = Task {
            try await Self.onEventLoop {
                try await database.transaction { transaction throws(StoreError) in
                    _ = try await transaction.run("INSERT INTO numbers (n) VALUES (?)", [.int(1)])
                    try? await Task.sleep(for: .seconds(2.5))
                    return try await transaction.run("INSERT INTO numbers (n) VALUES (?)", [.int(2)])
                }
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        let started = Date()
        try await Self.expectUnavailable(database, "SELECT 1", "a second transaction ran while the only connection was held")
        let waited = Date().timeIntervalSince(started)
        #expect(waited > 0.7 && waited < 2, "waited \(waited) s")
        #expect(try await holder.value == 1)
        #expect(try Self.stored(database) == [1, 2])
    }

    @Test func aStatementPastTheTimeoutFailsAsUnavailableAndItsConnectionIsDropped() async throws {
        let database = try Self.numbers(poolSize: 1, timeout: 1)
        let started = Date()
        // The server's statement timeout (1 s) cancels it: out of reach for now, not a crash.
        try await Self.expectUnavailable(database, "SELECT pg_sleep(3)", "a statement ran past the timeout")
        #expect(Date().timeIntervalSince(started) < 2)
        let after = try await Self.onEventLoop {
            try await database.transaction { transaction throws(StoreError) in try await transaction.rows("SELECT 7", []).map { $0.int(0) } }
        }
        #expect(after == [7])
    }

    @Test func aSignInsCeremonyIsTakenOnceAndItsCounterMovedOnceAcrossNodes() async throws {
        let nodes = try PostgresTests.TwoNodes()
        try nodes.first.credentials.insert(nodes.credential([4, 5, 6], count: 0), event: AuditEvent(action: "registration", result: "accepted"), at: Date())
        let stores = [nodes.first.credentials, nodes.second.credentials].map { $0 as! any AwaitedSignInStoring }
        let databases = try stores.map { try #require($0.awaitedDatabase) }
        let client = nodes.client.id
        func open() throws -> String {
            try nodes.first.credentials.open(
                .assertion, clientID: client, holderID: "h", profile: nil, lifetime: 300, at: Date(), evidence: nil, operator: nil, rpID: "mie.example"
            ).id
        }
        @Sendable func read(_ id: String, on node: Int, client: Int64 = nodes.client.id) async throws -> Result<SignInRecords, CeremonyRefusal> {
            try await databases[node].autocommitted { statements throws(StoreError) in
                try await stores[node].readForSignIn(id, clientID: client, credential: [4, 5, 6], rpID: "mie.example", at: Date(), in: statements)
            }
        }
        @Sendable func write(_ id: String, _ outcome: SignInOutcome, on node: Int) async throws -> SignInWrite {
            try await databases[node].autocommitted { statements throws(StoreError) in
                try await stores[node].writeSignIn(id, clientID: client, outcome, at: Date(), in: statements)
            }
        }
        let verified = { @Sendable (count: UInt32) in SignInOutcome.verified(credential: [4, 5, 6], expected: count, new: count + 1, event: AuditEvent(action: "assertion", result: "verified")) }
        for count in UInt32(0)..<20 {
            let id = try open()
            // Both nodes read the same ceremony, then write the same counter move at once.
            let written = try await Self.onEventLoop {
                try await withThrowingTaskGroup(of: SignInWrite.self) { group in
                    for node in 0..<2 {
                        group.addTask {
                            // The read after the other's write: a replay, nothing written.
                            guard case .success(let records) = try await read(id, on: node) else { return .notTaken(.replayed) }
                            #expect(records.credential?.signCount == count && records.holder?.id == "h" && records.ceremony.id == id)
                            return try await write(id, verified(count), on: node)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            #expect(written.filter { $0 == .taken(moved: true) }.count == 1 && written.filter { $0 == .notTaken(.replayed) }.count == 1, "\(written)")
            // Once taken, the ceremony is a replay for both nodes.
            #expect(try await read(id, on: 1).failureReason == .replayed)
        }
        #expect(try nodes.second.credentials.find(credential: [4, 5, 6])?.signCount == 20)
        // Two ceremonies, one counter value: both taken, the counter moved once.
        let (one, two) = (try open(), try open())
        #expect(try await write(one, verified(20), on: 0) == .taken(moved: true))
        #expect(try await write(two, verified(20), on: 1) == .taken(moved: false))
        #expect(try await read(two, on: 0).failureReason == .replayed)
        // A refusal's event is written with its take; an unreadable answer only takes.
        let (refused, unread) = (try open(), try open())
        #expect(try await write(refused, .refused(AuditEvent(action: "assertion", result: "signature.invalid")), on: 1) == .taken(moved: false))
        #expect(try await write(refused, .refused(AuditEvent(action: "assertion", result: "signature.invalid")), on: 0) == .notTaken(.replayed))
        #expect(try await write(unread, .unread, on: 0) == .taken(moved: false))
        #expect(try await read(unread, on: 1).failureReason == .replayed)
        // Another client's ceremony: unknown to the read and to the write, and not taken.
        let ceremony = try open()
        #expect(try await read(ceremony, on: 0, client: client + 1000).failureReason == .unknown)
        let stranger = try await databases[0].autocommitted { statements throws(StoreError) in
            try await stores[0].writeSignIn(ceremony, clientID: client + 1000, verified(21), at: Date(), in: statements)
        }
        #expect(stranger == .notTaken(.unknown))
        #expect(try await read(ceremony, on: 1).isSuccess)
        // An expired one: refused by the read and by the write.
        let expired = try nodes.first.credentials.open(
            .assertion, clientID: client, holderID: "h", profile: nil, lifetime: 300, at: Date() - 600, evidence: nil, operator: nil, rpID: "mie.example")
        #expect(try await read(expired.id, on: 0).failureReason == .expired)
        #expect(try await write(expired.id, verified(21), on: 0) == .notTaken(.expired))
        #expect(try nodes.second.credentials.find(credential: [4, 5, 6])?.signCount == 21)
        // One event per move and one for the refusal, one chain.
        try nodes.second.audit.settle()
        #expect(try nodes.second.audit.verify().broken == nil)
        let events = try nodes.first.database.query("SELECT event FROM audit_events WHERE event LIKE '%\"action\":\"assertion\"%'") { $0.text(0) ?? "" }
        #expect(events.count == 22 && events.filter { $0.contains("signature.invalid") }.count == 1, "\(events.count)")
    }
}

extension PostgresAwaitedTests {
    @Test func aSignInIsOpenedOnlyForAHolderWithKeysInTheCallersParty() async throws {
        let nodes = try PostgresTests.TwoNodes()
        for id in [[9, 1], [9, 2]] as [[UInt8]] {
            try nodes.first.credentials.insert(nodes.credential(id, count: 0), event: AuditEvent(action: "registration", result: "accepted"), at: Date())
        }
        let store = try #require(nodes.second.credentials as? any AwaitedSignInStoring)
        let database = try #require(store.awaitedDatabase)
        let client = nodes.client.id
        func open(_ holder: String?, rpID: String) async throws -> (ceremony: CeremonyRecord, allowed: [[UInt8]])? {
            try await Self.onEventLoop {
                try await database.autocommitted { statements throws(StoreError) in
                    try await store.openSignIn(holderID: holder, clientID: client, rpID: rpID, lifetime: 300, at: Date(), in: statements)
                }
            }
        }
        let ceremonies = { try nodes.first.database.query("SELECT COUNT(*) FROM ceremonies", []) { $0.int(0) } }
        // A ceremony expired more than a day ago goes with the next opening (the same statement).
        let longAgo = Int64(Date().timeIntervalSince1970) - 90_000
        _ = try nodes.first.database.run(
            "INSERT INTO ceremonies (id, kind, challenge, client_id, created_at, expires_at) VALUES ('old', 'assertion', ?, ?, ?, ?)",
            [.blob([1]), .int(client), .int(longAgo - 300), .int(longAgo)])
        // The holder's keys, oldest first; the ceremony is this client's, in this party, for that holder.
        let named = try #require(try await open("h", rpID: "mie.example"))
        #expect(named.allowed == [[9, 1], [9, 2]])
        #expect(named.ceremony.holderID == "h" && named.ceremony.rpID == "mie.example" && named.ceremony.clientID == client)
        #expect(named.ceremony.challenge.count == 32)
        // The same holder id in another party has no key there: nothing opened.
        #expect(try await open("h", rpID: "other.example") == nil)
        #expect(try await open("nobody", rpID: "mie.example") == nil)
        #expect(try ceremonies() == [1])
        // No holder named: a discoverable sign-in, no keys listed.
        let open = try #require(try await open(nil, rpID: "mie.example"))
        #expect(open.allowed.isEmpty && open.ceremony.holderID == nil)
        // Opened on one node, taken on the other (blocking call) once.
        let taken = try nodes.first.credentials.takeForSignIn(
            named.ceremony.id, clientID: client, credential: [9, 2], rpID: "mie.example", at: Date())
        guard case .success(let records) = taken else { Issue.record("\(taken)"); return }
        #expect(records.ceremony.challenge == named.ceremony.challenge && records.credential?.id == [9, 2])
        #expect(records.ceremony.expiresAt == named.ceremony.expiresAt && records.ceremony.kind == .assertion)
        #expect(try nodes.first.database.query("SELECT COUNT(*) FROM ceremonies WHERE id = 'old'", []) { $0.int(0) } == [0])
    }
}

extension Result {
    fileprivate var failureReason: Failure? {
        if case .failure(let reason) = self { return reason }
        return nil
    }

    fileprivate var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

extension PostgresTests.TwoNodes {
    /// The second node's credential store and its awaited database.
    func secondAwaited() throws -> (CredentialStore, any AwaitedSQLDatabase) {
        let store = try #require(second.credentials as? CredentialStore)
        return (store, try #require(store.awaitedDatabase))
    }

    /// A sign-in ceremony for holder h, opened on the first node at `time`.
    func openSignIn(at time: Date = Date()) throws -> String {
        try first.credentials.open(
            .assertion, clientID: client.id, holderID: "h", profile: nil, lifetime: 300, at: time, evidence: nil, operator: nil, rpID: "mie.example"
        ).id
    }
}

/// Several sign-ins' reads and writes in one statement (`AwaitedSQLDatabase.gathered`): each
/// comes to what it would have on its own.
extension PostgresAwaitedTests {
    @Test func severalSignInsReadInOneStatementEachReadWhatItsOwnWould() async throws {
        let nodes = try PostgresTests.TwoNodes()
        try nodes.first.credentials.insert(nodes.credential([6, 1], count: 3), event: AuditEvent(action: "registration", result: "accepted"), at: Date())
        let (store, database) = try nodes.secondAwaited()
        let client = nodes.client.id
        let open = nodes.openSignIn
        let (fresh, used, expired, stranger) = (try open(Date()), try open(Date()), try open(Date() - 600), try open(Date()))
        #expect(try nodes.first.credentials.take(used, kind: .assertion, clientID: client, at: Date()).isSuccess)
        let items = [
            SignInReading(fresh, clientID: client, credential: [6, 1], rpID: "mie.example", at: Date()),
            SignInReading(used, clientID: client, credential: [6, 1], rpID: "mie.example", at: Date()),
            SignInReading(expired, clientID: client, credential: [6, 1], rpID: "mie.example", at: Date()),
            SignInReading(stranger, clientID: client + 1000, credential: [6, 1], rpID: "mie.example", at: Date()),
            SignInReading("none", clientID: client, credential: [6, 1], rpID: "mie.example", at: Date()),
            // Read for another party: the credential's holder is not read from there.
            SignInReading(stranger, clientID: client, credential: [6, 1], rpID: "other.example", at: Date()),
            SignInReading(fresh, clientID: client, credential: [6, 9], rpID: "mie.example", at: Date()),
        ]
        let (together, alone) = try await Self.onEventLoop {
            try await database.autocommitted { statements throws(StoreError) in
                let together = try await store.signInReads.run(items, in: statements)
                var alone: [Result<SignInRecords, CeremonyRefusal>] = []
                for item in items {
                    alone.append(try await store.readForSignIn(item.id, clientID: item.clientID, credential: item.credential, rpID: item.rpID, at: item.time, in: statements))
                }
                return (together, alone)
            }
        }
        func summary(_ read: Result<SignInRecords, CeremonyRefusal>) -> String {
            switch read {
            case .failure(let refusal): return "\(refusal)"
            case .success(let records):
                return "\(records.ceremony.id) \(records.ceremony.challenge) \(records.ceremony.expiresAt) "
                    + "\(records.credential.map { "\($0.id) \($0.signCount)" } ?? "-") \(records.holder.map { "\($0.rpID) \($0.id)" } ?? "-")"
            }
        }
        #expect(together.map(summary) == alone.map(summary))
        #expect(together.map(\.failureReason) == [nil, .replayed, .expired, .unknown, .unknown, nil, nil])
        guard case .success(let elsewhere) = together[5], case .success(let read) = together[0], case .success(let unknownKey) = together[6] else { return }
        #expect(elsewhere.holder == nil && elsewhere.credential?.id == [6, 1])
        #expect(read.holder?.rpID == "mie.example" && read.credential?.signCount == 3)
        #expect(unknownKey.credential == nil && unknownKey.ceremony.id == fresh)
    }

    @Test func severalSignInsWrittenInOneStatementEachComeToWhatItsOwnWould() async throws {
        let nodes = try PostgresTests.TwoNodes()
        let (a, b, zero): ([UInt8], [UInt8], [UInt8]) = ([5, 1], [5, 2], [5, 3])
        for (id, count) in [(a, 0), (b, 5), (zero, 0)] as [([UInt8], UInt32)] {
            try nodes.first.credentials.insert(nodes.credential(id, count: count), event: AuditEvent(action: "registration", result: "accepted"), at: Date())
        }
        let (store, database) = try nodes.secondAwaited()
        let client = nodes.client.id
        let open = nodes.openSignIn
        let ids = try (0..<9).map { _ in try open(Date()) }
        let expired = try open(Date() - 600)
        func verified(_ credential: [UInt8], _ from: UInt32, _ to: UInt32) -> SignInOutcome {
            .verified(credential: credential, expected: from, new: to, event: AuditEvent(action: "assertion", holder: "h", result: "verified"))
        }
        let refused = SignInOutcome.refused(AuditEvent(action: "assertion", holder: "h", result: "signature.invalid"))
        let items: [(SignInWriting, SignInWrite)] = [
            (SignInWriting(ids[0], clientID: client, verified(a, 0, 1), at: Date()), .taken(moved: true)),
            // The same counter value again: the first moved it.
            (SignInWriting(ids[1], clientID: client, verified(a, 0, 1), at: Date()), .taken(moved: false)),
            (SignInWriting(ids[2], clientID: client, verified(b, 4, 6), at: Date()), .taken(moved: false)),
            // The first's ceremony again: a replay.
            (SignInWriting(ids[0], clientID: client, refused, at: Date()), .notTaken(.replayed)),
            (SignInWriting(ids[3], clientID: client, refused, at: Date()), .taken(moved: false)),
            (SignInWriting(ids[4], clientID: client, .unread, at: Date()), .taken(moved: false)),
            (SignInWriting(expired, clientID: client, verified(b, 5, 6), at: Date()), .notTaken(.expired)),
            (SignInWriting(ids[5], clientID: client + 1000, verified(b, 5, 6), at: Date()), .notTaken(.unknown)),
            // An authenticator without a counter signs twice: both move it (0 to 0).
            (SignInWriting(ids[6], clientID: client, verified(zero, 0, 0), at: Date()), .taken(moved: true)),
            (SignInWriting(ids[7], clientID: client, verified(zero, 0, 0), at: Date()), .taken(moved: true)),
            (SignInWriting(ids[8], clientID: client, verified(b, 5, 7), at: Date()), .taken(moved: true)),
        ]
        let written = try await Self.onEventLoop {
            try await database.autocommitted { statements throws(StoreError) in
                try await store.signInWrites.run(items.map(\.0), in: statements)
            }
        }
        #expect(written.map { try? $0.get() } == items.map(\.1))
        #expect(try [a, b, zero].map { try nodes.first.credentials.find(credential: $0)?.signCount } == [1, 7, 0])
        // The stranger's ceremony is still open for its client; the others are used.
        let usedAt = try nodes.first.database.query("SELECT id FROM ceremonies WHERE used_at IS NULL ORDER BY id", []) { $0.text(0) ?? "" }
        #expect(usedAt == [expired, ids[5]].sorted())
        // Events: the four moves and the refusal taken, one chain.
        try nodes.first.audit.settle()
        #expect(try nodes.first.audit.verify().broken == nil)
        let events = try nodes.first.database.query("SELECT event FROM audit_events WHERE event LIKE '%\"action\":\"assertion\"%'") { $0.text(0) ?? "" }
        #expect(events.filter { $0.contains("\"verified\"") }.count == 4 && events.filter { $0.contains("signature.invalid") }.count == 1, "\(events)")
    }

    /// Many sign-ins at once on one loop, through `gathered` as the service calls it: each
    /// ceremony taken once, each counter moved once per value, every answer its own.
    @Test func signInsGatheredOnOneLoopEachGetTheirOwnAnswer() async throws {
        let nodes = try PostgresTests.TwoNodes()
        let keys: [[UInt8]] = (0..<10).map { [4, UInt8($0)] }
        for key in keys {
            try nodes.first.credentials.insert(nodes.credential(key, count: 0), event: AuditEvent(action: "registration", result: "accepted"), at: Date())
        }
        let (store, database) = try nodes.secondAwaited()
        let client = nodes.client.id
        let ceremonies = try (0..<40).map { _ in try nodes.openSignIn() }
        // Each ceremony finished twice at once; ceremony k signs with key k % 10 from its stored count.
        let outcomes = try await Self.onEventLoop {
            try await withThrowingTaskGroup(of: (Int, SignInWrite?).self) { group in
                for (index, ceremony) in Array(ceremonies.enumerated()) + Array(ceremonies.enumerated()) {
                    group.addTask {
                        let key = keys[index % keys.count]
                        let read = try await store.readForSignIn(ceremony, clientID: client, credential: key, rpID: "mie.example", at: Date(), on: database)
                        guard case .success(let records) = read, let stored = records.credential else { return (index, nil) }
                        #expect(records.ceremony.id == ceremony && stored.id == key)
                        let count = stored.signCount
                        let outcome = SignInOutcome.verified(credential: key, expected: count, new: count + 1, event: AuditEvent(action: "assertion", result: "verified"))
                        return (index, try await store.writeSignIn(ceremony, clientID: client, outcome, at: Date(), on: database))
                    }
                }
                return try await group.reduce(into: [Int: [SignInWrite?]]()) { $0[$1.0, default: []].append($1.1) }
            }
        }
        // Each ceremony was taken by exactly one of its two finishes.
        for index in ceremonies.indices {
            let pair = try #require(outcomes[index])
            #expect(pair.filter { if case .taken = $0 { true } else { false } }.count == 1, "\(index): \(pair)")
        }
        let moves = outcomes.values.joined().filter { $0 == .taken(moved: true) }.count
        let counts = try keys.map { try #require(try nodes.first.credentials.find(credential: $0)?.signCount) }
        #expect(Int(counts.reduce(0, +)) == moves)
        try nodes.first.audit.settle()
        #expect(try nodes.first.audit.verify().broken == nil)
        let events = try nodes.first.database.query("SELECT COUNT(*) FROM audit_events WHERE event LIKE '%\"action\":\"assertion\"%'") { $0.int(0) }
        #expect(events == [moves])
    }
}

extension PostgresAwaitedTests {
    /// Several sign-ins opened in one statement: each opened (or not) as it would be alone.
    @Test func severalSignInsOpenedInOneStatementEachOpenAsItsOwnWould() async throws {
        let nodes = try PostgresTests.TwoNodes()
        for id in [[8, 1], [8, 2]] as [[UInt8]] {
            try nodes.first.credentials.insert(nodes.credential(id, count: 0), event: AuditEvent(action: "registration", result: "accepted"), at: Date())
        }
        let client = nodes.client.id
        let longAgo = Int64(Date().timeIntervalSince1970) - 90_000
        _ = try nodes.first.database.run(
            "INSERT INTO ceremonies (id, kind, challenge, client_id, created_at, expires_at) VALUES ('old', 'assertion', ?, ?, ?, ?)",
            [.blob([1]), .int(client), .int(longAgo - 300), .int(longAgo)])
        let asked: [(String?, String)] = [("h", "mie.example"), ("h", "other.example"), ("nobody", "mie.example"), (nil, "mie.example"), ("h", "mie.example")]
        let items = asked.map { CredentialStore.signInOpening(holderID: $0.0, clientID: client, rpID: $0.1, lifetime: 300, at: Date()) }
        let (store, database) = try nodes.secondAwaited()
        let opened = try await Self.onEventLoop {
            try await database.autocommitted { statements throws(StoreError) in try await store.signInOpenings.run(items, in: statements) }
        }
        #expect(opened.map { $0?.allowed } == [[[8, 1], [8, 2]], nil, nil, [], [[8, 1], [8, 2]]])
        // The rows written are the ceremonies answered, as written: the two named and the discoverable one.
        let rows = try nodes.first.database.query("SELECT id, holder_id, rp_id, client_id, expires_at, challenge, kind FROM ceremonies ORDER BY id", []) {
            "\($0.text(0) ?? "") \($0.text(1) ?? "-") \($0.text(2) ?? "-") \($0.int64(3)) \($0.int64(4)) \($0.blob(5) ?? []) \($0.text(6) ?? "")"
        }
        let answered = opened.compactMap { $0?.ceremony }.sorted { $0.id < $1.id }.map {
            "\($0.id) \($0.holderID ?? "-") \($0.rpID ?? "-") \($0.clientID) \($0.expiresAt) \($0.challenge) assertion"
        }
        #expect(rows == answered && answered.count == 3)
        // Each is taken on the other node as it would be had it been opened alone.
        for ceremony in opened.compactMap({ $0?.ceremony }) {
            let taken = try nodes.first.credentials.takeForSignIn(ceremony.id, clientID: client, credential: [8, 1], rpID: "mie.example", at: Date())
            #expect(taken.isSuccess)
        }
    }
}
