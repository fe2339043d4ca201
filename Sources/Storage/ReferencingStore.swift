import AuthenticatorCatalog
import Foundation
import SignatureVerification
import WireFormat

/// Every referencing list version ever imported (the exact bytes, kept for traceability) and
/// every import attempt, refused ones included. The catalog decides what a document means and
/// whether its signature holds; this keeps what it accepted, one transaction per import, so a
/// refused or interrupted import leaves the active lists as they were.
package struct ReferencingStore: Sendable {
    package let database: any SQLDatabase

    /// Schema of the referencing tables (migration 1 of the shared database file; the whole
    /// list is `StorageSchema.migrations`).
    package static let migrations: [SQLMigration] = [
        .init(
            1,
            """
            CREATE TABLE referencing_versions (
                id INTEGER PRIMARY KEY,
                kind TEXT NOT NULL,
                source TEXT NOT NULL,
                number INTEGER NOT NULL,
                next_update TEXT,
                imported_at TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                signer TEXT NOT NULL,
                entry_count INTEGER NOT NULL,
                demo INTEGER NOT NULL DEFAULT 0,
                document BLOB NOT NULL,
                signature BLOB,
                active INTEGER NOT NULL DEFAULT 0,
                UNIQUE (kind, source, number)
            );
            CREATE TABLE referencing_imports (
                id INTEGER PRIMARY KEY,
                attempted_at TEXT NOT NULL,
                kind TEXT,
                source TEXT,
                sha256 TEXT NOT NULL,
                result TEXT NOT NULL,
                message TEXT NOT NULL,
                version_id INTEGER REFERENCES referencing_versions (id)
            );
            """),
    ]

    package init(database: any SQLDatabase) {
        self.database = database
    }

    /// Opens (or creates) the database file with every migration of the product applied.
    package init(path: String) throws(StoreError) {
        self.database = try SQLiteDatabase(path: path, migrations: StorageSchema.migrations)
    }

    /// One import attempt as recorded.
    package struct ImportRecord: Sendable {
        package let attemptedAt: String
        package let kind: String?
        package let source: String?
        package let sha256: String
        package let result: String
        package let message: String
        package let versionID: Int64?
    }

    /// What became of an import.
    package enum ImportOutcome: Sendable {
        case imported(ListVersion, VerifiedList)
        case refused(ImportFailure)
    }

    /// Verifies a document (`VerifiedList.verify`) and stores it as the active version of its
    /// source, or records why it was refused. `time` is the verification time (the signer's
    /// certificates and CRLs are judged then); `recordedAt` stamps the trail.
    package func importList(
        _ document: [UInt8], signature: [UInt8]?, trust: ReferencingTrust, at time: Date, recordedAt: Date = Date(),
        progress: ImportProgress? = nil
    ) -> ImportOutcome {
        let stamp = recordedAt.formatted(.iso8601)
        let digest = Hex.string(Digest.sha256(document))
        let verified: VerifiedList
        do {
            verified = try VerifiedList.verify(document, signature: signature, trust: trust, at: time, progress: progress)
        } catch {
            try? recordRefusal(kind: ListKind.detect(document)?.rawValue, source: nil, sha256: digest, failure: error, at: stamp, time: recordedAt)
            return .refused(error)
        }
        var version = verified.version(document: document)
        progress?("storing \(version.label) (\(version.entryCount) entries)")
        do {
            let id = try store(version, document: document, signature: signature, at: stamp, time: recordedAt)
            version.id = id
            version.importedAt = stamp
            return .imported(version, verified)
        } catch {
            let failure =
                error.code == .rollback ? ImportFailure(.rollback, error.message) : ImportFailure(.store, error.description)
            try? recordRefusal(kind: version.kind.rawValue, source: version.source, sha256: digest, failure: failure, at: stamp, time: recordedAt)
            return .refused(failure)
        }
    }

    /// Stores a verified version as the active one of its (kind, source), in one transaction
    /// with its import record. Refused, nothing written, when its number does not exceed the
    /// highest stored for that source (a rollback).
    private func store(_ version: ListVersion, document: [UInt8], signature: [UInt8]?, at stamp: String, time: Date) throws(StoreError) -> Int64 {
        try database.transaction { () throws(StoreError) in
            let highest = try database.query(
                "SELECT MAX(number) FROM referencing_versions WHERE kind = ? AND source = ?", [.text(version.kind.rawValue), .text(version.source)]
            ) { row in row.isNull(0) ? nil : row.int64(0) }.first ?? nil
            if let highest, version.number <= highest {
                throw StoreError(
                    .rollback, "\(version.kind.title) number \(version.number) does not exceed number \(highest) already imported from this source")
            }
            try database.run(
                "UPDATE referencing_versions SET active = 0 WHERE kind = ? AND source = ?", [.text(version.kind.rawValue), .text(version.source)])
            let inserted = try database.query(
                """
                INSERT INTO referencing_versions
                    (kind, source, number, next_update, imported_at, sha256, signer, entry_count, demo, document, signature, active)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id
                """,
                [
                    .text(version.kind.rawValue), .text(version.source), .int(version.number), version.nextUpdate.map(SQLValue.text) ?? .null,
                    .text(stamp), .text(version.sha256), .text(version.signer), .int(Int64(version.entryCount)), .int(version.demo ? 1 : 0),
                    .blob(document), signature.map(SQLValue.blob) ?? .null,
                ]) { $0.int64(0) }
            guard let id = inserted.first else { throw StoreError(.sql, "the new version's id was not returned") }
            try database.run(
                "INSERT INTO referencing_imports (attempted_at, kind, source, sha256, result, message, version_id) VALUES (?, ?, ?, ?, 'imported', ?, ?)",
                [.text(stamp), .text(version.kind.rawValue), .text(version.source), .text(version.sha256), .text("\(version.label) imported"), .int(id)])
            try AuditLog(database: database).append(
                [AuditEvent(action: "referencing.import", result: "imported", lists: [version.label], detail: "sha256 \(version.sha256)")], at: time)
            return id
        }
    }

    /// Records a refused import (its code and reason) for the trail.
    private func recordRefusal(kind: String?, source: String?, sha256: String, failure: ImportFailure, at stamp: String, time: Date) throws(StoreError) {
        try database.transaction { () throws(StoreError) in
            try AuditLog(database: database).append(
                [AuditEvent(action: "referencing.import", result: failure.code.rawValue, detail: "sha256 \(sha256)")], at: time)
            try database.run(
            "INSERT INTO referencing_imports (attempted_at, kind, source, sha256, result, message) VALUES (?, ?, ?, ?, ?, ?)",
            [
                .text(stamp), kind.map(SQLValue.text) ?? .null, source.map(SQLValue.text) ?? .null, .text(sha256),
                .text(failure.code.rawValue), .text(failure.message),
            ])
        }
    }

    private static let versionColumns = "id, kind, source, number, next_update, imported_at, sha256, signer, entry_count, demo, active"

    private static func version(_ row: SQLRow) -> (ListVersion, active: Bool)? {
        guard let kind = row.text(1).flatMap(ListKind.init(rawValue:)) else { return nil }
        let nextUpdate = row.text(4)
        let version = ListVersion(
            kind: kind, source: row.text(2) ?? "", number: row.int64(3), nextUpdate: nextUpdate,
            nextUpdateDate: nextUpdate.flatMap { RFC3339.secondsSince1970($0 + "T00:00:00Z") }.map(Date.init(timeIntervalSince1970:)),
            sha256: row.text(6) ?? "", signer: row.text(7) ?? "", entryCount: row.int(8), demo: row.int(9) != 0, id: row.int64(0),
            importedAt: row.text(5))
        return (version, row.int(10) != 0)
    }

    /// Every stored version, newest first, with whether it is active.
    package func versions() throws(StoreError) -> [(version: ListVersion, active: Bool)] {
        try database.query("SELECT \(Self.versionColumns) FROM referencing_versions ORDER BY id DESC") { Self.version($0) }
            .compactMap { $0.map { (version: $0.0, active: $0.active) } }
    }

    /// A stored version read back as a list.
    package func list(id: Int64) throws(StoreError) -> (ListVersion, VerifiedList, document: [UInt8])? {
        let rows = try database.query("SELECT \(Self.versionColumns), document FROM referencing_versions WHERE id = ?", [.int(id)]) { row in
            (Self.version(row), row.blob(11) ?? [])
        }
        guard let (found, document) = rows.first, let (version, _) = found else { return nil }
        return (version, try Self.read(version, document), document)
    }

    /// The active versions read back, oldest first: what the catalog is built from.
    package func activeLists() throws(StoreError) -> [(version: ListVersion, list: VerifiedList)] {
        let rows = try database.query(
            "SELECT \(Self.versionColumns), document FROM referencing_versions WHERE active = 1 ORDER BY id"
        ) { row in (Self.version(row), row.blob(11) ?? []) }
        var lists: [(version: ListVersion, list: VerifiedList)] = []
        for (found, document) in rows {
            guard let (version, _) = found else { throw StoreError(.corrupt, "a stored list has an unknown kind") }
            lists.append((version, try Self.read(version, document)))
        }
        return lists
    }

    private static func read(_ version: ListVersion, _ document: [UInt8]) throws(StoreError) -> VerifiedList {
        do {
            return try VerifiedList.load(kind: version.kind, document: document, signer: version.signer, source: version.source)
        } catch {
            throw StoreError(.corrupt, "\(version.label) (stored id \(version.id ?? 0)) no longer reads: \(error.message)")
        }
    }

    /// The catalog of the active lists.
    /// The versions in force, by id: what a node compares to notice a list another node (or the
    /// command line) imported.
    package func activeVersionIDs() throws(StoreError) -> [Int64] {
        try database.query("SELECT id FROM referencing_versions WHERE active = 1 ORDER BY id") { $0.int64(0) }
    }

    package func snapshot() throws(StoreError) -> CatalogSnapshot {
        CatalogSnapshot(lists: try activeLists())
    }

    /// Import attempts, newest first.
    package func imports() throws(StoreError) -> [ImportRecord] {
        try database.query(
            "SELECT attempted_at, kind, source, sha256, result, message, version_id FROM referencing_imports ORDER BY id DESC"
        ) { row in
            ImportRecord(
                attemptedAt: row.text(0) ?? "", kind: row.text(1), source: row.text(2), sha256: row.text(3) ?? "", result: row.text(4) ?? "",
                message: row.text(5) ?? "", versionID: row.isNull(6) ? nil : row.int64(6))
        }
    }
}
