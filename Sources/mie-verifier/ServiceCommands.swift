import ArgumentParser
import AuthenticatorVerification
import Foundation
import Hummingbird
import Logging
import SignatureVerification
import Storage
import VerificationAPI
import WireFormat
import Yams

/// `mie-verifier serve`: the HTTP service.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP verification service.",
        discussion: """
            With no configuration: the database mie-verifier.sqlite in the current directory, the \
            bundled DEMO referencing lists when it holds none (TestVectors/referencing), the \
            relying party localhost with origin http://localhost:PORT, listening on 127.0.0.1. \
            Create a client key with `mie-verifier clients add NAME --role verifier --database DB`.

            Configuration file (JSON, or YAML when it ends in .yaml or .yml): {"host", "port", "database", "relyingParty": {"id", \
            "origins"}, "profile", "maximumBodySize", "maximumInFlight", "rateLimit", "rateBurst", \
            "challengeLifetimeSeconds", "demoLists", "mdsRoots", "ansKeys", \
            "enrolsUnacceptableKeys", "idleTimeoutSeconds", "deskIdleTimeoutSeconds", "deskSessionLifetimeSeconds", "eventLoopThreads", "tasksOnEventLoops", "cardAnchors", "cardCRLs", "tls": {"certificate", \
            "privateKey", "clientCAs"}}; MIE_HOST, MIE_PORT and MIE_DATABASE override \
            it, and options override both. SIGTERM or SIGINT: in-flight requests finish, pending \
            audit events are committed, the database is closed.
            """)

    @Option(name: .long, help: "A JSON configuration file.") var config: String?
    @Option(name: .long, help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(name: .long, help: "Port (default 8080).") var port: Int?
    @Option(name: .long, help: "The SQLite database file.") var database: String?
    @Option(name: .customLong("demo-lists"), help: "Where the DEMO lists are, imported when the database has no list.")
    var demoLists: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.") var logLevel = "info"
    @Option(name: .customLong("log-format"), help: "text, or json (one object per line on standard error).") var logFormat = "text"
    @Flag(
        name: .long,
        help: """
            DEMO mode, for trying the service on one machine: keys that are not PSC-acceptable are \
            enrolled too (marked with their verdict, no AMR), and a client key with every role is \
            created and printed when the database has none. Never in production.
            """)
    var demo = false

    func run() async throws {
        var configuration = ServiceConfiguration()
        if let config {
            configuration = try ServiceConfigurationFile.read(config, into: configuration)
        }
        let environment = ProcessInfo.processInfo.environment
        if let value = environment["MIE_HOST"] { configuration.host = value }
        if let value = environment["MIE_PORT"] {
            guard let number = Int(value), (0...65535).contains(number) else { throw CLIFailure("MIE_PORT must be a port number") }
            configuration.port = number
        }
        if let value = environment["MIE_DATABASE"] { configuration.databasePath = value }
        if let host { configuration.host = host }
        if let database { configuration.databasePath = database }
        if let port {
            guard (0...65535).contains(port) else { throw CLIFailure("--port must be a port number") }
            configuration.port = port
        }
        if configuration.relyingParty == RelyingParty(id: "localhost", origins: ["http://localhost:8080"]) {
            configuration.relyingParty = RelyingParty(id: "localhost", origins: ["http://localhost:\(configuration.port)"])
        }
        configuration.demoListsDirectory =
            demoLists ?? configuration.demoListsDirectory
            ?? (FileManager.default.fileExists(atPath: "TestVectors/referencing") ? "TestVectors/referencing" : nil)
        if demo {
            configuration.enrolsUnacceptableKeys = true
            let cards = "TestVectors/cards/cps-test"
            if configuration.cardAnchorsFile == nil, FileManager.default.fileExists(atPath: "\(cards)/anchors-test.pem") {
                configuration.cardAnchorsFile = "\(cards)/anchors-test.pem"
                configuration.cardCRLFiles = ["\(cards)/crl-current.pem"]
            }
        }
        switch logFormat {
        case "text": break
        case "json": LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        default: throw CLIFailure("--log-format is text or json")
        }
        var logger = Logger(label: "mie-verifier")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let state: ServiceState
        do {
            state = try ServiceState(configuration: configuration, logger: logger)
        } catch let error as StoreError {
            throw CLIFailure(error.description)
        }
        var clients = (try? state.clients.list().filter { $0.revokedAt == nil }.count) ?? 0
        if configuration.enrolsUnacceptableKeys {
            logger.warning("RELAXED: keys that are not PSC-acceptable are enrolled (marked with their verdict, signing in with them carries no AMR)")
        }
        if demo, clients == 0 {
            let (_, key) = try state.clients.add(
                name: "demo", roles: Set(ClientRole.allCases), rpID: nil, origins: [], at: Date())
            clients = 1
            // Unbuffered: whoever reads this through a pipe sees it before the service is up.
            FileHandle.standardOutput.write(
                Data("DEMO client key (every role; shown once): \(key)\nTry it in a browser: http://localhost:\(configuration.port)/\n".utf8))
        }
        if demo, (try? state.operators.list().isEmpty) == true {
            let (_, code) = try state.operators.add(name: "demo-operator", lifetime: configuration.operatorCodeLifetime, at: Date())
            FileHandle.standardOutput.write(
                Data("DEMO desk operator code (demo-operator; shown once): \(code)\nEnrolment desk: http://localhost:\(configuration.port)/enrol\n".utf8))
        }
        logger.notice(
            "mie-verifier listening on \(configuration.tls == nil ? "http" : "https (client certificates required)")://\(configuration.host):\(configuration.port) (database \(configuration.databasePath), relying party \(configuration.relyingParty.id) \(configuration.relyingParty.origins.joined(separator: " ")), \(state.current.catalog.lists.count) lists, \(clients) clients)"
        )
        if clients == 0 {
            logger.notice(
                "no API client yet: mie-verifier clients add my-iam --role verifier --role enrolment --database \(configuration.databasePath)")
        }
        do {
            try await VerificationAPI.runService(state: state, logger: logger)
        } catch let error as StoreError {
            throw CLIFailure(error.description)
        }
    }
}

enum ServiceConfigurationFile {
    static func read(_ path: String, into base: ServiceConfiguration) throws -> ServiceConfiguration {
        let bytes = try Files.read(path, limit: 1024 * 1024, what: "the configuration")
        let value: JSONValue
        if path.hasSuffix(".yaml") || path.hasSuffix(".yml") {
            value = try YAMLConfiguration.value(String(decoding: bytes, as: UTF8.self), path: path)
        } else {
            do {
                value = try JSONValue.parse(bytes, document: path)
            } catch {
                throw CLIFailure(error.message)
            }
        }
        guard let members = value.members else { throw CLIFailure("\(path) must hold a JSON object") }
        var configuration = base
        for (key, item) in members {
            switch key {
            case "host": configuration.host = try string(item, key)
            case "port": configuration.port = try integer(item, key, 1...65535)
            case "database": configuration.databasePath = try string(item, key)
            case "relyingParty":
                guard let id = item["id"]?.string, let origins = item["origins"]?.strings, !origins.isEmpty else {
                    throw CLIFailure("relyingParty needs an id and origins")
                }
                configuration.relyingParty = RelyingParty(id: id, origins: origins)
            case "profile": configuration.profilePath = try string(item, key)
            case "maximumBodySize": configuration.maximumBodySize = try integer(item, key, 1024...16 * 1024 * 1024)
            case "maximumInFlight": configuration.maximumInFlight = try integer(item, key, 1...100_000)
            case "rateLimit": configuration.rateLimit = Double(try integer(item, key, 1...1_000_000))
            case "rateBurst": configuration.rateBurst = Double(try integer(item, key, 1...1_000_000))
            case "challengeLifetimeSeconds": configuration.challengeLifetime = Double(try integer(item, key, 10...86_400))
            case "demoLists": configuration.demoListsDirectory = try string(item, key)
            case "tls":
                guard let certificate = item["certificate"]?.string, let key = item["privateKey"]?.string else {
                    throw CLIFailure("tls needs certificate and privateKey (PEM files), and clientCAs for client certificates")
                }
                configuration.tls = TLSSettings(certificateFile: certificate, privateKeyFile: key, clientCAFiles: item["clientCAs"]?.strings ?? [])
            case "eventLoopThreads": configuration.eventLoopThreads = try integer(item, key, 1...256)
            case "tasksOnEventLoops":
                guard let flag = item.bool else { throw CLIFailure("\(key) must be true or false") }
                configuration.tasksOnEventLoops = flag
            case "idleTimeoutSeconds": configuration.idleTimeoutSeconds = Int64(try integer(item, key, 1...3600))
            case "deskIdleTimeoutSeconds": configuration.deskIdleTimeout = Double(try integer(item, key, 1...86_400))
            case "deskSessionLifetimeSeconds": configuration.deskSessionLifetime = Double(try integer(item, key, 60...7 * 86_400))
            case "cardAnchors": configuration.cardAnchorsFile = try string(item, key)
            case "cardCRLs":
                guard let paths = item.strings else { throw CLIFailure("cardCRLs must be a list of CRL file paths") }
                configuration.cardCRLFiles = paths
            case "mdsRoots", "ansKeys":
                guard let paths = item.strings else { throw CLIFailure("\(key) must be a list of PEM file paths") }
                if key == "mdsRoots" { configuration.mdsRootFiles = paths } else { configuration.ansKeyFiles = paths }
            case "enrolsUnacceptableKeys":
                guard let flag = item.bool else { throw CLIFailure("\(key) must be true or false") }
                configuration.enrolsUnacceptableKeys = flag
            default: throw CLIFailure("\(path): \(key) is not a configuration member")
            }
        }
        return configuration
    }

    static func string(_ value: JSONValue, _ key: String) throws -> String {
        guard let text = value.string else { throw CLIFailure("\(key) must be a string") }
        return text
    }

    static func integer(_ value: JSONValue, _ key: String, _ range: ClosedRange<Int>) throws -> Int {
        guard let number = value.integer, let int = Int(exactly: number), range.contains(int) else {
            throw CLIFailure("\(key) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return int
    }
}

/// `mie-verifier clients add|list|revoke`.
struct Clients: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register, list and revoke the API clients of the service.", subcommands: [Add.self, List.self, Revoke.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a client and print its API key (shown once, stored hashed).",
            discussion: "Roles: verifier (stateless endpoints, cards), enrolment (ceremonies), operator (credentials, lists, clients).")
        @Argument(help: "The client's name.") var name: String
        @Option(name: .long, help: "verifier, enrolment or operator; repeatable.") var role: [String] = []
        @Option(name: .customLong("rp-id"), help: "Its relying party (default: the service's).") var rpID: String?
        @Option(name: .long, help: "An origin of its relying party; repeatable.") var origin: [String] = []
        @Option(name: .long, help: "Its TLS client certificate (PEM): the service then admits it by this certificate too.")
        var certificate: String?
        @Option(name: .long, help: "The SQLite database file.") var database: String

        func run() throws {
            try runReporting {
                var fingerprint: [UInt8]?
                if let certificate {
                    let text = String(decoding: try Files.read(certificate, limit: 1024 * 1024, what: "the certificate"), as: UTF8.self)
                    guard let der = PEM.blocks(text, label: "CERTIFICATE")?.first else { throw CLIFailure("\(certificate) holds no PEM certificate") }
                    fingerprint = Digest.sha256(der)
                }
                var roles = Set<ClientRole>()
                for text in role {
                    guard let value = ClientRole(rawValue: text) else { throw CLIFailure("unknown role \(text): verifier, enrolment or operator") }
                    roles.insert(value)
                }
                guard !roles.isEmpty else { throw CLIFailure("give at least one --role") }
                guard (rpID == nil) == origin.isEmpty else { throw CLIFailure("--rp-id and --origin go together") }
                var origins: [String] = []
                for text in origin {
                    do {
                        origins.append(try ExpectedOrigin.normalise(text))
                    } catch let error as ExpectedOrigin.Invalid {
                        throw CLIFailure("--origin \(text): \(error.reason)")
                    }
                }
                do {
                    let store = ClientStore(database: try SQLiteDatabase(path: database, migrations: StorageSchema.migrations))
                    let (client, key) = try store.add(
                        name: name, roles: roles, rpID: rpID, origins: origins, profiles: [], certificateSHA256: fingerprint, at: Date())
                    print(key)
                    FileHandle.standardError.write(
                        Data("client \(client.name) added (roles \(roles.map(\.rawValue).sorted().joined(separator: ", "))); the key above is shown once\n".utf8))
                } catch let error as StoreError {
                    throw CLIFailure(error.description)
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the clients (never their keys).")
        @Option(name: .long, help: "The SQLite database file.") var database: String

        func run() throws {
            try runReporting {
                do {
                    let store = ClientStore(database: try SQLiteDatabase(path: database, migrations: StorageSchema.migrations))
                    for client in try store.list() {
                        print(
                            "\(client.name)\t\(client.roles.map(\.rawValue).sorted().joined(separator: ","))\t\(client.rpID ?? "(default RP)")\t\(client.revokedAt.map { "revoked \($0)" } ?? "active since \(client.createdAt)")")
                    }
                } catch let error as StoreError {
                    throw CLIFailure(error.description)
                }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a client: its key stops working at once.")
        @Argument(help: "The client's name.") var name: String
        @Option(name: .long, help: "The SQLite database file.") var database: String

        func run() throws {
            try runReporting {
                do {
                    let store = ClientStore(database: try SQLiteDatabase(path: database, migrations: StorageSchema.migrations))
                    guard try store.revoke(name: name, at: Date()) else { throw CLIFailure("no active client named \(name)") }
                    print("revoked \(name)")
                } catch let error as StoreError {
                    throw CLIFailure(error.description)
                }
            }
        }
    }
}

/// `mie-verifier audit verify|export`.
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check or export the hash-chained audit trail.", subcommands: [Verify.self, Export.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the chain: exit 0 intact, 1 broken (the first broken row is named).")
        @Option(name: .long, help: "The SQLite database file.") var database: String

        func run() throws {
            try runReporting {
                let result: AuditLog.Verification
                do {
                    result = try AuditLog(database: try SQLiteDatabase(path: database, migrations: StorageSchema.migrations)).verify()
                } catch let error as StoreError {
                    throw CLIFailure(error.description)
                }
                if let broken = result.broken {
                    print("audit chain BROKEN at row \(broken.seq): \(broken.reason) (\(result.events) rows verified before it)")
                    throw ExitCode(1)
                }
                print("audit chain intact: \(result.events) events")
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write every event as a JSON line.")
        @Option(name: .long, help: "The SQLite database file.") var database: String

        func run() throws {
            try runReporting {
                do {
                    try AuditLog(database: try SQLiteDatabase(path: database, migrations: StorageSchema.migrations)).export { print($0) }
                } catch let error as StoreError {
                    throw CLIFailure(error.description)
                }
            }
        }
    }
}

/// A YAML configuration read into the same tree as a JSON one: mappings with string keys
/// (duplicates refused), sequences, and scalars by their resolved tag. Anchors and aliases are
/// refused: a configuration has no use for them.
enum YAMLConfiguration {
    static func value(_ text: String, path: String) throws -> JSONValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw CLIFailure("\(path) is not YAML: \(error)")
        }
        guard let node else { throw CLIFailure("\(path) is empty") }
        return try convert(node, path: path)
    }

    static func convert(_ node: Node, path: String) throws -> JSONValue {
        switch node {
        case .mapping(let mapping):
            var members: [(String, JSONValue)] = []
            for (key, value) in mapping {
                guard case .scalar(let scalar) = key else { throw CLIFailure("\(path): a key is not a plain string") }
                guard !members.contains(where: { $0.0 == scalar.string }) else { throw CLIFailure("\(path): \(scalar.string) is given twice") }
                members.append((scalar.string, try convert(value, path: path)))
            }
            return .object(members)
        case .sequence(let sequence):
            return .array(try sequence.map { try convert($0, path: path) })
        case .scalar(let scalar):
            // The tag YAML's core schema resolves (quoted scalars stay strings).
            switch node.tag.description {
            case Tag.Name.null.rawValue: return .null
            case Tag.Name.bool.rawValue:
                guard let flag = node.bool else { throw CLIFailure("\(path): \(scalar.string) is not a boolean") }
                return .bool(flag)
            case Tag.Name.int.rawValue:
                guard let number = node.int else { throw CLIFailure("\(path): \(scalar.string) is not an integer") }
                return .integer(number)
            case Tag.Name.float.rawValue: return .number(scalar.string)
            default: return .string(scalar.string)
            }
        case .alias:
            throw CLIFailure("\(path): YAML aliases are not accepted in a configuration")
        }
    }
}
