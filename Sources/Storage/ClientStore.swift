import Foundation
import SignatureVerification
import WireFormat

/// What an API client may do.
package enum ClientRole: String, Sendable, CaseIterable {
    /// Stateless verification and card checks.
    case verifier
    /// Registration and sign-in ceremonies, with the credential store.
    case enrolment
    /// Credentials, referencing lists, clients.
    case `operator`
}

/// A registered API client: its roles and its relying party.
package struct APIClient: Sendable, Equatable {
    package let id: Int64
    package let name: String
    package let roles: Set<ClientRole>
    /// The relying party it verifies for; nil: the service's default.
    package let rpID: String?
    package let origins: [String]
    /// Profiles it may name; empty: the service's default only.
    package let profiles: [String]
    package let createdAt: String
    package let revokedAt: String?
    /// SHA-256 of the TLS client certificate (DER) that authenticates it too, if any.
    package var certificateSHA256: [UInt8]? = nil
    /// May add keys to a holder whose identity stronger evidence set (a card, an operator, or
    /// another client): a relaxation, off unless `clients add --adds-keys-to-stronger-holders`.
    package var addsKeysToStrongerHolders = false
}

/// API clients. Keys are 32 random bytes shown once (`mie_` + base64url); only their SHA-256
/// is stored, so a copy of the database holds no usable key.
package struct ClientStore: Sendable {
    package let database: any SQLDatabase

    package init(database: any SQLDatabase) {
        self.database = database
    }

    package static let keyPrefix = "mie_"

    static func hash(_ key: String) -> [UInt8] { Digest.sha256(Array(key.utf8)) }

    /// Registers a client and returns it with its key (the only time the key exists in clear).
    package func add(
        name: String, roles: Set<ClientRole>, rpID: String?, origins: [String], profiles: [String], certificateSHA256: [UInt8]?,
        at time: Date
    ) throws(StoreError) -> (APIClient, key: String) {
        guard !name.isEmpty, name.utf8.count <= 100 else { throw StoreError(.clientName, "a client name is 1 to 100 bytes") }
        guard !name.hasPrefix("@") else { throw StoreError(.clientName, "names starting with @ are the service's own") }
        guard !roles.isEmpty else { throw StoreError(.clientRoles, "a client needs at least one role") }
        var random = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let key = Self.keyPrefix + Base64URL.encode(secret)
        let stamp = time.formatted(.iso8601)
        let rolesText = roles.map(\.rawValue).sorted().joined(separator: ",")
        let id: Int64 = try database.transaction { () throws(StoreError) in
            if try database.query("SELECT 1 FROM clients WHERE name = ?", [.text(name)], { _ in true }).first == true {
                throw StoreError(.clientExists, "a client named \(name) exists")
            }
            let inserted = try database.query(
                "INSERT INTO clients (name, key_hash, roles, rp_id, origins, profiles, created_at, certificate_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [
                    .text(name), .blob(Self.hash(key)), .text(rolesText), rpID.map(SQLValue.text) ?? .null,
                    .text(String(decoding: JSONValue.strings(origins).json, as: UTF8.self)),
                    .text(String(decoding: JSONValue.strings(profiles).json, as: UTF8.self)), .text(stamp),
                    certificateSHA256.map(SQLValue.blob) ?? .null,
                ]) { $0.int64(0) }
            guard let id = inserted.first else { throw StoreError(.sql, "the new client's id was not returned") }
            try AuditLog(database: database).append(
                [AuditEvent(action: "client.add", client: name, result: "added", detail: "roles \(rolesText), rp \(rpID ?? "default")")], at: time)
            return id
        }
        return (
            APIClient(
                id: id, name: name, roles: roles, rpID: rpID, origins: origins, profiles: profiles, createdAt: stamp, revokedAt: nil,
                certificateSHA256: certificateSHA256), key
        )
    }

    private static let columns = "id, name, roles, rp_id, origins, profiles, created_at, revoked_at, certificate_sha256, adds_keys_to_stronger_holders"

    private static func client(_ row: SQLRow) -> APIClient {
        func strings(_ column: Int32) -> [String] {
            (try? JSONValue.parse(Array((row.text(column) ?? "[]").utf8), document: "stored list"))?.strings ?? []
        }
        return APIClient(
            id: row.int64(0), name: row.text(1) ?? "", roles: Set((row.text(2) ?? "").split(separator: ",").compactMap { ClientRole(rawValue: String($0)) }),
            rpID: row.text(3), origins: strings(4), profiles: strings(5), createdAt: row.text(6) ?? "", revokedAt: row.text(7),
            certificateSHA256: row.blob(8), addsKeysToStrongerHolders: row.int(9) != 0)
    }

    /// The active client holding this key, if any.
    package func authenticate(key: String) throws(StoreError) -> APIClient? {
        guard key.hasPrefix(Self.keyPrefix), key.utf8.count < 200 else { return nil }
        return try database.query(
            "SELECT \(Self.columns) FROM clients WHERE key_hash = ? AND revoked_at IS NULL", [.blob(Self.hash(key))], Self.client
        ).first
    }

    /// The active client whose TLS client certificate has this SHA-256 (the allow-list).
    package func authenticate(certificateSHA256 digest: [UInt8]) throws(StoreError) -> APIClient? {
        try database.query(
            "SELECT \(Self.columns) FROM clients WHERE certificate_sha256 = ? AND revoked_at IS NULL", [.blob(digest)], Self.client
        ).first
    }

    /// The registered clients; the service's own (`@desk`) are not listed.
    package func list() throws(StoreError) -> [APIClient] {
        try database.query("SELECT \(Self.columns) FROM clients WHERE name NOT LIKE '@%' ORDER BY id", [], Self.client)
    }

    /// The enrolment desk's own client (`@desk`), created on first use: the desk's ceremonies and
    /// the credentials it enrols are recorded under it. It has no usable key (its stored hash is
    /// of random bytes nobody knows), so no API request authenticates as it.
    package func deskClient(at time: Date) throws(StoreError) -> APIClient {
        try database.transaction { () throws(StoreError) in
            try database.run(
                "INSERT INTO clients (name, key_hash, roles, created_at) VALUES ('@desk', ?, 'enrolment', ?) ON CONFLICT DO NOTHING",
                [.blob(CredentialStore.randomBytes(32)), .text(time.formatted(.iso8601))])
            guard let desk = try database.query("SELECT \(Self.columns) FROM clients WHERE name = '@desk'", [], Self.client).first else {
                throw StoreError(.deskClient, "the desk's client could not be created")
            }
            return desk
        }
    }

    /// Lets a client add keys to holders whose identity stronger evidence set, or stops it;
    /// false when there is no such active client.
    package func setAddsKeysToStrongerHolders(name: String, _ allowed: Bool, at time: Date) throws(StoreError) -> Bool {
        try database.transaction { () throws(StoreError) in
            let changed = try database.run(
                "UPDATE clients SET adds_keys_to_stronger_holders = ? WHERE name = ? AND revoked_at IS NULL", [.int(allowed ? 1 : 0), .text(name)])
            if changed > 0 {
                try AuditLog(database: database).append(
                    [AuditEvent(action: "client.relaxation", client: name, result: allowed ? "adds-keys-to-stronger-holders" : "strict")], at: time)
            }
            return changed > 0
        }
    }

    /// Revokes a client by name; false when there is no such active client.
    package func revoke(name: String, at time: Date) throws(StoreError) -> Bool {
        try database.transaction { () throws(StoreError) in
            let changed = try database.run(
                "UPDATE clients SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", [.text(time.formatted(.iso8601)), .text(name)])
            if changed > 0 {
                try AuditLog(database: database).append([AuditEvent(action: "client.revoke", client: name, result: "revoked")], at: time)
            }
            return changed > 0
        }
    }
}
