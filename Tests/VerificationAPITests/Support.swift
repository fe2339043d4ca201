import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresStorage
import Storage
import Synchronization
import Testing
import VerificationAPI

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A service on a fresh database with the DEMO lists, and one API key per role.
struct ServiceHarness {
    static let origin = "https://mie.example"

    let state: ServiceState
    let directory: URL
    /// Keys by role: `verifier`, `enrolment`, `operator`, `all`.
    var keys: [String: String] = [:]

    /// `database` wraps the opened database (tests that watch or fail its calls).
    init(
        configure: (inout ServiceConfiguration) -> Void = { _ in }, clock: (@Sendable () -> Date)? = nil,
        database wrap: (any SQLDatabase) -> any SQLDatabase = { $0 }
    ) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mie-service-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = ServiceConfiguration()
        configuration.databasePath = directory.appendingPathComponent("mie.sqlite").path
        configuration.demoListsDirectory = packageRoot.appendingPathComponent("TestVectors/referencing").path
        configuration.relyingParty = RelyingParty(id: "mie.example", origins: [Self.origin])
        // The bundled profile does not take an API client's word for a holder's identity (FI 25:
        // asserted-by-client is not satisfied). Most suites exercise the ceremonies of a deployment
        // that does (its IAM proofs identities itself, and says so in its profile); the suites of
        // FI 25 and of the evidence rule set `profilePath = nil` for the bundled one.
        configuration.profilePath = try Self.profileAcceptingClientIdentity(in: directory).path
        // The referencing tasks are driven by the tests that need them, step by step.
        configuration.runsReferencingTasks = false
        configure(&configuration)
        var logger = Logger(label: "mie-verifier-test")
        logger.logLevel = .critical
        // MIE_TEST_DATABASE=postgres: the same suites on a fresh PostgreSQL database each.
        let stores: ServiceStores
        if TestPostgres.selected {
            configuration.postgres = try TestPostgres.freshDatabase()
            configuration.auditKeyFile = directory.appendingPathComponent("audit.key").path
            configuration.auditHeadDirectory = directory.appendingPathComponent("audit-heads").path
            stores = ServiceStores.on(wrap(try ServiceStores.open(configuration, logger: logger).database))
        } else {
            stores = ServiceStores.on(wrap(try SQLiteDatabase(path: configuration.databasePath, migrations: StorageSchema.migrations)))
        }
        state = try ServiceState(configuration: configuration, stores: stores, logger: logger, clock: clock ?? { Date() })
        for (name, roles) in [
            ("verifier", [ClientRole.verifier]), ("enrolment", [.enrolment]), ("operator", [.operator]),
            ("all", [.verifier, .enrolment, .operator]),
        ] {
            keys[name] = try state.clients.add(name: "test-\(name)", roles: Set(roles), rpID: nil, origins: [], at: Date()).key
        }
    }

    /// The bundled profile with `asserted-by-client` moved from refused to accepted evidence.
    static func profileAcceptingClientIdentity(in directory: URL) throws -> URL {
        let bundled = try String(contentsOf: packageRoot.appendingPathComponent("Sources/PSCPolicy/Profiles/psc-2026.json"), encoding: .utf8)
        let strict = #""acceptedEvidence": ["proven-by-card", "asserted-by-operator"], "refusedEvidence": ["asserted-by-client"]"#
        precondition(bundled.contains(strict), "the bundled profile's FI 25 check changed: update the test profile")
        let relaxed = bundled.replacingOccurrences(
            of: strict, with: #""acceptedEvidence": ["proven-by-card", "asserted-by-operator", "asserted-by-client"], "refusedEvidence": []"#)
        let url = directory.appendingPathComponent("psc-2026-client-identity.json")
        try relaxed.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Runs `body` against the router, without sockets; `live`: on a real socket, through the
    /// service's whole pipeline (the hot path answers what it takes).
    func test(live: Bool = false, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = try buildApplication(state: state, logger: state.logger)
        try await app.test(live ? .live : .router, body)
    }
}

/// A clock the test moves by hand: time passes when it says, nothing sleeps.
final class HandClock: Sendable {
    private let now: Mutex<Date>

    init(_ start: Date = Date()) {
        now = Mutex(start)
    }

    var read: @Sendable () -> Date { { [self] in now.withLock { $0 } } }
    func advance(_ seconds: TimeInterval) { now.withLock { $0 += seconds } }
}

/// A response read back: status, headers and JSON body.
struct Reply {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: [UInt8]

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
    var text: String { String(decoding: body, as: UTF8.self) }
    /// The problem document's stable code.
    var code: String? { json["code"] as? String }
}

extension TestClientProtocol {
    /// One request with an API key (nil: none) and a JSON body.
    func call(
        _ method: HTTPRequest.Method, _ uri: String, key: String?, json: Any? = nil, raw: [UInt8]? = nil,
        contentType: String = "application/json", accept: String? = nil
    ) async throws -> Reply {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer \(key)" }
        var body: ByteBuffer?
        if let raw {
            body = ByteBuffer(bytes: raw)
        } else if let json {
            body = ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: json)))
        }
        if body != nil { headers[.contentType] = contentType }
        if let accept { headers[.accept] = accept }
        return try await execute(uri: uri, method: method, headers: headers, body: body) { response in
            Reply(status: response.status, headers: response.headers, body: Array(response.body.readableBytesView))
        }
    }
}

/// The PostgreSQL server of Tools/postgres/with-postgres.sh (`MIE_POSTGRES_URL`, its password in
/// `MIE_POSTGRES_PASSWORD_FILE`): each test gets a database of its own on it.
enum TestPostgres {
    static let environment = ProcessInfo.processInfo.environment
    /// The service suites run on PostgreSQL instead of SQLite.
    static let selected = environment["MIE_TEST_DATABASE"] == "postgres"
    static var available: Bool { environment["MIE_POSTGRES_URL"] != nil }

    static var server: PostgresConfiguration {
        get throws {
            guard let url = environment["MIE_POSTGRES_URL"] else {
                throw StoreError(.open, "no PostgreSQL server: run under Tools/postgres/with-postgres.sh (MIE_POSTGRES_URL)")
            }
            guard case .postgres(let configuration) = try DatabaseLocation.parse(url, environment: environment) else {
                throw StoreError(.open, "MIE_POSTGRES_URL is not a postgres:// URL")
            }
            return configuration
        }
    }

    static var quiet: Logger {
        var logger = Logger(label: "mie-postgres-test")
        logger.logLevel = .critical
        return logger
    }

    /// A new, empty database on the server (created through the server's own database).
    static func freshDatabase() throws -> PostgresConfiguration {
        var configuration = try server
        let name = "mie_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let admin = try PostgresDatabase(configuration, migrations: [], logger: quiet)
        try admin.run("CREATE DATABASE \(name)", [])
        configuration.database = name
        return configuration
    }
}
