import Foundation
import Logging
import Storage

/// Where the PostgreSQL database is and how to reach it: `postgres://USER@HOST[:PORT]/DATABASE`,
/// the password read from a file or the environment (never from a command line a process list
/// shows), TLS off, required, or required with the server's certificate verified.
package struct PostgresConfiguration: Sendable, Equatable {
    package enum TLSMode: String, Sendable, CaseIterable {
        /// Plain TCP (a database on loopback or a private network).
        case disable
        /// Encrypted, the server's certificate not checked (libpq's `require`).
        case require
        /// Encrypted, the server's certificate checked against `rootCertificate` (or the system's
        /// roots) and its name against the host.
        case verifyFull = "verify-full"
    }

    package var host: String
    package var port: Int
    package var user: String
    package var password: String?
    package var database: String
    package var tls: TLSMode = .disable
    package var rootCertificate: String?
    /// Connections this node opens at most for its blocking store calls (each request holds one
    /// for one transaction), and as many again for the sign-ins awaited on the event loops
    /// (`AwaitedSQLDatabase`, shared out among the loops): at most `2 × poolSize` in all.
    package var poolSize: Int = 8
    /// How long a statement, a connection attempt or a wait for a free connection may take before
    /// the request fails with `store.unavailable` (503): a database that went away never hangs a
    /// request past it.
    package var timeout: TimeInterval = 5

    package init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
    }

    /// Reads `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…]`. A password in the
    /// URL is accepted for tools and tests, but `passwordFile` or `MIE_POSTGRES_PASSWORD` is
    /// what a deployment uses.
    package static func parse(_ text: String) throws(StoreError) -> PostgresConfiguration {
        guard let url = URLComponents(string: text), url.scheme == "postgres" || url.scheme == "postgresql" else {
            throw StoreError(.open, "a PostgreSQL database is named postgres://USER@HOST[:PORT]/DATABASE, not \(redacted(text))")
        }
        guard let host = url.host, !host.isEmpty else { throw StoreError(.open, "\(redacted(text)) names no host") }
        guard let user = url.user, !user.isEmpty else { throw StoreError(.open, "\(redacted(text)) names no user") }
        let database = String(url.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw StoreError(.open, "\(redacted(text)) names no database") }
        let port = url.port ?? 5432
        guard (1...65535).contains(port) else { throw StoreError(.open, "\(redacted(text)): port \(port) is out of range") }
        var configuration = PostgresConfiguration(host: host, port: port, user: user, password: url.password, database: database)
        for item in url.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: item.value ?? "") else {
                    throw StoreError(.open, "sslmode is one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", ")), not \(item.value ?? "")")
                }
                configuration.tls = mode
            case "sslrootcert": configuration.rootCertificate = item.value
            default: throw StoreError(.open, "\(redacted(text)): unknown parameter \(item.name) (sslmode, sslrootcert)")
            }
        }
        return configuration
    }

    /// The URL without its password, for logs and messages.
    package static func redacted(_ text: String) -> String {
        guard var url = URLComponents(string: text), url.password != nil else { return text }
        url.password = "***"
        return url.string ?? "postgres://…"
    }

    /// Where the database is, for messages (no password).
    package var location: String { "postgres://\(user)@\(host):\(port)/\(database)" }
}

/// Where a command or the service keeps its data: a SQLite file, or a PostgreSQL database named
/// by a `postgres://` URL (its password from `MIE_POSTGRES_PASSWORD_FILE`, a file holding it,
/// or `MIE_POSTGRES_PASSWORD`).
package enum DatabaseLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresConfiguration)

    package static func parse(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(StoreError) -> DatabaseLocation {
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else { return .sqlite(path: text) }
        var configuration = try PostgresConfiguration.parse(text)
        if configuration.password == nil { configuration.password = try PostgresConfiguration.password(environment: environment) }
        return .postgres(configuration)
    }

    /// Opens the database, migrated to the schema this version knows.
    package func open(logger: Logger) throws(StoreError) -> any SQLDatabase {
        switch self {
        case .sqlite(let path): return try SQLiteDatabase(path: path, migrations: StorageSchema.migrations)
        case .postgres(let configuration): return try PostgresDatabase(configuration, migrations: StorageSchema.postgresMigrations, logger: logger)
        }
    }
}

extension PostgresConfiguration {
    /// The password from a file (`passwordFile`, or `MIE_POSTGRES_PASSWORD_FILE`), else
    /// `MIE_POSTGRES_PASSWORD`; nil when neither is set (trust or peer authentication).
    package static func password(file: String? = nil, environment: [String: String]) throws(StoreError) -> String? {
        if let file = file ?? environment["MIE_POSTGRES_PASSWORD_FILE"] {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw StoreError(.open, "the PostgreSQL password file \(file) cannot be read")
            }
            return text.trimmingCharacters(in: .newlines)
        }
        return environment["MIE_POSTGRES_PASSWORD"]
    }
}
