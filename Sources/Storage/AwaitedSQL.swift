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
