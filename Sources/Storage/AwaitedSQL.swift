/// A database whose statements are awaited, not waited for on a blocked thread (PostgreSQL
/// through postgres-nio). The hot sign-in runs its transaction this way on the event loop its
/// request arrived on: the statements are written and their answers read on that loop, and the
/// task resumes there, so no thread sleeps per statement and none is woken per answer.
///
/// The blocking `SQLDatabase` calls stay what every other store call uses.
package protocol AwaitedSQLDatabase: Sendable {
    /// Runs `body` in one transaction on a connection of the calling event loop (or of one of
    /// the database's loops, called from elsewhere): committed when it returns, rolled back when
    /// it throws. A serialisation failure or deadlock runs it again (twice), as `transaction`.
    func transaction<T: Sendable>(_ body: (any AwaitedSQLTransaction) async throws(StoreError) -> T) async throws(StoreError) -> T
    /// Runs `body` on a connection of the calling event loop as `transaction` does, but with no
    /// transaction around its statements: each commits on its own (one round trip, and one
    /// commit for a statement that writes). For statements that are whole on their own; a
    /// serialisation failure or deadlock runs `body` again (twice).
    func autocommitted<T: Sendable>(_ body: (any AwaitedSQLTransaction) async throws(StoreError) -> T) async throws(StoreError) -> T
    /// `item` run by `batch` with the items other requests of the calling event loop gave it
    /// while the run before was on its way: one statement (one round trip, one commit) for them
    /// all, autocommitted, and each caller answered with its own item's answer once that
    /// statement committed. A run that throws, unless on a lost connection, is run again item by
    /// item, so one item's failure is its own. Called from elsewhere than one of the database's
    /// loops, `item` runs alone.
    func gathered<Batch: AwaitedBatch>(_ item: Batch.Item, into batch: Batch) async throws(StoreError) -> Batch.Answer
}

/// Work that callers on one event loop share statements for (`AwaitedSQLDatabase.gathered`).
package protocol AwaitedBatch: Sendable {
    associatedtype Item: Sendable
    associatedtype Answer: Sendable
    /// The most items one run takes.
    static var limit: Int { get }
    /// One answer per item, in their order (`items` is never empty): as if each had been run
    /// on its own, one after the other. A run that throws has written nothing (once something
    /// is written, a failure is the answer of the items it left).
    func run(_ items: [Item], in statements: any AwaitedSQLTransaction) async throws(StoreError) -> [Answer]
}

/// The statements of one awaited transaction, run in the order they are awaited.
package protocol AwaitedSQLTransaction: AnyObject {
    /// The rows a statement returns, decoded (they outlive the call).
    func rows(_ sql: String, _ parameters: [SQLValue]) async throws(StoreError) -> [SQLRow]
    /// A statement's count of rows changed.
    func run(_ sql: String, _ parameters: [SQLValue]) async throws(StoreError) -> Int
    /// `rows` of a statement prepared once per connection: the server parses and plans it once,
    /// not on every call. A change is counted by the rows its `RETURNING` gives.
    func rows<Statement: PreparedSQL>(_ statement: Statement.Type, _ parameters: [SQLValue]) async throws(StoreError) -> [SQLRow]
}

/// A statement a connection prepares once and runs by name after (PostgreSQL): for the few on
/// the hot path, whose parsing and planning were most of the server's work per sign-in.
package protocol PreparedSQL: Sendable {
    /// The name it is prepared under: unique among the prepared statements.
    static var name: String { get }
    /// Its text, with `?` placeholders.
    static var sql: String { get }
}

extension SQLDatabase {
    /// This database's awaited statements, when it has them (PostgreSQL); nil: run the blocking
    /// calls on a pool or the writer.
    package var awaited: (any AwaitedSQLDatabase)? { self as? any AwaitedSQLDatabase }
}
