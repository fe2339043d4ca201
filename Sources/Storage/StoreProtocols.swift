import Foundation

// What the service needs from its stores. SQLite implements them here (one file, WAL); a
// PostgreSQL backend for several nodes implements the same protocols later. Every state change
// takes its audit event and writes both in one transaction.

/// API clients: registration, authentication by key or certificate, revocation.
package protocol ClientStoring: Sendable {
    func add(
        name: String, roles: Set<ClientRole>, rpID: String?, origins: [String], profiles: [String], certificateSHA256: [UInt8]?, at time: Date
    ) throws(StoreError) -> (APIClient, key: String)
    func authenticate(key: String) throws(StoreError) -> APIClient?
    func authenticate(certificateSHA256 digest: [UInt8]) throws(StoreError) -> APIClient?
    func list() throws(StoreError) -> [APIClient]
    func revoke(name: String, at time: Date) throws(StoreError) -> Bool
    func setAddsKeysToStrongerHolders(name: String, _ allowed: Bool, at time: Date) throws(StoreError) -> Bool
    func deskClient(at time: Date) throws(StoreError) -> APIClient
}

/// Holders, ceremonies (single-use challenges) and credentials.
package protocol CredentialStoring: Sendable {
    func find(holder id: String, rpID: String) throws(StoreError) -> Holder?
    func create(_ holder: Holder, event: AuditEvent, at time: Date) throws(StoreError) -> Bool
    func update(_ old: Holder, to new: Holder, event: AuditEvent, at time: Date) throws(StoreError) -> Bool
    func open(
        _ kind: CeremonyRecord.Kind, clientID: Int64, holderID: String?, profile: String?, lifetime: TimeInterval, at time: Date,
        evidence: String?, operator: String?, rpID: String?
    ) throws(StoreError) -> CeremonyRecord
    func take(_ id: String, kind: CeremonyRecord.Kind, clientID: Int64, at time: Date) throws(StoreError) -> Result<CeremonyRecord, CeremonyRefusal>
    func takeForSignIn(_ id: String, clientID: Int64, credential: [UInt8], rpID: String, at time: Date) throws(StoreError) -> Result<SignInRecords, CeremonyRefusal>
    func insert(_ credential: StoredCredentialRecord, event: AuditEvent, at time: Date) throws(StoreError)
    func find(credential id: [UInt8]) throws(StoreError) -> StoredCredentialRecord?
    func credentials(holder: String, rpID: String, includingDeleted: Bool) throws(StoreError) -> [StoredCredentialRecord]
    func credentials(holderInAnyParty holder: String) throws(StoreError) -> [StoredCredentialRecord]
    func recordUse(_ id: [UInt8], expectedCount: UInt32, newCount: UInt32, event: AuditEvent, at time: Date) throws(StoreError) -> Bool
    func delete(_ id: [UInt8], event: AuditEvent, at time: Date) throws(StoreError) -> Bool
    /// Runs `body` as one transaction: the store writes inside it, each a transaction of its
    /// own elsewhere, join it and commit together (one wait for the disk, not one per write).
    /// A store failure rolls all of it back; any other error `body` throws (a refusal) keeps
    /// what it wrote, as the same writes made one by one would have. The writes inside must not
    /// catch a store failure and go on: a joined write has no savepoint of its own.
    func inOneTransaction<T>(_ body: () throws -> T) throws -> T
}

/// Desk operators, their one-time codes and keys.
package protocol OperatorStoring: Sendable {
    func add(name: String, lifetime: TimeInterval, at time: Date) throws(StoreError) -> (DeskOperator, code: String)
    func issueCode(name: String, lifetime: TimeInterval, at time: Date) throws(StoreError) -> String
    func redeemable(code: String, at time: Date) throws(StoreError) -> DeskOperator?
    func enrol(_ credential: OperatorCredential, code: String, event: AuditEvent, at time: Date) throws(StoreError) -> Bool
    func find(name: String) throws(StoreError) -> DeskOperator?
    func find(id: Int64) throws(StoreError) -> DeskOperator?
    func list() throws(StoreError) -> [DeskOperator]
    func credentials(operator id: Int64) throws(StoreError) -> [OperatorCredential]
    func find(credential id: [UInt8]) throws(StoreError) -> OperatorCredential?
    func recordUse(_ id: [UInt8], expectedCount: UInt32, newCount: UInt32, event: AuditEvent, at time: Date) throws(StoreError) -> Bool
    func revoke(name: String, at time: Date) throws(StoreError) -> Bool
}

/// The hash-chained audit trail.
package protocol AuditStoring: Sendable {
    func append(_ events: [AuditEvent], at time: Date) throws(StoreError)
    /// Events that record no state change, chained at once after what waits (`AuditLog`).
    func appendChained(_ events: [AuditEvent], at time: Date) throws(StoreError)
    /// Chains up to `limit` queued events (PostgreSQL); returns how many. `recent`: only those
    /// queued lately (`AuditLog.linkWaiting`).
    func link(atMost limit: Int, recent: Bool) throws(StoreError) -> Int
    func verify() throws(StoreError) -> AuditLog.Verification
    func verify(against head: AuditHead) throws(StoreError) -> AuditLog.Verification
    func head(at time: Date) throws(StoreError) -> AuditHead?
    func export(_ line: (String) -> Void) throws(StoreError)
    func count() throws(StoreError) -> Int
}

extension AuditStoring {
    /// Links until nothing waits (at most `rounds` transactions): before the trail is read
    /// whole (an export, a head to ship) and when the service stops. `recent`: only what was
    /// queued lately (the service's frequent links; a whole read every few seconds).
    @discardableResult
    package func settle(rounds: Int = 1_000, recent: Bool = false) throws(StoreError) -> Int {
        var linked = 0
        for _ in 0..<rounds {
            let now = try link(atMost: AuditLog.linkedPerTransaction, recent: recent)
            linked += now
            if now == 0 { break }
        }
        return linked
    }
}

/// What a sign-in reads as it takes its ceremony: the credential it answers with and that
/// credential's holder in the caller's relying party, nil when there is none.
package struct SignInRecords: Sendable {
    package let ceremony: CeremonyRecord
    package let credential: StoredCredentialRecord?
    package let holder: Holder?
}

/// What an awaited sign-in writes with its ceremony's take (`writeSignIn`).
package enum SignInOutcome: Sendable {
    /// Verified: the counter moves from `expected` to `new` if nobody moved it since it was read,
    /// and then `event` is queued.
    case verified(credential: [UInt8], expected: UInt32, new: UInt32, event: AuditEvent)
    /// Refused, with its event.
    case refused(AuditEvent)
    /// The response could not be read: the ceremony is taken, nothing more.
    case unread
}

/// A sign-in's read as an item of a gathered batch (`readForSignIn`'s arguments).
package struct SignInReading: Sendable {
    package let id: String
    package let clientID: Int64
    package let credential: [UInt8]
    package let rpID: String
    package let time: Date

    package init(_ id: String, clientID: Int64, credential: [UInt8], rpID: String, at time: Date) {
        (self.id, self.clientID, self.credential, self.rpID, self.time) = (id, clientID, credential, rpID, time)
    }
}

/// A sign-in's write as an item of a gathered batch (`writeSignIn`'s arguments).
package struct SignInWriting: Sendable {
    package let id: String
    package let clientID: Int64
    package let outcome: SignInOutcome
    package let time: Date

    package init(_ id: String, clientID: Int64, _ outcome: SignInOutcome, at time: Date) {
        (self.id, self.clientID, self.outcome, self.time) = (id, clientID, outcome, time)
    }
}

/// What an awaited sign-in's write came to.
package enum SignInWrite: Sendable, Equatable {
    /// The ceremony was taken since it was read, or expired: nothing was written.
    case notTaken(CeremonyRefusal)
    /// Taken with the outcome; `moved`: a verified sign-in's counter moved and its event is queued
    /// (false for a verified one: another sign-in moved it first).
    case taken(moved: Bool)
}

extension ClientStore: ClientStoring {}
extension CredentialStore: CredentialStoring {}

/// A sign-in's store work as one transaction awaited on the event loop, where the database has
/// them (PostgreSQL): the statements of `takeForSignIn`, `recordUse` and a refusal's event.
package protocol AwaitedSignInStoring: Sendable {
    /// The awaited transactions; nil when the database has none (then the blocking calls).
    var awaitedDatabase: (any AwaitedSQLDatabase)? { get }
    /// A sign-in's ceremony read, not taken, with its credential and holder; a refusal when it
    /// is not this client's, used or expired.
    func readForSignIn(
        _ id: String, clientID: Int64, credential: [UInt8], rpID: String, at time: Date, in statements: any AwaitedSQLTransaction
    ) async throws(StoreError) -> Result<SignInRecords, CeremonyRefusal>
    /// The ceremony taken with what the sign-in came to, in one statement.
    func writeSignIn(_ id: String, clientID: Int64, _ outcome: SignInOutcome, at time: Date, in statements: any AwaitedSQLTransaction) async throws(StoreError) -> SignInWrite
    /// `openSignIn`, in one statement with the other openings gathered on the caller's event loop.
    func openSignIn(
        holderID: String?, clientID: Int64, rpID: String, lifetime: TimeInterval, at time: Date, on database: any AwaitedSQLDatabase
    ) async throws(StoreError) -> (ceremony: CeremonyRecord, allowed: [[UInt8]])?
    /// `readForSignIn`, in one statement with the other sign-ins' reads gathered on the caller's
    /// event loop (`AwaitedSQLDatabase.gathered`).
    func readForSignIn(
        _ id: String, clientID: Int64, credential: [UInt8], rpID: String, at time: Date, on database: any AwaitedSQLDatabase
    ) async throws(StoreError) -> Result<SignInRecords, CeremonyRefusal>
    /// `writeSignIn`, in one statement (one commit) with the other sign-ins' writes gathered on
    /// the caller's event loop; answered once that statement committed.
    func writeSignIn(_ id: String, clientID: Int64, _ outcome: SignInOutcome, at time: Date, on database: any AwaitedSQLDatabase) async throws(StoreError) -> SignInWrite
    /// A sign-in opened: its ceremony, with the IDs of the named holder's live keys in `rpID`
    /// (nil: a holder named who has none there, and nothing opened).
    func openSignIn(
        holderID: String?, clientID: Int64, rpID: String, lifetime: TimeInterval, at time: Date, in transaction: any AwaitedSQLTransaction
    ) async throws(StoreError) -> (ceremony: CeremonyRecord, allowed: [[UInt8]])?
}

extension CredentialStore: AwaitedSignInStoring {
    package var awaitedDatabase: (any AwaitedSQLDatabase)? { database.dialect == .postgres ? database.awaited : nil }
}
extension AuditLog: AuditStoring {}
extension OperatorStore: OperatorStoring {}

extension CredentialStoring {
    /// A holder's live credentials in a relying party.
    package func credentials(holder: String, rpID: String) throws(StoreError) -> [StoredCredentialRecord] {
        try credentials(holder: holder, rpID: rpID, includingDeleted: false)
    }

    /// A holder's live credentials in every relying party (operator tooling and tests).
    package func credentials(holder: String) throws(StoreError) -> [StoredCredentialRecord] {
        try credentials(holderInAnyParty: holder)
    }
}

extension ClientStoring {
    package func add(name: String, roles: Set<ClientRole>, rpID: String?, origins: [String], at time: Date) throws(StoreError) -> (APIClient, key: String) {
        try add(name: name, roles: roles, rpID: rpID, origins: origins, profiles: [], certificateSHA256: nil, at: time)
    }
}
