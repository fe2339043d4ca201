import Foundation
import Storage
import Synchronization
import Testing

/// The SQLite writer (`SQLiteDatabase.write`): writes queued together share one commit, each
/// answered only once that commit is durable, and a failing one rolls back alone.
@Suite struct SQLiteWriterTests {
    struct Refused: Error {}

    /// What the writing tasks report.
    final class Tally: Sendable {
        let answered = Atomic<Int>(0)
        let outcomes = Mutex<[Int: String]>([:])
    }

    static func open() throws -> (SQLiteDatabase, path: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mie-writer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("writer.sqlite").path
        let migrations = [SQLMigration(1, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")]
        return (try SQLiteDatabase(path: path, migrations: migrations), path)
    }

    /// Holds the database (a transaction of another thread, parked in its body) until `release`.
    final class Holder: Sendable {
        private let holding = DispatchSemaphore(value: 0)
        private let gate = DispatchSemaphore(value: 0)
        private let done = DispatchSemaphore(value: 0)

        init(_ database: SQLiteDatabase) {
            Thread { [holding, gate, done] in
                try? database.transaction { () throws(StoreError) in
                    try database.run("INSERT INTO items (name) VALUES ('holder')", [])
                    holding.signal()
                    gate.wait()
                }
                done.signal()
            }.start()
            holding.wait()
        }

        func release() {
            gate.signal()
            done.wait()
        }
    }

    /// Waits (at most 10 s) until `count` writes were queued.
    static func awaitQueued(_ database: SQLiteDatabase, _ count: Int) async throws {
        for _ in 0..<1000 where database.writesQueued < count { try await Task.sleep(for: .milliseconds(10)) }
        #expect(database.writesQueued == count)
    }

    static func rows(_ path: String) throws -> [String] {
        // Another connection sees only what is committed.
        let reader = try SQLiteDatabase(path: path, migrations: [SQLMigration(1, "")])
        return try reader.query("SELECT name FROM items ORDER BY name", []) { row in row.text(0) ?? "" }
    }

    @Test func writesQueuedTogetherShareACommitAnsweredOnceDurable() async throws {
        let (database, path) = try Self.open()
        let holder = Holder(database)
        let groupsBefore = database.groupsEnded
        let tally = Tally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await database.write { try database.run("INSERT INTO items (name) VALUES (?)", [.text("item-\(index)")]) }
                    tally.answered.add(1, ordering: .relaxed)
                }
            }
            try await Self.awaitQueued(database, 50)
            // Nothing is answered while the holder's group, which the writes will join, is open.
            try await Task.sleep(for: .milliseconds(50))
            #expect(tally.answered.load(ordering: .relaxed) == 0)
            holder.release()
            try await group.waitForAll()
        }
        #expect(tally.answered.load(ordering: .relaxed) == 50)
        // The writer's first batch joined the holder's group; the rest came in one more.
        #expect(database.groupsEnded - groupsBefore <= 2, "\(database.groupsEnded - groupsBefore) commits for 51 transactions")
        let stored = try Self.rows(path)
        #expect(stored.count == 51)
        #expect(Set(stored) == Set(["holder"] + (0..<50).map { "item-\($0)" }))
    }

    @Test func aFailingWriteRollsBackAloneInItsGroup() async throws {
        let (database, path) = try Self.open()
        let holder = Holder(database)
        let tally = Tally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<10 {
                group.addTask {
                    do {
                        try await database.write {
                            switch index {
                            case 4:
                                // Its own transaction writes, then refuses: rolled back.
                                try database.transaction { () throws(StoreError) in
                                    try database.run("INSERT INTO items (name) VALUES ('refused')", [])
                                    throw StoreError(.sql, "refused by the test")
                                }
                            case 5: try database.run("INSERT INTO items (name) VALUES ('holder')", [])  // a duplicate
                            case 6:
                                try database.run("INSERT INTO items (name) VALUES ('before-refusal')", [])
                                throw Refused()  // outside any transaction: what it wrote stands
                            default: try database.run("INSERT INTO items (name) VALUES (?)", [.text("item-\(index)")])
                            }
                        }
                        tally.outcomes.withLock { $0[index] = "ok" }
                    } catch let error as StoreError {
                        tally.outcomes.withLock { $0[index] = error.stableCode }
                    } catch {
                        tally.outcomes.withLock { $0[index] = "refused" }
                    }
                }
            }
            try await Self.awaitQueued(database, 10)
            holder.release()
            try await group.waitForAll()
        }
        let seen = tally.outcomes.withLock { $0 }
        #expect(seen[4] == "store.sql")
        #expect(seen[5] == "store.constraint")
        #expect(seen[6] == "refused")
        #expect(seen.filter { $0.value == "ok" }.count == 7)
        let stored = try Self.rows(path)
        #expect(Set(stored) == Set(["holder", "before-refusal"] + [0, 1, 2, 3, 7, 8, 9].map { "item-\($0)" }))
    }

    @Test func writesOneAfterAnotherEachCommit() async throws {
        let (database, path) = try Self.open()
        for index in 0..<5 {
            try await database.write { try database.run("INSERT INTO items (name) VALUES (?)", [.text("item-\(index)")]) }
            #expect(try Self.rows(path).count == index + 1)
        }
        let value = try await database.write { try database.query("SELECT count(*) FROM items", []) { row in row.int(0) }.first }
        #expect(value == 5)
    }
}
