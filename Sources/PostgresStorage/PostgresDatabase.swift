import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Storage
import Synchronization

/// The stores' SQL on a PostgreSQL server that several `serve` nodes share, through postgres-nio.
///
/// The store protocols are synchronous (SQLite's calls block on the disk); here a call blocks
/// its thread on postgres-nio's future until the server answers or `timeout` passes. The service
/// makes these calls from its blocking-I/O pool, never from an event loop (checked: a call from
/// an event loop fails instead of deadlocking it).
///
/// - Connections: at most `poolSize`, opened when needed, dropped on any connection error and
///   opened again by the next request, so a restarted server is found again without a restart.
/// - A transaction holds one connection, bound to the calling thread: every call the body makes
///   joins it. READ COMMITTED, as PostgreSQL's default: the stores' state changes are single-row
///   compare-and-sets (a ceremony taken, a counter moved, a code spent), decided by the rows
///   they changed; the audit chain's end is read by the update that locks it (`AuditLog`).
///   A transaction that fails on a serialisation failure or a deadlock is run again (twice).
/// - Migrations run once even when nodes start together (a session advisory lock), and a node
///   refuses a schema newer than it knows.
package final class PostgresDatabase: SQLDatabase, Sendable {
    package let configuration: PostgresConfiguration
    let logger: Logger
    let eventLoops: any EventLoopGroup
    private let tlsContext: NIOSSLContext?
    /// Idle connections, how many are open in all, and how many callers wait for one.
    private let pool = Mutex<(idle: [PostgresConnection], open: Int, waiting: Int)>(([], 0, 0))
    /// Signalled when a connection goes back to the pool or is dropped while someone waits (a
    /// signal given before its waiter sleeps is kept by the semaphore, never lost).
    private let returned = DispatchSemaphore(value: 0)
    /// The connection of the transaction each thread is in.
    private let bound = Mutex<[UInt: PostgresConnection]>([:])
    /// `?` placeholders rewritten as `$n`, per SQL text.
    private let rewritten = Mutex<[String: String]>([:])
    private let connectionIDs = Atomic<Int>(0)
    /// The connections of each event loop for awaited transactions (`AwaitedSQLDatabase`).
    let loopConnections = Mutex<[ObjectIdentifier: LoopConnections]>([:])
    /// The loops of `eventLoops`: only they have connections for awaited transactions.
    let ownLoops: Set<ObjectIdentifier>

    package var location: String { configuration.location }
    package var filePath: String? { nil }
    package var dialect: SQLDialect { .postgres }

    /// The lock key migrations are serialised by (any constant the product owns).
    static let migrationLock: Int64 = 0x4D49_4556_0001
    /// How long a node waits for another's migration, and a migration statement may run.
    static let migrationTimeout: TimeInterval = 600

    package init(
        _ configuration: PostgresConfiguration, migrations: [SQLMigration], logger: Logger,
        eventLoops: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws(StoreError) {
        self.configuration = configuration
        self.logger = logger
        self.eventLoops = eventLoops
        ownLoops = Set(eventLoops.makeIterator().map { ObjectIdentifier($0) })
        switch configuration.tls {
        case .disable: tlsContext = nil
        case .require, .verifyFull:
            var tls = TLSConfiguration.makeClientConfiguration()
            if configuration.tls == .require {
                tls.certificateVerification = .none
            } else if let root = configuration.rootCertificate {
                tls.trustRoots = .file(root)
            }
            do {
                tlsContext = try NIOSSLContext(configuration: tls)
            } catch {
                throw StoreError(.open, "TLS to \(configuration.location): \(error)")
            }
        }
        // No migrations: a connection for administration (tools, tests), the schema untouched.
        if !migrations.isEmpty { try migrate(migrations) }
    }

    deinit {
        for connection in pool.withLock({ $0.idle }) { Self.drop(connection) }
        for connections in loopConnections.withLock({ $0.values }) { connections.close() }
    }

    // MARK: Connections

    /// Closes a connection without waiting (it stays alive until it is closed).
    static func drop(_ connection: PostgresConnection) {
        let closed: EventLoopFuture<Void> = connection.close()
        closed.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    private static var thread: UInt { UInt(bitPattern: Int(bitPattern: pthread_self())) }

    /// A new connection on `loop`, its statement timeout set (server-side bound too: a
    /// statement stuck on a lock ends there).
    func connecting(on loop: any EventLoop) -> EventLoopFuture<PostgresConnection> {
        var options = PostgresConnection.Configuration.Options()
        options.connectTimeout = .milliseconds(Int64(configuration.timeout * 1000))
        let tls: PostgresConnection.Configuration.TLS = tlsContext.map { .require($0) } ?? .disable
        var settings = PostgresConnection.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.user, password: configuration.password,
            database: configuration.database, tls: tls)
        // The server's name is checked against a DNS host name (postgres-nio sends it for SNI);
        // with an IP address only the chain is checked: name the database by its DNS name.
        settings.options = options
        let id = connectionIDs.wrappingAdd(1, ordering: .relaxed).newValue
        let bound = PostgresQuery(unsafeSQL: "SET statement_timeout = \(Int(configuration.timeout * 1000))")
        let logger = logger
        return PostgresConnection.connect(on: loop, configuration: settings, id: id, logger: logger).flatMap { connection in
            connection.query(bound, logger: logger).map { _ in connection }.flatMapErrorThrowing { error in
                Self.drop(connection)
                throw error
            }
        }
    }

    private func connect() throws(StoreError) -> PostgresConnection {
        let connecting = connecting(on: eventLoops.next())
        return try Self.answer(of: connecting, within: configuration.timeout + 0.5, doing: "connecting to \(configuration.location)") {
            // A connection that comes up after all is closed, not left open and unused.
            connecting.whenSuccess { Self.drop($0) }
        }
    }

    /// Waits for `future` at most `limit` seconds; past it `expired` runs and the call fails
    /// with `store.unavailable`. The bound does not rely on postgres-nio failing the future when
    /// its connection closes: it can leave a query's future pending for good when the server
    /// ends the connection under it (seen on a COMMIT during a fast shutdown: the request hung
    /// with its thread, though the connection had been closed at the deadline).
    package static func answer<T: Sendable>(
        of future: EventLoopFuture<T>, within limit: TimeInterval, doing what: @autoclosure () -> String,
        expired: () -> Void
    ) throws(StoreError) -> T {
        let outcome = Outcome<T>()
        future.whenComplete { result in outcome.settle(result) }
        guard outcome.done.wait(timeout: .now() + limit) == .success, let result = outcome.result else {
            expired()
            throw StoreError(.unavailable, "\(what()): no answer within \(limit) s")
        }
        do {
            return try result.get()
        } catch {
            throw storeError(error, doing: what())
        }
    }

    /// A future's result, handed from the event loop to the thread that waits for it.
    private final class Outcome<T: Sendable>: Sendable {
        private let value = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)

        func settle(_ result: Result<T, any Error>) {
            value.withLock { $0 = result }
            done.signal()
        }

        var result: Result<T, any Error>? { value.withLock { $0 } }
    }

    /// A connection for one statement or transaction: an idle one, a new one under `poolSize`,
    /// or the next one returned within `timeout`.
    private func checkOut() throws(StoreError) -> PostgresConnection {
        guard MultiThreadedEventLoopGroup.currentEventLoop == nil else {
            throw StoreError(.sql, "a PostgreSQL call from an event loop (it would block it): run it on the I/O pool")
        }
        let deadline = DispatchTime.now() + configuration.timeout
        while true {
            enum Next { case use(PostgresConnection), open, wait }
            let next: Next = pool.withLock { pool in
                while let connection = pool.idle.popLast() {
                    if !connection.isClosed { return .use(connection) }
                    pool.open -= 1
                }
                if pool.open < configuration.poolSize {
                    pool.open += 1
                    return .open
                }
                pool.waiting += 1
                return .wait
            }
            switch next {
            case .use(let connection): return connection
            case .open:
                do {
                    return try connect()
                } catch {
                    pool.withLock { $0.open -= 1 }
                    wakeOne()
                    throw error
                }
            case .wait:
                let outcome = returned.wait(timeout: deadline)
                pool.withLock { $0.waiting -= 1 }
                if outcome == .timedOut {
                    throw StoreError(.unavailable, "no connection to \(configuration.location) came free within \(configuration.timeout) s")
                }
            }
        }
    }

    /// Back to the pool; a connection that failed (or whose transaction state is unknown) is
    /// closed instead.
    private func checkIn(_ connection: PostgresConnection, healthy: Bool) {
        let keep = healthy && !connection.isClosed
        if !keep { Self.drop(connection) }
        let someoneWaits = pool.withLock { pool in
            if keep { pool.idle.append(connection) } else { pool.open -= 1 }
            return pool.waiting > 0
        }
        if someoneWaits { returned.signal() }
    }

    /// A slot given back without a connection (a connection attempt that failed).
    private func wakeOne() {
        if pool.withLock({ $0.waiting > 0 }) { returned.signal() }
    }

    /// Runs `body` on the calling thread's transaction connection, or on one checked out for it.
    private func withConnection<T>(_ body: (PostgresConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        if let connection = bound.withLock({ $0[Self.thread] }) { return try body(connection) }
        let connection = try checkOut()
        do {
            let value = try body(connection)
            checkIn(connection, healthy: true)
            return value
        } catch {
            checkIn(connection, healthy: !error.isConnectionFailure)
            throw error
        }
    }

    // MARK: Statements

    /// `?` placeholders as PostgreSQL's `$1, $2…` (outside quoted text).
    package static func numberPlaceholders(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var n = 0
        var quoted = false
        for character in sql {
            if character == "'" { quoted.toggle() }
            if character == "?" && !quoted {
                n += 1
                out += "$\(n)"
            } else {
                out.append(character)
            }
        }
        return out
    }

    func statement(_ sql: String, _ parameters: [SQLValue]) -> PostgresQuery {
        let text: String
        if let known = rewritten.withLock({ $0[sql] }) {
            text = known
        } else {
            text = Self.numberPlaceholders(sql)
            rewritten.withLock { $0[sql] = text }
        }
        return PostgresQuery(unsafeSQL: text, binds: Self.bindings(parameters))
    }

    /// Prepared statements' texts with `$n` placeholders, by name.
    private static let prepared = Mutex<[String: String]>([:])

    /// A prepared statement's text with `$n` placeholders (rewritten once per name).
    static func numbered(_ name: String, _ sql: @autoclosure () -> String) -> String {
        if let known = prepared.withLock({ $0[name] }) { return known }
        let text = numberPlaceholders(sql())
        prepared.withLock { $0[name] = text }
        return text
    }

    static func bindings(_ parameters: [SQLValue]) -> PostgresBindings {
        var binds = PostgresBindings(capacity: parameters.count)
        for parameter in parameters {
            switch parameter {
            case .int(let value): binds.append(value)
            case .text(let value): binds.append(value)
            case .blob(let bytes): binds.append(ByteBuffer(bytes: bytes))
            case .null: binds.appendNull()
            case .array(.ints(let values)): binds.append(values)
            case .array(.texts(let values)): binds.append(values)
            case .array(.blobs(let values)): binds.append(values.map { ByteBuffer(bytes: $0) })
            }
        }
        return binds
    }

    /// Runs one statement and waits for it, at most `timeout` and half a second (past it the
    /// connection is closed and the statement fails: its connection is dropped).
    private func perform(
        _ sql: String, _ parameters: [SQLValue], on connection: PostgresConnection, within limit: TimeInterval? = nil
    ) throws(StoreError) -> PostgresQueryResult {
        let running = connection.query(statement(sql, parameters), logger: logger)
        return try Self.answer(of: running, within: (limit ?? configuration.timeout) + 0.5, doing: "running \(sql.prefix(60))") {
            Self.drop(connection)
        }
    }

    static func values(_ row: PostgresRow) throws(StoreError) -> [SQLValue] {
        var values: [SQLValue] = []
        values.reserveCapacity(8)
        for cell in row {
            guard cell.bytes != nil else {
                values.append(.null)
                continue
            }
            do {
                switch cell.dataType {
                case .int2, .int4, .int8: values.append(.int(try cell.decode(Int64.self)))
                case .bool: values.append(.int(try cell.decode(Bool.self) ? 1 : 0))
                case .bytea: values.append(.blob(Array(buffer: try cell.decode(ByteBuffer.self))))
                default: values.append(.text(try cell.decode(String.self)))
                }
            } catch {
                throw StoreError(.corrupt, "column \(cell.columnName) of type \(cell.dataType) could not be read: \(error)")
            }
        }
        return values
    }

    package func run(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> Int {
        try withConnection { connection throws(StoreError) in
            try perform(sql, parameters, on: connection).metadata.rows ?? 0
        }
    }

    package func query<T>(_ sql: String, _ parameters: [SQLValue], _ map: (SQLRow) throws(StoreError) -> T) throws(StoreError) -> [T] {
        let rows = try withConnection { connection throws(StoreError) in try perform(sql, parameters, on: connection).rows }
        var mapped: [T] = []
        mapped.reserveCapacity(rows.count)
        for row in rows { mapped.append(try map(SQLRow(values: try Self.values(row)))) }
        return mapped
    }

    package func forEach(_ sql: String, _ parameters: [SQLValue], _ body: (SQLRow) throws(StoreError) -> Void) throws(StoreError) {
        let rows = try withConnection { connection throws(StoreError) in try perform(sql, parameters, on: connection).rows }
        for row in rows { try body(SQLRow(values: try Self.values(row))) }
    }

    package func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        // Inside a transaction already (same thread): the body joins it.
        if bound.withLock({ $0[Self.thread] }) != nil { return try body() }
        var attempt = 0
        while true {
            attempt += 1
            let connection = try checkOut()
            bound.withLock { $0[Self.thread] = connection }
            do throws(StoreError) {
                // BEGIN is queued on the connection and not waited for: postgres-nio runs a
                // connection's statements in order, so the body's first statement follows it
                // without this thread waking in between (one wake and one event-loop hop fewer
                // per transaction). Its answer is checked before the commit (a BEGIN that failed
                // failed on a broken connection, where the body's statements fail too); a body
                // that fails is rolled back below without waiting for it.
                let begun = connection.query(PostgresQuery(unsafeSQL: "BEGIN"), logger: logger)
                let value = try body()
                _ = try Self.answer(of: begun, within: configuration.timeout + 0.5, doing: "BEGIN") { Self.drop(connection) }
                _ = try perform("COMMIT", [], on: connection)
                bound.withLock { $0[Self.thread] = nil }
                checkIn(connection, healthy: true)
                return value
            } catch {
                bound.withLock { $0[Self.thread] = nil }
                // A commit whose answer was lost may have been applied: the caller sees a failure
                // (503) and its retry meets the single-use rules (a replayed challenge, a taken code).
                var healthy = !error.isConnectionFailure
                if healthy { healthy = (try? perform("ROLLBACK", [], on: connection)) != nil }
                checkIn(connection, healthy: healthy)
                if error.isRetryable && attempt < 3 { continue }
                throw error
            }
        }
    }

    // MARK: Migrations

    /// Applies the migrations not applied yet, under a session advisory lock held on one
    /// connection: the first node to start migrates, the others wait and find nothing to do.
    private func migrate(_ migrations: [SQLMigration]) throws(StoreError) {
        let connection = try checkOut()
        bound.withLock { $0[Self.thread] = connection }
        defer { bound.withLock { $0[Self.thread] = nil } }
        do throws(StoreError) {
            // Waiting for another node's migration, and a migration itself, may take longer than
            // a request's statement: up to `migrationTimeout`, then the usual timeout again.
            let limit = Self.migrationTimeout
            _ = try perform("SET statement_timeout = \(Int(limit * 1000))", [], on: connection)
            _ = try perform("SELECT pg_advisory_lock(?)", [.int(Self.migrationLock)], on: connection, within: limit)
            defer {
                _ = try? perform("SELECT pg_advisory_unlock(?)", [.int(Self.migrationLock)], on: connection)
                _ = try? perform("SET statement_timeout = \(Int(configuration.timeout * 1000))", [], on: connection)
            }
            _ = try perform("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)", [], on: connection)
            var applied = Set<Int>()
            for row in try perform("SELECT version FROM schema_migrations", [], on: connection).rows {
                applied.insert(SQLRow(values: try Self.values(row)).int(0))
            }
            let known = migrations.map(\.version).max() ?? 0
            if let newest = applied.max(), newest > known {
                throw StoreError(.schemaTooNew, "\(location) was written by a newer version (schema \(newest), this one knows \(known))")
            }
            for migration in migrations.sorted(by: { $0.version < $1.version }) where !applied.contains(migration.version) {
                _ = try perform("BEGIN", [], on: connection)
                do {
                    for statement in Self.statements(migration.sql) { _ = try perform(statement, [], on: connection, within: limit) }
                    _ = try perform(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                        [.int(Int64(migration.version)), .text(Date().formatted(.iso8601))], on: connection)
                    _ = try perform("COMMIT", [], on: connection)
                } catch {
                    _ = try? perform("ROLLBACK", [], on: connection)
                    throw error
                }
                logger.notice("\(location): schema migrated to version \(migration.version)")
            }
            checkIn(connection, healthy: true)
        } catch {
            checkIn(connection, healthy: false)
            throw error
        }
    }

    /// A migration's statements one by one (the extended protocol takes one at a time); the
    /// schema's SQL has no `;` inside a statement.
    package static func statements(_ sql: String) -> [String] {
        sql.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    // MARK: Errors

    /// PostgreSQL's failures as the stores' codes: a constraint (SQLSTATE class 23), a schema or
    /// statement error, or the database being out of reach (`store.unavailable`).
    static func storeError(_ error: any Error, doing what: String) -> StoreError {
        if let error = error as? StoreError { return error }
        guard let error = error as? PSQLError else { return StoreError(.unavailable, "\(what): \(error)") }
        if error.code == .server, let state = error.serverInfo?[.sqlState] {
            let message = error.serverInfo?[.message] ?? ""
            if state.hasPrefix("23") { return StoreError(.constraint, "\(what): \(message) (SQLSTATE \(state))") }
            if state == "40001" || state == "40P01" { return StoreError(.serialization, "\(what): \(message) (SQLSTATE \(state))") }
            // Shutting down, out of connections, statement timeout, cannot connect now.
            if state.hasPrefix("57") || state.hasPrefix("08") || state.hasPrefix("53") {
                return StoreError(.unavailable, "\(what): \(message) (SQLSTATE \(state))")
            }
            return StoreError(.sql, "\(what): \(message) (SQLSTATE \(state))")
        }
        return StoreError(.unavailable, "\(what): \(error.code)")
    }
}

extension StoreError {
    /// The connection is gone or in an unknown state: dropped rather than reused.
    var isConnectionFailure: Bool { code == .unavailable }
    /// A serialisation failure or deadlock: the transaction can run again.
    var isRetryable: Bool { code == .serialization }
}
