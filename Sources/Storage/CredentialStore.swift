import Foundation
import WireFormat

/// A person credentials are bound to, within one relying party: the account id there, the
/// names shown by the authenticator, the RPPS number when known, the WebAuthn user handle
/// (random, stable, and another one in each relying party: no linking across them), how the
/// identity fields were established and which client established them.
package struct Holder: Sendable, Equatable {
    package let rpID: String
    package let id: String
    package let name: String
    package let displayName: String
    package let rpps: String?
    package let userHandle: [UInt8]
    /// `proven-by-card`, `asserted-by-operator` or `asserted-by-client`: what set the identity
    /// fields last.
    package let evidence: String
    /// The client whose request set them (the desk's own client for desk enrolments).
    package let ownerClientID: Int64?

    package init(
        rpID: String, id: String, name: String, displayName: String, rpps: String?, userHandle: [UInt8], evidence: String = "asserted-by-client",
        ownerClientID: Int64? = nil
    ) {
        self.rpID = rpID
        self.id = id
        self.name = name
        self.displayName = displayName
        self.rpps = rpps
        self.userHandle = userHandle
        self.evidence = evidence
        self.ownerClientID = ownerClientID
    }

    /// The same holder with other identity fields, set by `evidence` from `client`.
    package func with(name: String, displayName: String, rpps: String?, evidence: String, client: Int64?) -> Holder {
        Holder(rpID: rpID, id: id, name: name, displayName: displayName, rpps: rpps, userHandle: userHandle, evidence: evidence, ownerClientID: client)
    }
}

/// A ceremony in progress: its challenge, who opened it, for whom, until when.
package struct CeremonyRecord: Sendable, Equatable {
    package enum Kind: String, Sendable {
        case registration, assertion, card
        /// A desk operator registering their own key (bootstrap code) or signing in with it.
        case operatorRegistration = "operator-registration"
        case operatorAssertion = "operator-assertion"
    }

    package let id: String
    package let kind: Kind
    package let challenge: [UInt8]
    package let clientID: Int64
    package let holderID: String?
    package let profile: String?
    package let expiresAt: Int64
    /// The relying party the ceremony is for (the holder's).
    package var rpID: String? = nil
    /// How the holder's identity was established, for a registration (`asserted-by-operator`,
    /// `proven-by-card`; nil: asserted by the API client), and what proved it.
    package var evidence: String? = nil
    /// The desk operator who opened it (desk ceremonies).
    package var `operator`: String? = nil
}

/// A registered credential as the service keeps it.
package struct StoredCredentialRecord: Sendable, Equatable {
    package var id: [UInt8]
    package var holderID: String
    /// `asserted-by-operator`, `proven-by-card`, `asserted-by-client`.
    package var identityEvidence: String
    /// The COSE_Key as the authenticator sent it.
    package var publicKey: [UInt8]
    package var algorithm: String
    package var signCount: UInt32
    package var backupEligible: Bool
    package var aaguid: String
    /// The model's description from the catalog, or the AAGUID.
    package var authenticator: String
    /// The PSC verdict at registration.
    package var verdict: String
    package var amr: [String]
    package var clientID: Int64
    package var rpID: String
    package var createdAt: String
    package var lastUsedAt: String?
    package var deletedAt: String?
    /// The desk operator who enrolled it (desk enrolments).
    package var enrolledBy: String?
    /// The referencing lists and profile the verdict was given under (FI 44), for the receipt.
    package var lists: [String]
    package var profile: String?
    /// The attestation object and client data the registration was verified from: what a
    /// list change judges the credential by again (nil for credentials enrolled before schema 9).
    /// Written at insertion; reads of the credential leave them out (`judgementInput` has them).
    package var attestationObject: [UInt8]?
    package var clientDataJSON: [UInt8]?
    /// The lists and profile the verdict was last given under (`JudgementKey`); nil: never
    /// judged by this version.
    package var judgedUnder: String?

    package init(
        id: [UInt8], holderID: String, identityEvidence: String, publicKey: [UInt8], algorithm: String, signCount: UInt32,
        backupEligible: Bool, aaguid: String, authenticator: String, verdict: String, amr: [String], clientID: Int64, rpID: String,
        createdAt: String, lastUsedAt: String? = nil, deletedAt: String? = nil, enrolledBy: String? = nil, lists: [String] = [],
        profile: String? = nil, attestationObject: [UInt8]? = nil, clientDataJSON: [UInt8]? = nil, judgedUnder: String? = nil
    ) {
        self.id = id
        self.holderID = holderID
        self.identityEvidence = identityEvidence
        self.publicKey = publicKey
        self.algorithm = algorithm
        self.signCount = signCount
        self.backupEligible = backupEligible
        self.aaguid = aaguid
        self.authenticator = authenticator
        self.verdict = verdict
        self.amr = amr
        self.clientID = clientID
        self.rpID = rpID
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.deletedAt = deletedAt
        self.enrolledBy = enrolledBy
        self.lists = lists
        self.profile = profile
        self.attestationObject = attestationObject
        self.clientDataJSON = clientDataJSON
        self.judgedUnder = judgedUnder
    }
}

/// Why a ceremony could not be taken.
package enum CeremonyRefusal: Error, Sendable, Equatable {
    /// No such ceremony for this client and kind.
    case unknown
    /// Already used: a replay.
    case replayed
    case expired
}

/// Holders, ceremonies and credentials, each state change with its audit event in the same
/// transaction.
package struct CredentialStore: Sendable {
    package let database: any SQLDatabase

    package init(database: any SQLDatabase) {
        self.database = database
    }

    var audit: AuditLog { AuditLog(database: database) }

    package func inOneTransaction<T>(_ body: () throws -> T) throws -> T {
        let outcome = try database.transaction { () throws(StoreError) -> Result<T, any Error> in
            do {
                return .success(try body())
            } catch let failure as StoreError {
                throw failure
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    // MARK: Holders

    private static let holderColumns = "rp_id, id, name, display_name, rpps, user_handle, evidence, owner_client_id"

    private static func holder(_ row: SQLRow) -> Holder {
        Holder(
            rpID: row.text(0) ?? "", id: row.text(1) ?? "", name: row.text(2) ?? "", displayName: row.text(3) ?? "", rpps: row.text(4),
            userHandle: row.blob(5) ?? [], evidence: row.text(6) ?? "asserted-by-client", ownerClientID: row.isNull(7) ? nil : row.int64(7))
    }

    /// The holder with this id in this relying party.
    package func find(holder id: String, rpID: String) throws(StoreError) -> Holder? {
        try database.query("SELECT \(Self.holderColumns) FROM holders WHERE rp_id = ? AND id = ?", [.text(rpID), .text(id)], Self.holder).first
    }

    /// A new holder with its audit event; false (nothing written) when the relying party has one
    /// with this id already.
    package func create(_ holder: Holder, event: AuditEvent, at time: Date) throws(StoreError) -> Bool {
        try database.transaction { () throws(StoreError) in
            guard try find(holder: holder.id, rpID: holder.rpID) == nil else { return false }
            try database.run(
                "INSERT INTO holders (\(Self.holderColumns), created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .text(holder.rpID), .text(holder.id), .text(holder.name), .text(holder.displayName), .optional(holder.rpps), .blob(holder.userHandle),
                    .text(holder.evidence), holder.ownerClientID.map(SQLValue.int) ?? .null, .text(time.formatted(.iso8601)),
                ])
            try audit.append([event], at: time)
            return true
        }
    }

    /// Replaces a holder's identity fields, evidence and owner if they are still `old`'s (compare
    /// and set), with the change's audit event; false (nothing written) when someone changed
    /// them meanwhile.
    package func update(_ old: Holder, to new: Holder, event: AuditEvent, at time: Date) throws(StoreError) -> Bool {
        try database.transaction { () throws(StoreError) in
            guard try find(holder: old.id, rpID: old.rpID) == old else { return false }
            try database.run(
                "UPDATE holders SET name = ?, display_name = ?, rpps = ?, evidence = ?, owner_client_id = ? WHERE rp_id = ? AND id = ?",
                [
                    .text(new.name), .text(new.displayName), .optional(new.rpps), .text(new.evidence), new.ownerClientID.map(SQLValue.int) ?? .null,
                    .text(old.rpID), .text(old.id),
                ])
            try audit.append([event], at: time)
            return true
        }
    }

    // MARK: Ceremonies

    /// Opens a ceremony with a fresh 32-byte challenge; expired ceremonies are purged on the way.
    package func open(
        _ kind: CeremonyRecord.Kind, clientID: Int64, holderID: String?, profile: String?, lifetime: TimeInterval, at time: Date,
        evidence: String?, operator: String?, rpID: String?
    ) throws(StoreError) -> CeremonyRecord {
        let now = Int64(time.timeIntervalSince1970.rounded(.down))
        let ceremony = Self.ceremony(
            kind, clientID: clientID, holderID: holderID, profile: profile, lifetime: lifetime, at: now, evidence: evidence, operator: `operator`, rpID: rpID)
        try database.transaction { () throws(StoreError) in
            try database.run(Self.purgeCeremonies, [.int(now - Self.ceremoniesKept)])
            try database.run(Self.insertCeremony, Self.inserting(ceremony, at: now))
        }
        return ceremony
    }

    /// A sign-in opened by one awaited statement (PostgreSQL, autocommitted): `open`'s purge
    /// and insert, the insert only if the named holder has a live key in `rpID`, whose IDs it
    /// returns. Nil when a holder is named and has none there: nothing is opened.
    package func openSignIn(
        holderID: String?, clientID: Int64, rpID: String, lifetime: TimeInterval, at time: Date, in statements: any AwaitedSQLTransaction
    ) async throws(StoreError) -> (ceremony: CeremonyRecord, allowed: [[UInt8]])? {
        let opening = Self.signInOpening(holderID: holderID, clientID: clientID, rpID: rpID, lifetime: lifetime, at: time)
        return try await Self.openSignIn(opening.ceremony, at: opening.now, in: statements)
    }

    /// `openSignIn`'s statement for `ceremony`, made at `now`.
    private static func openSignIn(
        _ ceremony: CeremonyRecord, at now: Int64, in statements: any AwaitedSQLTransaction
    ) async throws(StoreError) -> (ceremony: CeremonyRecord, allowed: [[UInt8]])? {
        let purge = SQLValue.int(now - Self.ceremoniesKept)
        guard let holderID = ceremony.holderID else {
            _ = try await statements.rows(OpenDiscoverableSignIn.self, [purge] + Self.inserting(ceremony, at: now))
            return (ceremony, [])
        }
        let keys = try await statements.rows(OpenNamedSignIn.self, [.optional(ceremony.rpID), .text(holderID), purge] + Self.inserting(ceremony, at: now))
        // The insert ran if and only if there is a key.
        return keys.isEmpty ? nil : (ceremony, keys.map { $0.blob(0) ?? [] })
    }

    /// A new ceremony: a random id and challenge, expiring `lifetime` seconds (rounded up) from `now`.
    private static func ceremony(
        _ kind: CeremonyRecord.Kind, clientID: Int64, holderID: String?, profile: String?, lifetime: TimeInterval, at now: Int64, evidence: String?,
        operator: String?, rpID: String?
    ) -> CeremonyRecord {
        CeremonyRecord(
            id: Base64URL.encode(randomBytes(16)), kind: kind, challenge: randomBytes(32), clientID: clientID, holderID: holderID,
            profile: profile, expiresAt: now + Int64(lifetime.rounded(.up)), rpID: rpID, evidence: evidence, operator: `operator`)
    }

    /// Used or expired ceremonies are kept a day (a replay is then named as one), then go.
    private static let purgeCeremonies = "DELETE FROM ceremonies WHERE expires_at < ?"
    private static let ceremoniesKept: Int64 = 86_400

    private static func inserting(_ ceremony: CeremonyRecord, at now: Int64) -> [SQLValue] {
        [
            .text(ceremony.id), .text(ceremony.kind.rawValue), .blob(ceremony.challenge), .int(ceremony.clientID), .optional(ceremony.holderID),
            .optional(ceremony.profile), .int(now), .int(ceremony.expiresAt), .optional(ceremony.evidence), .optional(ceremony.operator),
            .optional(ceremony.rpID),
        ]
    }

    private static let ceremonyInsertColumns = "id, kind, challenge, client_id, holder_id, profile, created_at, expires_at, evidence, operator, rp_id"
    private static let insertCeremony = "INSERT INTO ceremonies (\(ceremonyInsertColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

    /// A sign-in for no holder (a discoverable credential): the purge, then the ceremony's row
    /// (parameters: the purge's bound, `inserting`). Returns its id.
    private enum OpenDiscoverableSignIn: PreparedSQL {
        static let name = "mie_open_discoverable_sign_in"
        static var sql: String { "WITH purged AS (\(CredentialStore.purgeCeremonies)) \(CredentialStore.insertCeremony) RETURNING id" }
    }

    /// A sign-in for a named holder: the purge, the ceremony's row only if the holder has a live
    /// key in the relying party (a data-modifying CTE runs whether or not it is read), and the
    /// IDs of those keys, oldest first (parameters: party, holder, the purge's bound,
    /// `inserting`). The row's values are cast: in a SELECT, PostgreSQL would take untyped
    /// parameters as text.
    private enum OpenNamedSignIn: PreparedSQL {
        static let name = "mie_open_named_sign_in"
        static var sql: String {
            """
            WITH keys AS (SELECT id, created_at FROM credentials WHERE rp_id = ? AND holder_id = ? AND deleted_at IS NULL), \
            purged AS (\(CredentialStore.purgeCeremonies)), \
            made AS (INSERT INTO ceremonies (\(CredentialStore.ceremonyInsertColumns)) \
            SELECT ?, ?, CAST(? AS BYTEA), CAST(? AS BIGINT), ?, ?, CAST(? AS BIGINT), CAST(? AS BIGINT), ?, ?, ? \
            WHERE EXISTS (SELECT 1 FROM keys)) \
            SELECT id FROM keys ORDER BY created_at, id
            """
        }
    }

    /// Takes the ceremony for a response: it is marked used at once, so a second response with
    /// the same ceremony (a replay, or a retry after a failure) is refused whatever the first
    /// one's outcome.
    ///
    /// One statement when it is taken (the update returns the ceremony); only a refusal reads
    /// the row again to say why: unknown (or another client's), used, or expired.
    package func take(_ id: String, kind: CeremonyRecord.Kind, clientID: Int64, at time: Date) throws(StoreError) -> Result<CeremonyRecord, CeremonyRefusal> {
        let now = Int64(time.timeIntervalSince1970.rounded(.down))
        return try database.transaction { () throws(StoreError) in
            let taken = try database.query(
                "UPDATE ceremonies SET used_at = ? WHERE \(Self.takeable) RETURNING \(Self.ceremonyColumns)",
                Self.taking(id, kind: kind, clientID: clientID, at: now)
            ) { row in Self.ceremony(row, kind: kind) }
            if let ceremony = taken.first { return .success(ceremony) }
            return .failure(try refusal(id, kind: kind, clientID: clientID))
        }
    }

    /// A sign-in's ceremony taken, with the credential it answers with and that credential's
    /// holder in `rpID` (nil when there is none). On PostgreSQL one statement: the take and the
    /// two reads in one round trip instead of three.
    package func takeForSignIn(
        _ id: String, clientID: Int64, credential: [UInt8], rpID: String, at time: Date
    ) throws(StoreError) -> Result<SignInRecords, CeremonyRefusal> {
        guard database.dialect == .postgres else {
            return try database.transaction { () throws(StoreError) in
                switch try take(id, kind: .assertion, clientID: clientID, at: time) {
                case .failure(let refusal): return .failure(refusal)
                case .success(let ceremony):
                    let stored = try find(credential: credential)
                    let holder = try stored.flatMap { stored throws(StoreError) in try find(holder: stored.holderID, rpID: rpID) }
                    return .success(SignInRecords(ceremony: ceremony, credential: stored, holder: holder))
                }
            }
        }
        let now = Int64(time.timeIntervalSince1970.rounded(.down))
        let parameters = Self.taking(id, kind: .assertion, clientID: clientID, at: now) + [.blob(credential), .text(rpID)]
        return try database.transaction { () throws(StoreError) in
            if let records = try database.query(Self.signInTake, parameters, Self.signInRecords).first { return .success(records) }
            return .failure(try refusal(id, kind: .assertion, clientID: clientID))
        }
    }

    /// A sign-in's ceremony read, not taken, with the credential it answers with and that
    /// credential's holder in `rpID` (PostgreSQL, awaited, one statement on its own): the
    /// assertion is verified before anything is written, then `writeSignIn` takes the ceremony
    /// and moves the counter in one statement. A ceremony of another client (or none), used or
    /// expired is refused here, and nothing is written.
    package func readForSignIn(
        _ id: String, clientID: Int64, credential: [UInt8], rpID: String, at time: Date, in statements: any AwaitedSQLTransaction
    ) async throws(StoreError) -> Result<SignInRecords, CeremonyRefusal> {
        let now = Int64(time.timeIntervalSince1970.rounded(.down))
        let parameters: [SQLValue] = [.int(now), .blob(credential), .text(rpID), .text(id), .text(CeremonyRecord.Kind.assertion.rawValue), .int(clientID)]
        guard let row = try await statements.rows(SignInRead.self, parameters).first else { return .failure(.unknown) }
        return Self.signInRead(row)
    }

    /// A sign-in's one write (PostgreSQL, awaited, one statement on its own): its ceremony
    /// taken (still unused and unexpired), with what the sign-in came to, all or nothing:
    /// verified, the counter's compare-and-set and, only if it moved, its event queued for the
    /// chain; refused, its event; unread (a malformed response), nothing more.
    package func writeSignIn(
        _ id: String, clientID: Int64, _ outcome: SignInOutcome, at time: Date, in statements: any AwaitedSQLTransaction
    ) async throws(StoreError) -> SignInWrite {
        let now = Int64(time.timeIntervalSince1970.rounded(.down))
        let taking = Self.taking(id, kind: .assertion, clientID: clientID, at: now)
        let stamp = time.formatted(.iso8601)
        let row: SQLRow?
        switch outcome {
        case .verified(let credential, let expected, let new, let event):
            row = try await statements.rows(SignInFinish.self, taking + Self.moving(credential, from: expected, to: new, at: stamp) + Self.queued(event, at: stamp)).first
        case .refused(let event):
            row = try await statements.rows(SignInRefuse.self, taking + Self.queued(event, at: stamp)).first
        case .unread:
            row = try await statements.rows(SignInTakeOnly.self, taking).first
        }
        guard let row, row.int(0) == 1 else {
            // Taken or expired since it was read (rare): why, as the read would have said.
            let found = try await statements.rows(Self.refusalQuery, Self.refusalParameters(id, kind: .assertion, clientID: clientID))
            return .notTaken(Self.refusal(used: found.first.map { $0.int(0) != 0 }))
        }
        if case .verified = outcome { return .taken(moved: row.int(1) == 1) }
        return .taken(moved: false)
    }

    private static func signInRecords(_ row: SQLRow) -> SignInRecords {
        let stored = row.isNull(ceremonyColumnCount) ? nil : credential(row.columns(from: ceremonyColumnCount))
        let holderAt = ceremonyColumnCount + credentialColumnCount
        return SignInRecords(
            ceremony: ceremony(row, kind: .assertion), credential: stored, holder: row.isNull(holderAt) ? nil : holder(row.columns(from: holderAt)))
    }

    /// PostgreSQL: a sign-in's take, with the credential and its holder joined to it (parameters:
    /// now, id, kind, client, now, credential id, relying party). Written once.
    private static let signInTake = """
        WITH taken AS (UPDATE ceremonies SET used_at = ? WHERE \(takeable) RETURNING \(ceremonyColumns)) \
        SELECT \(prefixed("taken", ceremonyColumns)), \(prefixed("c", credentialColumns)), \(prefixed("h", holderColumns)) \
        FROM taken LEFT JOIN credentials c ON c.id = ? LEFT JOIN holders h ON h.rp_id = ? AND h.id = c.holder_id
        """

    /// `columns` (a comma-separated list) each named with `table`.
    private static func prefixed(_ table: String, _ columns: String) -> String {
        columns.split(separator: ",").map { "\(table).\($0.trimmingCharacters(in: .whitespaces))" }.joined(separator: ", ")
    }

    /// Why a ceremony could not be taken: not this client's (or none), used, or expired.
    private func refusal(_ id: String, kind: CeremonyRecord.Kind, clientID: Int64) throws(StoreError) -> CeremonyRefusal {
        Self.refusal(used: try database.query(Self.refusalQuery, Self.refusalParameters(id, kind: kind, clientID: clientID)) { $0.int(0) != 0 }.first)
    }

    private static let refusalQuery = "SELECT used_at IS NOT NULL FROM ceremonies WHERE id = ? AND kind = ? AND client_id = ?"

    private static func refusalParameters(_ id: String, kind: CeremonyRecord.Kind, clientID: Int64) -> [SQLValue] {
        [.text(id), .text(kind.rawValue), .int(clientID)]
    }

    /// The refusal the ceremony's row says: used or not (nil: none of this client's).
    private static func refusal(used: Bool?) -> CeremonyRefusal {
        guard let used else { return .unknown }
        return used ? .replayed : .expired
    }

    /// The ceremony a take may have: this one, of this kind and client, unused and unexpired
    /// (parameters: id, kind, client, now).
    private static let takeable = "id = ? AND kind = ? AND client_id = ? AND used_at IS NULL AND expires_at > ?"

    /// A take's parameters: the time it is used at, then `takeable`'s.
    private static func taking(_ id: String, kind: CeremonyRecord.Kind, clientID: Int64, at now: Int64) -> [SQLValue] {
        [.int(now), .text(id), .text(kind.rawValue), .int(clientID), .int(now)]
    }
    private static let ceremonyColumns = "id, challenge, client_id, holder_id, profile, expires_at, evidence, operator, rp_id"
    private static let ceremonyColumnCount: Int32 = 9
    private static let credentialColumnCount: Int32 = 20
    private static let holderColumnCount: Int32 = 8

    private static func ceremony(_ row: SQLRow, kind: CeremonyRecord.Kind) -> CeremonyRecord {
        CeremonyRecord(
            id: row.text(0) ?? "", kind: kind, challenge: row.blob(1) ?? [], clientID: row.int64(2), holderID: row.text(3),
            profile: row.text(4), expiresAt: row.int64(5), rpID: row.text(8), evidence: row.text(6), operator: row.text(7))
    }

    // MARK: Credentials

    static let credentialColumns = """
        id, holder_id, identity_evidence, public_key, algorithm, sign_count, backup_eligible, aaguid, authenticator, verdict, amr, \
        client_id, rp_id, created_at, last_used_at, deleted_at, enrolled_by, lists, profile, judged_under
        """

    static func credential(_ row: SQLRow) -> StoredCredentialRecord {
        func strings(_ column: Int32) -> [String] {
            (try? JSONValue.parse(Array((row.text(column) ?? "[]").utf8), document: "stored list"))?.strings ?? []
        }
        let amr = strings(10)
        return StoredCredentialRecord(
            id: row.blob(0) ?? [], holderID: row.text(1) ?? "", identityEvidence: row.text(2) ?? "", publicKey: row.blob(3) ?? [],
            algorithm: row.text(4) ?? "", signCount: UInt32(clamping: row.int64(5)), backupEligible: row.int(6) != 0,
            aaguid: row.text(7) ?? "", authenticator: row.text(8) ?? "", verdict: row.text(9) ?? "", amr: amr, clientID: row.int64(11),
            rpID: row.text(12) ?? "", createdAt: row.text(13) ?? "", lastUsedAt: row.text(14), deletedAt: row.text(15), enrolledBy: row.text(16),
            lists: strings(17), profile: row.text(18), judgedUnder: row.text(19))
    }

    /// Stores a new credential with its audit event, in one transaction. A credential ID
    /// already registered (even deleted) is refused: `store.credential-exists`.
    package func insert(_ credential: StoredCredentialRecord, event: AuditEvent, at time: Date) throws(StoreError) {
        try database.transaction { () throws(StoreError) in
            if try database.query("SELECT 1 FROM credentials WHERE id = ?", [.blob(credential.id)], { _ in true }).first == true {
                throw StoreError(.credentialExists, "this credential is already registered")
            }
            try database.run(
                """
                INSERT INTO credentials (\(Self.credentialColumns), attestation_object, client_data)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .blob(credential.id), .text(credential.holderID), .text(credential.identityEvidence), .blob(credential.publicKey),
                    .text(credential.algorithm), .int(Int64(credential.signCount)), .int(credential.backupEligible ? 1 : 0),
                    .text(credential.aaguid), .text(credential.authenticator), .text(credential.verdict),
                    .text(String(decoding: JSONValue.strings(credential.amr).json, as: UTF8.self)), .int(credential.clientID),
                    .text(credential.rpID), .text(credential.createdAt), .optional(credential.enrolledBy),
                    .text(String(decoding: JSONValue.strings(credential.lists).json, as: UTF8.self)), .optional(credential.profile),
                    .optional(credential.judgedUnder), credential.attestationObject.map(SQLValue.blob) ?? .null,
                    credential.clientDataJSON.map(SQLValue.blob) ?? .null,
                ])
            try audit.append([event], at: time)
        }
    }

    /// A credential by ID, deleted ones included.
    package func find(credential id: [UInt8]) throws(StoreError) -> StoredCredentialRecord? {
        try database.query("SELECT \(Self.credentialColumns) FROM credentials WHERE id = ?", [.blob(id)], Self.credential).first
    }

    /// A holder's credentials in a relying party, oldest first, deleted ones only when asked.
    package func credentials(holder: String, rpID: String, includingDeleted: Bool) throws(StoreError) -> [StoredCredentialRecord] {
        try database.query(
            """
            SELECT \(Self.credentialColumns) FROM credentials WHERE rp_id = ? AND holder_id = ?\(includingDeleted ? "" : " AND deleted_at IS NULL")
            ORDER BY created_at, id
            """,
            [.text(rpID), .text(holder)], Self.credential)
    }

    /// The live credentials of every holder with this id, whatever their relying party: for the
    /// operator's tools on the command line, never for a client.
    package func credentials(holderInAnyParty holder: String) throws(StoreError) -> [StoredCredentialRecord] {
        try database.query(
            "SELECT \(Self.credentialColumns) FROM credentials WHERE holder_id = ? AND deleted_at IS NULL ORDER BY created_at, id", [.text(holder)],
            Self.credential)
    }

    /// The counter moves from `expected` to `new` only if nobody moved it since it was read
    /// (compare and set), with the sign-in's audit event. False: another sign-in won the race
    /// or the credential was deleted meanwhile; nothing is written.
    package func recordUse(
        _ id: [UInt8], expectedCount: UInt32, newCount: UInt32, event: AuditEvent, at time: Date
    ) throws(StoreError) -> Bool {
        let stamp = time.formatted(.iso8601)
        let moving = Self.moving(id, from: expectedCount, to: newCount, at: stamp)
        if database.dialect == .postgres {
            return try database.run(Self.moveAndQueue, moving + Self.queued(event, at: stamp)) == 1
        }
        return try database.transaction { () throws(StoreError) in
            guard try database.run(Self.move, moving) == 1 else { return false }
            try audit.append([event], at: time)
            return true
        }
    }

    /// `move`'s parameters.
    private static func moving(_ id: [UInt8], from expectedCount: UInt32, to newCount: UInt32, at stamp: String) -> [SQLValue] {
        [.int(Int64(newCount)), .text(stamp), .blob(id), .int(Int64(expectedCount))]
    }

    /// An event's parameters where a statement queues it (after `move`'s in `moveAndQueue`).
    private static func queued(_ event: AuditEvent, at stamp: String) -> [SQLValue] {
        [.text(stamp), .text(String(decoding: event.json, as: UTF8.self))]
    }

    /// The awaited sign-in's statements (PostgreSQL), prepared once per connection.
    ///
    /// The ceremony with the credential and holder, whether it is used and whether it is
    /// unexpired (parameters: now, credential id, relying party, id, kind, client).
    private enum SignInRead: PreparedSQL {
        static let name = "mie_sign_in_read"
        static let sql = """
            SELECT \(prefixed("k", ceremonyColumns)), \(prefixed("c", credentialColumns)), \(prefixed("h", holderColumns)), \
            k.used_at IS NOT NULL, k.expires_at > ? \
            FROM ceremonies k LEFT JOIN credentials c ON c.id = ? LEFT JOIN holders h ON h.rp_id = ? AND h.id = c.holder_id \
            WHERE k.id = ? AND k.kind = ? AND k.client_id = ?
            """
    }

    /// Verified: the take, the counter's compare-and-set only if taken, its event queued only if
    /// it moved; how many were taken and queued (parameters: `taking`, `moving`, `queued`).
    private enum SignInFinish: PreparedSQL {
        static let name = "mie_sign_in_finish"
        static let sql = """
            \(signInTaken), moved AS (\(move) AND EXISTS (SELECT 1 FROM taken) RETURNING id), \
            queued AS (INSERT INTO audit_pending (at, event) SELECT ?, ? FROM moved RETURNING id) \
            SELECT (SELECT count(*) FROM taken), (SELECT count(*) FROM queued)
            """
    }

    /// Refused: the take and, only if taken, its event (parameters: `taking`, `queued`).
    private enum SignInRefuse: PreparedSQL {
        static let name = "mie_sign_in_refuse"
        static let sql = "\(signInTaken), queued AS (INSERT INTO audit_pending (at, event) SELECT ?, ? FROM taken RETURNING id) SELECT count(*) FROM taken"
    }

    /// Unreadable: the take alone (parameters: `taking`).
    private enum SignInTakeOnly: PreparedSQL {
        static let name = "mie_sign_in_take_only"
        static let sql = "\(signInTaken) SELECT count(*) FROM taken"
    }

    /// The take as a statement's first part.
    private static let signInTaken = "WITH taken AS (UPDATE ceremonies SET used_at = ? WHERE \(takeable) RETURNING id)"

    /// A counter's compare-and-set (parameters: new count, time, credential, expected count).
    private static let move = "UPDATE credentials SET sign_count = ?, last_used_at = ? WHERE id = ? AND sign_count = ? AND deleted_at IS NULL"
    /// PostgreSQL: the compare-and-set, and its event queued for the chain only if the counter
    /// moved (as `AuditLog.append` queues it there); then the event's time and JSON. Returns
    /// the queued row: one when the counter moved.
    private static let moveAndQueue = "WITH moved AS (\(move) RETURNING id) INSERT INTO audit_pending (at, event) SELECT ?, ? FROM moved RETURNING id"

    /// Marks a credential deleted (it stays, for the audit trail and so its ID is never
    /// registered again), with the deletion's event. False when there is no live one.
    package func delete(_ id: [UInt8], event: AuditEvent, at time: Date) throws(StoreError) -> Bool {
        try database.transaction { () throws(StoreError) in
            let changed = try database.run(
                "UPDATE credentials SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL", [.text(time.formatted(.iso8601)), .blob(id)])
            guard changed == 1 else { return false }
            try audit.append([event], at: time)
            return true
        }
    }

    package static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}

// MARK: Sign-ins gathered (PostgreSQL)

extension CredentialStore {
    package func readForSignIn(
        _ id: String, clientID: Int64, credential: [UInt8], rpID: String, at time: Date, on database: any AwaitedSQLDatabase
    ) async throws(StoreError) -> Result<SignInRecords, CeremonyRefusal> {
        try await database.gathered(SignInReading(id, clientID: clientID, credential: credential, rpID: rpID, at: time), into: signInReads)
    }

    package func writeSignIn(
        _ id: String, clientID: Int64, _ outcome: SignInOutcome, at time: Date, on database: any AwaitedSQLDatabase
    ) async throws(StoreError) -> SignInWrite {
        try await database.gathered(SignInWriting(id, clientID: clientID, outcome, at: time), into: signInWrites).get()
    }

    /// `openSignIn`, in one statement with the other openings gathered on the caller's event
    /// loop (`AwaitedSQLDatabase.gathered`).
    package func openSignIn(
        holderID: String?, clientID: Int64, rpID: String, lifetime: TimeInterval, at time: Date, on database: any AwaitedSQLDatabase
    ) async throws(StoreError) -> (ceremony: CeremonyRecord, allowed: [[UInt8]])? {
        try await database.gathered(Self.signInOpening(holderID: holderID, clientID: clientID, rpID: rpID, lifetime: lifetime, at: time), into: signInOpenings)
    }

    /// A sign-in's ceremony to open (made before it is gathered), and the second it was made in.
    package struct SignInOpening: Sendable {
        let ceremony: CeremonyRecord
        let now: Int64
    }

    package static func signInOpening(holderID: String?, clientID: Int64, rpID: String, lifetime: TimeInterval, at time: Date) -> SignInOpening {
        let now = seconds(time)
        return SignInOpening(
            ceremony: ceremony(
                .assertion, clientID: clientID, holderID: holderID, profile: nil, lifetime: lifetime, at: now, evidence: nil, operator: nil, rpID: rpID),
            now: now)
    }

    /// The batches the service's sign-ins are gathered into.
    package var signInOpenings: SignInOpenings { SignInOpenings() }
    package var signInReads: SignInReads { SignInReads(store: self) }
    package var signInWrites: SignInWrites { SignInWrites(store: self) }

    /// Sign-ins' openings: one alone is `openSignIn`'s statement, several one `OpenSignIns`.
    package struct SignInOpenings: AwaitedBatch {
        package static let limit = 64

        package func run(
            _ items: [SignInOpening], in statements: any AwaitedSQLTransaction
        ) async throws(StoreError) -> [(ceremony: CeremonyRecord, allowed: [[UInt8]])?] {
            if items.count == 1, let item = items.first { return [try await CredentialStore.openSignIn(item.ceremony, at: item.now, in: statements)] }
            let ceremonies = items.map(\.ceremony)
            let parameters: [SQLValue] = [
                .array(.texts(ceremonies.map(\.id))), .array(.texts(ceremonies.map { $0.holderID ?? "" })),
                .array(.ints(ceremonies.map { $0.holderID == nil ? 0 : 1 })), .array(.blobs(ceremonies.map(\.challenge))),
                .array(.ints(ceremonies.map(\.clientID))), .array(.texts(ceremonies.map { $0.rpID ?? "" })), .array(.ints(items.map(\.now))),
                .array(.ints(ceremonies.map(\.expiresAt))), .int((items.map(\.now).min() ?? 0) - CredentialStore.ceremoniesKept),
                .text(CeremonyRecord.Kind.assertion.rawValue),
            ]
            var keys = [[[UInt8]]](repeating: [], count: items.count)
            for row in try await statements.rows(OpenSignIns.self, parameters) {
                let index = row.int(0) - 1
                guard keys.indices.contains(index) else { throw StoreError(.corrupt, "a batched opening answered for item \(index + 1) of \(items.count)") }
                keys[index].append(row.blob(1) ?? [])
            }
            // A named holder's ceremony was inserted if and only if the holder has a key.
            return zip(ceremonies, keys).map { ceremony, keys in ceremony.holderID != nil && keys.isEmpty ? nil : (ceremony, keys) }
        }
    }

    /// Several sign-ins opened: the purge, each ceremony's row (a named holder's only if it has
    /// a live key in the relying party), and the IDs of those keys led by their item's number
    /// from 1, oldest first (parameters: the items' ids, holders, whether named, challenges,
    /// clients, parties, times and expiries as lists, the purge's bound, the kind).
    private enum OpenSignIns: PreparedSQL {
        static let name = "mie_open_sign_ins"
        static var sql: String {
            """
            WITH i AS (SELECT * FROM unnest(CAST(? AS TEXT[]), CAST(? AS TEXT[]), CAST(? AS BIGINT[]), CAST(? AS BYTEA[]), \
            CAST(? AS BIGINT[]), CAST(? AS TEXT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[])) \
            WITH ORDINALITY AS i (id, holder, named, challenge, client, rp, made_at, expires, n)), \
            keys AS (SELECT i.n, c.id, c.created_at FROM i JOIN credentials c \
            ON i.named = 1 AND c.rp_id = i.rp AND c.holder_id = i.holder AND c.deleted_at IS NULL), \
            purged AS (\(CredentialStore.purgeCeremonies)), \
            made AS (INSERT INTO ceremonies (\(CredentialStore.ceremonyInsertColumns)) \
            SELECT i.id, ?, i.challenge, i.client, CASE WHEN i.named = 1 THEN i.holder END, NULL, i.made_at, i.expires, NULL, NULL, i.rp \
            FROM i WHERE i.named = 0 OR EXISTS (SELECT 1 FROM keys k WHERE k.n = i.n)) \
            SELECT n, id FROM keys ORDER BY n, created_at, id
            """
        }
    }

    /// Sign-ins' reads: one alone is `readForSignIn`'s statement, several one `SignInReadMany`.
    package struct SignInReads: AwaitedBatch {
        package static let limit = 64
        let store: CredentialStore

        package func run(_ items: [SignInReading], in statements: any AwaitedSQLTransaction) async throws(StoreError) -> [Result<SignInRecords, CeremonyRefusal>] {
            if items.count == 1, let item = items.first {
                return [try await store.readForSignIn(item.id, clientID: item.clientID, credential: item.credential, rpID: item.rpID, at: item.time, in: statements)]
            }
            let parameters: [SQLValue] = [
                .array(.texts(items.map(\.id))), .array(.ints(items.map(\.clientID))), .array(.blobs(items.map(\.credential))),
                .array(.texts(items.map(\.rpID))), .array(.ints(items.map { CredentialStore.seconds($0.time) })),
                .text(CeremonyRecord.Kind.assertion.rawValue),
            ]
            var answers = [Result<SignInRecords, CeremonyRefusal>](repeating: .failure(.unknown), count: items.count)
            for row in try await statements.rows(SignInReadMany.self, parameters) {
                let index = row.int(0) - 1
                guard answers.indices.contains(index) else { throw StoreError(.corrupt, "a batched read answered for item \(index + 1) of \(items.count)") }
                answers[index] = CredentialStore.signInRead(row.columns(from: 1))
            }
            return answers
        }
    }

    /// Sign-ins' writes: one alone is `writeSignIn`'s statement, several go in rounds of
    /// `SignInWriteMany`, each naming a ceremony and a credential at most once (so its rows are
    /// independent of one another); an item that repeats one waits for the next round, and
    /// meets what the first wrote, as if each had been its own statement in turn (a second take
    /// of a ceremony is refused as a replay, a second move of a counter compares with the
    /// first's). Within a round the items go in order of their credential: walking the list in
    /// a nested loop (its plan for lists this short), PostgreSQL takes the counters' row locks
    /// in that order, so two batches on two connections do not each hold a counter the other
    /// waits for (were they to, the deadlock is detected and the batch runs again).
    ///
    /// Each round commits on its own: once the first has, a failure is answered to the items
    /// not written yet, and not thrown (a batch that throws is run again, item by item, and
    /// the items written would then meet their own takes as replays).
    package struct SignInWrites: AwaitedBatch {
        package static let limit = 64
        let store: CredentialStore

        package func run(_ items: [SignInWriting], in statements: any AwaitedSQLTransaction) async throws(StoreError) -> [Result<SignInWrite, StoreError>] {
            if items.count == 1, let item = items.first {
                return [.success(try await store.writeSignIn(item.id, clientID: item.clientID, item.outcome, at: item.time, in: statements))]
            }
            var answers = [Result<SignInWrite, StoreError>?](repeating: nil, count: items.count)
            var left = Array(items.indices)
            var written = false
            while !left.isEmpty {
                let (round, later) = Self.round(of: left, in: items)
                do throws(StoreError) {
                    let rows = try await statements.rows(SignInWriteMany.self, CredentialStore.writing(round.map { items[$0] }))
                    written = true
                    for row in rows {
                        let position = row.int(0) - 1
                        guard round.indices.contains(position) else { throw StoreError(.corrupt, "a batched write answered for item \(position + 1) of \(round.count)") }
                        let moved: Bool
                        if case .verified = items[round[position]].outcome { moved = row.int(1) == 1 } else { moved = false }
                        answers[round[position]] = .success(.taken(moved: moved))
                    }
                    for index in round where answers[index] == nil {
                        // Taken or expired since it was read (rare): why, as the read would have said.
                        let item = items[index]
                        let found = try await statements.rows(CredentialStore.refusalQuery, CredentialStore.refusalParameters(item.id, kind: .assertion, clientID: item.clientID))
                        answers[index] = .success(.notTaken(CredentialStore.refusal(used: found.first.map { $0.int(0) != 0 })))
                    }
                } catch {
                    guard written else { throw error }
                    for index in round + later where answers[index] == nil { answers[index] = .failure(error) }
                    break
                }
                left = later
            }
            return answers.map { $0 ?? .failure(StoreError(.sql, "a batched write was not answered")) }
        }

        /// The items of `left` that go in the next statement (in order of their credential),
        /// and those that wait for the one after.
        private static func round(of left: [Int], in items: [SignInWriting]) -> (round: [Int], later: [Int]) {
            var (round, later) = ([Int](), [Int]())
            var ceremonies = Set<String>()
            var credentials = Set<[UInt8]>()
            for index in left {
                let item = items[index]
                let credential = item.outcome.credential
                guard !ceremonies.contains(item.id), credential.map({ !credentials.contains($0) }) ?? true else {
                    later.append(index)
                    continue
                }
                ceremonies.insert(item.id)
                if let credential { credentials.insert(credential) }
                round.append(index)
            }
            round.sort { (items[$0].outcome.credential ?? []).lexicographicallyPrecedes(items[$1].outcome.credential ?? []) }
            return (round, later)
        }
    }

    static func seconds(_ time: Date) -> Int64 { Int64(time.timeIntervalSince1970.rounded(.down)) }

    /// `SignInWriteMany`'s parameters for `items` (their order is the list's): a refused or
    /// unread item moves no counter (no credential, counts 0), an unread one queues no event.
    private static func writing(_ items: [SignInWriting]) -> [SQLValue] {
        var (ids, clients, times, outcomes, credentials) = ([String](), [Int64](), [Int64](), [String](), [[UInt8]]())
        var (expected, new, stamps, events) = ([Int64](), [Int64](), [String](), [String]())
        for item in items {
            let (outcome, credential, from, to, event): (String, [UInt8], UInt32, UInt32, AuditEvent?) =
                switch item.outcome {
                case .verified(let credential, let from, let to, let event): ("verified", credential, from, to, event)
                case .refused(let event): ("refused", [], 0, 0, event)
                case .unread: ("unread", [], 0, 0, nil)
                }
            ids.append(item.id)
            clients.append(item.clientID)
            times.append(seconds(item.time))
            stamps.append(item.time.formatted(.iso8601))
            outcomes.append(outcome)
            credentials.append(credential)
            expected.append(Int64(from))
            new.append(Int64(to))
            events.append(event.map { String(decoding: $0.json, as: UTF8.self) } ?? "")
        }
        return [
            .array(.texts(ids)), .array(.ints(clients)), .array(.ints(times)), .array(.texts(outcomes)), .array(.blobs(credentials)),
            .array(.ints(expected)), .array(.ints(new)), .array(.texts(stamps)), .array(.texts(events)), .text(CeremonyRecord.Kind.assertion.rawValue),
        ]
    }

    /// `SignInRead`'s row (without its leading item number): the records, or why the ceremony
    /// cannot be taken.
    private static func signInRead(_ row: SQLRow) -> Result<SignInRecords, CeremonyRefusal> {
        let state = ceremonyColumnCount + credentialColumnCount + holderColumnCount
        if row.int(state) != 0 { return .failure(.replayed) }
        if row.int(state + 1) == 0 { return .failure(.expired) }
        return .success(signInRecords(row))
    }

    /// Several sign-ins' reads: `SignInRead`'s row for each item whose ceremony is this
    /// client's, led by the item's number from 1 (parameters: the items' ids, clients,
    /// credentials, parties and times as lists, then the kind).
    private enum SignInReadMany: PreparedSQL {
        static let name = "mie_sign_in_read_many"
        static let sql = """
            SELECT i.n, \(prefixed("k", ceremonyColumns)), \(prefixed("c", credentialColumns)), \(prefixed("h", holderColumns)), \
            k.used_at IS NOT NULL, k.expires_at > i.at_time \
            FROM unnest(CAST(? AS TEXT[]), CAST(? AS BIGINT[]), CAST(? AS BYTEA[]), CAST(? AS TEXT[]), CAST(? AS BIGINT[])) \
            WITH ORDINALITY AS i (ceremony, client, credential, rp, at_time, n) \
            JOIN ceremonies k ON k.id = i.ceremony AND k.kind = ? AND k.client_id = i.client \
            LEFT JOIN credentials c ON c.id = i.credential LEFT JOIN holders h ON h.rp_id = i.rp AND h.id = c.holder_id
            """
    }

    /// Several sign-ins' writes, each `SignInFinish`, `SignInRefuse` or `SignInTakeOnly` by its
    /// outcome: the takes, the counters' compare-and-sets of the verified ones taken, and the
    /// events of those that moved and of the refused ones taken, in the items' order. A row per
    /// item taken: its number from 1 and whether its counter moved (parameters: the items' ids,
    /// clients, times, outcomes, credentials, expected and new counts, stamps and events as
    /// lists, then the kind).
    private enum SignInWriteMany: PreparedSQL {
        static let name = "mie_sign_in_write_many"
        static let sql = """
            WITH i AS (SELECT * FROM unnest(CAST(? AS TEXT[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS TEXT[]), \
            CAST(? AS BYTEA[]), CAST(? AS BIGINT[]), CAST(? AS BIGINT[]), CAST(? AS TEXT[]), CAST(? AS TEXT[])) \
            WITH ORDINALITY AS i (ceremony, client, at_time, outcome, credential, expected_count, new_count, stamp, event, n)), \
            taken AS (UPDATE ceremonies k SET used_at = i.at_time FROM i \
            WHERE k.id = i.ceremony AND k.kind = ? AND k.client_id = i.client AND k.used_at IS NULL AND k.expires_at > i.at_time RETURNING i.n), \
            moved AS (UPDATE credentials c SET sign_count = i.new_count, last_used_at = i.stamp FROM i JOIN taken t ON t.n = i.n \
            WHERE i.outcome = 'verified' AND c.id = i.credential AND c.sign_count = i.expected_count AND c.deleted_at IS NULL RETURNING i.n), \
            queued AS (INSERT INTO audit_pending (at, event) SELECT i.stamp, i.event FROM i \
            WHERE i.n IN (SELECT n FROM moved) OR (i.outcome = 'refused' AND i.n IN (SELECT n FROM taken)) ORDER BY i.n) \
            SELECT t.n, t.n IN (SELECT n FROM moved) FROM taken t
            """
    }
}

extension SignInOutcome {
    /// The credential a verified sign-in moves the counter of.
    var credential: [UInt8]? {
        if case .verified(let credential, _, _, _) = self { return credential }
        return nil
    }
}
