import ArgumentParser
import AuthenticatorVerification
import Foundation
import Hummingbird
import Logging
import PostgresStorage
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
            With no configuration: the database mie-verifier.sqlite in the current directory, no \
            referencing list until one is imported (--demo: the bundled DEMO lists), the \
            relying party localhost with origin http://localhost:PORT, listening on 127.0.0.1. \
            Create a client key with `mie-verifier clients add NAME --role verifier --database DB`.

            Configuration file (JSON, or YAML when it ends in .yaml or .yml): {"host", "port", "database" (a SQLite file, a postgres:// URL, \
            or {"postgres", "passwordFile", "poolSize", "timeoutSeconds"}), "relyingParty": {"id", \
            "origins"}, "profile", "maximumBodySize", "maximumInFlight", "rateLimit", "rateBurst", \
            "challengeLifetimeSeconds", "demoLists", "mdsRoots", "ansKeys", \
            "enrolsUnacceptableKeys", "listPollSeconds", "mdsRefresh": {"url", "roots", "crls", "timeoutSeconds", \
            "checkIntervalSeconds", "minimumRetrySeconds", "maximumRetrySeconds"}, "webhook": {"url", "secretFile", "timeoutSeconds", \
            "maximumRetrySeconds"}, "rejudgeBatchSize", "rejudgePercent", "oidc": {"issuer", "idTokenLifetimeSeconds", \
            "accessTokenLifetimeSeconds", "codeLifetimeSeconds", "requestLifetimeSeconds", "keyRotationDays"}, "auditHeads", "auditHeadIntervalSeconds", "auditKey", "auditQueueLimit", "trustedProxies", "idleTimeoutSeconds", "headerTimeoutSeconds", "deskIdleTimeoutSeconds", "deskSessionLifetimeSeconds", "eventLoopThreads", "tasksOnEventLoops", "hotPath", "leanPath", "flushHoldMicroseconds", "storeThreads", "cardAnchors", "cardCRLs", "cardCRLCheckSeconds", "tls": {"certificate", \
            "privateKey", "clientCAs"}}, every object read strictly (an unknown member is refused with its path); MIE_HOST, MIE_PORT and MIE_DATABASE override \
            it, and options override both. SIGTERM or SIGINT: in-flight requests finish, pending \
            audit events are committed, the database is closed.
            """)

    @Option(name: .long, help: "A JSON configuration file.") var config: String?
    @Option(name: .long, help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(name: .long, help: "Port (default 8080).") var port: Int?
    @Option(
        name: .long,
        help: "The SQLite database file, or postgres://USER@HOST[:PORT]/DATABASE (password from MIE_POSTGRES_PASSWORD_FILE or MIE_POSTGRES_PASSWORD).")
    var database: String?
    @Option(
        name: .customLong("demo-lists"),
        help: "DEMO lists (and their root and key for imports) from this directory, imported when the database has no list; never with real signers.")
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
        if let value = environment["MIE_DATABASE"] { try configuration.setDatabase(value) }
        if let host { configuration.host = host }
        if let database { try configuration.setDatabase(database) }
        if let port {
            guard (0...65535).contains(port) else { throw CLIFailure("--port must be a port number") }
            configuration.port = port
        }
        if configuration.relyingParty == RelyingParty(id: "localhost", origins: ["http://localhost:8080"]) {
            configuration.relyingParty = RelyingParty(id: "localhost", origins: ["http://localhost:\(configuration.port)"])
        }
        // DEMO trust (the demo lists, and their root and key for imports) only when asked for:
        // --demo, --demo-lists or demoLists; never because the working directory holds them.
        configuration.demoListsDirectory = demoLists ?? configuration.demoListsDirectory ?? (demo ? "TestVectors/referencing" : nil)
        if configuration.demoListsDirectory != nil, !configuration.mdsRootFiles.isEmpty || !configuration.ansKeyFiles.isEmpty || configuration.mdsRefresh != nil {
            throw CLIFailure("DEMO lists and real list signers (mdsRoots, ansKeys, mdsRefresh) exclude each other: drop --demo/--demo-lists or the signers")
        }
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
        } catch let error as any CodedError {
            throw CLIFailure(error.description)
        }
        var clients = (try? state.clients.list().filter { $0.revokedAt == nil }.count) ?? 0
        if let refresh = configuration.mdsRefresh, refresh.crlSources.isEmpty {
            logger.warning("RELAXED: mdsRefresh names no CRL: the revocation of the FIDO MDS signer chain is not checked")
        }
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
            "mie-verifier listening on \(configuration.tls == nil ? "http" : "https (client certificates required)")://\(configuration.host):\(configuration.port) (database \(configuration.databaseDescription), relying party \(configuration.relyingParty.id) \(configuration.relyingParty.origins.joined(separator: " ")), \(state.current.catalog.lists.count) lists, \(clients) clients)"
        )
        if clients == 0 {
            logger.notice(
                "no API client yet: mie-verifier clients add my-iam --role verifier --role enrolment --database \(configuration.databaseDescription)")
        }
        do {
            try await VerificationAPI.runService(state: state, logger: logger)
        } catch let error as any CodedError {
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
            case "database":
                if let text = item.string {
                    try configuration.setDatabase(text)
                } else {
                    try configuration.setDatabase(object(item, "\(path): database", members: ["postgres", "passwordFile", "poolSize", "timeoutSeconds"]))
                }
            case "listPollSeconds": configuration.listPollInterval = Double(try integer(item, key, 1...3600))
            case "relyingParty":
                let party = try object(item, "\(path): relyingParty", members: ["id", "origins", "name"])
                guard let id = party["id"]?.string, let origins = party["origins"]?.strings, !origins.isEmpty else {
                    throw CLIFailure("\(path): relyingParty needs an id (a string) and origins (a list of strings)")
                }
                if let name = party["name"], name.string == nil { throw CLIFailure("\(path): relyingParty.name must be a string") }
                configuration.relyingParty = RelyingParty(id: id, origins: origins, name: party["name"]?.string)
            case "profile": configuration.profilePath = try string(item, key)
            case "maximumBodySize": configuration.maximumBodySize = try integer(item, key, 1024...16 * 1024 * 1024)
            case "maximumInFlight": configuration.maximumInFlight = try integer(item, key, 1...100_000)
            case "rateLimit": configuration.rateLimit = Double(try integer(item, key, 1...1_000_000))
            case "rateBurst": configuration.rateBurst = Double(try integer(item, key, 1...1_000_000))
            case "challengeLifetimeSeconds": configuration.challengeLifetime = Double(try integer(item, key, 10...86_400))
            case "demoLists": configuration.demoListsDirectory = try string(item, key)
            case "tls":
                // Read strictly: a misspelt member would turn mutual TLS off without a word.
                let tls = try object(item, "\(path): tls", members: ["certificate", "privateKey", "clientCAs"])
                guard let certificate = tls["certificate"]?.string, let key = tls["privateKey"]?.string else {
                    throw CLIFailure("\(path): tls needs certificate and privateKey (PEM files), and clientCAs for client certificates")
                }
                var clientCAs: [String] = []
                if let item = tls["clientCAs"] {
                    guard let paths = item.strings, !paths.isEmpty else { throw CLIFailure("\(path): tls.clientCAs must be a non-empty list of PEM file paths") }
                    clientCAs = paths
                }
                configuration.tls = TLSSettings(certificateFile: certificate, privateKeyFile: key, clientCAFiles: clientCAs)
            case "auditHeads": configuration.auditHeadDirectory = try string(item, key)
            case "auditHeadIntervalSeconds": configuration.auditHeadInterval = Double(try integer(item, key, 1...86_400))
            case "auditKey": configuration.auditKeyFile = try string(item, key)
            case "eventLoopThreads": configuration.eventLoopThreads = try integer(item, key, 1...256)
            case "tasksOnEventLoops":
                guard let flag = item.bool else { throw CLIFailure("\(key) must be true or false") }
                configuration.tasksOnEventLoops = flag
            case "hotPath":
                guard let flag = item.bool else { throw CLIFailure("\(key) must be true or false") }
                configuration.hotPath = flag
            case "leanPath":
                guard let flag = item.bool else { throw CLIFailure("\(key) must be true or false") }
                configuration.leanPath = flag
            case "flushHoldMicroseconds": configuration.flushHoldMicroseconds = Int64(try integer(item, key, 0...5_000))
            case "storeThreads": configuration.storeThreads = try integer(item, key, 2...1024)
            case "idleTimeoutSeconds": configuration.idleTimeoutSeconds = Int64(try integer(item, key, 1...3600))
            case "headerTimeoutSeconds": configuration.headerTimeoutSeconds = Int64(try integer(item, key, 1...600))
            case "trustedProxies":
                guard let addresses = item.strings else { throw CLIFailure("trustedProxies must be a list of IP addresses") }
                configuration.trustedProxies = addresses
            case "auditQueueLimit": configuration.auditQueueLimit = try integer(item, key, 100...10_000_000)
            case "deskIdleTimeoutSeconds": configuration.deskIdleTimeout = Double(try integer(item, key, 1...86_400))
            case "deskSessionLifetimeSeconds": configuration.deskSessionLifetime = Double(try integer(item, key, 60...7 * 86_400))
            case "cardAnchors": configuration.cardAnchorsFile = try string(item, key)
            case "cardCRLCheckSeconds": configuration.cardCRLCheckInterval = Double(try integer(item, key, 1...86_400))
            case "cardCRLs":
                guard let paths = item.strings else { throw CLIFailure("cardCRLs must be a list of CRL file paths") }
                configuration.cardCRLFiles = paths
            case "mdsRoots", "ansKeys":
                guard let paths = item.strings else { throw CLIFailure("\(key) must be a list of PEM file paths") }
                if key == "mdsRoots" { configuration.mdsRootFiles = paths } else { configuration.ansKeyFiles = paths }
            case "enrolsUnacceptableKeys":
                guard let flag = item.bool else { throw CLIFailure("\(key) must be true or false") }
                configuration.enrolsUnacceptableKeys = flag
            case "mdsRefresh":
                let refresh = try object(
                    item, "\(path): mdsRefresh",
                    members: ["url", "roots", "crls", "timeoutSeconds", "checkIntervalSeconds", "minimumRetrySeconds", "maximumRetrySeconds"])
                guard let url = refresh["url"]?.string, let roots = refresh["roots"]?.strings, !roots.isEmpty else {
                    throw CLIFailure("\(path): mdsRefresh needs url (the BLOB's) and roots (PEM or DER files its signer chains to)")
                }
                var settings = MDSRefreshSettings(url: url, rootFiles: roots)
                if let crls = refresh["crls"] {
                    guard let sources = crls.strings else { throw CLIFailure("mdsRefresh.crls must be a list of CRL URLs or files") }
                    settings.crlSources = sources
                }
                if let value = refresh["timeoutSeconds"] { settings.timeout = Double(try integer(value, "mdsRefresh.timeoutSeconds", 1...600)) }
                if let value = refresh["checkIntervalSeconds"] {
                    settings.checkInterval = Double(try integer(value, "mdsRefresh.checkIntervalSeconds", 60...30 * 86_400))
                }
                if let value = refresh["minimumRetrySeconds"] { settings.minimumRetry = Double(try integer(value, "mdsRefresh.minimumRetrySeconds", 1...86_400)) }
                if let value = refresh["maximumRetrySeconds"] { settings.maximumRetry = Double(try integer(value, "mdsRefresh.maximumRetrySeconds", 1...7 * 86_400)) }
                configuration.mdsRefresh = settings
            case "webhook":
                let webhook = try object(item, "\(path): webhook", members: ["url", "secretFile", "timeoutSeconds", "maximumRetrySeconds"])
                guard let url = webhook["url"]?.string, let secret = webhook["secretFile"]?.string else {
                    throw CLIFailure("\(path): webhook needs url and secretFile (the HMAC-SHA256 key of its signatures)")
                }
                var settings = WebhookSettings(url: url, secretFile: secret)
                if let value = webhook["timeoutSeconds"] { settings.timeout = Double(try integer(value, "webhook.timeoutSeconds", 1...120)) }
                if let value = webhook["maximumRetrySeconds"] { settings.maximumRetry = Double(try integer(value, "webhook.maximumRetrySeconds", 2...86_400)) }
                configuration.webhook = settings
            case "rejudgeBatchSize": configuration.rejudgeBatchSize = try integer(item, key, 1...10_000)
            case "rejudgePercent": configuration.rejudgeShare = Double(try integer(item, key, 5...100)) / 100
            case "oidc":
                let oidc = try object(
                    item, "\(path): oidc",
                    members: ["issuer", "idTokenLifetimeSeconds", "accessTokenLifetimeSeconds", "codeLifetimeSeconds", "requestLifetimeSeconds", "keyRotationDays"])
                var settings = OIDCSettings()
                if let value = oidc["issuer"] {
                    let issuer = try string(value, "oidc.issuer")
                    guard let components = URLComponents(string: issuer), components.scheme == "https" || components.scheme == "http", components.host != nil,
                        components.query == nil, components.fragment == nil
                    else { throw CLIFailure("oidc.issuer must be an https URL without query or fragment") }
                    settings.issuer = issuer
                }
                if let value = oidc["idTokenLifetimeSeconds"] { settings.idTokenLifetime = Double(try integer(value, "oidc.idTokenLifetimeSeconds", 30...3600)) }
                if let value = oidc["accessTokenLifetimeSeconds"] {
                    settings.accessTokenLifetime = Double(try integer(value, "oidc.accessTokenLifetimeSeconds", 30...3600))
                }
                if let value = oidc["codeLifetimeSeconds"] { settings.codeLifetime = Double(try integer(value, "oidc.codeLifetimeSeconds", 10...600)) }
                if let value = oidc["requestLifetimeSeconds"] { settings.requestLifetime = Double(try integer(value, "oidc.requestLifetimeSeconds", 60...3600)) }
                if let value = oidc["keyRotationDays"] { settings.keyRotation = Double(try integer(value, "oidc.keyRotationDays", 1...365)) * 86_400 }
                configuration.oidc = settings
            default: throw CLIFailure("\(path): \(key) is not a configuration member")
            }
        }
        return configuration
    }

    /// An object of the configuration whose members are only those named: any other (a
    /// misspelling) is refused with its path.
    static func object(_ value: JSONValue, _ path: String, members names: Set<String>) throws -> [String: JSONValue] {
        guard let members = value.members else { throw CLIFailure("\(path) must be an object") }
        var object: [String: JSONValue] = [:]
        for (name, item) in members {
            guard names.contains(name) else {
                throw CLIFailure("\(path).\(name) is not a configuration member (\(names.sorted().joined(separator: ", ")))")
            }
            object[name] = item
        }
        return object
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
        @Flag(
            name: .customLong("adds-keys-to-stronger-holders"),
            help: "RELAXED: may add keys to holders whose identity stronger evidence set (a card, an operator, another client); their identity still never changes.")
        var addsKeysToStrongerHolders = false
        @Option(name: .long, help: "The SQLite database file, or a postgres:// URL.") var database: String

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
                    let store = ClientStore(database: try openDatabase(database))
                    let (client, key) = try store.add(
                        name: name, roles: roles, rpID: rpID, origins: origins, profiles: [], certificateSHA256: fingerprint, at: Date())
                    if addsKeysToStrongerHolders {
                        _ = try store.setAddsKeysToStrongerHolders(name: client.name, true, at: Date())
                        FileHandle.standardError.write(Data("RELAXED: \(client.name) may add keys to holders whose identity stronger evidence set\n".utf8))
                    }
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
        @Option(name: .long, help: "The SQLite database file, or a postgres:// URL.") var database: String

        func run() throws {
            try runReporting {
                do {
                    let store = ClientStore(database: try openDatabase(database))
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
        @Option(name: .long, help: "The SQLite database file, or a postgres:// URL.") var database: String

        func run() throws {
            try runReporting {
                do {
                    let store = ClientStore(database: try openDatabase(database))
                    guard try store.revoke(name: name, at: Date()) else { throw CLIFailure("no active client named \(name)") }
                    print("revoked \(name)")
                } catch let error as StoreError {
                    throw CLIFailure(error.description)
                }
            }
        }
    }
}

/// `mie-verifier audit verify|head|export`.
struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check, sign the end of, or export the hash-chained audit trail.", subcommands: [Verify.self, Head.self, Export.self])

    static func log(_ database: String) throws -> AuditLog {
        do {
            return AuditLog(database: try openDatabase(database))
        } catch {
            throw CLIFailure(error.description)
        }
    }

    /// The key file beside a SQLite database; nil for a postgres:// URL (name it with --key).
    static func defaultKeyPath(_ database: String) -> String? {
        guard case .sqlite(let path) = try? DatabaseLocation.parse(database, environment: [:]) else { return nil }
        return AuditSigningKey.defaultPath(database: path)
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the chain: exit 0 intact, 1 broken, cut or rewritten (the first broken row is named).",
            discussion: """
                With --head, a head exported earlier (`audit head`, or a line of the service's heads.jsonl, \
                the last line of a file): its signature must verify, and the row it names must still be \
                there with its hash: a missing row is a cut, another hash a rewrite. The head's key must \
                be the service's: the key file beside the database, or --key.
                """)
        @Option(name: .long, help: "The SQLite database file, or a postgres:// URL.") var database: String
        @Option(name: .long, help: "A signed head (JSON, or JSON lines: the last one).") var head: String?
        @Option(name: .long, help: "The audit key file whose public key signed the head (default: beside the database).") var key: String?

        func run() throws {
            try runReporting {
                let log = try Audit.log(database)
                var result: AuditLog.Verification
                do {
                    if let head {
                        let lines = String(decoding: try Files.read(head, limit: 64 * 1024 * 1024, what: "the head"), as: UTF8.self)
                            .split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                        guard let last = lines.last else { throw CLIFailure("\(head) holds no head") }
                        let signed = try SignedAuditHead.parse(Array(last.utf8))
                        guard signed.signatureValid else { throw CLIFailure("the head's signature does not verify: it was not signed by its key") }
                        let path = key ?? Audit.defaultKeyPath(database)
                        if let path, key != nil || FileManager.default.fileExists(atPath: path) {
                            guard try AuditSigningKey.loadOrCreate(path: path).publicKey == signed.publicKey else {
                                throw CLIFailure("the head was signed by another key than \(path)'s")
                            }
                        } else {
                            FileHandle.standardError.write(
                                Data("warning: no audit key at \(path ?? "(none named: give --key)"): the head's signature was checked against its own key only\n".utf8))
                        }
                        result = try log.verify(against: signed.head)
                    } else {
                        result = try log.verify()
                    }
                } catch let error as StoreError {
                    throw CLIFailure(error.description)
                }
                if let broken = result.broken {
                    print("audit chain BROKEN at row \(broken.seq): \(broken.reason) (\(result.events) rows verified before it)")
                    throw ExitCode(1)
                }
                print("audit chain intact: \(result.events) events\(head == nil ? "" : ", the head's row and hash included")")
                if result.waiting > 0 {
                    // PostgreSQL: committed with their state changes, chained by a running node.
                    print("\(result.waiting) more events are queued for the chain (durable, not linked yet: a running node links them)")
                }
            }
        }
    }

    struct Head: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the trail's end (sequence, hash), signed with the service's audit key: a line to ship to WORM storage.")
        @Option(name: .long, help: "The SQLite database file, or a postgres:// URL.") var database: String
        @Option(name: .long, help: "The audit key file (default: beside the database, created if missing).") var key: String?

        func run() throws {
            try runReporting {
                let log = try Audit.log(database)
                do {
                    // PostgreSQL: the head covers what the nodes queued too.
                    try log.settle()
                    guard let head = try log.head(at: Date()) else { throw CLIFailure("the audit trail is empty") }
                    guard let path = key ?? Audit.defaultKeyPath(database) else {
                        throw CLIFailure("a database server has no key file beside it: name the service's audit key with --key")
                    }
                    print(try AuditSigningKey.loadOrCreate(path: path).sign(head).json)
                } catch let error as StoreError {
                    throw CLIFailure(error.description)
                }
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write every event as a JSON line.")
        @Option(name: .long, help: "The SQLite database file, or a postgres:// URL.") var database: String

        func run() throws {
            try runReporting {
                do {
                    let log = try Audit.log(database)
                    // PostgreSQL: what the nodes queued is chained first, so the export is whole.
                    try log.settle()
                    try log.export { print($0) }
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

extension ServiceConfiguration {
    /// A SQLite file or a `postgres://` URL (its password from the environment).
    mutating func setDatabase(_ text: String) throws {
        switch try DatabaseLocation.parse(text) {
        case .sqlite(let path):
            databasePath = path
            postgres = nil
        case .postgres(let configuration): postgres = configuration
        }
    }

    /// `{"postgres": URL, "passwordFile", "poolSize", "timeoutSeconds"}`.
    mutating func setDatabase(_ members: [String: JSONValue]) throws {
        guard let url = members["postgres"]?.string else { throw CLIFailure("database.postgres must be a postgres:// URL") }
        var configuration = try PostgresConfiguration.parse(url)
        if configuration.password == nil {
            if let file = members["passwordFile"] {
                guard let path = file.string else { throw CLIFailure("database.passwordFile must be a file path") }
                configuration.password = try PostgresConfiguration.password(file: path, environment: [:])
            } else {
                configuration.password = try PostgresConfiguration.password(environment: ProcessInfo.processInfo.environment)
            }
        }
        if let item = members["poolSize"] { configuration.poolSize = try ServiceConfigurationFile.integer(item, "database.poolSize", 1...1000) }
        if let item = members["timeoutSeconds"] {
            configuration.timeout = Double(try ServiceConfigurationFile.integer(item, "database.timeoutSeconds", 1...600))
        }
        postgres = configuration
    }

    /// The database for messages: the file, or the URL without its password.
    var databaseDescription: String { postgres?.location ?? databasePath }
}
