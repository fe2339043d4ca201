import Foundation
import SignatureVerification
import WireFormat

/// One event of the audit trail (FI 44): who did what to which means, with which result, under
/// which lists and profile.
package struct AuditEvent: Sendable, Equatable {
    package var action: String
    package var client: String?
    package var holder: String?
    package var credentialID: String?
    /// AAGUID, attestation key identifier or card national id.
    package var authenticator: String?
    /// `verified`, `accepted`, a failure code…
    package var result: String
    package var amr: [String]
    package var lists: [String]
    package var profile: String?
    package var detail: String?

    package init(
        action: String, client: String? = nil, holder: String? = nil, credentialID: String? = nil, authenticator: String? = nil,
        result: String, amr: [String] = [], lists: [String] = [], profile: String? = nil, detail: String? = nil
    ) {
        self.action = action
        self.client = client
        self.holder = holder
        self.credentialID = credentialID
        self.authenticator = authenticator
        self.result = result
        self.amr = amr
        self.lists = lists
        self.profile = profile
        self.detail = detail
    }

    /// The event as canonical JSON (members in a fixed order): what is hashed and stored.
    package var json: [UInt8] {
        var w = JSONWriter(capacity: 256)
        w.object { w in
            w.key("action")
            w.string(action)
            for (name, value) in [
                ("client", client), ("holder", holder), ("credentialId", credentialID), ("authenticator", authenticator),
            ] {
                w.key(name)
                if let value { w.string(value) } else { w.null() }
            }
            w.key("result")
            w.string(result)
            w.key("amr")
            w.array { w in for value in amr { w.string(value) } }
            w.key("lists")
            w.array { w in for value in lists { w.string(value) } }
            w.key("profile")
            if let profile { w.string(profile) } else { w.null() }
            w.key("detail")
            if let detail { w.string(detail) } else { w.null() }
        }
        return w.bytes
    }
}

/// The append-only, hash-chained audit table. Each row's hash is SHA-256 over the previous
/// row's hash, its time and its event: changing, removing or reordering a row breaks every
/// link after it. Appends happen inside the caller's transaction, with the state change they
/// record.
///
/// On SQLite (one writer) an append links its rows at once. On PostgreSQL, where every node's
/// transactions run side by side, an append only queues its rows in `audit_pending` (durable
/// with the state change, in the same transaction, but no lock taken), and `link` chains what
/// waits in one short transaction under the chain's lock, in the order the rows were queued.
/// A state change therefore never waits for another's commit: the chain's lock had made every
/// sign-in on every node commit one after the other (928 a second on one node). Until it is
/// linked (the service links every `auditFlushInterval`, and on shutdown), a queued row is
/// durable but not yet covered by the chain: `verify` counts it as waiting.
package struct AuditLog: Sendable {
    package let database: any SQLDatabase
    static let genesis = [UInt8](repeating: 0, count: 32)

    package init(database: any SQLDatabase) {
        self.database = database
    }

    static func link(previous: [UInt8], at time: String, event: [UInt8]) -> [UInt8] {
        Digest.sha256(previous + Array(time.utf8) + [0] + event)
    }

    /// Appends events in order. Call inside `database.transaction` when they record a state
    /// change; alone, each call is its own transaction.
    package func append(_ events: [AuditEvent], at time: Date) throws(StoreError) {
        guard !events.isEmpty else { return }
        let stamp = time.formatted(.iso8601)
        let rows = events.map { (stamp: stamp, json: $0.json) }
        try database.transaction { () throws(StoreError) in
            if database.dialect == .postgres { try queue(rows) } else { try chain(rows, after: try lockEnd()) }
        }
    }

    /// The chain's end, read and held in one statement: the update locks the counter's row
    /// until the commit, so two linkers (two nodes on one PostgreSQL) never link to the same
    /// previous row; after waiting for the lock it returns the row as the other one left it.
    private func lockEnd() throws(StoreError) -> ChainEnd? {
        try database.query("UPDATE audit_counter SET last_seq = last_seq WHERE id = 1 RETURNING last_seq, last_hash, last_pending") { row in
            (seq: row.int64(0), hash: row.blob(1), pending: row.int64(2))
        }.first
    }

    /// Rows take their sequence number from a counter that only grows (never `MAX(seq) + 1`):
    /// a number is never given twice, so rows removed from the end leave a gap `verify` names.
    /// Call inside the transaction that locked `end`.
    /// `queuedUpTo`: the last queue number these events came from (linking), kept with the end.
    @discardableResult
    private func chain(_ events: [(stamp: String, json: [UInt8])], after end: ChainEnd?, queuedUpTo: Int64? = nil) throws(StoreError) -> ChainEnd {
        var previous = end?.hash ?? Self.genesis
        var seq = end?.seq ?? 0
        // Rows go in by statements of up to `rowsPerStatement`: a batch of events is a few
        // statements, not one round trip per event.
        var rows: [SQLValue] = []
        rows.reserveCapacity(min(events.count, Self.rowsPerStatement) * 5)
        for (index, event) in events.enumerated() {
            let hash = Self.link(previous: previous, at: event.stamp, event: event.json)
            seq += 1
            rows += [.int(seq), .text(event.stamp), .text(String(decoding: event.json, as: UTF8.self)), .blob(previous), .blob(hash)]
            previous = hash
            if rows.count == Self.rowsPerStatement * 5 || index == events.count - 1 {
                try database.run(Self.insert(rows: rows.count / 5), rows)
                rows.removeAll(keepingCapacity: true)
            }
        }
        let pending = max(end?.pending ?? 0, queuedUpTo ?? 0)
        try database.run("UPDATE audit_counter SET last_seq = ?, last_hash = ?, last_pending = ? WHERE id = 1", [.int(seq), .blob(previous), .int(pending)])
        return (seq, previous, pending)
    }

    /// The chain's last number and hash (nil hash: no row yet), and the last queue number linked.
    typealias ChainEnd = (seq: Int64, hash: [UInt8]?, pending: Int64)

    /// PostgreSQL: the events queued for `link`, in the caller's transaction (or one of their
    /// own). Their queue number comes from an identity column, given at insert: a transaction
    /// that began after another committed queues after it.
    private func queue(_ events: [(stamp: String, json: [UInt8])]) throws(StoreError) {
        for (sql, rows) in Self.queueing(events) { try database.run(sql, rows) }
    }

    /// The statements that queue `events`, up to `rowsPerStatement` each.
    private static func queueing(_ events: [(stamp: String, json: [UInt8])]) -> [(sql: String, rows: [SQLValue])] {
        var statements: [(sql: String, rows: [SQLValue])] = []
        var rows: [SQLValue] = []
        rows.reserveCapacity(min(events.count, rowsPerStatement) * 2)
        for (index, event) in events.enumerated() {
            rows += [.text(event.stamp), .text(String(decoding: event.json, as: UTF8.self))]
            if rows.count == rowsPerStatement * 2 || index == events.count - 1 {
                statements.append(("INSERT INTO audit_pending (at, event) VALUES " + Array(repeating: "(?, ?)", count: rows.count / 2).joined(separator: ", "), rows))
                rows.removeAll(keepingCapacity: true)
            }
        }
        return statements
    }

    /// Chains up to `limit` queued events (PostgreSQL; nothing waits on SQLite) in one
    /// transaction: the chain's end locked, the rows read in queue order, linked, moved into
    /// `audit_events` and removed from the queue by their numbers (never by a range: a row
    /// committed meanwhile inside it stays queued for the next call). Returns how many.
    /// `recent`: only the rows queued after the last link's `stragglerWindow` (see
    /// `linkWaiting`); the whole queue otherwise.
    @discardableResult
    package func link(atMost limit: Int = linkedPerTransaction, recent: Bool = false) throws(StoreError) -> Int {
        guard database.dialect == .postgres else { return 0 }
        // Nothing waiting (the usual tick of an idle node): no lock taken.
        let anyWaiting =
            recent
            ? try database.query(
                "SELECT 1 FROM audit_pending WHERE id > (SELECT last_pending FROM audit_counter WHERE id = 1) - ? ORDER BY id LIMIT 1",
                [.int(Self.stragglerWindow)]) { $0.int(0) }
            : try database.query("SELECT 1 FROM audit_pending LIMIT 1") { $0.int(0) }
        guard !anyWaiting.isEmpty else { return 0 }
        return try database.transaction { () throws(StoreError) -> Int in
            // The lock first, then the read: after waiting for another linker, the queue is read
            // as it left it (READ COMMITTED reads each statement afresh).
            try linkWaiting(after: try lockEnd(), atMost: limit, recent: recent).linked
        }
    }

    /// Events that record no state change (the stateless verifications' batches), chained at
    /// once in a transaction of their own: on PostgreSQL after what waits in the queue (so
    /// the chain keeps the order things were committed in), written once instead of queued
    /// and moved. The lock is held for the batch; no state change waits for it.
    package func appendChained(_ events: [AuditEvent], at time: Date) throws(StoreError) {
        guard database.dialect == .postgres else { return try append(events, at: time) }
        guard !events.isEmpty else { return }
        let stamp = time.formatted(.iso8601)
        let rows = events.map { (stamp: stamp, json: $0.json) }
        try database.transaction { () throws(StoreError) in
            let (linked, end) = try linkWaiting(after: try lockEnd(), atMost: Self.linkedPerTransaction, recent: true)
            // A backlog larger than one link: these wait their turn behind it.
            if linked == Self.linkedPerTransaction { try queue(rows) } else { try chain(rows, after: end) }
        }
    }

    package static let linkedPerTransaction = 1_000

    /// How many queue numbers before the last one linked a `recent` link reads from.
    package static let stragglerWindow: Int64 = 1_000

    /// Links up to `limit` queued rows after `end` (locked by the caller's transaction).
    ///
    /// `recent` reads the queue from `stragglerWindow` numbers before the last one linked, by
    /// its index: the rows linked before stay in the table as dead versions until a vacuum
    /// (autovacuum looks once a minute), and the whole queue's read scanned them all: 709 µs a
    /// link on average, 20 µs of the server's time a sign-in, in a 3 s run at 2,100 sign-ins a
    /// second (145 µs a link from the window). A row
    /// numbered before the window (its transaction took its number, then took longer to commit
    /// than the window's numbers took to be given) waits for a whole read: `settle` and, every
    /// few seconds, the service's periodic link (`AuditBuffer.link`).
    private func linkWaiting(after end: ChainEnd?, atMost limit: Int, recent: Bool) throws(StoreError) -> (linked: Int, end: ChainEnd?) {
        let floor = recent ? max(0, (end?.pending ?? 0) - Self.stragglerWindow) : 0
        let waiting = try database.query(
            "SELECT id, at, event FROM audit_pending WHERE id > ? ORDER BY id LIMIT ?", [.int(floor), .int(Int64(clamping: limit))]
        ) { row in
            (id: row.int64(0), stamp: row.text(1) ?? "", json: Array((row.text(2) ?? "").utf8))
        }
        guard let last = waiting.last else { return (0, end) }
        let moved = try chain(waiting.map { ($0.stamp, $0.json) }, after: end, queuedUpTo: last.id)
        for start in stride(from: 0, to: waiting.count, by: Self.rowsPerStatement) {
            let ids = waiting[start..<min(start + Self.rowsPerStatement, waiting.count)].map { SQLValue.int($0.id) }
            let removed = try database.run(
                "DELETE FROM audit_pending WHERE id IN (" + Array(repeating: "?", count: ids.count).joined(separator: ", ") + ")", ids)
            // Under the lock no other linker can have taken them: a row gone is a row removed
            // by hand, and linking the rest would hide it.
            guard removed == ids.count else {
                throw StoreError(.corrupt, "queued audit events vanished while being linked: \(ids.count - removed) of \(ids.count)")
            }
        }
        return (waiting.count, moved)
    }

    /// Events queued and not linked yet (always 0 on SQLite).
    package func waiting() throws(StoreError) -> Int {
        guard database.dialect == .postgres else { return 0 }
        return try database.query("SELECT COUNT(*) FROM audit_pending") { $0.int(0) }.first ?? 0
    }

    static let rowsPerStatement = 64

    /// `INSERT … VALUES (?, ?, ?, ?, ?), …` for `rows` rows.
    static func insert(rows: Int) -> String {
        "INSERT INTO audit_events (seq, at, event, previous_hash, hash) VALUES "
            + Array(repeating: "(?, ?, ?, ?, ?)", count: rows).joined(separator: ", ")
    }

    /// The last sequence number ever given.
    func lastSequence() throws(StoreError) -> Int64 {
        try database.query("SELECT last_seq FROM audit_counter WHERE id = 1") { $0.int64(0) }.first ?? 0
    }

    /// The trail's end now: its last row's number and hash (nil: no event yet).
    package func head(at time: Date) throws(StoreError) -> AuditHead? {
        try database.query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1") { row in
            AuditHead(seq: row.int64(0), hash: row.blob(1) ?? [], at: time.formatted(.iso8601))
        }.first
    }

    /// Checks the chain, then a head shipped earlier: the row it names must still be there with
    /// the hash it names. A missing row is a cut; another hash, a rewrite.
    package func verify(against head: AuditHead) throws(StoreError) -> Verification {
        let chain = try verify()
        guard chain.broken == nil else { return chain }
        let stored = try database.query("SELECT hash FROM audit_events WHERE seq = ?", [.int(head.seq)]) { $0.blob(0) ?? [] }.first
        guard let stored else {
            let last = try database.query("SELECT MAX(seq) FROM audit_events") { $0.int64(0) }.first ?? 0
            return Verification(events: chain.events, broken: (head.seq, "the trail was cut: it ends at row \(last), the head of \(head.at) names row \(head.seq)"))
        }
        guard stored == head.hash else {
            return Verification(events: chain.events, broken: (head.seq, "the trail was rewritten: row \(head.seq) is not the one the head of \(head.at) names"))
        }
        return chain
    }

    /// What checking the chain found.
    package struct Verification: Sendable {
        package let events: Int
        /// The first row whose link does not hold, and why.
        package let broken: (seq: Int64, reason: String)?
        /// Events queued and not linked yet (PostgreSQL): durable, not yet covered by the chain.
        package var waiting = 0
    }

    /// Walks the whole chain from the first row.
    package func verify() throws(StoreError) -> Verification {
        var previous = Self.genesis
        var count = 0
        var expectedSeq: Int64? = nil
        var broken: (Int64, String)? = nil
        // The counter before the rows: a link committing between the two reads (a node's flusher
        // on PostgreSQL) then adds rows past it, never a counter past the rows read (which would
        // read as a cut end).
        let last = try lastSequence()
        try database.forEach("SELECT seq, at, event, previous_hash, hash FROM audit_events ORDER BY seq") { row in
            guard broken == nil else { return }
            let seq = row.int64(0)
            if expectedSeq == nil, seq != 1 {
                broken = (seq, "rows 1 to \(seq - 1) are missing")
                return
            }
            if let expectedSeq, seq != expectedSeq {
                broken = (seq, "rows \(expectedSeq) to \(seq - 1) are missing")
                return
            }
            let stored = row.blob(3) ?? []
            guard stored == previous else {
                broken = (seq, "its previous hash is not the hash of the row before it")
                return
            }
            let hash = Self.link(previous: previous, at: row.text(1) ?? "", event: Array((row.text(2) ?? "").utf8))
            guard hash == row.blob(4) ?? [] else {
                broken = (seq, "its content does not match its hash")
                return
            }
            previous = hash
            count += 1
            expectedSeq = seq + 1
        }
        if broken == nil {
            // Rows given a number and then removed from the end: the counter remembers them.
            let end = expectedSeq.map { $0 - 1 } ?? 0
            if last > end { broken = (end + 1, "rows \(end + 1) to \(last) are missing: the trail was cut at its end") }
        }
        var verification = Verification(events: count, broken: broken.map { (seq: $0.0, reason: $0.1) })
        verification.waiting = try waiting()
        return verification
    }

    /// Every event as a JSON line: `{"seq":…,"at":…,"event":{…},"hash":"hex"}`.
    package func export(_ line: (String) -> Void) throws(StoreError) {
        try database.forEach("SELECT seq, at, event, hash FROM audit_events ORDER BY seq") { row in
            line(#"{"seq":\#(row.int64(0)),"at":"\#(row.text(1) ?? "")","event":\#(row.text(2) ?? "null"),"hash":"\#(Hex.string(row.blob(3) ?? []))"}"#)
        }
    }

    /// Events recorded: chained, and queued for the chain (one statement, so a link committing
    /// meanwhile is seen whole or not at all).
    package func count() throws(StoreError) -> Int {
        try database.query("SELECT (SELECT COUNT(*) FROM audit_events) + (SELECT COUNT(*) FROM audit_pending)") { $0.int(0) }.first ?? 0
    }
}
