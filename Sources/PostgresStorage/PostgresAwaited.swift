import NIOCore
import NIOPosix
import PostgresNIO
import Storage

/// Transactions awaited on the caller's event loop: its own connections, opened on that loop
/// (`poolSize` of them in all, shared out among the database's event loops),
/// so a statement is written and its answer read on the thread the request arrived on, and the
/// task (on `EventLoopTaskExecutor`) resumes there. The blocking calls keep their pool.
///
/// Measured (Benchmarks/nodes_load.py, profile of a node under sign-ins): with a pool thread
/// blocked per statement, half of the node's CPU was the scheduler, sleeping and waking those
/// threads and the loops that answered them.
extension PostgresDatabase: AwaitedSQLDatabase {
    package func transaction<T: Sendable>(
        _ body: (any AwaitedSQLTransaction) async throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        try await awaited(inTransaction: true, body)
    }

    package func autocommitted<T: Sendable>(
        _ body: (any AwaitedSQLTransaction) async throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        try await awaited(inTransaction: false, body)
    }

    package func gathered<Batch: AwaitedBatch>(_ item: Batch.Item, into batch: Batch) async throws(StoreError) -> Batch.Answer {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop, ownLoops.contains(ObjectIdentifier(loop)) else {
            return try await alone(item, batch)
        }
        let connections = connections(of: loop)
        let gathering = connections.gathering(Batch.self)
        let promise = loop.makePromise(of: Batch.Answer.self)
        gathering.waiting.append((item, promise))
        if gathering.running == 0 { startGathered(gathering, batch, on: connections) }
        do {
            return try await promise.futureResult.get()
        } catch {
            throw Self.storeError(error, doing: "running a batch of \(Batch.self)")
        }
    }

    /// One item run on its own, autocommitted.
    private func alone<Batch: AwaitedBatch>(_ item: Batch.Item, _ batch: Batch) async throws(StoreError) -> Batch.Answer {
        try await autocommitted { statements throws(StoreError) in
            let answers = try await batch.run([item], in: statements)
            guard answers.count == 1 else { throw StoreError(.sql, "\(Batch.self) gave \(answers.count) answers for one item") }
            return answers[0]
        }
    }

    /// A run of what waits in `gathering`, on the loop. One run at a time takes the items (more
    /// only past `Batch.limit`): those that come while it runs wait for the next, which starts
    /// as it ends. So the busier the loop, the more items one statement carries (group commit),
    /// and an item alone waits for nothing but its statement.
    private func startGathered<Batch: AwaitedBatch>(_ gathering: Gathering<Batch>, _ batch: Batch, on connections: LoopConnections) {
        gathering.running += 1
        Task(executorPreference: connections.executor) {
            await self.runGathered(gathering, batch, on: connections)
            gathering.running -= 1
            if gathering.running == 0, !gathering.waiting.isEmpty { self.startGathered(gathering, batch, on: connections) }
        }
    }

    /// The items waiting once a connection is free, run together; each promise is completed,
    /// whatever happens.
    private func runGathered<Batch: AwaitedBatch>(_ gathering: Gathering<Batch>, _ batch: Batch, on connections: LoopConnections) async {
        var items: [(item: Batch.Item, promise: EventLoopPromise<Batch.Answer>)] = []
        do throws(StoreError) {
            let answers = try await awaited(on: connections, inTransaction: false) { statements throws(StoreError) in
                if items.isEmpty {
                    items = gathering.take(Batch.limit)
                    if !gathering.waiting.isEmpty { startGathered(gathering, batch, on: connections) }
                }
                return try await batch.run(items.map(\.item), in: statements)
            }
            guard answers.count == items.count else { throw StoreError(.sql, "\(Batch.self) gave \(answers.count) answers for \(items.count) items") }
            for (waiting, answer) in zip(items, answers) { waiting.promise.succeed(answer) }
        } catch {
            // No connection came: those waiting fail with it. A batch that failed on its
            // connection (its commit perhaps applied) fails them all, as one statement would.
            if items.isEmpty { items = gathering.take(.max) }
            guard items.count > 1, !error.isConnectionFailure else {
                for waiting in items { waiting.promise.fail(error) }
                return
            }
            for waiting in items {
                do throws(StoreError) {
                    waiting.promise.succeed(try await alone(waiting.item, batch))
                } catch {
                    waiting.promise.fail(error)
                }
            }
        }
    }

    private func awaited<T: Sendable>(
        inTransaction: Bool, _ body: (any AwaitedSQLTransaction) async throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        try await awaited(on: connections(of: MultiThreadedEventLoopGroup.currentEventLoop), inTransaction: inTransaction, body)
    }

    private func awaited<T: Sendable>(
        on connections: LoopConnections, inTransaction: Bool, _ body: (any AwaitedSQLTransaction) async throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        var attempt = 0
        while true {
            attempt += 1
            let connection = try await settled(on: connections.loop, doing: "waiting for a connection to \(location)") { connections.checkOut().cascade(to: $0) }
            let transaction = AwaitedTransaction(self, connection, executor: connections.executor, inTransaction: inTransaction)
            do throws(StoreError) {
                let value = try await body(transaction)
                try await transaction.commit()
                connections.checkIn(connection, healthy: true)
                return value
            } catch {
                // A commit whose answer was lost may have been applied: the caller sees a failure
                // (503) and its retry meets the single-use rules, as with the blocking calls.
                var healthy = !error.isConnectionFailure
                if healthy, inTransaction { healthy = (try? await transaction.run("ROLLBACK", [])) != nil }
                connections.checkIn(connection, healthy: healthy)
                if error.isRetryable && attempt < 3 { continue }
                throw error
            }
        }
    }

    /// Each loop's share of the `poolSize` connections for awaited transactions (at least one).
    private var awaitedPerLoop: Int { max(1, configuration.poolSize / max(1, ownLoops.count)) }

    /// The loop's connections, made on first use. Only the database's own loops have them (the
    /// service's, by default): a caller on another loop, or on none, uses the next of them, so
    /// the connections stay `poolSize` in all.
    private func connections(of current: (any EventLoop)?) -> LoopConnections {
        let loop = current.flatMap { ownLoops.contains(ObjectIdentifier($0)) ? $0 : nil } ?? eventLoops.next()
        return loopConnections.withLock { known in
            if let connections = known[ObjectIdentifier(loop)] { return connections }
            let connections = LoopConnections(loop: loop, limit: awaitedPerLoop, timeout: configuration.timeout + 0.5) { [weak self] in
                self?.connecting(on: loop) ?? loop.makeFailedFuture(StoreError(.unavailable, "the database was closed"))
            }
            known[ObjectIdentifier(loop)] = connections
            return connections
        }
    }

    /// What `start` completes its promise with, awaited at most `timeout` and half a second. Past
    /// it `expired` runs and the call fails with `store.unavailable`; the bound does not rely on
    /// postgres-nio failing a future when its connection closes (see `answer(of:within:)`).
    func settled<T: Sendable>(
        on loop: any EventLoop, doing what: @autoclosure () -> String, expired: @escaping @Sendable () -> Void = {},
        _ start: (EventLoopPromise<T>) -> Void
    ) async throws(StoreError) -> T {
        let limit = configuration.timeout + 0.5
        let promise = loop.makePromise(of: T.self)
        let timer = loop.scheduleTask(in: .nanoseconds(Int64(limit * 1_000_000_000))) {
            promise.fail(StoreError(.unavailable, "no answer within \(limit) s"))
            expired()
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        start(promise)
        do {
            return try await promise.futureResult.get()
        } catch {
            throw Self.storeError(error, doing: what())
        }
    }
}

/// One awaited transaction's statements on its connection (BEGIN was sent first and not waited
/// for: postgres-nio runs a connection's statements in order; its answer is checked before the
/// commit), or statements that each commit on their own (no BEGIN, no COMMIT).
final class AwaitedTransaction: AwaitedSQLTransaction {
    private let database: PostgresDatabase
    private let connection: PostgresConnection
    private let executor: LoopExecutor
    private let begun: EventLoopFuture<PostgresQueryResult>?

    init(_ database: PostgresDatabase, _ connection: PostgresConnection, executor: LoopExecutor, inTransaction: Bool) {
        self.database = database
        self.connection = connection
        self.executor = executor
        begun = inTransaction ? connection.query(PostgresQuery(unsafeSQL: "BEGIN"), logger: database.logger) : nil
    }

    /// What `start` completes its promise with; past the timeout the connection is closed.
    private func answer<T: Sendable>(_ sql: String, _ start: (EventLoopPromise<T>) -> Void) async throws(StoreError) -> T {
        let connection = connection
        return try await database.settled(on: connection.eventLoop, doing: "running \(sql.prefix(60))", expired: { PostgresDatabase.drop(connection) }, start)
    }

    /// `future`'s value; past the timeout the connection is closed.
    private func answer<T: Sendable>(_ future: EventLoopFuture<T>, _ sql: String) async throws(StoreError) -> T {
        try await answer(sql) { future.cascade(to: $0) }
    }

    private func send(_ sql: String, _ parameters: [SQLValue]) async throws(StoreError) -> PostgresQueryResult {
        try await answer(connection.query(database.statement(sql, parameters), logger: database.logger), sql)
    }

    func rows(_ sql: String, _ parameters: [SQLValue]) async throws(StoreError) -> [SQLRow] {
        try Self.decoded(try await send(sql, parameters).rows)
    }

    func run(_ sql: String, _ parameters: [SQLValue]) async throws(StoreError) -> Int {
        try await send(sql, parameters).metadata.rows ?? 0
    }

    func rows<Statement: PreparedSQL>(_ statement: Statement.Type, _ parameters: [SQLValue]) async throws(StoreError) -> [SQLRow] {
        let prepared = PreparedRows<Statement>(bindings: PostgresDatabase.bindings(parameters))
        let (connection, logger) = (connection, database.logger)
        return try Self.decoded(
            try await bounded(Statement.name) {
                var rows: [PostgresRow] = []
                for try await row in try await connection.execute(prepared, logger: logger) { rows.append(row) }
                return rows
            })
    }

    /// The transaction's COMMIT, once BEGIN's answer is known to be good (nothing when each
    /// statement committed on its own).
    func commit() async throws(StoreError) {
        guard let begun else { return }
        _ = try await answer(begun, "BEGIN")
        _ = try await send("COMMIT", [])
    }

    /// `work` (postgres-nio's prepared statements are async only) bounded by the timeout as
    /// the other statements are: it runs as a task of the connection's loop, and its answer is
    /// awaited through the timed promise.
    private func bounded<T: Sendable>(_ what: String, _ work: @escaping @Sendable () async throws -> T) async throws(StoreError) -> T {
        try await answer(what) { promise in
            Task(executorPreference: executor) {
                do {
                    promise.succeed(try await work())
                } catch {
                    promise.fail(error)
                }
            }
        }
    }

    private static func decoded(_ rows: some Collection<PostgresRow>) throws(StoreError) -> [SQLRow] {
        var decoded: [SQLRow] = []
        decoded.reserveCapacity(rows.count)
        for row in rows { decoded.append(SQLRow(values: try PostgresDatabase.values(row))) }
        return decoded
    }
}

/// A `PreparedSQL` as postgres-nio prepares it (once per connection, under its name): its rows.
/// (Its command-tag variant is not used: in the postgres-nio this builds with, it asks for the
/// tag before the rows are read, and traps when the answer comes in two reads.)
struct PreparedRows<Text: PreparedSQL>: PostgresPreparedStatement {
    typealias Row = PostgresRow
    static var name: String { Text.name }
    static var sql: String { PostgresDatabase.numbered(Text.name, Text.sql) }
    let bindings: PostgresBindings
    func makeBindings() -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}

/// The items of one kind of batch waiting on one loop for a run, and how many runs are on
/// their way (touched only on the loop).
final class Gathering<Batch: AwaitedBatch>: @unchecked Sendable {
    var waiting: [(item: Batch.Item, promise: EventLoopPromise<Batch.Answer>)] = []
    var running = 0

    /// The first `limit` of those waiting, taken out.
    func take(_ limit: Int) -> [(item: Batch.Item, promise: EventLoopPromise<Batch.Answer>)] {
        let count = min(limit, waiting.count)
        defer { waiting.removeFirst(count) }
        return Array(waiting.prefix(count))
    }
}

/// Runs tasks on one event loop (the loop of the connections a statement's task waits on).
final class LoopExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// The connections one event loop's awaited transactions use: idle ones, how many are open, and
/// who waits for one. Touched only on `loop` (calls from elsewhere go there first).
final class LoopConnections: @unchecked Sendable {
    let loop: any EventLoop
    /// Tasks on `loop`: a prepared statement's work runs there.
    let executor: LoopExecutor
    private let limit: Int
    /// How long a connection may take to open, or a caller wait for one.
    private let timeout: Double
    private let connect: @Sendable () -> EventLoopFuture<PostgresConnection>
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var waiting: [(id: Int, promise: EventLoopPromise<PostgresConnection>, timer: Scheduled<Void>)] = []
    private var waiters = 0
    /// The batches gathering on this loop, by their type.
    private var gatherings: [ObjectIdentifier: AnyObject] = [:]

    init(loop: any EventLoop, limit: Int, timeout: Double, connect: @escaping @Sendable () -> EventLoopFuture<PostgresConnection>) {
        self.loop = loop
        executor = LoopExecutor(loop)
        self.limit = limit
        self.timeout = timeout
        self.connect = connect
    }

    /// The loop's gathering of `Batch` (called on the loop).
    func gathering<Batch: AwaitedBatch>(_ batch: Batch.Type) -> Gathering<Batch> {
        if let known = gatherings[ObjectIdentifier(batch)] as? Gathering<Batch> { return known }
        let made = Gathering<Batch>()
        gatherings[ObjectIdentifier(batch)] = made
        return made
    }

    /// An idle connection, a new one under the limit, or the next one given back within
    /// `timeout`.
    func checkOut() -> EventLoopFuture<PostgresConnection> {
        guard loop.inEventLoop else { return loop.flatSubmit { self.checkOut() } }
        while let connection = idle.popLast() {
            if !connection.isClosed { return loop.makeSucceededFuture(connection) }
            open -= 1
        }
        if open < limit { return opened() }
        waiters += 1
        let id = waiters
        let promise = loop.makePromise(of: PostgresConnection.self)
        let timer = loop.scheduleTask(in: .nanoseconds(Int64(timeout * 1_000_000_000))) {
            guard let index = self.waiting.firstIndex(where: { $0.id == id }) else { return }
            self.waiting.remove(at: index)
            promise.fail(StoreError(.unavailable, "no connection came free within \(self.timeout) s"))
        }
        waiting.append((id, promise, timer))
        return promise.futureResult
    }

    /// Back for the next waiter or the idle list; a connection that failed (or whose state is
    /// unknown) is closed, and a waiter gets a new one in its place.
    func checkIn(_ connection: PostgresConnection, healthy: Bool) {
        guard loop.inEventLoop else { return loop.execute { self.checkIn(connection, healthy: healthy) } }
        if healthy, !connection.isClosed {
            guard !waiting.isEmpty else { return idle.append(connection) }
            let waiter = waiting.removeFirst()
            waiter.timer.cancel()
            return waiter.promise.succeed(connection)
        }
        PostgresDatabase.drop(connection)
        open -= 1
        guard !waiting.isEmpty else { return }
        let waiter = waiting.removeFirst()
        waiter.timer.cancel()
        opened().cascade(to: waiter.promise)
    }

    /// A new connection counted as open: uncounted again if it fails to open or is not open
    /// within `timeout` (then closed if it comes up after all).
    private func opened() -> EventLoopFuture<PostgresConnection> {
        open += 1
        let promise = loop.makePromise(of: PostgresConnection.self)
        let settled = Settled()
        let timer = loop.scheduleTask(in: .nanoseconds(Int64(timeout * 1_000_000_000))) {
            guard !settled.done else { return }
            settled.done = true
            self.open -= 1
            promise.fail(StoreError(.unavailable, "no connection opened within \(self.timeout) s"))
        }
        connect().hop(to: loop).whenComplete { result in
            timer.cancel()
            guard !settled.done else {
                if case .success(let late) = result { PostgresDatabase.drop(late) }
                return
            }
            settled.done = true
            if case .failure = result { self.open -= 1 }
            promise.completeWith(result)
        }
        return promise.futureResult
    }

    /// Whether an opening was answered or gave up (touched only on the loop).
    private final class Settled: @unchecked Sendable {
        var done = false
    }

    /// Closes the idle connections (the database is going away).
    func close() {
        loop.execute {
            for connection in self.idle { PostgresDatabase.drop(connection) }
            self.idle.removeAll()
        }
    }
}
