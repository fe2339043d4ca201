import Foundation
import WireFormat

/// What judging a stored credential again needs: the credential, what it was registered with
/// and its holder's RPPS number.
package struct JudgementInput: Sendable {
    package var credential: StoredCredentialRecord
    package var holderRPPS: String?

    package init(credential: StoredCredentialRecord, holderRPPS: String?) {
        self.credential = credential
        self.holderRPPS = holderRPPS
    }
}

/// A stored credential judged again under new lists: the verdict it had, the one it has now,
/// and why.
package struct Rejudgement: Sendable, Equatable {
    package let credentialID: [UInt8]
    package let oldVerdict: String
    package let oldAMR: [String]
    package let verdict: String
    package let amr: [String]
    /// The lists the new verdict was given under (labels).
    package let lists: [String]
    /// The model's description under the new lists.
    package let authenticator: String
    /// What decided the new verdict: the criteria that failed, or what made it acceptable.
    package let cause: String

    package init(
        credentialID: [UInt8], oldVerdict: String, oldAMR: [String], verdict: String, amr: [String], lists: [String], authenticator: String,
        cause: String
    ) {
        self.credentialID = credentialID
        self.oldVerdict = oldVerdict
        self.oldAMR = oldAMR
        self.verdict = verdict
        self.amr = amr
        self.lists = lists
        self.authenticator = authenticator
        self.cause = cause
    }

    /// Whether anything a sign-in reports changed.
    package var changed: Bool { verdict != oldVerdict || amr != oldAMR }
}

/// A change of verdict or AMR of a stored credential, as recorded (and sent to the webhook).
package struct VerdictChange: Sendable, Equatable {
    package let id: Int64
    package let credentialID: [UInt8]
    package let rpID: String
    package let holderID: String
    package let clientID: Int64
    package let aaguid: String
    package let authenticator: String
    package let at: String
    package let oldVerdict: String
    package let newVerdict: String
    package let oldAMR: [String]
    package let newAMR: [String]
    package let cause: String
    package let lists: [String]
    package let deliveredAt: String?
    package let attempts: Int
    package let lastError: String?
}

/// Re-judging stored credentials (FI 46) and the changes it found, which are also the webhook's
/// outbox: a change is delivered once some node's POST was answered 2xx.
package protocol VerdictChangeStoring: Sendable {
    /// Live credentials not judged under `key`, by credential id after `after`, at most `limit`.
    func credentials(notJudgedUnder key: String, after: [UInt8]?, limit: Int) throws(StoreError) -> [JudgementInput]
    /// One credential with what it was registered with.
    func judgementInput(credential id: [UInt8]) throws(StoreError) -> JudgementInput?
    /// Every live credential (for an impact report), in batches of `batch`.
    func forEachCredential(batch: Int, _ body: ([JudgementInput]) throws(StoreError) -> Void) throws(StoreError)
    /// Writes the new judgements, one transaction: each credential takes its new verdict only
    /// if it still has the old one (compare and set: another node may have judged it first);
    /// each change is recorded with its audit event. Returns the changes recorded.
    func record(_ judgements: [Rejudgement], under key: String, at time: Date) throws(StoreError) -> [VerdictChange]
    /// Changes, newest first: of one relying party, or of one credential.
    func changes(rpID: String, limit: Int) throws(StoreError) -> [VerdictChange]
    func changes(credential id: [UInt8]) throws(StoreError) -> [VerdictChange]
    /// Undelivered changes due now, leased to the caller for `lease` seconds (no other node
    /// takes them meanwhile).
    func dueDeliveries(at time: Date, lease: TimeInterval, limit: Int) throws(StoreError) -> [VerdictChange]
    func delivered(_ id: Int64, at time: Date) throws(StoreError)
    func deliveryFailed(_ id: Int64, retryAt: Date, error: String) throws(StoreError)
    /// Changes not yet delivered, and live credentials not judged under `key`.
    func backlog(key: String) throws(StoreError) -> (undelivered: Int, unjudged: Int)
}

/// The SQL implementation, over either engine.
package struct VerdictChangeStore: VerdictChangeStoring {
    package let database: any SQLDatabase

    package init(database: any SQLDatabase) {
        self.database = database
    }

    private static let inputColumns =
        CredentialStore.credentialColumns.split(separator: ",").map { "c." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        .joined(separator: ", ") + ", c.attestation_object, c.client_data, h.rpps"

    private static let inputJoin = "credentials c LEFT JOIN holders h ON h.rp_id = c.rp_id AND h.id = c.holder_id"

    private static func input(_ row: SQLRow) -> JudgementInput {
        var credential = CredentialStore.credential(row)
        credential.attestationObject = row.blob(20)
        credential.clientDataJSON = row.blob(21)
        return JudgementInput(credential: credential, holderRPPS: row.text(22))
    }

    package func credentials(notJudgedUnder key: String, after: [UInt8]?, limit: Int) throws(StoreError) -> [JudgementInput] {
        try database.query(
            """
            SELECT \(Self.inputColumns) FROM \(Self.inputJoin)
            WHERE c.deleted_at IS NULL AND (c.judged_under IS NULL OR c.judged_under <> ?) AND c.id > ?
            ORDER BY c.id LIMIT ?
            """,
            [.text(key), .blob(after ?? []), .int(Int64(limit))], Self.input)
    }

    package func judgementInput(credential id: [UInt8]) throws(StoreError) -> JudgementInput? {
        try database.query("SELECT \(Self.inputColumns) FROM \(Self.inputJoin) WHERE c.id = ?", [.blob(id)], Self.input).first
    }

    package func forEachCredential(batch: Int, _ body: ([JudgementInput]) throws(StoreError) -> Void) throws(StoreError) {
        var after: [UInt8] = []
        while true {
            let rows = try database.query(
                "SELECT \(Self.inputColumns) FROM \(Self.inputJoin) WHERE c.deleted_at IS NULL AND c.id > ? ORDER BY c.id LIMIT ?",
                [.blob(after), .int(Int64(batch))], Self.input)
            guard let last = rows.last else { return }
            try body(rows)
            after = last.credential.id
        }
    }

    private static func json(_ strings: [String]) -> SQLValue {
        .text(String(decoding: JSONValue.strings(strings).json, as: UTF8.self))
    }

    package func record(_ judgements: [Rejudgement], under key: String, at time: Date) throws(StoreError) -> [VerdictChange] {
        guard !judgements.isEmpty else { return [] }
        let stamp = time.formatted(.iso8601)
        return try database.transaction { () throws(StoreError) -> [VerdictChange] in
            var recorded: [VerdictChange] = []
            var events: [AuditEvent] = []
            for judgement in judgements {
                let changed = try database.run(
                    """
                    UPDATE credentials SET judged_under = ?, verdict = ?, amr = ?, lists = ?, authenticator = ?
                    WHERE id = ? AND verdict = ? AND amr = ? AND deleted_at IS NULL
                    """,
                    [
                        .text(key), .text(judgement.verdict), Self.json(judgement.amr), Self.json(judgement.lists), .text(judgement.authenticator),
                        .blob(judgement.credentialID), .text(judgement.oldVerdict), Self.json(judgement.oldAMR),
                    ])
                guard changed == 1, judgement.changed else { continue }
                let rows = try database.query(
                    """
                    INSERT INTO verdict_changes
                        (credential_id, rp_id, holder_id, client_id, aaguid, authenticator, at, old_verdict, new_verdict, old_amr, new_amr, cause, lists)
                    SELECT id, rp_id, holder_id, client_id, aaguid, authenticator, ?, ?, ?, ?, ?, ?, ? FROM credentials WHERE id = ?
                    RETURNING \(Self.changeColumns)
                    """,
                    [
                        .text(stamp), .text(judgement.oldVerdict), .text(judgement.verdict), Self.json(judgement.oldAMR), Self.json(judgement.amr),
                        .text(judgement.cause), Self.json(judgement.lists), .blob(judgement.credentialID),
                    ], Self.change)
                guard let change = rows.first else { throw StoreError(.sql, "the verdict change's row was not returned") }
                recorded.append(change)
                events.append(
                    AuditEvent(
                        action: "credential.rejudged", client: nil, holder: change.holderID, credentialID: Base64URL.encode(change.credentialID),
                        authenticator: change.aaguid, result: change.newVerdict, amr: change.newAMR, lists: change.lists,
                        detail: "\(change.oldVerdict) [\(change.oldAMR.joined(separator: " "))] -> \(change.newVerdict) [\(change.newAMR.joined(separator: " "))]: \(change.cause)"))
            }
            if !events.isEmpty { try AuditLog(database: database).append(events, at: time) }
            return recorded
        }
    }

    private static let changeColumns = """
        id, credential_id, rp_id, holder_id, client_id, aaguid, authenticator, at, old_verdict, new_verdict, old_amr, new_amr, cause, lists, \
        delivered_at, attempts, last_error
        """

    private static func change(_ row: SQLRow) -> VerdictChange {
        func strings(_ column: Int32) -> [String] {
            (try? JSONValue.parse(Array((row.text(column) ?? "[]").utf8), document: "stored list"))?.strings ?? []
        }
        return VerdictChange(
            id: row.int64(0), credentialID: row.blob(1) ?? [], rpID: row.text(2) ?? "", holderID: row.text(3) ?? "", clientID: row.int64(4),
            aaguid: row.text(5) ?? "", authenticator: row.text(6) ?? "", at: row.text(7) ?? "", oldVerdict: row.text(8) ?? "",
            newVerdict: row.text(9) ?? "", oldAMR: strings(10), newAMR: strings(11), cause: row.text(12) ?? "", lists: strings(13),
            deliveredAt: row.text(14), attempts: row.int(15), lastError: row.text(16))
    }

    package func changes(rpID: String, limit: Int) throws(StoreError) -> [VerdictChange] {
        try database.query(
            "SELECT \(Self.changeColumns) FROM verdict_changes WHERE rp_id = ? ORDER BY id DESC LIMIT ?", [.text(rpID), .int(Int64(limit))],
            Self.change)
    }

    package func changes(credential id: [UInt8]) throws(StoreError) -> [VerdictChange] {
        try database.query("SELECT \(Self.changeColumns) FROM verdict_changes WHERE credential_id = ? ORDER BY id DESC", [.blob(id)], Self.change)
    }

    package func dueDeliveries(at time: Date, lease: TimeInterval, limit: Int) throws(StoreError) -> [VerdictChange] {
        let now = Int64(time.timeIntervalSince1970.rounded(.down))
        // The outer condition is checked again on the row a concurrent node may have leased
        // meanwhile (PostgreSQL re-reads it after the lock): a change goes to one node at a time.
        return try database.query(
            """
            UPDATE verdict_changes SET next_attempt = ?
            WHERE delivered_at IS NULL AND next_attempt <= ? AND id IN (
                SELECT id FROM verdict_changes WHERE delivered_at IS NULL AND next_attempt <= ? ORDER BY id LIMIT ?)
            RETURNING \(Self.changeColumns)
            """,
            [.int(now + Int64(lease.rounded(.up))), .int(now), .int(now), .int(Int64(limit))], Self.change
        ).sorted { $0.id < $1.id }
    }

    package func delivered(_ id: Int64, at time: Date) throws(StoreError) {
        try database.run(
            "UPDATE verdict_changes SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?",
            [.text(time.formatted(.iso8601)), .int(id)])
    }

    package func deliveryFailed(_ id: Int64, retryAt: Date, error: String) throws(StoreError) {
        try database.run(
            "UPDATE verdict_changes SET attempts = attempts + 1, next_attempt = ?, last_error = ? WHERE id = ? AND delivered_at IS NULL",
            [.int(Int64(retryAt.timeIntervalSince1970.rounded(.up))), .text(String(error.prefix(500))), .int(id)])
    }

    package func backlog(key: String) throws(StoreError) -> (undelivered: Int, unjudged: Int) {
        let undelivered = try database.query("SELECT COUNT(*) FROM verdict_changes WHERE delivered_at IS NULL") { $0.int(0) }.first ?? 0
        let unjudged =
            try database.query(
                "SELECT COUNT(*) FROM credentials WHERE deleted_at IS NULL AND (judged_under IS NULL OR judged_under <> ?)", [.text(key)]
            ) { $0.int(0) }.first ?? 0
        return (undelivered, unjudged)
    }
}
