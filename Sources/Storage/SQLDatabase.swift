import Foundation

/// What the stores run their SQL on: one SQLite file (`SQLiteDatabase`) or a PostgreSQL server
/// shared by several nodes (`PostgresStorage`). The stores write one SQL text for both: `?`
/// placeholders, `RETURNING` for generated ids, `ON CONFLICT DO NOTHING`, integers for flags,
/// ISO 8601 text for times.
///
/// Calls block until the database answers: the service makes them from its blocking-I/O
/// threads, never from an event loop. Inside `transaction`, every call the body makes on the
/// same database, from the same thread, joins the transaction.
package protocol SQLDatabase: AnyObject, Sendable {
    /// Where the database is, for messages; a SQLite file's path.
    var location: String { get }
    /// A SQLite file's path (files the service keeps beside it derive from it); nil on a server.
    var filePath: String? { get }

    @discardableResult
    func run(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> Int
    func query<T>(_ sql: String, _ parameters: [SQLValue], _ map: (SQLRow) throws(StoreError) -> T) throws(StoreError) -> [T]
    func forEach(_ sql: String, _ parameters: [SQLValue], _ body: (SQLRow) throws(StoreError) -> Void) throws(StoreError)
    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T
    /// The database's own writer, when it has one (`SQLiteDatabase`): async callers queue their
    /// writes there instead of blocking a thread each. Nil: run them on a pool.
    var writer: (any QueuedWriting)? { get }
    /// Whose SQL beyond the common text the database runs. A store may use the server's own
    /// (PostgreSQL's functions, `FOR UPDATE`) where it saves round trips; the common SQL runs
    /// on both, so a database that wraps another and does not forward this stays correct.
    var dialect: SQLDialect { get }
}

package enum SQLDialect: Sendable {
    case sqlite, postgres
}

/// Writes queued for a database's writer: `body` runs there, its transactions grouped with the
/// others queued, and the call returns once their commit is durable.
package protocol QueuedWriting: Sendable {
    /// Queues `body`; `done` gets what it returned or threw once its commit is durable, or the
    /// commit's failure. `done` runs on the writer's thread: it must not block.
    func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T, done: @escaping @Sendable (Result<T, any Error>) -> Void)
}

extension QueuedWriting {
    /// `write`, awaited.
    package func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            write(body) { continuation.resume(with: $0) }
        }
    }
}

extension SQLDatabase {
    package var writer: (any QueuedWriting)? { nil }
    package var dialect: SQLDialect { .sqlite }

    @discardableResult
    package func run(_ sql: String) throws(StoreError) -> Int { try run(sql, []) }

    package func query<T>(_ sql: String, _ map: (SQLRow) throws(StoreError) -> T) throws(StoreError) -> [T] {
        try query(sql, [], map)
    }

    package func forEach(_ sql: String, _ body: (SQLRow) throws(StoreError) -> Void) throws(StoreError) {
        try forEach(sql, [], body)
    }
}

/// A bound parameter.
package enum SQLValue: Sendable, Equatable {
    case int(Int64)
    case text(String)
    case blob([UInt8])
    case null
    /// One parameter that is a list (PostgreSQL only: several rows' values sent as one, read
    /// back as rows with `unnest`). SQLite refuses it.
    case array(SQLArray)

    /// Text, or NULL for nil.
    package static func optional(_ text: String?) -> SQLValue { text.map(SQLValue.text) ?? .null }
}

/// The values of one array parameter (their SQL type is named by the statement's cast).
package enum SQLArray: Sendable, Equatable {
    case ints([Int64])
    case texts([String])
    case blobs([[UInt8]])
}

/// A result row, valid while the closure it is given to runs: read in place from a SQLite
/// statement, or from the values a PostgreSQL row was decoded into.
package struct SQLRow {
    enum Storage {
        case sqlite(OpaquePointer)
        case values([SQLValue])
    }

    let storage: Storage
    /// Added to every column asked for: the row from that column on (`columns(from:)`).
    private var offset: Int32 = 0

    package init(values: [SQLValue]) {
        storage = .values(values)
    }

    init(statement: OpaquePointer) {
        storage = .sqlite(statement)
    }

    /// The row from `first` on: column 0 is `first` (one statement that reads several records
    /// side by side hands each reader its part).
    package func columns(from first: Int32) -> SQLRow {
        var row = self
        row.offset += first
        return row
    }

    private func value(_ column: Int32) -> SQLValue {
        guard case .values(let values) = storage, column >= 0, Int(column) < values.count else { return .null }
        return values[Int(column)]
    }

    package func int(_ column: Int32) -> Int { Int(int64(column)) }

    package func int64(_ column: Int32) -> Int64 {
        let column = column + offset
        if case .sqlite(let statement) = storage { return SQLiteDatabase.int64(statement, column) }
        switch value(column) {
        case .int(let value): return value
        case .text(let text): return Int64(text) ?? 0
        case .blob, .null, .array: return 0
        }
    }

    package func text(_ column: Int32) -> String? {
        let column = column + offset
        if case .sqlite(let statement) = storage { return SQLiteDatabase.text(statement, column) }
        switch value(column) {
        case .text(let text): return text
        case .int(let value): return String(value)
        case .blob(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .null, .array: return nil
        }
    }

    package func blob(_ column: Int32) -> [UInt8]? {
        let column = column + offset
        if case .sqlite(let statement) = storage { return SQLiteDatabase.blob(statement, column) }
        switch value(column) {
        case .blob(let bytes): return bytes
        case .text(let text): return Array(text.utf8)
        case .int, .null, .array: return nil
        }
    }

    package func isNull(_ column: Int32) -> Bool {
        let column = column + offset
        if case .sqlite(let statement) = storage { return SQLiteDatabase.isNull(statement, column) }
        return value(column) == .null
    }
}

/// A versioned schema change, applied once in its own transaction.
package struct SQLMigration: Sendable {
    package let version: Int
    package let sql: String
    /// Run after `sql` on PostgreSQL only: storage settings SQLite has no word for.
    package let postgresOnly: String

    package init(_ version: Int, _ sql: String, postgresOnly: String = "") {
        self.version = version
        self.sql = sql
        self.postgresOnly = postgresOnly
    }
}
