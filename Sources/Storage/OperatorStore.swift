import Foundation
import SignatureVerification
import WireFormat

/// A member of an enrolment desk's staff. Operators sign in to the desk with their own FIDO2
/// key; the first key is registered by redeeming a one-time code (`mie-verifier operators add`).
package struct DeskOperator: Sendable, Equatable {
    package let id: Int64
    package let name: String
    /// The WebAuthn user handle of the operator's keys (random, stable).
    package let userHandle: [UInt8]
    package let createdAt: String
    package let revokedAt: String?
}

/// An operator's registered key.
package struct OperatorCredential: Sendable, Equatable {
    package var id: [UInt8]
    package var operatorID: Int64
    package var publicKey: [UInt8]
    package var algorithm: String
    package var signCount: UInt32
    package var backupEligible: Bool
    package var aaguid: String
    package var createdAt: String
    package var lastUsedAt: String?

    package init(
        id: [UInt8], operatorID: Int64, publicKey: [UInt8], algorithm: String, signCount: UInt32, backupEligible: Bool, aaguid: String,
        createdAt: String, lastUsedAt: String? = nil
    ) {
        self.id = id
        self.operatorID = operatorID
        self.publicKey = publicKey
        self.algorithm = algorithm
        self.signCount = signCount
        self.backupEligible = backupEligible
        self.aaguid = aaguid
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
    }
}

/// Desk operators, their one-time codes and keys. Codes are 18 random bytes shown once; only
/// their SHA-256 is stored. Every change comes with its audit event, in one transaction.
package struct OperatorStore: Sendable {
    package let database: any SQLDatabase

    package init(database: any SQLDatabase) {
        self.database = database
    }

    package static let codePrefix = "mie-op-"

    private var audit: AuditLog { AuditLog(database: database) }

    static func hash(_ code: String) -> [UInt8] { Digest.sha256(Array(code.utf8)) }

    /// Operator names: 1 to 64 characters, letters, digits, `.`, `-`, `_`, `@`.
    package static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.count <= 64
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || ".-_@".unicodeScalars.contains($0) }
    }

    /// A new operator and their first one-time code, valid `lifetime` seconds.
    package func add(name: String, lifetime: TimeInterval, at time: Date) throws(StoreError) -> (DeskOperator, code: String) {
        guard Self.isValidName(name) else {
            throw StoreError(.operatorName, "an operator name is 1 to 64 letters, digits, '.', '-', '_' or '@'")
        }
        return try database.transaction { () throws(StoreError) in
            if try find(name: name) != nil { throw StoreError(.operatorExists, "an operator named \(name) exists") }
            try database.run(
                "INSERT INTO operators (name, user_handle, created_at) VALUES (?, ?, ?)",
                [.text(name), .blob(CredentialStore.randomBytes(32)), .text(time.formatted(.iso8601))])
            guard let added = try find(name: name) else { throw StoreError(.operatorNotStored, "the operator was not stored") }
            let code = try insertCode(for: added, lifetime: lifetime, at: time)
            try audit.append([AuditEvent(action: "operator.add", client: "desk:\(name)", result: "added")], at: time)
            return (added, code)
        }
    }

    /// A fresh one-time code for an active operator (another key, or a lost one).
    package func issueCode(name: String, lifetime: TimeInterval, at time: Date) throws(StoreError) -> String {
        try database.transaction { () throws(StoreError) in
            guard let found = try find(name: name), found.revokedAt == nil else {
                throw StoreError(.operatorUnknown, "no active operator named \(name)")
            }
            let code = try insertCode(for: found, lifetime: lifetime, at: time)
            try audit.append([AuditEvent(action: "operator.code", client: "desk:\(name)", result: "issued")], at: time)
            return code
        }
    }

    private func insertCode(for holder: DeskOperator, lifetime: TimeInterval, at time: Date) throws(StoreError) -> String {
        let code = Self.codePrefix + Base64URL.encode(CredentialStore.randomBytes(18))
        let expires = Int64(time.timeIntervalSince1970) + Int64(lifetime.rounded(.up))
        try database.run(
            "INSERT INTO operator_codes (code_hash, operator_id, expires_at) VALUES (?, ?, ?)", [.blob(Self.hash(code)), .int(holder.id), .int(expires)])
        return code
    }

    /// The active operator a code belongs to, while the code is unused and unexpired.
    package func redeemable(code: String, at time: Date) throws(StoreError) -> DeskOperator? {
        guard code.hasPrefix(Self.codePrefix), code.utf8.count < 100 else { return nil }
        return try database.query(
            """
            SELECT o.id, o.name, o.user_handle, o.created_at, o.revoked_at FROM operator_codes c JOIN operators o ON o.id = c.operator_id
            WHERE c.code_hash = ? AND c.used_at IS NULL AND c.expires_at > ? AND o.revoked_at IS NULL
            """,
            [.blob(Self.hash(code)), .int(Int64(time.timeIntervalSince1970))], Self.deskOperator
        ).first
    }

    /// Spends the code and stores the operator's key, with the event, in one transaction; false
    /// (nothing written) when the code was spent, expired or its operator revoked meanwhile.
    package func enrol(_ credential: OperatorCredential, code: String, event: AuditEvent, at time: Date) throws(StoreError) -> Bool {
        let now = Int64(time.timeIntervalSince1970)
        return try database.transaction { () throws(StoreError) in
            let spent = try database.run(
                """
                UPDATE operator_codes SET used_at = ? WHERE code_hash = ? AND operator_id = ? AND used_at IS NULL AND expires_at > ?
                AND operator_id IN (SELECT id FROM operators WHERE revoked_at IS NULL)
                """,
                [.int(now), .blob(Self.hash(code)), .int(credential.operatorID), .int(now)])
            guard spent == 1 else { return false }
            if try database.query("SELECT 1 FROM operator_credentials WHERE id = ?", [.blob(credential.id)], { _ in true }).first == true {
                throw StoreError(.credentialExists, "this credential is already registered")
            }
            try database.run(
                """
                INSERT INTO operator_credentials (id, operator_id, public_key, algorithm, sign_count, backup_eligible, aaguid, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .blob(credential.id), .int(credential.operatorID), .blob(credential.publicKey), .text(credential.algorithm),
                    .int(Int64(credential.signCount)), .int(credential.backupEligible ? 1 : 0), .text(credential.aaguid), .text(credential.createdAt),
                ])
            try audit.append([event], at: time)
            return true
        }
    }

    private static let operatorColumns = "id, name, user_handle, created_at, revoked_at"

    private static func deskOperator(_ row: SQLRow) -> DeskOperator {
        DeskOperator(id: row.int64(0), name: row.text(1) ?? "", userHandle: row.blob(2) ?? [], createdAt: row.text(3) ?? "", revokedAt: row.text(4))
    }

    package func find(name: String) throws(StoreError) -> DeskOperator? {
        try database.query("SELECT \(Self.operatorColumns) FROM operators WHERE name = ?", [.text(name)], Self.deskOperator).first
    }

    package func find(id: Int64) throws(StoreError) -> DeskOperator? {
        try database.query("SELECT \(Self.operatorColumns) FROM operators WHERE id = ?", [.int(id)], Self.deskOperator).first
    }

    package func list() throws(StoreError) -> [DeskOperator] {
        try database.query("SELECT \(Self.operatorColumns) FROM operators ORDER BY id", [], Self.deskOperator)
    }

    private static let credentialColumns = "id, operator_id, public_key, algorithm, sign_count, backup_eligible, aaguid, created_at, last_used_at"

    private static func credential(_ row: SQLRow) -> OperatorCredential {
        OperatorCredential(
            id: row.blob(0) ?? [], operatorID: row.int64(1), publicKey: row.blob(2) ?? [], algorithm: row.text(3) ?? "",
            signCount: UInt32(clamping: row.int64(4)), backupEligible: row.int(5) != 0, aaguid: row.text(6) ?? "", createdAt: row.text(7) ?? "",
            lastUsedAt: row.text(8))
    }

    package func credentials(operator id: Int64) throws(StoreError) -> [OperatorCredential] {
        try database.query(
            "SELECT \(Self.credentialColumns) FROM operator_credentials WHERE operator_id = ? ORDER BY created_at", [.int(id)], Self.credential)
    }

    package func find(credential id: [UInt8]) throws(StoreError) -> OperatorCredential? {
        try database.query("SELECT \(Self.credentialColumns) FROM operator_credentials WHERE id = ?", [.blob(id)], Self.credential).first
    }

    /// The counter moves from `expected` to `new` only if nobody moved it meanwhile and the
    /// operator is still active; with the sign-in's event. False: nothing written.
    package func recordUse(_ id: [UInt8], expectedCount: UInt32, newCount: UInt32, event: AuditEvent, at time: Date) throws(StoreError) -> Bool {
        try database.transaction { () throws(StoreError) in
            let changed = try database.run(
                """
                UPDATE operator_credentials SET sign_count = ?, last_used_at = ? WHERE id = ? AND sign_count = ?
                AND operator_id IN (SELECT id FROM operators WHERE revoked_at IS NULL)
                """,
                [.int(Int64(newCount)), .text(time.formatted(.iso8601)), .blob(id), .int(Int64(expectedCount))])
            guard changed == 1 else { return false }
            try audit.append([event], at: time)
            return true
        }
    }

    /// Revokes an operator: their keys no longer sign in and their unused codes die.
    package func revoke(name: String, at time: Date) throws(StoreError) -> Bool {
        try database.transaction { () throws(StoreError) in
            let changed = try database.run(
                "UPDATE operators SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", [.text(time.formatted(.iso8601)), .text(name)])
            guard changed == 1 else { return false }
            try audit.append([AuditEvent(action: "operator.revoke", client: "desk:\(name)", result: "revoked")], at: time)
            return true
        }
    }
}
