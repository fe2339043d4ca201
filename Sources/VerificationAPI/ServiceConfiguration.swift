import AuthenticatorCatalog
import AuthenticatorVerification
import CardJudgement
import Ceremonies
import Foundation
import PostgresStorage
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
    /// A PostgreSQL database shared by several nodes instead of the SQLite file.
    package var postgres: PostgresConfiguration?
    /// How often a node looks for lists another node (or the command line) put in force.
    package var listPollInterval: TimeInterval = 2
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
    /// Answer the stateless verification routes in a channel handler (`HotPathHandler`) when
    /// the caller's client is cached; off: every request goes through the router.
    package var hotPath = true
    /// With the hot path: answer the stateless verification routes from the bytes
    /// (`LeanHTTP1Handler`), before NIO's HTTP/1 decoder; off: `HotPathHandler` answers them.
    package var leanPath = true
    /// The longest a hot-path answer waits, once written, for the others of its event loop's
    /// tick before they are flushed together (`FlushBatch`); 0 flushes each at once. The
    /// default, about one verified assertion's CPU, was measured against flushing each at once,
    /// against longer holds and against waiting for the tick's end (a tick of bursty arrivals
    /// is milliseconds long): most of the gain in throughput, the same paced latency. Longer
    /// holds spare a client on the same host some wake-ups at the cost of latency for every
    /// client (README, "The service over HTTP": runs F and G).
    package var flushHoldMicroseconds: Int64 = 100
    /// How long an authenticated API client is known without the database: a key revoked from
    /// the command line (another process) stops within it. Not read from the configuration file
    /// (two seconds is the product's promise); tests that must keep a caller cached lengthen it.
    package var clientCacheLifetime: Duration = .seconds(2)
    /// Threads for blocking store calls on SQLite. A transaction waits there for its group's
    /// commit (`SQLiteDatabase`), so more threads make larger groups.
    package var storeThreads = 16
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
    /// The FIDO MDS BLOB fetched and refreshed by the service; nil: imported by hand only.
    package var mdsRefresh: MDSRefreshSettings?
    /// Where changes of stored credentials' verdicts are POSTed; nil: recorded only.
    package var webhook: WebhookSettings?
    /// Stored credentials judged again per transaction after a list change.
    package var rejudgeBatchSize = 200
    /// The share of time re-judging takes while it runs: after a batch that took t, it waits
    /// t × (1 − share) / share, leaving the rest to requests (sign-ins judge their own
    /// credential meanwhile, so nothing waits for the pass to be right).
    package var rejudgeShare = 0.5
    /// Whether the service runs its referencing tasks (MDS refresh, re-judging, webhook) in the
    /// background. Not in the configuration file: the test harness turns them off to drive them
    /// step by step.
    package var runsReferencingTasks = true
    /// The OpenID Provider the IAMs delegate the second factor to (`/oidc/…`).
    package var oidc = OIDCSettings()

    package init() {}
}

/// The OpenID Provider: its issuer and how long what it issues lives.
package struct OIDCSettings: Sendable, Equatable {
    /// The issuer, an https URL the IAMs reach (nil: the relying party's first origin). The
    /// endpoints are under it.
    package var issuer: String?
    /// id_tokens live this long (PSC wants them short: they prove a sign-in that just happened).
    package var idTokenLifetime: TimeInterval = 300
    /// Access tokens (for `/oidc/userinfo` only) live this long.
    package var accessTokenLifetime: TimeInterval = 300
    /// An authorization code must be redeemed within this.
    package var codeLifetime: TimeInterval = 60
    /// The professional has this long to sign in once the IAM sent them.
    package var requestLifetime: TimeInterval = 600
    /// A signing key signs for this long, then a new one does; the old one stays in the JWKS
    /// until every token it signed has expired.
    package var keyRotation: TimeInterval = 30 * 86_400

    package init() {}
}

/// The FIDO MDS as the service keeps it fresh: where the BLOB is, what it must chain to, where
/// the CRLs of its signer chain are (URLs, or files an operator refreshes).
package struct MDSRefreshSettings: Sendable, Equatable {
    package var url: String
    /// The roots the BLOB's signer must chain to (PEM or DER files; production: GlobalSign Root R3).
    package var rootFiles: [String]
    /// CRLs of the signer chain, fetched (http, https) or read (a path) at each refresh. None:
    /// the chain's revocation is not checked, and the service says so at start.
    package var crlSources: [String] = []
    /// Each fetch (BLOB or CRL) must finish within this.
    package var timeout: TimeInterval = 30
    /// Checked at least this often even before `nextUpdate` (the FIDO Alliance may publish early).
    package var checkInterval: TimeInterval = 86_400
    /// After a failure, the next attempt waits from the first to the second, doubling.
    package var minimumRetry: TimeInterval = 60
    package var maximumRetry: TimeInterval = 6 * 3600

    package init(url: String, rootFiles: [String]) {
        self.url = url
        self.rootFiles = rootFiles
    }
}

/// The receiver of verdict changes: an HTTPS endpoint and the secret its body is signed with.
package struct WebhookSettings: Sendable, Equatable {
    package var url: String
    /// A file holding the HMAC-SHA256 secret (its bytes, trailing newline dropped).
    package var secretFile: String
    package var timeout: TimeInterval = 10
    /// Retries wait 2, 4, 8… seconds, at most this.
    package var maximumRetry: TimeInterval = 3600
    /// How often the outbox is read.
    package var pollInterval: TimeInterval = 1

    package init(url: String, secretFile: String) {
        self.url = url
        self.secretFile = secretFile
    }
}
