import Foundation
import SignatureVerification
import Storage
import Synchronization
import Testing
import WireFormat

/// The audit trail's end cannot be cut, nor its content rewritten, without it showing: row
/// numbers are never given twice, and a signed head shipped elsewhere names the row and hash
/// the trail must still hold.
@Suite struct AuditTrailTests {
    let directory: URL
    let database: SQLiteDatabase
    let log: AuditLog

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mie-audit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        database = try SQLiteDatabase(path: directory.appendingPathComponent("mie.sqlite").path, migrations: StorageSchema.migrations)
        log = AuditLog(database: database)
        for index in 1...10 { try log.append([AuditEvent(action: "test", result: "event-\(index)")], at: Date()) }
    }

    func signedHead() throws -> SignedAuditHead {
        let key = try AuditSigningKey.loadOrCreate(path: directory.appendingPathComponent("key").path)
        return try key.sign(try #require(try log.head(at: Date())))
    }

    /// Nodes started together on one key file (the two-node test shares `auditKey`): every one
    /// ends with the same key, the file whole and private, no temporary file left.
    @Test func nodesStartingTogetherShareOneAuditKey() throws {
        for round in 0..<20 {
            let path = directory.appendingPathComponent("shared-\(round).key").path
            let keys = Mutex<[[UInt8]]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                if let key = try? AuditSigningKey.loadOrCreate(path: path) { keys.withLock { $0.append(key.publicKey) } }
            }
            let found = keys.withLock { $0 }
            #expect(found.count == 8)
            #expect(Set(found).count == 1, "round \(round): \(Set(found).count) different keys")
            #expect(try AuditSigningKey.loadOrCreate(path: path).publicKey == found.first)
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    /// `audit verify` while a node links (PostgreSQL's flushers chain queued events all the
    /// time): an event chained between its read of the rows and its read of the counter is no cut.
    @Test func anEventChainedWhileTheTrailIsVerifiedIsNoCut() throws {
        let linking = LinkingAfterRead(database)
        let verification = try AuditLog(database: linking).verify()
        #expect(linking.linked.withLock { $0 }, "the event was not chained during the verification")
        #expect(verification.broken == nil, "\(verification.broken.map { "\($0.seq): \($0.reason)" } ?? "")")
        #expect(try log.verify().events == 11)
    }

    @Test func aLargeBatchIsWrittenInOrderAndChained() throws {
        // More rows than one statement takes (64), and not a multiple of it.
        let batch = (1...150).map { AuditEvent(action: "batch", result: "event-\($0)") }
        try log.append(batch, at: Date())
        let verification = try log.verify()
        #expect(verification.broken == nil && verification.events == 160)
        let results = try database.query("SELECT seq, event FROM audit_events WHERE seq > 10 ORDER BY seq") { row in
            (row.int64(0), row.text(1) ?? "")
        }
        #expect(results.map(\.0) == Array(11...160))
        #expect(results.enumerated().allSatisfy { $0.element.1.contains(#""result":"event-\#($0.offset + 1)""#) })
    }

    @Test func cuttingTheEndIsNamedAndNumbersAreNeverReused() throws {
        let head = try signedHead()
        #expect(head.head.seq == 10 && head.signatureValid)
        #expect(try log.verify(against: head.head).broken == nil)
        try database.run("DELETE FROM audit_events WHERE seq > 7")
        let plain = try log.verify()
        #expect(plain.broken?.seq == 8, "\(String(describing: plain.broken))")
        #expect(plain.broken?.reason.contains("cut") == true)
        // The next event takes number 11, not 8: the gap stays.
        try log.append([AuditEvent(action: "test", result: "after")], at: Date())
        #expect(try database.query("SELECT MAX(seq) FROM audit_events") { $0.int64(0) }.first == 11)
        let after = try log.verify()
        #expect(after.broken?.reason == "rows 8 to 10 are missing", "\(String(describing: after.broken))")
    }

    @Test func aCutHiddenFromTheCounterIsNamedByTheHead() throws {
        let head = try signedHead()
        try database.run("DELETE FROM audit_events WHERE seq > 6")
        try database.run("UPDATE audit_counter SET last_seq = 6")
        #expect(try log.verify().broken == nil)
        let checked = try log.verify(against: head.head)
        #expect(checked.broken?.seq == 10)
        #expect(checked.broken?.reason.contains("cut") == true, "\(String(describing: checked.broken))")
    }

    @Test func aRewriteRechainedByTheWriterIsNamedByTheHead() throws {
        let head = try signedHead()
        // Someone who can write the database changes row 4 and chains every later row again.
        var previous = [UInt8](repeating: 0, count: 32)
        let rows = try database.query("SELECT seq, at, event FROM audit_events ORDER BY seq") { ($0.int64(0), $0.text(1) ?? "", $0.text(2) ?? "") }
        for (seq, at, event) in rows {
            let text = seq == 4 ? event.replacingOccurrences(of: "event-4", with: "forged") : event
            let hash = Digest.sha256(previous + Array(at.utf8) + [0] + Array(text.utf8))
            try database.run(
                "UPDATE audit_events SET event = ?, previous_hash = ?, hash = ? WHERE seq = ?", [.text(text), .blob(previous), .blob(hash), .int(seq)])
            previous = hash
        }
        #expect(try log.verify().broken == nil)
        let checked = try log.verify(against: head.head)
        #expect(checked.broken?.seq == 10)
        #expect(checked.broken?.reason.contains("rewritten") == true, "\(String(describing: checked.broken))")
    }

    @Test func aHeadIsSignedAndParsedBack() throws {
        let head = try signedHead()
        let parsed = try SignedAuditHead.parse(Array(head.json.utf8))
        #expect(parsed == head && parsed.signatureValid)
        var forged = head.json.replacingOccurrences(of: #""seq":10"#, with: #""seq":9"#)
        #expect(try !SignedAuditHead.parse(Array(forged.utf8)).signatureValid)
        forged = "{}"
        #expect(throws: StoreError.self) { try SignedAuditHead.parse(Array(forged.utf8)) }
    }
}

/// A database that chains one more event (on the database it wraps, as another node would)
/// right after the trail's rows are read.
private final class LinkingAfterRead: SQLDatabase, Sendable {
    let inner: SQLiteDatabase
    let linked = Mutex(false)

    init(_ inner: SQLiteDatabase) {
        self.inner = inner
    }

    var location: String { inner.location }
    var filePath: String? { inner.filePath }

    func run(_ sql: String, _ parameters: [SQLValue]) throws(StoreError) -> Int { try inner.run(sql, parameters) }

    func query<T>(_ sql: String, _ parameters: [SQLValue], _ map: (SQLRow) throws(StoreError) -> T) throws(StoreError) -> [T] {
        try inner.query(sql, parameters, map)
    }

    func forEach(_ sql: String, _ parameters: [SQLValue], _ body: (SQLRow) throws(StoreError) -> Void) throws(StoreError) {
        try inner.forEach(sql, parameters, body)
        guard sql.hasPrefix("SELECT seq, at, event, previous_hash, hash FROM audit_events"), !linked.withLock({ $0 }) else { return }
        try AuditLog(database: inner).append([AuditEvent(action: "test", result: "linked meanwhile")], at: Date())
        linked.withLock { $0 = true }
    }

    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T { try inner.transaction(body) }
}
