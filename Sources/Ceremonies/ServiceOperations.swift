import AuthenticatorCatalog
import AuthenticatorVerification
import CardJudgement
import Foundation
import PSCPolicy
import SignatureVerification
import Storage
import Synchronization
import VerificationRequests
import WireFormat

/// The settings operations read (a part of the service's configuration).
package struct CeremonySettings: Sendable {
    /// How long a ceremony's challenge stays valid.
    package var challengeLifetime: TimeInterval = 300
    /// Store credentials whose PSC verdict is not `accepted` (marked with their verdict, and
    /// signing in with them carries no AMR). Off by default: a relaxation.
    package var enrolsUnacceptableKeys = false

    package init() {}
}

/// What cards are judged against: the IGC-Santé anchors and the CRLs of their CAs.
package struct CardTrust: Sendable {
    package var anchors: IGCSanteAnchors?
    package var crls: [CertificateRevocationList]

    package init(anchors: IGCSanteAnchors? = nil, crls: [CertificateRevocationList] = []) {
        self.anchors = anchors
        self.crls = crls
    }
}

/// The card trust in force, replaced whole when the CRLs are read again.
package final class LiveCardTrust: Sendable {
    private let trust: Mutex<CardTrust>

    package init(_ trust: CardTrust) {
        self.trust = Mutex(trust)
    }

    package var current: CardTrust { trust.withLock { $0 } }

    package func replace(crls: [CertificateRevocationList]) {
        trust.withLock { $0.crls = crls }
    }
}

/// The service's operations: open and finish a registration (API, desk, card-bound), open and
/// finish a sign-in, check a card, judge a registration or an assertion, read and revoke
/// credentials, import a list, the desk operators' own ceremonies. Each takes its caller
/// explicitly, runs over the store protocols and the injected clock, and is the only place that
/// calls the core and the PSC engine: the routes read requests and write answers.
///
/// Operations block (the stores wait for the disk): the service runs them off its event loops.
package struct ServiceOperations: Sendable {
    package let credentials: any CredentialStoring
    package let operators: any OperatorStoring
    package let audit: any AuditStoring
    package let referencing: ReferencingStore
    /// Stored credentials judged again when the lists change (FI 46), and what changed.
    package let verdicts: any VerdictChangeStoring
    package let lists: VerificationLists
    package let profile: Profile
    package let settings: CeremonySettings
    package let cards: LiveCardTrust
    /// What imported lists must be signed by; nil: imports are refused.
    package let importTrust: ReferencingTrust?
    package let auditQueue: any AuditRecording
    package let observer: any OperationObserver
    package let clock: @Sendable () -> Date
    /// The credential store's sign-ins awaited on the event loop, and their database, when it
    /// has them (PostgreSQL): looked up once, not per sign-in.
    let awaitedSignIns: (store: any AwaitedSignInStoring, database: any AwaitedSQLDatabase)?

    package init(
        credentials: any CredentialStoring, operators: any OperatorStoring, audit: any AuditStoring, referencing: ReferencingStore,
        verdicts: any VerdictChangeStoring, lists: VerificationLists, profile: Profile, settings: CeremonySettings, cards: LiveCardTrust, importTrust: ReferencingTrust?,
        auditQueue: any AuditRecording, observer: any OperationObserver, clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.credentials = credentials
        self.operators = operators
        self.audit = audit
        self.referencing = referencing
        self.verdicts = verdicts
        self.lists = lists
        self.profile = profile
        self.settings = settings
        self.cards = cards
        self.importTrust = importTrust
        self.auditQueue = auditQueue
        self.observer = observer
        self.clock = clock
        let store = credentials as? any AwaitedSignInStoring
        awaitedSignIns = store.flatMap { store in store.awaitedDatabase.map { (store, $0) } }
    }

    /// Refuses an operation whose audit event would find the queue full.
    func requireAuditRoom() throws(OperationError) {
        guard auditQueue.accepting else {
            throw OperationError(.unavailable, "the audit trail is not being written (its store keeps failing): nothing is acknowledged meanwhile")
        }
    }

    /// The profile a request names, if the service runs it.
    package func profile(named name: String?) throws(OperationError) -> Profile {
        guard let name, name != profile.id else { return profile }
        throw OperationError(.malformed, "profile \(name) is not available (this service runs \(profile.id))")
    }

    /// The core's request: the caller's ceremony data with the relying party's origins and ID,
    /// the strict policy and the service's time. Attestation trust is the PSC engine's to judge
    /// (FI 19, 22): an untrusted statement is reported, not a failed verification.
    package static func coreRequest(
        _ response: CredentialResponse, challenge: [UInt8], party: RelyingParty, credential: VerificationRequest.StoredCredentialJSON?, at now: Date
    ) -> VerificationRequest {
        var policy = VerificationPolicy.strict
        policy.attestation = .any
        return VerificationRequest(
            response: response,
            expected: .init(challenge: challenge, origins: party.origins, rpID: party.id, userVerification: .required, credential: credential),
            policy: policy, at: now)
    }

    /// The ceremony (or card challenge) taken for a response: single use, whatever the
    /// response's outcome; or the refusal that says why not.
    package func takeCeremony(_ id: String, _ kind: CeremonyRecord.Kind, by caller: Caller, at now: Date) throws -> CeremonyRecord {
        try taken(try credentials.take(id, kind: kind, clientID: caller.client.id, at: now), id, kind, by: caller) { $0 }
    }

    /// A take's outcome for the caller: the ceremony, or the refusal that says why not.
    func taken<T>(
        _ outcome: Result<T, CeremonyRefusal>, _ id: String, _ kind: CeremonyRecord.Kind, by caller: Caller, ceremony: (T) -> CeremonyRecord
    ) throws -> T {
        switch outcome {
        case .success(let value):
            let ceremony = ceremony(value)
            // Bound to the caller's relying party too (a client's party is fixed, but the record
            // says so itself).
            guard ceremony.rpID == nil || ceremony.rpID == caller.party.id else { throw Self.refused(.unknown, id, kind) }
            return value
        case .failure(let refusal): throw Self.refused(refusal, id, kind)
        }
    }

    /// The error a ceremony's refusal is answered with.
    static func refused(_ refusal: CeremonyRefusal, _ id: String, _ kind: CeremonyRecord.Kind) -> OperationError {
        switch refusal {
        case .unknown: OperationError(.ceremonyUnknown, "no \(kind.rawValue) ceremony \(id) for this client")
        case .replayed: OperationError(.ceremonyReplayed, "this challenge was already used; start a new ceremony")
        case .expired: OperationError(.ceremonyExpired, "this challenge expired; start a new ceremony")
        }
    }

    /// Stores a credential; one already registered is a conflict.
    func insert(_ record: StoredCredentialRecord, event: AuditEvent, at now: Date) throws {
        do {
            try credentials.insert(record, event: event, at: now)
        } catch {
            guard error.code == .credentialExists else { throw error }
            throw OperationError(.conflict, "this credential is already registered")
        }
    }
}
