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

/// The relying party a client verifies for (the application layer's).
package typealias RelyingParty = Ceremonies.RelyingParty

/// TLS for the listener, and client certificates (mutual TLS, which the PSC trust space requires
/// between parties): a client must present a certificate issued by one of `clientCAFiles`
/// (checked in the handshake, TLS 1.2 at least), and its SHA-256 must be registered for an API
/// client (`clients add --certificate`): the allow-list.
package struct TLSSettings: Sendable {
    package var certificateFile: String
    package var privateKeyFile: String
    package var clientCAFiles: [String]

    package init(certificateFile: String, privateKeyFile: String, clientCAFiles: [String]) {
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.clientCAFiles = clientCAFiles
    }
}

/// How the service runs. Everything a network client must not choose (trust, policy, time) is
/// decided here and by the server's clock.
package struct ServiceConfiguration: Sendable {
    package var host = "127.0.0.1"
    /// nil: plain HTTP (behind a TLS-terminating proxy, or on loopback).
    package var tls: TLSSettings?
    package var port = 8080
    package var databasePath = "mie-verifier.sqlite"
    /// The relying party of clients registered without one.
    package var relyingParty = RelyingParty(id: "localhost", origins: ["http://localhost:8080"])
    /// A PSC profile file; nil: the bundled psc-2026.
    package var profilePath: String?
    /// Largest request body accepted.
    package var maximumBodySize = 256 * 1024
    /// Event loop threads: one per core by default. Where the process is pinned to fewer cores
    /// (taskset, a container CPU set), say so: threads beyond the cores only add context
    /// switches with the handlers' cooperative pool.
    package var eventLoopThreads = System.coreCount
    /// Run the service's tasks on the event loops (`EventLoopTaskExecutor`) rather than the
    /// global cooperative pool.
    package var tasksOnEventLoops = true
    /// Seconds an idle connection is kept open.
    package var idleTimeoutSeconds: Int64 = 30
    /// Addresses of the reverse proxies in front of the service: from them, the last address of
    /// X-Forwarded-For is the request's source (rate limits by source); from anyone else the
    /// header is ignored.
    package var trustedProxies: [String] = []
    /// Seconds a connection may take to send a request head once its first byte arrived
    /// (slow senders hold no slot longer), beside the idle timeout.
    package var headerTimeoutSeconds: Int64 = 10
    /// Requests handled at once before the service answers 503.
    package var maximumInFlight = 512
    /// Per client: sustained requests per second and burst.
    package var rateLimit = 2_000.0
    package var rateBurst = 4_000.0
    /// How long a ceremony's challenge stays valid.
    package var challengeLifetime: TimeInterval = 300
    /// Stateless verifications' audit events are committed together at this interval.
    package var auditFlushInterval: TimeInterval = 0.1
    /// Store credentials whose PSC verdict is not `accepted` (marked with their verdict, and
    /// signing in with them carries no AMR). Off by default: a relaxation, logged loudly.
    package var enrolsUnacceptableKeys = false
    /// Roots of the MDS BLOB signers and keys of the ANS list signers, for
    /// `POST /v1/referencing/import` (PEM files). None: imports are refused, except in the DEMO
    /// setup, where the demo lists' own root and key are used.
    package var mdsRootFiles: [String] = []
    package var ansKeyFiles: [String] = []
    /// Largest list document `POST /v1/referencing/import` accepts (the production BLOB is
    /// about 5 MB).
    package var maximumListSize = 32 * 1024 * 1024
    /// IGC-Santé anchors for cards (a PEM bundle, production or test, never both) and the CRLs
    /// of its CAs.
    package var cardAnchorsFile: String?
    package var cardCRLFiles: [String] = []
    /// Demo lists to import when the database holds none (`TestVectors/referencing`).
    package var demoListsDirectory: String?
    /// The enrolment desk's sessions: signed out after this long without a request, and this
    /// long after sign-in whatever happens.
    package var deskIdleTimeout: TimeInterval = 15 * 60
    package var deskSessionLifetime: TimeInterval = 8 * 3600
    /// The audit trail's signed head is appended to `heads.jsonl` in this directory (default:
    /// `<database>.audit-heads`) every `auditHeadInterval` when the trail grew, for an operator
    /// to ship to WORM storage or a second system; `auditKeyFile` is the Ed25519 key that signs
    /// it (default `<database>.audit-key`, created on first start).
    package var auditHeadDirectory: String?
    /// Stateless verifications' audit events waiting for the store, at most; past it they are
    /// refused with 503 until the store takes them.
    package var auditQueueLimit = 100_000
    package var auditHeadInterval: TimeInterval = 300
    package var auditKeyFile: String?
    /// How often the card CRL files are read again (a replaced file is in force within this).
    package var cardCRLCheckInterval: TimeInterval = 60
    /// How long a desk operator's one-time code stays valid.
    package var operatorCodeLifetime: TimeInterval = 24 * 3600

    package init() {}
}

/// The stores the service keeps everything in: one SQLite file (WAL) today, behind the store
/// protocols a PostgreSQL backend implements for several nodes.
package struct ServiceStores: Sendable {
    package let database: SQLiteDatabase
    package let referencing: ReferencingStore
    package var clients: any ClientStoring
    package var credentials: any CredentialStoring
    package var operators: any OperatorStoring
    package var audit: any AuditStoring

    /// The stores of one SQLite file, migrated to the schema this version knows.
    package static func sqlite(path: String) throws(StoreError) -> ServiceStores {
        let database = try SQLiteDatabase(path: path, migrations: StorageSchema.migrations)
        return ServiceStores(
            database: database, referencing: ReferencingStore(database: database), clients: ClientStore(database: database),
            credentials: CredentialStore(database: database), operators: OperatorStore(database: database), audit: AuditLog(database: database))
    }

    /// Whether the database answers (readiness).
    package func ping() throws(StoreError) {
        _ = try database.query("SELECT 1") { $0.int(0) }
    }
}

/// A configuration the service cannot start with, with its stable code (docs/failure-codes.md).
package struct ConfigurationError: CodedError, Sendable {
    package enum Code: String, Sendable, CaseIterable {
        case profile = "config.profile"
        case cardAnchors = "config.card-anchors"
        case cardCrl = "config.card-crl"
        case mdsRoot = "config.mds-root"
        case ansKey = "config.ans-key"
        case listSigners = "config.list-signers"
        case tls = "config.tls"
    }

    package let code: Code
    package let message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var stableCode: String { code.rawValue }
}

/// What the configuration's files say, read and checked once at start (outside the state that
/// serves requests): the PSC profile, the card anchors and CRLs, the signers of imported lists.
package struct ServiceResources: Sendable {
    package let profile: Profile
    package let cards: CardTrust
    /// Signers configured for imports (`mdsRoots`, `ansKeys`); nil: none.
    package let importTrust: ReferencingTrust?
    /// The DEMO lists' own root and key, when a DEMO lists directory is configured and holds them.
    package let demoTrust: ReferencingTrust?

    /// The CRLs of `files`, and the SHA-256 of what was read (to see a file change).
    package static func cardCRLs(_ files: [String]) throws(ConfigurationError) -> (crls: [CertificateRevocationList], digest: [UInt8]) {
        var crls: [CertificateRevocationList] = []
        var read: [UInt8] = []
        for path in files {
            guard let bytes = FileManager.default.contents(atPath: path) else { throw ConfigurationError(.cardCrl, "cannot read \(path)") }
            do {
                crls += try CertificateRevocationList.load(file: Array(bytes))
            } catch {
                throw ConfigurationError(.cardCrl, "\(path) is not a CRL: \(error)")
            }
            read += Digest.sha256(Array(bytes))
        }
        return (crls, Digest.sha256(read))
    }

    package static func load(_ configuration: ServiceConfiguration) throws(ConfigurationError) -> ServiceResources {
        let cards: CardTrust
        do {
            cards = CardTrust(
                anchors: try configuration.cardAnchorsFile.map { try IGCSanteAnchors(pemFile: $0) }, crls: try cardCRLs(configuration.cardCRLFiles).crls)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(.cardAnchors, "the card anchors or CRLs cannot be read: \(error)")
        }
        let profile: Profile
        do {
            if let path = configuration.profilePath {
                guard let data = FileManager.default.contents(atPath: path) else { throw ConfigurationError(.profile, "cannot read \(path)") }
                profile = try Profile.parse(Array(data))
            } else {
                profile = try Profile.bundled()
            }
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(.profile, "the profile cannot be read: \(error)")
        }
        do {
            return ServiceResources(
                profile: profile, cards: cards, importTrust: try configuredTrust(configuration),
                demoTrust: try configuration.demoListsDirectory.flatMap(demoTrust))
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(.listSigners, "the list signers cannot be read: \(error)")
        }
    }

    static func configuredTrust(_ configuration: ServiceConfiguration) throws -> ReferencingTrust? {
        guard !configuration.mdsRootFiles.isEmpty || !configuration.ansKeyFiles.isEmpty else { return nil }
        var trust = ReferencingTrust()
        for path in configuration.mdsRootFiles {
            guard let bytes = FileManager.default.contents(atPath: path) else { throw ConfigurationError(.mdsRoot, "cannot read \(path)") }
            trust.mdsRoots += try Certificate.load(file: Array(bytes))
        }
        for path in configuration.ansKeyFiles {
            guard let bytes = FileManager.default.contents(atPath: path),
                let der = PEM.blocks(String(decoding: bytes, as: UTF8.self), label: "PUBLIC KEY")?.first
            else { throw ConfigurationError(.ansKey, "cannot read a PEM public key in \(path)") }
            trust.ansKeys.append(try PublicKey.subjectPublicKeyInfo(der))
        }
        return trust
    }

    /// The demo lists' root and key (`demo-mds-root.pem`, `demo-ans-key.pem`), if present.
    static func demoTrust(_ directory: String) throws -> ReferencingTrust? {
        let url = URL(fileURLWithPath: directory)
        guard let root = FileManager.default.contents(atPath: url.appendingPathComponent("demo-mds-root.pem").path),
            let key = FileManager.default.contents(atPath: url.appendingPathComponent("demo-ans-key.pem").path),
            let der = PEM.blocks(String(decoding: key, as: UTF8.self), label: "PUBLIC KEY")?.first
        else { return nil }
        return ReferencingTrust(mdsRoots: try Certificate.load(file: Array(root)), ansKeys: [try PublicKey.subjectPublicKeyInfo(der)])
    }
}

/// What stands in front of the operations on the request path: the rate limits, the cache of
/// authenticated clients, the count of requests in flight.
package final class RequestGuards: Sendable {
    /// Per client.
    package let limiter: RateLimiter<Int64>
    /// Failed authentications per source address: past it, a source's unknown keys are refused
    /// (429) before any lookup.
    let failedAuthentications = RateLimiter<String>(rate: 1, burst: 50)
    /// The desk's requests before sign-in, per source address (a desk signs in rarely, in bursts:
    /// 200 at once, 2 a second after): a flood from one place stops there.
    let deskBySource = RateLimiter<String>(rate: 2, burst: 200)
    /// Sign-in options for a known operator, per operator name: a flood naming someone else,
    /// or nobody, does not lock them out.
    let deskByOperator = RateLimiter<String>(rate: 2, burst: 20)
    /// Whatever else comes before sign-in (unknown names, one-time codes), from every source
    /// together: the ceremony table cannot be filled by many sources either.
    let deskShared = RateLimiter<Int>(rate: 50, burst: 500)
    /// Authenticated clients (and unknown keys) by key digest, for a few seconds: the hot path
    /// needs no database.
    package let clientCache = ClientCache(lifetime: .seconds(2))
    /// Proxies whose X-Forwarded-For names the source address.
    let trustedProxies: Set<String>
    let inFlight = Atomic<Int>(0)

    init(configuration: ServiceConfiguration) {
        limiter = RateLimiter(rate: configuration.rateLimit, burst: configuration.rateBurst)
        trustedProxies = Set(configuration.trustedProxies)
    }
}

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
    package let logger: Logger
    /// The time every operation and session reads.
    package let clock: @Sendable () -> Date
    /// Signs the audit trail's head.
    package let auditKey: AuditSigningKey

    /// The service on the configured SQLite file, its resources read from the configuration.
    package convenience init(configuration: ServiceConfiguration, logger: Logger) throws {
        try self.init(configuration: configuration, stores: try ServiceStores.sqlite(path: configuration.databasePath), logger: logger)
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
        eventLoops =
            configuration.eventLoopThreads == System.coreCount
            ? MultiThreadedEventLoopGroup.singleton : MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoopThreads)
        deskClient = try stores.clients.deskClient(at: clock())
        auditKey = try AuditSigningKey.loadOrCreate(path: configuration.auditKeyFile ?? AuditSigningKey.defaultPath(database: stores.database.path))
        deskSessions = DeskSessions(idle: configuration.deskIdleTimeout, lifetime: configuration.deskSessionLifetime)
        auditBuffer = AuditBuffer(log: stores.audit, logger: logger, limit: configuration.auditQueueLimit)
        metrics = ServiceMetrics()
        guards = RequestGuards(configuration: configuration)
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
            credentials: stores.credentials, operators: stores.operators, audit: stores.audit, referencing: stores.referencing, lists: lists,
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

    // The parts most callers want, by their usual names.
    package var database: SQLiteDatabase { stores.database }
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
        (configuration.auditHeadDirectory ?? stores.database.path + ".audit-heads") + "/heads.jsonl"
    }

    /// Runs blocking work (SQLite, with its fsync) on NIO's thread pool, never on the
    /// cooperative pool that every request shares: one fsync there stalls every request on the
    /// core (measured: it bounded the stateless endpoints at a fifth of the offline rate).
    package func io<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}

/// Audit events of stateless verifications, committed together (one transaction, one fsync)
/// every `auditFlushInterval`: a verification changes no state, and one fsync per request
/// would bound the service by the disk. State changes append their event in their own
/// transaction instead.
///
/// Bounded: while the store keeps failing the events wait, up to `limit`; past it the service
/// stops acknowledging verifications (503 `unavailable`, `accepting` false) rather than grow
/// without end or drop events.
package final class AuditBuffer: AuditRecording, Sendable {
    private struct Queue {
        var pending: [AuditEvent] = []
        /// Events taken by the flush under way (still not written).
        var flushing = 0
    }

    private let queue = Mutex(Queue())
    private let log: any AuditStoring
    private let logger: Logger
    private let limit: Int

    init(log: any AuditStoring, logger: Logger, limit: Int) {
        self.log = log
        self.logger = logger
        self.limit = limit
    }

    /// Queues an event (no suspension: the request does not wait for the disk).
    package func record(_ event: AuditEvent) {
        queue.withLock { $0.pending.append(event) }
    }

    /// Whether there is room for another event.
    package var accepting: Bool { count < limit }

    /// Events not written yet.
    package var count: Int { queue.withLock { $0.pending.count + $0.flushing } }

    /// Commits what is pending, on NIO's thread pool (the commit waits for the disk); on
    /// failure the events go back in front of the queue. One flush at a time: events keep
    /// their order.
    package func flush() async {
        let events: [AuditEvent] = queue.withLock { queue in
            guard queue.flushing == 0 else { return [] }
            defer { queue.pending = [] }
            queue.flushing = queue.pending.count
            return queue.pending
        }
        guard !events.isEmpty else { return }
        do {
            try await NIOThreadPool.singleton.runIfActive { [log] in try log.append(events, at: Date()) }
            queue.withLock { $0.flushing = 0 }
        } catch {
            logger.error("audit events could not be written: \(error)")
            queue.withLock { queue in
                queue.pending = events + queue.pending
                queue.flushing = 0
            }
        }
    }
}

/// Token buckets by key (a client, a source address, an operator name), in a bounded table:
/// past `capacity` keys the buckets that have refilled go first, then the oldest.
package final class RateLimiter<Key: Hashable & Sendable>: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let rate: Double
    private let burst: Double
    private let capacity: Int
    private let buckets = Mutex<[Key: Bucket]>([:])

    init(rate: Double, burst: Double, capacity: Int = 10_000) {
        self.rate = rate
        self.burst = burst
        self.capacity = capacity
    }

    /// Takes one token for `key`; false when its bucket is empty.
    func allow(_ key: Key) -> Bool { take(key, spend: true) }

    /// Whether `key` has a token, without taking it.
    func hasToken(_ key: Key) -> Bool { take(key, spend: false) }

    private func take(_ key: Key, spend: Bool) -> Bool {
        let now = ContinuousClock.now
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated).seconds * rate)
            bucket.updated = now
            guard bucket.tokens >= 1 else {
                buckets[key] = bucket
                return false
            }
            if spend { bucket.tokens -= 1 }
            if buckets[key] == nil, buckets.count >= capacity { Self.evict(&buckets, now: now, rate: rate, burst: burst) }
            if spend || buckets[key] != nil { buckets[key] = bucket }
            return true
        }
    }

    /// Makes room: buckets full again are forgotten (a fresh one is the same); if none is, the
    /// least recently used quarter.
    private static func evict(_ buckets: inout [Key: Bucket], now: ContinuousClock.Instant, rate: Double, burst: Double) {
        let before = buckets.count
        buckets = buckets.filter { $0.value.tokens + (now - $0.value.updated).seconds * rate < burst }
        guard buckets.count >= before else { return }
        let oldest = buckets.sorted { $0.value.updated < $1.value.updated }.prefix(max(1, before / 4)).map(\.key)
        for key in oldest { buckets[key] = nil }
    }

    var count: Int { buckets.withLock { $0.count } }
}

/// API clients recently authenticated, by the SHA-256 of their key or certificate, and keys
/// recently found to be nobody's (so a sprayer of keys costs no database read per request). An
/// entry lives `lifetime`: a client revoked from the command line (another process) stops
/// being admitted within that time. Bounded: over 10,000 entries a table starts afresh.
package final class ClientCache: Sendable {
    package enum Entry: Sendable {
        case client(APIClient)
        case unknown
    }

    private let lifetime: Duration
    private let entries = Mutex<[[UInt8]: (entry: Entry, until: ContinuousClock.Instant)]>([:])

    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    func entry(_ digest: [UInt8]) -> Entry? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[digest], entry.until > now else { return nil }
            return entry.entry
        }
    }

    func store(_ entry: Entry, _ digest: [UInt8]) {
        let until = ContinuousClock.now + lifetime
        entries.withLock { entries in
            if entries.count >= 10_000 { entries.removeAll(keepingCapacity: true) }
            entries[digest] = (entry, until)
        }
    }
}
