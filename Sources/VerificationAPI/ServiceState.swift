import AuthenticatorCatalog
import AuthenticatorVerification
import CardJudgement
import Ceremonies
import Foundation
import Logging
import NIOCore
import NIOPosix
import PSCPolicy
import SignatureVerification
import Storage
import Synchronization
import VerificationRequests
import WireFormat

/// The service assembled: its configuration (a value), its stores, the operations over them,
/// the guards of the request path, the desk's sessions, metrics and event loops. Routes read
/// requests, call one operation, write the answer.
package final class ServiceState: Sendable {
    package let configuration: ServiceConfiguration
    package let stores: ServiceStores
    package let operations: ServiceOperations
    package let guards: RequestGuards
    /// The desk's own client: its ceremonies and enrolments are recorded under it.
    package let deskClient: APIClient
    package let deskSessions: DeskSessions
    package let auditBuffer: AuditBuffer
    package let metrics: ServiceMetrics
    /// The service's event loops: connections, and its tasks (`EventLoopTaskExecutor`).
    package let eventLoops: MultiThreadedEventLoopGroup
    /// Tasks on `eventLoops`: a sign-in awaited on its request's loop runs there.
    let loopExecutor: EventLoopTaskExecutor
    /// Where blocking store calls run (`io`). On SQLite, a pool of `storeThreads` (a
    /// transaction waits on its thread for its group's commit, and the more wait together, the
    /// fewer fsyncs: `SQLiteDatabase`); the ceremonies' writes go to the database's writer
    /// instead (`write`). On PostgreSQL, a pool of its own with
    /// a thread per connection and four more: a call may block up to the database timeout when
    /// the server is down, and the background tasks (list watcher, re-judging, webhook; audit
    /// flushes have `auditPool`) must not hold every thread a request needs (measured: with the two threads of
    /// a two-core machine, a request waited 15 s behind them while PostgreSQL was stopped).
    let blockingPool: NIOThreadPool
    /// The audit buffer's flushes: one thread, at a lower priority (nice 10) than the event
    /// loops, so that a flush (hundreds of events chained, encoded and inserted: milliseconds
    /// of CPU) yields the core to requests rather than delay their answers (`AuditBuffer`).
    let auditPool: NIOThreadPool
    package let logger: Logger
    /// The time every operation and session reads.
    package let clock: @Sendable () -> Date
    /// Signs the audit trail's head.
    package let auditKey: AuditSigningKey
    /// The MDS refresh, re-judging and webhook figures.
    package let referencingStatus = ReferencingStatus()
    /// What a refreshed MDS BLOB must chain to, and the webhook's secret.
    let mdsRefreshRoots: [Certificate]
    let webhookSecret: [UInt8]?

    /// The service on the configured SQLite file, its resources read from the configuration.
    package convenience init(configuration: ServiceConfiguration, logger: Logger) throws {
        try self.init(configuration: configuration, stores: try ServiceStores.open(configuration, logger: logger), logger: logger)
    }

    package init(
        configuration: ServiceConfiguration, stores: ServiceStores, resources: ServiceResources? = nil, logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        self.configuration = configuration
        self.stores = stores
        self.logger = logger
        self.clock = clock
        let resources = try resources ?? ServiceResources.load(configuration)
        mdsRefreshRoots = resources.mdsRefreshRoots
        webhookSecret = resources.webhookSecret
        eventLoops =
            configuration.eventLoopThreads == System.coreCount
            ? MultiThreadedEventLoopGroup.singleton : MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoopThreads)
        loopExecutor = EventLoopTaskExecutor(group: eventLoops)
        if let postgres = configuration.postgres {
            blockingPool = NIOThreadPool(numberOfThreads: postgres.poolSize + 4)
            blockingPool.start()
        } else {
            blockingPool = NIOThreadPool(numberOfThreads: configuration.storeThreads)
            blockingPool.start()
        }
        deskClient = try stores.clients.deskClient(at: clock())
        // Beside a SQLite file by default; a database server has no "beside": name them.
        guard let auditKeyFile = configuration.auditKeyFile ?? stores.database.filePath.map(AuditSigningKey.defaultPath(database:)),
            configuration.auditHeadDirectory != nil || stores.database.filePath != nil
        else {
            throw ConfigurationError(.auditFilesUnnamed, "on PostgreSQL name the audit head's signing key file (auditKey) and the heads' directory (auditHeads)")
        }
        auditKey = try AuditSigningKey.loadOrCreate(path: auditKeyFile)
        deskSessions = DeskSessions(store: stores.deskSessions, idle: configuration.deskIdleTimeout, lifetime: configuration.deskSessionLifetime)
        auditPool = NIOThreadPool(numberOfThreads: 1)
        auditPool.start()
        auditPool.submit { _ in LowPriority.enter() }
        auditBuffer = AuditBuffer(log: stores.audit, logger: logger, limit: configuration.auditQueueLimit, pool: auditPool)
        metrics = ServiceMetrics()
        guards = RequestGuards(configuration: configuration, clock: clock)
        let lists = VerificationLists(try stores.referencing.snapshot())
        var importTrust = resources.importTrust
        if importTrust == nil, let demo = resources.demoTrust {
            importTrust = demo
            logger.warning("DEMO: lists signed by the demo MDS root and demo ANS key can be imported over the API")
        }
        var settings = CeremonySettings()
        settings.challengeLifetime = configuration.challengeLifetime
        settings.enrolsUnacceptableKeys = configuration.enrolsUnacceptableKeys
        operations = ServiceOperations(
            credentials: stores.credentials, operators: stores.operators, audit: stores.audit, referencing: stores.referencing,
            verdicts: stores.verdicts, lists: lists,
            profile: resources.profile, settings: settings, cards: LiveCardTrust(resources.cards), importTrust: importTrust, auditQueue: auditBuffer, observer: metrics,
            clock: clock)
        // Never DEMO lists beside real signers.
        if !configuration.cardCRLFiles.isEmpty {
            // The digest of what was read at start, so the first reload sees only a change.
            cardCRLDigest.withLock { $0 = try? ServiceResources.cardCRLs(configuration.cardCRLFiles).digest }
        }
        if let directory = configuration.demoListsDirectory, let demo = resources.demoTrust, resources.importTrust == nil,
            lists.current.catalog.lists.isEmpty
        {
            try importDemoLists(from: directory, trust: demo)
        }
    }

    deinit {
        if blockingPool !== NIOThreadPool.singleton { blockingPool.shutdownGracefully { _ in } }
        auditPool.shutdownGracefully { _ in }
    }

    // The parts most callers want, by their usual names.
    package var database: any SQLDatabase { stores.database }
    package var clients: any ClientStoring { stores.clients }
    package var credentials: any CredentialStoring { stores.credentials }
    package var operators: any OperatorStoring { stores.operators }
    package var audit: any AuditStoring { stores.audit }
    package var profile: Profile { operations.profile }
    /// The lists and engine in force now.
    package var current: LiveVerification { operations.lists.current }

    /// The caller an API client is: its relying party, or the service's.
    package func caller(_ client: APIClient) -> Caller {
        guard let id = client.rpID else { return Caller(client: client, party: configuration.relyingParty) }
        return Caller(client: client, party: RelyingParty(id: id, origins: client.origins))
    }

    /// The desk acting for a signed-in operator (or before sign-in: nil), in the service's own
    /// relying party.
    package func desk(operator name: String? = nil) -> Caller {
        Caller(client: deskClient, party: configuration.relyingParty, deskOperator: name)
    }

    /// A first start with no list: the DEMO lists of the repository, loudly named.
    private func importDemoLists(from directory: String, trust: ReferencingTrust) throws {
        let url = URL(fileURLWithPath: directory)
        func file(_ name: String) -> [UInt8]? { FileManager.default.contents(atPath: url.appendingPathComponent(name).path).map(Array.init) }
        guard let blob = file("demo-mds-blob-no1.jwt"), let list = file("demo-ans-list.json"), let signature = file("demo-ans-list.json.jws") else {
            logger.warning("no demo lists in \(directory): starting with an empty catalog")
            return
        }
        for (document, detached) in [(blob, nil), (list, signature)] {
            if case .refused(let failure) = stores.referencing.importList(document, signature: detached, trust: trust, at: clock()) {
                logger.error("the demo list was refused: \(failure)")
            }
        }
        try operations.reloadLists()
        logger.warning("DEMO referencing lists imported from \(directory): verdicts built on them prove nothing")
    }

    /// What the CRL files held when last read.
    private let cardCRLDigest = Mutex<[UInt8]?>(nil)

    /// Reads the card CRL files again and puts them in force if they changed; on a file that
    /// cannot be read the CRLs in force stay (and the failure is counted and logged). True when
    /// new CRLs were put in force.
    @discardableResult
    package func reloadCardCRLs() -> Bool {
        guard !configuration.cardCRLFiles.isEmpty else { return false }
        do {
            let (crls, digest) = try ServiceResources.cardCRLs(configuration.cardCRLFiles)
            let changed = cardCRLDigest.withLock { known in
                defer { known = digest }
                return known != nil && known != digest
            }
            guard changed else { return false }
            operations.cards.replace(crls: crls)
            metrics.cardCRLReloaded()
            logger.notice("card CRLs read again: \(crls.count) in force, next update \(crls.compactMap(\.nextUpdate).min().map { $0.formatted(.iso8601) } ?? "none")")
            return true
        } catch {
            metrics.cardCRLReloadFailed()
            logger.error("the card CRLs could not be read again, those in force stay: \(error)")
            return false
        }
    }

    /// The audit trail's head now, signed (nil: no event yet).
    package func signedAuditHead() throws(StoreError) -> SignedAuditHead? {
        try stores.audit.head(at: clock()).map { head throws(StoreError) in try auditKey.sign(head) }
    }

    /// Where the signed heads are appended.
    package var auditHeadFile: String {
        (configuration.auditHeadDirectory ?? (stores.database.filePath ?? "") + ".audit-heads") + "/heads.jsonl"
    }

    /// Runs blocking work (SQLite, with its fsync) on NIO's thread pool, never on the
    /// cooperative pool that every request shares: one fsync there stalls every request on the
    /// core (measured: it bounded the stateless endpoints at a fifth of the offline rate).
    package func io<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await blockingPool.runIfActive(body)
    }

    /// Runs a ceremony's store work (it writes, and waits for the disk). On SQLite it is queued
    /// for the database's writer: the writes queued together share one commit, and no thread
    /// waits per request (`SQLiteDatabase.write`); elsewhere it runs as `io` does.
    package func write<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        if let writer = stores.database.writer { return try await writer.write(body) }
        return try await io(body)
    }

    /// Opens a sign-in (`ServiceOperations.openSignIn`): awaited on the caller's event loop where
    /// the database allows it (PostgreSQL), else queued for the writer or run on the pool.
    package func openSignIn(holder holderID: String?, by caller: Caller) async throws -> ServiceOperations.SignInOpened {
        let operations = operations
        guard operations.awaitsSignIns else { return try await write { try operations.openSignIn(holder: holderID, by: caller) } }
        return try await operations.openSignIn(holder: holderID, by: caller)
    }

    /// Finishes a sign-in (`ServiceOperations.finishSignIn`): awaited on the caller's event loop
    /// where the database allows it (PostgreSQL: no thread blocks per statement), else queued
    /// for the writer (SQLite) or run on the pool.
    package func finishSignIn(
        _ ceremonyID: String, _ response: CredentialResponse, by caller: Caller
    ) async throws -> ServiceOperations.SignInCompletion {
        let operations = operations
        guard operations.awaitsSignIns else { return try await write { try operations.finishSignIn(ceremonyID, response, by: caller) } }
        return try await operations.finishSignIn(ceremonyID, response, by: caller) { [self] judge in try await io(judge) }
    }

    /// `finishSignIn` for a caller on an event loop (the hot path): the outcome on `eventLoop`.
    package func finishSignIn(
        on eventLoop: any EventLoop, _ ceremonyID: String, _ response: CredentialResponse, by caller: Caller
    ) -> EventLoopFuture<ServiceOperations.SignInCompletion> {
        let operations = operations
        guard operations.awaitsSignIns else { return write(on: eventLoop) { try operations.finishSignIn(ceremonyID, response, by: caller) } }
        let promise = eventLoop.makePromise(of: ServiceOperations.SignInCompletion.self)
        Task(executorPreference: loopExecutor) { [self] in
            do {
                promise.succeed(try await finishSignIn(ceremonyID, response, by: caller))
            } catch {
                promise.fail(error)
            }
        }
        return promise.futureResult
    }

    /// `write` for a caller on an event loop (the hot path): the outcome on `eventLoop`.
    package func write<T: Sendable>(on eventLoop: any EventLoop, _ body: @escaping @Sendable () throws -> T) -> EventLoopFuture<T> {
        guard let writer = stores.database.writer else { return blockingPool.runIfActive(eventLoop: eventLoop, body) }
        let promise = eventLoop.makePromise(of: T.self)
        writer.write(body) { promise.completeWith($0) }
        return promise.futureResult
    }
}
