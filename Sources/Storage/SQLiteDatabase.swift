internal import CSQLite
import Foundation
import WireFormat
import Synchronization

/// A failure of the store, with a stable code (`store.*`) for logs and problem documents.
package struct StoreError: CodedError, Sendable {
    /// Every way a store can fail, with its stable code (docs/failure-codes.md, tested).
    package enum Code: String, Sendable, CaseIterable {
        case open = "store.open"
        case unavailable = "store.unavailable"
        case serialization = "store.serialization"
        case sql = "store.sql"
        case constraint = "store.constraint"
        case corrupt = "store.corrupt"
        case schemaTooNew = "store.schema-too-new"
        case rollback = "store.rollback"
        case clientName = "store.client-name"
        case clientRoles = "store.client-roles"
        case clientExists = "store.client-exists"
        case deskClient = "store.desk-client"
        case credentialExists = "store.credential-exists"
        case operatorName = "store.operator-name"
        case operatorExists = "store.operator-exists"
        case operatorUnknown = "store.operator-unknown"
        case operatorNotStored = "store.operator"
        case auditHeadMalformed = "audit.head-malformed"
        case auditHeadWrite = "audit.head-write"
        case auditKeyMalformed = "audit.key-malformed"
        case auditKeyWrite = "audit.key-write"
        case auditSign = "audit.sign"
    }

    package let code: Code
    package let message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var stableCode: String { code.rawValue }
}

/// One SQLite database file through the system library: WAL, a busy timeout, foreign keys,
/// versioned migrations applied in transactions, and prepared statements kept per SQL text.
///
/// `synchronous = FULL`: every committed transaction (an import, later an enrolment and its
/// audit event) survives a power loss, not only a crashed process; reads are not slowed, and
/// writes here are rare next to verifications.
///
/// One connection, used by one caller at a time (a mutex around every use): SQLite serialises
/// writers anyway, and readers of the catalog work on in-memory snapshots.
///
/// **Group commit.** Transactions that arrive while another is running share one commit, so one
/// fsync makes many of them durable: each runs as a savepoint inside the group's transaction
/// (its failure rolls back only its own changes), and the last member, the one that finds
/// nobody waiting behind it, commits for all. `transaction` returns only once the commit that
/// holds its changes is durable; when that commit fails, every member of the group gets the
/// error (nothing of it was acknowledged). One caller alone commits at once, as before.
///
/// A read outside a transaction sees what the open group has written (one connection): the
/// writers it could learn of are acknowledged with that group or a later one, never before.
///
/// **The writer.** `write` queues work for the database's own writer thread instead of
/// blocking a thread per caller: the writer takes every queued write at once, runs each
/// transaction they make as a member of one group, commits it, and only then resumes their
/// callers. The group is as large as the queue, not the number of threads waiting, and a write
/// costs no thread hand-over of its own.
package final class SQLiteDatabase: SQLDatabase, QueuedWriting, @unchecked Sendable {
    // The handle, statement cache and group state are only touched while `lock` is held.
    private let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]
    private let lock = NSRecursiveLock()
    /// Transactions waiting for `lock`: while any is, the running one leaves the commit to them.
    private let arriving = Atomic<Int>(0)
    /// A group's transaction is open (`BEGIN IMMEDIATE` run, `COMMIT` not yet).
    private var groupOpen = false
    /// The open group's number, and how many transactions it holds.
    private var generation: UInt64 = 0
    private var members = 0
    /// Inside a transaction's body (the lock held by its thread): a transaction there joins it.
    private var bodyDepth = 0
    /// How many times the lock's holder holds it (it is recursive: a row handler may write).
    private var holds = 0
    /// The last group committed (or failed), and the groups whose commit failed; waited on by
    /// the members that did not commit themselves.
    private let commits = NSCondition()
    private var committed: UInt64 = 0
    private var failedGroups: [UInt64: StoreError] = [:]
    /// A group commits at this many members even when more are waiting (bounds a member's wait).
    package static let maximumGroup = 256
    /// The writer runs a batch (it holds the lock): each transaction is a member it commits.
    private var writing = false
    /// A member's savepoint could not be closed during the writer's batch: the group fails.
    private var batchBroken: StoreError?
    private let writes = WriteQueue()
    package let path: String
    package var location: String { path }
    package var filePath: String? { path }

    package typealias Migration = SQLMigration
    package typealias Value = SQLValue
    package typealias Row = SQLRow

    package init(path: String, migrations: [Migration]) throws(StoreError) {
        var opened: OpaquePointer? = nil
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &opened, flags, nil)
        guard status == SQLITE_OK, let opened else {
            let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let opened { sqlite3_close_v2(opened) }
            throw StoreError(.open, "cannot open \(path): \(message)")
        }
        self.handle = opened
        self.path = path
        sqlite3_busy_timeout(opened, 5000)
        try execute("PRAGMA journal_mode = WAL")
        try execute("PRAGMA synchronous = FULL")
        try execute("PRAGMA foreign_keys = ON")
        try migrate(migrations)
    }

    private func acquire() {
        lock.lock()
        holds += 1
    }

    private func release() {
        holds -= 1
        lock.unlock()
    }

    deinit {
        writes.close()
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    private func error(_ code: StoreError.Code, _ what: String) -> StoreError {
        StoreError(code, "\(what): \(String(cString: sqlite3_errmsg(handle)))")
    }

    /// Runs SQL without results (schema, pragmas).
    package func execute(_ sql: String) throws(StoreError) {
        acquire()
        defer { release() }
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw error(.sql, "executing SQL") }
    }

    /// Applies the migrations not applied yet, each in its own transaction.
    private func migrate(_ migrations: [Migration]) throws(StoreError) {
        try execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        let applied = Set(try query("SELECT version FROM schema_migrations") { row in row.int(0) })
        if let newest = applied.max(), let known = migrations.map(\.version).max(), newest > known {
            throw StoreError(.schemaTooNew, "\(path) was written by a newer version (schema \(newest), this one knows \(known))")
        }
        for migration in migrations.sorted(by: { $0.version < $1.version }) where !applied.contains(migration.version) {
            try transaction { () throws(StoreError) in
                try execute(migration.sql)
                try run("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", [.int(Int64(migration.version)), .text(Self.now())])
            }
        }
    }

    package static func now() -> String {
        Date().formatted(.iso8601)
    }

    /// Runs `body` in a transaction: its changes are durable when it returns (committed with
    /// those of the transactions running beside it, see the type), rolled back when it throws,
    /// so a failed import leaves nothing behind.
    package func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        arriving.wrappingAdd(1, ordering: .relaxed)
        acquire()
        arriving.wrappingSubtract(1, ordering: .relaxed)
        // Inside a transaction already (same connection, same thread: the lock is recursive and
        // held for the whole body): the body joins it.
        if bodyDepth > 0 {
            defer { release() }
            return try body()
        }
        // The writer's batch: a member of its group, committed (and acknowledged) by the writer.
        if writing {
            defer { release() }
            return try writerMember(body)
        }
        // Called while this thread holds the lock for something else (a row handler that
        // writes): it cannot wait for another member to commit, so it commits itself.
        let reentered = holds > 1
        let group: UInt64
        let outcome: Result<T, StoreError>
        do {
            group = try openGroup()
            members += 1
            try execute("SAVEPOINT member")
        } catch {
            // Members before this one may be waiting for the group's commit: it is made (or
            // failed) now, not left to a transaction that may never come.
            if groupOpen {
                members -= 1
                commitGroup(generation)
            }
            release()
            throw error
        }
        do {
            outcome = try memberBody(body)
        } catch {
            // The savepoint cannot be closed: the group cannot be trusted, none of it commits.
            endGroup(group, failure: error)
            release()
            throw error
        }
        if reentered || arriving.load(ordering: .relaxed) == 0 || members >= Self.maximumGroup {
            commitGroup(group)
            release()
        } else {
            // One of those waiting runs after this and commits (or leaves it to the next).
            release()
            if case .failure(let error) = outcome { throw error }
        }
        if let failure = awaitCommit(group) { throw failure }
        return try outcome.get()
    }

    /// Runs a member's body inside its savepoint (opened by the caller), then closes the
    /// savepoint: released, or rolled back first when the body threw. Returns the body's
    /// outcome; throws when the savepoint cannot be closed.
    private func memberBody<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> Result<T, StoreError> {
        bodyDepth += 1
        let outcome: Result<T, StoreError>
        do {
            outcome = .success(try body())
        } catch {
            outcome = .failure(error)
        }
        bodyDepth -= 1
        if case .failure = outcome { try execute("ROLLBACK TO member") }
        try execute("RELEASE member")
        return outcome
    }

    /// One transaction of the writer's batch, as a savepoint of the open group.
    private func writerMember<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        members += 1
        try execute("SAVEPOINT member")
        let outcome: Result<T, StoreError>
        do {
            outcome = try memberBody(body)
        } catch {
            // The savepoint cannot be closed: the writer fails the whole group.
            batchBroken = batchBroken ?? error
            throw error
        }
        return try outcome.get()
    }

    /// Runs `body` on the database's writer thread with the other writes queued beside it; every
    /// transaction it makes (a store call, a bare `run`) is a member of the writer's group, with
    /// its own savepoint, as it would be on any thread. `done` gets what `body` returned or threw
    /// once the group's commit is durable; when that commit fails, that failure.
    package func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T, done: @escaping @Sendable (Result<T, any Error>) -> Void) {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let job = WriteJob(
            run: {
                let result = Result { try body() }
                outcome.withLock { $0 = result }
            },
            finish: { failure in
                let result = outcome.withLock { $0 }
                switch (result, failure) {
                case (.success?, let failure?), (nil, let failure?):
                    done(.failure(StoreError(failure.code, "the transaction was not committed: \(failure.message)")))
                case (let result?, _): done(result)
                case (nil, nil): done(.failure(StoreError(.unavailable, "the write did not run")))
                }
            })
        if !writes.add(job, start: { [weak self] in self?.startWriter() }) {
            job.finish(StoreError(.unavailable, "the database is closed"))
        }
    }

    package var writer: (any QueuedWriting)? { self }

    /// Writes queued for the writer since the database was opened (tests).
    package var writesQueued: Int { writes.added }

    /// Groups committed or failed so far (tests, and what a write's cost is measured by).
    package var groupsEnded: UInt64 {
        commits.lock()
        defer { commits.unlock() }
        return committed
    }

    private func startWriter() {
        let queue = writes
        let thread = Thread { [weak self] in
            while let batch = queue.next(maximum: Self.maximumGroup) {
                guard let database = self else {
                    for job in batch { job.finish(StoreError(.unavailable, "the database is closed")) }
                    continue
                }
                database.runBatch(batch)
            }
        }
        thread.name = "mie-sqlite-writer"
        thread.start()
    }

    /// One batch: its jobs run in the open group (opened if none is), which is then committed
    /// for them and for the members before them; then each job's caller is resumed.
    private func runBatch(_ batch: [WriteJob]) {
        arriving.wrappingAdd(1, ordering: .relaxed)
        acquire()
        arriving.wrappingSubtract(1, ordering: .relaxed)
        let group: UInt64
        do {
            group = try openGroup()
        } catch {
            release()
            for job in batch { job.finish(error) }
            return
        }
        writing = true
        for job in batch where batchBroken == nil { job.run() }
        writing = false
        if let broken = batchBroken {
            batchBroken = nil
            endGroup(group, failure: broken)
        } else {
            commitGroup(group)
        }
        release()
        let failure = failedGroupError(group)
        for job in batch { job.finish(failure) }
    }

    private func failedGroupError(_ group: UInt64) -> StoreError? {
        commits.lock()
        defer { commits.unlock() }
        return failedGroups[group]
    }

    /// The open group's number, after opening one (`BEGIN IMMEDIATE`) if none is.
    private func openGroup() throws(StoreError) -> UInt64 {
        if !groupOpen {
            try execute("BEGIN IMMEDIATE")
            groupOpen = true
            generation &+= 1
            members = 0
        }
        return generation
    }

    /// Commits the open group for all its members.
    private func commitGroup(_ group: UInt64) {
        do {
            try execute("COMMIT")
            endGroup(group, failure: nil)
        } catch {
            endGroup(group, failure: error)
        }
    }

    /// Ends the open group: committed, or rolled back with `failure`; its members are woken.
    private func endGroup(_ group: UInt64, failure: StoreError?) {
        if failure != nil, sqlite3_get_autocommit(handle) == 0 { _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) }
        groupOpen = false
        commits.lock()
        committed = group
        if let failure {
            failedGroups[group] = failure
            failedGroups = failedGroups.filter { $0.key &+ 1024 > group }
        }
        commits.broadcast()
        commits.unlock()
    }

    /// Waits until `group` has ended; its failure, if its commit failed.
    private func awaitCommit(_ group: UInt64) -> StoreError? {
        commits.lock()
        defer { commits.unlock() }
        while committed < group { commits.wait() }
        return failedGroups[group].map { StoreError(.sql, "the transaction was not committed: \($0.message)") }
    }

    /// Runs a statement that returns no rows; returns the number of rows it changed.
    @discardableResult
    package func run(_ sql: String, _ parameters: [Value]) throws(StoreError) -> Int {
        acquire()
        // Outside a transaction, a write is one of its own: it would otherwise join an open
        // group and return before that group is durable. (The lock is let go first: a member
        // may wait for its group's commit, which needs the lock.)
        if bodyDepth == 0 {
            release()
            return try transaction { () throws(StoreError) in try run(sql, parameters) }
        }
        defer { release() }
        let statement = try prepared(sql, parameters)
        defer { sqlite3_reset(statement) }
        let status = sqlite3_step(statement)
        guard status == SQLITE_DONE || status == SQLITE_ROW else {
            throw error(status == SQLITE_CONSTRAINT ? .constraint : .sql, "running \(sql.prefix(60))")
        }
        return Int(sqlite3_changes(handle))
    }

    /// Runs a query and maps each row.
    package func query<T>(_ sql: String, _ parameters: [Value], _ map: (Row) throws(StoreError) -> T) throws(StoreError) -> [T] {
        acquire()
        // A write with RETURNING, outside a transaction: one of its own, as in `run`.
        if bodyDepth == 0, !Self.isRead(sql) {
            release()
            return try transaction { () throws(StoreError) in try query(sql, parameters, map) }
        }
        defer { release() }
        let statement = try prepared(sql, parameters)
        defer { sqlite3_reset(statement) }
        var rows: [T] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { throw error(.sql, "querying \(sql.prefix(60))") }
            rows.append(try map(Row(statement: statement)))
        }
        return rows
    }

    /// Runs a query and hands each row to `body` as it is read (nothing collected).
    package func forEach(_ sql: String, _ parameters: [Value], _ body: (Row) throws(StoreError) -> Void) throws(StoreError) {
        acquire()
        defer { release() }
        let statement = try prepared(sql, parameters)
        defer { sqlite3_reset(statement) }
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { throw error(.sql, "querying \(sql.prefix(60))") }
            try body(Row(statement: statement))
        }
    }

    /// A statement that only reads (SELECT, or a pragma or WITH query that reads).
    private static func isRead(_ sql: String) -> Bool {
        let head = sql.utf8.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 }.prefix(6)
        let word = String(decoding: head, as: UTF8.self).uppercased()
        return word.hasPrefix("SELECT") || word.hasPrefix("WITH") || word.hasPrefix("PRAGMA")
    }

    private func prepared(_ sql: String, _ parameters: [Value]) throws(StoreError) -> OpaquePointer {
        let statement: OpaquePointer
        if let cached = statements[sql] {
            statement = cached
            sqlite3_clear_bindings(statement)
        } else {
            var made: OpaquePointer? = nil
            guard sqlite3_prepare_v2(handle, sql, -1, &made, nil) == SQLITE_OK, let made else {
                throw error(.sql, "preparing \(sql.prefix(60))")
            }
            statements[sql] = made
            statement = made
        }
        for (offset, parameter) in parameters.enumerated() {
            let index = Int32(truncatingIfNeeded: offset + 1)
            let status: Int32
            switch parameter {
            case .int(let value): status = sqlite3_bind_int64(statement, index, value)
            case .text(let value): status = sqlite3_bind_text(statement, index, value, -1, mie_sqlite_transient())
            case .blob(let value):
                status = value.withUnsafeBytes { sqlite3_bind_blob64(statement, index, $0.baseAddress, sqlite3_uint64($0.count), mie_sqlite_transient()) }
            case .null: status = sqlite3_bind_null(statement, index)
            case .array: throw error(.sql, "binding parameter \(offset + 1): SQLite has no array parameters")
            }
            guard status == SQLITE_OK else { throw error(.sql, "binding parameter \(offset + 1)") }
        }
        return statement
    }

    // Column readers for `SQLRow`.
    static func int64(_ statement: OpaquePointer, _ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    static func text(_ statement: OpaquePointer, _ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: bytes)
    }

    static func blob(_ statement: OpaquePointer, _ column: Int32) -> [UInt8]? {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard let pointer = sqlite3_column_blob(statement, column) else {
            return count == 0 && !isNull(statement, column) ? [] : nil
        }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    static func isNull(_ statement: OpaquePointer, _ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }
}

/// A write queued for the writer: `run` does its work (under the database's lock), `finish`
/// resumes its caller with the group's commit failure, if any.
final class WriteJob: Sendable {
    let run: @Sendable () -> Void
    let finish: @Sendable (StoreError?) -> Void

    init(run: @escaping @Sendable () -> Void, finish: @escaping @Sendable (StoreError?) -> Void) {
        self.run = run
        self.finish = finish
    }
}

/// The writer's queue: callers add, the writer thread takes everything queued at once.
final class WriteQueue: @unchecked Sendable {
    // `jobs`, `started` and `closed` are only touched while `condition` is locked.
    private let condition = NSCondition()
    private var jobs: [WriteJob] = []
    private var started = false
    private var closed = false
    private var total = 0

    /// Queues a job, starting the writer with the first; false once the queue is closed.
    func add(_ job: WriteJob, start: () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed else { return false }
        jobs.append(job)
        total += 1
        if !started {
            started = true
            start()
        }
        condition.signal()
        return true
    }

    /// The jobs queued (at most `maximum`), waiting for one; nil once closed and empty.
    func next(maximum: Int) -> [WriteJob]? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty {
            if closed { return nil }
            condition.wait()
        }
        let batch = Array(jobs.prefix(maximum))
        jobs.removeFirst(batch.count)
        return batch
    }

    /// How many jobs were ever added.
    var added: Int {
        condition.lock()
        defer { condition.unlock() }
        return total
    }

    /// No more jobs: the writer runs those queued, then ends.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
