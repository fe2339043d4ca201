import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOPosix
import NIOSSL
import Logging
import PSCPolicy
import ServiceLifecycle
import Storage
import VerificationRequests
import Synchronization
import WireFormat

/// Health, the referencing lists and the conformity evaluation.
struct ServiceRoutes {
    let state: ServiceState

    func register(on router: Router<APIRequestContext>) {
        router.get("/health/live") { _, _ in jsonResponse(Array(#"{"status":"live"}"#.utf8)) }
        router.get("/health/ready") { _, _ in try await state.io { try ready() } }
        router.get("/metrics") { _, _ in metrics() }
        router.get("/v1/referencing") { _, context in
            _ = try context.require(.verifier, .enrolment, .operator)
            return referencing()
        }
        router.get("/v1/referencing/export") { request, context in
            _ = try context.require(.verifier, .enrolment, .operator)
            guard let name = request.uri.queryParameters.get("for"), let target = IAMPolicyExport.Target(rawValue: String(name)) else {
                throw APIError(.malformedRequest, "for is entra, okta or keycloak")
            }
            return jsonResponse(IAMPolicyExport.document(for: target, catalog: state.current.catalog, at: state.clock()).json)
        }
        router.get("/v1/authenticators/:aaguid") { _, context in
            _ = try context.require(.verifier, .enrolment, .operator)
            return try authenticator(context.parameters.get("aaguid") ?? "")
        }
    }

    /// Readiness (`ServiceState.readiness`).
    func ready() throws -> Response { jsonResponse(try state.readiness().json) }

    func metrics() -> Response {
        jsonResponse(Array(state.metricsText().utf8), type: "text/plain; version=0.0.4; charset=utf-8")
    }

    func referencing() -> Response {
        let live = state.current
        let now = Date()
        let value = JSONValue.object([
            ("lists", .array(live.catalog.lists.map { listJSON($0, at: now) })), ("authenticators", .integer(live.catalog.entryCount)),
            ("cardFamilies", .integer(live.catalog.cardFamilies.count)), ("stale", .bool(live.catalog.lists.contains { $0.isStale(at: now) })),
            ("profile", .object([("id", .string(state.profile.id)), ("version", .string(state.profile.version)), ("sha256", .string(state.profile.sha256))])),
        ])
        return jsonResponse(value.json)
    }

    func authenticator(_ text: String) throws -> Response {
        guard text.utf8.count == 36, let aaguid = AAGUIDText.bytes(text) else {
            throw APIError(.malformedRequest, "the AAGUID must be written 8-4-4-4-12")
        }
        guard let entry = state.current.catalog.entry(for: .aaguid(aaguid)) else {
            throw APIError(.notFound, "\(text) is in no active referencing list")
        }
        return jsonResponse(CatalogJSON.entry(entry, at: Date(), statements: true).json)
    }
}

/// Commits the buffered audit events at the configured interval, and once more on shutdown,
/// then links what every node queued for the chain (PostgreSQL); appends the trail's signed head
/// to the heads file at its own interval when the trail grew.
struct AuditFlusher: Service {
    let state: ServiceState

    func run() async throws {
        let buffer = state.auditBuffer
        let interval = state.configuration.auditFlushInterval
        let headEvery = max(1, Int((state.configuration.auditHeadInterval / interval).rounded()))
        let exported = Atomic<Int64>(-1)
        await cancelWhenGracefulShutdown {
            var ticks = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                // Stopping: the last flush and head follow the loop.
                guard !Task.isCancelled else { break }
                await buffer.flush()
                await buffer.link()
                ticks += 1
                if ticks % headEvery == 0 { exported.store(await exportHead(after: exported.load(ordering: .relaxed)), ordering: .relaxed) }
            }
        }
        await buffer.flush()
        await buffer.link(whole: true)
        _ = await exportHead(after: exported.load(ordering: .relaxed))
    }

    /// Appends the signed head when the trail grew past `exported`; returns the head's number.
    func exportHead(after exported: Int64) async -> Int64 {
        do {
            return try await state.io { [state] in
                guard let head = try state.signedAuditHead(), head.head.seq != exported else { return exported }
                try AuditHeadFile.append(head, to: state.auditHeadFile)
                return head.head.seq
            }
        } catch {
            state.logger.error("the audit head could not be exported to \(state.auditHeadFile): \(error)")
            return exported
        }
    }
}

/// Reads the card CRL files again at their interval: a CRL replaced on disk (the CA's next
/// one) is in force within it, without a restart.
struct CardCRLReloader: Service {
    let state: ServiceState

    func run() async throws {
        // A service that returns ends the application: with nothing to watch, wait for shutdown.
        guard !state.configuration.cardCRLFiles.isEmpty else { return try await gracefulShutdown() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(state.configuration.cardCRLCheckInterval))
                _ = try? await state.io { [state] in state.reloadCardCRLs() }
            }
        }
    }
}

/// Puts in force the lists another node, or `referencing import` on the command line, stored:
/// it compares the versions in force with the database's every `listPollInterval` seconds
/// (polling, not LISTEN/NOTIFY: the same on SQLite, and a missed notification cannot leave a
/// node on old lists). A list imported on one node is in force on every node within that time.
struct ListWatcher: Service {
    let state: ServiceState

    func run() async throws {
        let start = (try? await state.io { [state] in try state.stores.referencing.activeVersionIDs() }) ?? []
        await cancelWhenGracefulShutdown {
            var known = start
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(state.configuration.listPollInterval * 1000)))
                guard !Task.isCancelled else { break }
                do {
                    known = try await state.io { [state, known] in
                        let now = try state.stores.referencing.activeVersionIDs()
                        guard now != known else { return known }
                        try state.operations.reloadLists()
                        state.logger.notice("referencing lists changed in the database: \(state.current.catalog.lists.map(\.label)) in force")
                        return now
                    }
                } catch is CancellationError {
                    break
                } catch {
                    state.logger.warning("the referencing lists could not be compared with the database's (those in force stay): \(error)")
                }
            }
        }
    }
}

/// The file signed heads are appended to, one JSON line each, fsynced.
package enum AuditHeadFile {
    package static func append(_ head: SignedAuditHead, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw StoreError(.auditHeadWrite, "cannot open \(path)") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((head.json + "\n").utf8))
        try handle.synchronize()
    }
}

/// The routes over the shared state, middleware in order: metrics outermost (they see the
/// final status), problems, load shedding, then client authentication.
package func buildRouter(state: ServiceState) -> Router<APIRequestContext> {
    let router = Router(context: APIRequestContext.self)
    let routes = RouteTable()
    router.add(middleware: MetricsMiddleware(metrics: state.metrics))
    router.add(middleware: ProblemMiddleware(routes: routes))
    router.add(middleware: LoadShedding(state: state))
    router.add(middleware: ClientAuthentication(state: state))
    ServiceRoutes(state: state).register(on: router)
    VerificationRoutes(state: state).register(on: router)
    CeremonyRoutes(state: state).register(on: router)
    OperatorRoutes(state: state).register(on: router)
    CardRoutes(state: state).register(on: router)
    DeskRoutes(state: state).register(on: router)
    OIDCRoutes(state: state).register(on: router)
    OpenAPIDocument.register(on: router)
    TryPage.register(on: router)
    routes.fill(router.routes.map { (path: $0.path.description, method: $0.method.rawValue) })
    return router
}

/// The application from its parts: a configuration (a value, already read and checked), the
/// stores (SQLite, or any implementation of the store protocols) and the clock every operation
/// and session reads (tests pass one they move by hand instead of sleeping).
package func buildApplication(
    configuration: ServiceConfiguration, stores: ServiceStores, clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger
) throws -> some ApplicationProtocol {
    try buildApplication(state: ServiceState(configuration: configuration, stores: stores, logger: logger, clock: clock), logger: logger)
}

/// The application: the router, the audit flusher, the configured address, TLS if configured.
package func buildApplication(state: ServiceState, logger: Logger) throws -> some ApplicationProtocol {
    let configuration = ApplicationConfiguration(address: .hostname(state.configuration.host, port: state.configuration.port), serverName: "mie-verifier")
    // HTTP/1 with the slow-sender guard, the idle timeout and the hot path (`ServiceHTTP1Channel`).
    let http1 = HTTPServerBuilder { responder in ServiceHTTP1Channel(responder: responder, state: state) }
    var server = http1
    if let tls = state.configuration.tls { server = try .tls(http1, tlsConfiguration: try serverTLS(tls)) }
    return Application(
        router: buildRouter(state: state), server: server, configuration: configuration,
        services: [AuditFlusher(state: state), CardCRLReloader(state: state), ListWatcher(state: state)]
            + (state.configuration.runsReferencingTasks ? [Rejudger(state: state), MDSRefresher(state: state), WebhookSender(state: state)] : []),
        eventLoopGroupProvider: .shared(state.eventLoops), logger: logger)
}

/// Runs the service until SIGTERM or SIGINT, its tasks on the event loops (see
/// `EventLoopTaskExecutor`).
package func runService(state: ServiceState, logger: Logger) async throws {
    let application = try buildApplication(state: state, logger: logger)
    guard state.configuration.tasksOnEventLoops else { return try await application.runService() }
    try await withTaskExecutorPreference(EventLoopTaskExecutor(group: state.eventLoops)) {
        try await application.runService()
    }
}

/// TLS 1.2 or later; a client certificate required and chained to the configured CAs.
func serverTLS(_ settings: TLSSettings) throws -> TLSConfiguration {
    do {
        let chain = try NIOSSLCertificate.fromPEMFile(settings.certificateFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: settings.privateKeyFile, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if !settings.clientCAFiles.isEmpty {
            configuration.trustRoots = .certificates(try settings.clientCAFiles.flatMap { try NIOSSLCertificate.fromPEMFile($0) })
            configuration.certificateVerification = .noHostnameVerification
        }
        return configuration
    } catch {
        throw ConfigurationError(.tls, "the TLS certificate, key or client CAs cannot be read: \(error)")
    }
}

extension ServiceState {
    /// Ready: the database answers, a referencing list is loaded, the audit trail is written.
    /// The card CRLs in force are listed with their next update: past it, cards of that CA are
    /// refused (their revocation cannot be checked) and the status is `degraded`, still 200, as
    /// when the FIDO MDS refresh keeps failing or a list in force is past its next update.
    package func readiness() throws -> JSONValue {
        let state = self
        do {
            try state.stores.ping()
        } catch {
            throw APIError(.unavailable, "the database does not answer")
        }
        guard !state.current.catalog.lists.isEmpty else { throw APIError(.unavailable, "no referencing list is loaded") }
        guard state.auditBuffer.accepting else { throw APIError(.unavailable, "the audit trail's store keeps failing") }
        let now = state.clock()
        let crls = state.operations.cards.current.crls
        let expired = crls.filter { ($0.nextUpdate ?? .distantPast) < now }
        let degradations = state.referencingDegradations(at: now)
        let mds = state.referencingStatus.mds
        let reply = JSONValue.object([
            ("status", .string(expired.isEmpty && degradations.isEmpty ? "ready" : "degraded")),
            ("degraded", .strings(degradations)),
            (
                "referencing",
                .object([
                    ("lists", .strings(state.current.catalog.lists.map(\.label))),
                    ("unjudgedCredentials", .integer(state.referencingStatus.rejudging.unjudged)),
                    (
                        "mdsRefresh",
                        state.configuration.mdsRefresh == nil
                            ? .null
                            : .object([
                                ("lastAttempt", .optional(mds.lastAttempt?.formatted(.iso8601))), ("lastSuccess", .optional(mds.lastSuccess?.formatted(.iso8601))),
                                ("nextAttempt", .optional(mds.nextAttempt?.formatted(.iso8601))), ("lastError", .optional(mds.lastError?.code)),
                            ])
                    ),
                ])
            ),
            (
                "cardCRLs",
                .array(
                    crls.map { crl in
                        .object([
                            ("issuer", .string(crl.issuerDescription)), ("nextUpdate", crl.nextUpdate.map { .string($0.formatted(.iso8601)) } ?? .null),
                            ("expired", .bool((crl.nextUpdate ?? .distantPast) < now)),
                        ])
                    })
            ),
        ])
        if !degradations.isEmpty { state.logger.warning("ready but degraded: \(degradations.joined(separator: "; "))") }
        if !expired.isEmpty {
            state.logger.warning("card CRLs past their next update (cards of their CAs are refused): \(expired.map(\.issuerDescription))")
        }
        return reply
    }

    /// The Prometheus text of `GET /metrics`.
    package func metricsText() -> String {
        let state = self
        let now = Date()
        let text = state.metrics.render(
            lists: state.current.catalog.lists.map { ($0.label, $0.isStale(at: now)) }, profile: (state.profile.id, state.profile.version),
            cardCRLs: state.operations.cards.current.crls.map { ($0.issuerDescription, $0.nextUpdate) }, auditPending: state.auditBuffer.count)
            + state.referencingStatus.render(
                mdsInForce: state.mdsInForce, now: state.clock(), configured: (state.configuration.mdsRefresh != nil, state.configuration.webhook != nil))
        return text
    }
}
