import Foundation

/// How an IAM registered with the OpenID Provider authenticates at its token endpoint.
package enum OIDCClientAuthentication: String, Sendable, CaseIterable {
    case clientSecretBasic = "client_secret_basic"
    case clientSecretPost = "client_secret_post"
    /// RFC 7523: a JWT signed with a key of the client's registered JWKS.
    case privateKeyJWT = "private_key_jwt"
    /// A public client: no secret, PKCE with S256 required.
    case none
}

/// An IAM (Entra, Okta, Keycloak…) registered with `mie-verifier oidc clients add`.
package struct OIDCClientRecord: Sendable, Equatable {
    package var clientID: String
    package var name: String
    /// Compared exactly, character for character.
    package var redirectURIs: [String]
    package var authentication: OIDCClientAuthentication
    /// SHA-256 of the secret (32 random bytes shown once): a copy of the database holds none.
    package var secretHash: [UInt8]?
    /// The client's public keys (a JWKS document) for `private_key_jwt`.
    package var jwks: String?
    /// Who signs the `id_token_hint` this client sends (Entra's tenant issuer), and its keys.
    package var hintIssuer: String?
    package var hintJWKS: String?
    /// The hint's claim that names the holder in the service's relying party.
    package var hintSubjectClaim: String
    /// `RS256` (OpenID Connect's default) or `ES256`.
    package var idTokenAlgorithm: String
    package var createdAt: Date
    package var revokedAt: Date?

    package init(
        clientID: String, name: String, redirectURIs: [String], authentication: OIDCClientAuthentication, secretHash: [UInt8]? = nil,
        jwks: String? = nil, hintIssuer: String? = nil, hintJWKS: String? = nil, hintSubjectClaim: String = "sub", idTokenAlgorithm: String = "RS256", createdAt: Date,
        revokedAt: Date? = nil
    ) {
        self.clientID = clientID
        self.name = name
        self.redirectURIs = redirectURIs
        self.authentication = authentication
        self.secretHash = secretHash
        self.jwks = jwks
        self.hintIssuer = hintIssuer
        self.hintJWKS = hintJWKS
        self.hintSubjectClaim = hintSubjectClaim
        self.idTokenAlgorithm = idTokenAlgorithm
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// An authorization request checked and waiting for the professional's sign-in: bound to the
/// browser that opened it (a cookie's SHA-256) and to its page's CSRF token.
package struct OIDCPendingRequest: Sendable, Equatable {
    package var clientID: String
    package var browserHash: [UInt8]
    package var csrf: String
    /// The checked request parameters, as JSON (the provider's own reader writes and reads them).
    package var request: String
    /// The sign-in ceremony opened for it (only that one may finish it).
    package var ceremonyID: String?
    package var createdAt: Date
    package var expiresAt: Date
    package var usedAt: Date?

    package init(
        clientID: String, browserHash: [UInt8], csrf: String, request: String, ceremonyID: String? = nil, createdAt: Date, expiresAt: Date,
        usedAt: Date? = nil
    ) {
        self.clientID = clientID
        self.browserHash = browserHash
        self.csrf = csrf
        self.request = request
        self.ceremonyID = ceremonyID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
    }
}

/// An authorization code as stored: by SHA-256, bound to its client, redirect URI and PKCE
/// challenge, with the id_token's claims decided at sign-in.
package struct OIDCCodeRecord: Sendable, Equatable {
    package var clientID: String
    package var redirectURI: String
    package var codeChallenge: String?
    package var claims: String
    package var expiresAt: Date

    package init(clientID: String, redirectURI: String, codeChallenge: String?, claims: String, expiresAt: Date) {
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.codeChallenge = codeChallenge
        self.claims = claims
        self.expiresAt = expiresAt
    }
}

/// What redeeming a code came to.
package enum OIDCCodeRedemption: Sendable, Equatable {
    case redeemed(OIDCCodeRecord)
    case unknown
    case expired
    /// Already redeemed: the access token issued with it is revoked (RFC 6749 §4.1.2).
    case replayed
}

/// One of the provider's signing keys: the private key (DER) and its public JWK.
package struct OIDCSigningKeyRecord: Sendable, Equatable {
    package var kid: String
    package var algorithm: String
    package var privateKey: [UInt8]
    package var publicJWK: String
    package var createdAt: Date
    package var retiredAt: Date?

    package init(kid: String, algorithm: String, privateKey: [UInt8], publicJWK: String, createdAt: Date, retiredAt: Date? = nil) {
        self.kid = kid
        self.algorithm = algorithm
        self.privateKey = privateKey
        self.publicJWK = publicJWK
        self.createdAt = createdAt
        self.retiredAt = retiredAt
    }
}

/// The OpenID Provider's records, in the database every node shares.
package protocol OIDCStoring: Sendable {
    /// False when the client id is taken.
    func add(client: OIDCClientRecord) throws(StoreError) -> Bool
    func client(id: String) throws(StoreError) -> OIDCClientRecord?
    func clients() throws(StoreError) -> [OIDCClientRecord]
    func revoke(client id: String, at time: Date) throws(StoreError) -> Bool

    /// Stores a request (and drops those expired).
    func open(request handleHash: [UInt8], _ pending: OIDCPendingRequest) throws(StoreError)
    func request(_ handleHash: [UInt8]) throws(StoreError) -> OIDCPendingRequest?
    func attach(ceremony: String, to handleHash: [UInt8]) throws(StoreError)
    /// Marks the request used; false when it already was or has expired (one answer per request).
    func finish(request handleHash: [UInt8], at time: Date) throws(StoreError) -> Bool

    /// Stores a code (and drops codes expired long ago).
    func insert(code codeHash: [UInt8], _ code: OIDCCodeRecord, at time: Date) throws(StoreError)
    /// Spends a code once, recording the access token issued with it.
    func redeem(code codeHash: [UInt8], accessHash: [UInt8], accessExpiresAt: Date, at time: Date) throws(StoreError) -> OIDCCodeRedemption
    /// The claims an access token was issued with, while it is live and not revoked.
    func claims(access accessHash: [UInt8], at time: Date) throws(StoreError) -> String?

    func signingKeys() throws(StoreError) -> [OIDCSigningKeyRecord]
    /// Adds a key and retires the others of its algorithm, in one transaction.
    func rotate(to key: OIDCSigningKeyRecord, at time: Date) throws(StoreError)
    /// Deletes keys retired before `cutoff` (no token they signed is still valid).
    func deleteKeys(retiredBefore cutoff: Date) throws(StoreError)
}

package struct OIDCStore: OIDCStoring {
    package let database: any SQLDatabase

    package init(database: any SQLDatabase) {
        self.database = database
    }

    private static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
    private static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
    private static func optionalDate(_ row: SQLRow, _ column: Int32) -> Date? { row.isNull(column) ? nil : date(row.int64(column)) }

    // MARK: Clients

    package func add(client: OIDCClientRecord) throws(StoreError) -> Bool {
        let uris = String(decoding: (try? JSONSerialization.data(withJSONObject: client.redirectURIs)) ?? Data("[]".utf8), as: UTF8.self)
        return try database.run(
            """
            INSERT INTO oidc_clients (client_id, name, redirect_uris, auth_method, secret_hash, jwks, hint_issuer, hint_jwks, hint_subject_claim, id_token_alg, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """,
            [
                .text(client.clientID), .text(client.name), .text(uris), .text(client.authentication.rawValue), client.secretHash.map(SQLValue.blob) ?? .null,
                .optional(client.jwks), .optional(client.hintIssuer), .optional(client.hintJWKS), .text(client.hintSubjectClaim),
                .text(client.idTokenAlgorithm), .int(Self.millis(client.createdAt)),
            ]) == 1
    }

    private static let clientColumns =
        "client_id, name, redirect_uris, auth_method, secret_hash, jwks, hint_issuer, hint_jwks, hint_subject_claim, id_token_alg, created_at, revoked_at"

    private static func client(_ row: SQLRow) -> OIDCClientRecord {
        let uris = (try? JSONSerialization.jsonObject(with: Data((row.text(2) ?? "[]").utf8))) as? [String] ?? []
        return OIDCClientRecord(
            clientID: row.text(0) ?? "", name: row.text(1) ?? "", redirectURIs: uris,
            authentication: OIDCClientAuthentication(rawValue: row.text(3) ?? "") ?? .clientSecretBasic, secretHash: row.blob(4), jwks: row.text(5),
            hintIssuer: row.text(6), hintJWKS: row.text(7), hintSubjectClaim: row.text(8) ?? "sub", idTokenAlgorithm: row.text(9) ?? "RS256",
            createdAt: date(row.int64(10)), revokedAt: optionalDate(row, 11))
    }

    package func client(id: String) throws(StoreError) -> OIDCClientRecord? {
        try database.query("SELECT \(Self.clientColumns) FROM oidc_clients WHERE client_id = ?", [.text(id)], Self.client).first
    }

    package func clients() throws(StoreError) -> [OIDCClientRecord] {
        try database.query("SELECT \(Self.clientColumns) FROM oidc_clients ORDER BY created_at, client_id", [], Self.client)
    }

    package func revoke(client id: String, at time: Date) throws(StoreError) -> Bool {
        try database.run("UPDATE oidc_clients SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL", [.int(Self.millis(time)), .text(id)]) == 1
    }

    // MARK: Requests waiting for a sign-in

    package func open(request handleHash: [UInt8], _ pending: OIDCPendingRequest) throws(StoreError) {
        try database.transaction { () throws(StoreError) in
            _ = try database.run("DELETE FROM oidc_requests WHERE expires_at <= ?", [.int(Self.millis(pending.createdAt))])
            _ = try database.run(
                """
                INSERT INTO oidc_requests (handle_hash, client_id, browser_hash, csrf, request, created_at, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .blob(handleHash), .text(pending.clientID), .blob(pending.browserHash), .text(pending.csrf), .text(pending.request),
                    .int(Self.millis(pending.createdAt)), .int(Self.millis(pending.expiresAt)),
                ])
        }
    }

    package func request(_ handleHash: [UInt8]) throws(StoreError) -> OIDCPendingRequest? {
        try database.query(
            "SELECT client_id, browser_hash, csrf, request, ceremony_id, created_at, expires_at, used_at FROM oidc_requests WHERE handle_hash = ?",
            [.blob(handleHash)]
        ) { row in
            OIDCPendingRequest(
                clientID: row.text(0) ?? "", browserHash: row.blob(1) ?? [], csrf: row.text(2) ?? "", request: row.text(3) ?? "{}",
                ceremonyID: row.text(4), createdAt: Self.date(row.int64(5)), expiresAt: Self.date(row.int64(6)), usedAt: Self.optionalDate(row, 7))
        }.first
    }

    package func attach(ceremony: String, to handleHash: [UInt8]) throws(StoreError) {
        _ = try database.run("UPDATE oidc_requests SET ceremony_id = ? WHERE handle_hash = ? AND used_at IS NULL", [.text(ceremony), .blob(handleHash)])
    }

    package func finish(request handleHash: [UInt8], at time: Date) throws(StoreError) -> Bool {
        try database.run(
            "UPDATE oidc_requests SET used_at = ? WHERE handle_hash = ? AND used_at IS NULL AND expires_at > ?",
            [.int(Self.millis(time)), .blob(handleHash), .int(Self.millis(time))]) == 1
    }

    // MARK: Codes and access tokens

    /// Codes are kept a day past their expiry, so a replay is still recognised (and answered as
    /// one) after the code's own short life.
    static let codeRetention: TimeInterval = 86_400

    package func insert(code codeHash: [UInt8], _ code: OIDCCodeRecord, at time: Date) throws(StoreError) {
        try database.transaction { () throws(StoreError) in
            _ = try database.run("DELETE FROM oidc_codes WHERE expires_at <= ?", [.int(Self.millis(time.addingTimeInterval(-Self.codeRetention)))])
            _ = try database.run(
                "INSERT INTO oidc_codes (code_hash, client_id, redirect_uri, code_challenge, claims, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    .blob(codeHash), .text(code.clientID), .text(code.redirectURI), .optional(code.codeChallenge), .text(code.claims),
                    .int(Self.millis(code.expiresAt)),
                ])
        }
    }

    package func redeem(code codeHash: [UInt8], accessHash: [UInt8], accessExpiresAt: Date, at time: Date) throws(StoreError) -> OIDCCodeRedemption {
        try database.transaction { () throws(StoreError) -> OIDCCodeRedemption in
            let spent = try database.run(
                "UPDATE oidc_codes SET used_at = ?, access_hash = ?, access_expires_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
                [.int(Self.millis(time)), .blob(accessHash), .int(Self.millis(accessExpiresAt)), .blob(codeHash), .int(Self.millis(time))])
            let found = try database.query(
                "SELECT client_id, redirect_uri, code_challenge, claims, expires_at, used_at FROM oidc_codes WHERE code_hash = ?", [.blob(codeHash)]
            ) { row in
                (
                    OIDCCodeRecord(
                        clientID: row.text(0) ?? "", redirectURI: row.text(1) ?? "", codeChallenge: row.text(2), claims: row.text(3) ?? "{}",
                        expiresAt: Self.date(row.int64(4))), usedAt: Self.optionalDate(row, 5)
                )
            }.first
            guard let (code, usedAt) = found else { return .unknown }
            if spent == 1 { return .redeemed(code) }
            guard usedAt != nil else { return .expired }
            _ = try database.run("UPDATE oidc_codes SET access_revoked = 1 WHERE code_hash = ?", [.blob(codeHash)])
            return .replayed
        }
    }

    package func claims(access accessHash: [UInt8], at time: Date) throws(StoreError) -> String? {
        try database.query(
            "SELECT claims FROM oidc_codes WHERE access_hash = ? AND access_revoked = 0 AND access_expires_at > ?",
            [.blob(accessHash), .int(Self.millis(time))]
        ) { $0.text(0) }.first ?? nil
    }

    // MARK: Signing keys

    package func signingKeys() throws(StoreError) -> [OIDCSigningKeyRecord] {
        try database.query("SELECT kid, alg, private_key, public_jwk, created_at, retired_at FROM oidc_signing_keys ORDER BY created_at, kid", []) { row in
            OIDCSigningKeyRecord(
                kid: row.text(0) ?? "", algorithm: row.text(1) ?? "", privateKey: row.blob(2) ?? [], publicJWK: row.text(3) ?? "{}",
                createdAt: Self.date(row.int64(4)), retiredAt: Self.optionalDate(row, 5))
        }
    }

    package func rotate(to key: OIDCSigningKeyRecord, at time: Date) throws(StoreError) {
        try database.transaction { () throws(StoreError) in
            _ = try database.run(
                "UPDATE oidc_signing_keys SET retired_at = ? WHERE alg = ? AND retired_at IS NULL", [.int(Self.millis(time)), .text(key.algorithm)])
            _ = try database.run(
                "INSERT INTO oidc_signing_keys (kid, alg, private_key, public_jwk, created_at) VALUES (?, ?, ?, ?, ?)",
                [.text(key.kid), .text(key.algorithm), .blob(key.privateKey), .text(key.publicJWK), .int(Self.millis(key.createdAt))])
        }
    }

    package func deleteKeys(retiredBefore cutoff: Date) throws(StoreError) {
        _ = try database.run("DELETE FROM oidc_signing_keys WHERE retired_at IS NOT NULL AND retired_at < ?", [.int(Self.millis(cutoff))])
    }
}
