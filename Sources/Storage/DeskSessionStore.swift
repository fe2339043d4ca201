import Foundation

/// A signed-in desk operator's session as stored: known by the SHA-256 of its token only.
package struct DeskSessionRecord: Sendable, Equatable {
    package let operatorID: Int64
    package let name: String
    package let csrf: String
    package let created: Date
    package var lastSeen: Date
    /// Ceremonies this session opened: only it may finish them.
    package var ceremonies: Set<String>

    package init(operatorID: Int64, name: String, csrf: String, created: Date, lastSeen: Date, ceremonies: Set<String> = []) {
        self.operatorID = operatorID
        self.name = name
        self.csrf = csrf
        self.created = created
        self.lastSeen = lastSeen
        self.ceremonies = ceremonies
    }
}

/// The desk's sessions, in the database every node shares: a session opened on one node works
/// on the others, and ends on all of them at sign-out or when its operator is revoked (the
/// revocation deletes its sessions in the same transaction).
package protocol DeskSessionStoring: Sendable {
    /// Stores a new session; first drops those no longer live (`isLive`) and, past `limit`
    /// sessions, the least recently seen.
    func open(_ tokenHash: [UInt8], _ session: DeskSessionRecord, limit: Int, isLiveAfter cutoff: (idle: Date, created: Date)) throws(StoreError)
    func find(_ tokenHash: [UInt8]) throws(StoreError) -> DeskSessionRecord?
    func touch(_ tokenHash: [UInt8], at time: Date) throws(StoreError)
    /// Binds a ceremony to the session (the 32 most recent are kept).
    func remember(ceremony: String, for tokenHash: [UInt8], at time: Date) throws(StoreError)
    func end(_ tokenHash: [UInt8]) throws(StoreError)
    func end(operatorID: Int64) throws(StoreError)
}

package struct DeskSessionStore: DeskSessionStoring {
    package let database: any SQLDatabase
    static let ceremoniesPerSession = 32

    package init(database: any SQLDatabase) {
        self.database = database
    }

    private static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
    private static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }

    package func open(_ tokenHash: [UInt8], _ session: DeskSessionRecord, limit: Int, isLiveAfter cutoff: (idle: Date, created: Date)) throws(StoreError) {
        try database.transaction { () throws(StoreError) in
            try database.run(
                "DELETE FROM desk_sessions WHERE last_seen <= ? OR created_at <= ?", [.int(Self.millis(cutoff.idle)), .int(Self.millis(cutoff.created))])
            let count = try database.query("SELECT COUNT(*) FROM desk_sessions") { $0.int(0) }.first ?? 0
            if count >= limit {
                try database.run(
                    "DELETE FROM desk_sessions WHERE token_hash IN (SELECT token_hash FROM desk_sessions ORDER BY last_seen LIMIT ?)",
                    [.int(Int64(count - limit + 1))])
            }
            try database.run(
                "INSERT INTO desk_sessions (token_hash, operator_id, name, csrf, created_at, last_seen) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    .blob(tokenHash), .int(session.operatorID), .text(session.name), .text(session.csrf), .int(Self.millis(session.created)),
                    .int(Self.millis(session.lastSeen)),
                ])
        }
    }

    package func find(_ tokenHash: [UInt8]) throws(StoreError) -> DeskSessionRecord? {
        guard
            var session = try database.query(
                "SELECT operator_id, name, csrf, created_at, last_seen FROM desk_sessions WHERE token_hash = ?", [.blob(tokenHash)],
                { row in
                    DeskSessionRecord(
                        operatorID: row.int64(0), name: row.text(1) ?? "", csrf: row.text(2) ?? "", created: Self.date(row.int64(3)),
                        lastSeen: Self.date(row.int64(4)))
                }
            ).first
        else { return nil }
        session.ceremonies = Set(
            try database.query("SELECT ceremony_id FROM desk_session_ceremonies WHERE token_hash = ?", [.blob(tokenHash)]) { $0.text(0) ?? "" })
        return session
    }

    package func touch(_ tokenHash: [UInt8], at time: Date) throws(StoreError) {
        try database.run(
            "UPDATE desk_sessions SET last_seen = ? WHERE token_hash = ? AND last_seen < ?", [.int(Self.millis(time)), .blob(tokenHash), .int(Self.millis(time))])
    }

    package func remember(ceremony: String, for tokenHash: [UInt8], at time: Date) throws(StoreError) {
        try database.transaction { () throws(StoreError) in
            guard try database.query("SELECT 1 FROM desk_sessions WHERE token_hash = ?", [.blob(tokenHash)], { _ in true }).first == true else { return }
            try database.run(
                "INSERT INTO desk_session_ceremonies (token_hash, ceremony_id, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [.blob(tokenHash), .text(ceremony), .int(Self.millis(time))])
            try database.run(
                """
                DELETE FROM desk_session_ceremonies WHERE token_hash = ? AND ceremony_id NOT IN
                    (SELECT ceremony_id FROM desk_session_ceremonies WHERE token_hash = ? ORDER BY added_at DESC, ceremony_id LIMIT ?)
                """, [.blob(tokenHash), .blob(tokenHash), .int(Int64(Self.ceremoniesPerSession))])
        }
    }

    package func end(_ tokenHash: [UInt8]) throws(StoreError) {
        try database.run("DELETE FROM desk_sessions WHERE token_hash = ?", [.blob(tokenHash)])
    }

    package func end(operatorID: Int64) throws(StoreError) {
        try database.run("DELETE FROM desk_sessions WHERE operator_id = ?", [.int(operatorID)])
    }
}
