/// Every migration of the product's database file, in order. One list for every store: a store
/// that knew only some of them would take the file for one written by a newer version.
package enum StorageSchema {
    package static let migrations: [SQLMigration] = ReferencingStore.migrations + [
        .init(
            2,
            """
            CREATE TABLE clients (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                key_hash BLOB NOT NULL UNIQUE,
                roles TEXT NOT NULL,
                rp_id TEXT,
                origins TEXT NOT NULL DEFAULT '[]',
                profiles TEXT NOT NULL DEFAULT '[]',
                created_at TEXT NOT NULL,
                revoked_at TEXT
            );
            CREATE TABLE holders (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                display_name TEXT NOT NULL,
                rpps TEXT,
                user_handle BLOB NOT NULL UNIQUE,
                created_at TEXT NOT NULL
            );
            CREATE TABLE ceremonies (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                challenge BLOB NOT NULL,
                client_id INTEGER NOT NULL REFERENCES clients (id),
                holder_id TEXT REFERENCES holders (id),
                profile TEXT,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                used_at INTEGER
            );
            CREATE INDEX ceremonies_by_expiry ON ceremonies (expires_at);
            CREATE TABLE credentials (
                id BLOB PRIMARY KEY,
                holder_id TEXT NOT NULL REFERENCES holders (id),
                identity_evidence TEXT NOT NULL,
                public_key BLOB NOT NULL,
                algorithm TEXT NOT NULL,
                sign_count INTEGER NOT NULL,
                backup_eligible INTEGER NOT NULL,
                aaguid TEXT NOT NULL,
                authenticator TEXT NOT NULL,
                verdict TEXT NOT NULL,
                amr TEXT NOT NULL,
                client_id INTEGER NOT NULL REFERENCES clients (id),
                rp_id TEXT NOT NULL,
                created_at TEXT NOT NULL,
                last_used_at TEXT,
                deleted_at TEXT
            );
            CREATE INDEX credentials_by_holder ON credentials (holder_id);
            CREATE TABLE audit_events (
                seq INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                event TEXT NOT NULL,
                previous_hash BLOB NOT NULL,
                hash BLOB NOT NULL
            );
            """),
        .init(
            3,
            """
            ALTER TABLE clients ADD COLUMN certificate_sha256 BLOB;
            CREATE UNIQUE INDEX clients_by_certificate ON clients (certificate_sha256) WHERE certificate_sha256 IS NOT NULL;
            """),
            .init(
            4,
            """
            CREATE TABLE operators (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                user_handle BLOB NOT NULL UNIQUE,
                created_at TEXT NOT NULL,
                revoked_at TEXT
            );
            CREATE TABLE operator_codes (
                code_hash BLOB PRIMARY KEY,
                operator_id INTEGER NOT NULL REFERENCES operators (id),
                expires_at INTEGER NOT NULL,
                used_at INTEGER
            );
            CREATE TABLE operator_credentials (
                id BLOB PRIMARY KEY,
                operator_id INTEGER NOT NULL REFERENCES operators (id),
                public_key BLOB NOT NULL,
                algorithm TEXT NOT NULL,
                sign_count INTEGER NOT NULL,
                backup_eligible INTEGER NOT NULL,
                aaguid TEXT NOT NULL,
                created_at TEXT NOT NULL,
                last_used_at TEXT
            );
            CREATE INDEX operator_credentials_by_operator ON operator_credentials (operator_id);
            ALTER TABLE ceremonies ADD COLUMN evidence TEXT;
            ALTER TABLE ceremonies ADD COLUMN operator TEXT;
            ALTER TABLE credentials ADD COLUMN enrolled_by TEXT;
            ALTER TABLE credentials ADD COLUMN lists TEXT NOT NULL DEFAULT '[]';
            ALTER TABLE credentials ADD COLUMN profile TEXT;
            """),
        // Holders belong to one relying party (their id and user handle are that party's), and
        // keep what established their identity fields and which client did. A holder of several
        // parties becomes one per party (the first keeps its user handle: its keys were made
        // with it); a holder with no credential goes. Ceremonies are short-lived: dropped.
        .init(
            5,
            """
            PRAGMA defer_foreign_keys = ON;
            CREATE TABLE holders_by_party (
                rp_id TEXT NOT NULL,
                id TEXT NOT NULL,
                name TEXT NOT NULL,
                display_name TEXT NOT NULL,
                rpps TEXT,
                user_handle BLOB NOT NULL,
                evidence TEXT NOT NULL,
                owner_client_id INTEGER REFERENCES clients (id),
                created_at TEXT NOT NULL,
                PRIMARY KEY (rp_id, id),
                UNIQUE (rp_id, user_handle)
            );
            INSERT INTO holders_by_party
            SELECT parties.rp_id, h.id, h.name, h.display_name, h.rpps, h.user_handle,
                (SELECT CASE MAX(CASE c.identity_evidence WHEN 'proven-by-card' THEN 3 WHEN 'asserted-by-operator' THEN 2 ELSE 1 END)
                    WHEN 3 THEN 'proven-by-card' WHEN 2 THEN 'asserted-by-operator' ELSE 'asserted-by-client' END
                 FROM credentials c WHERE c.holder_id = h.id AND c.rp_id = parties.rp_id),
                (SELECT c.client_id FROM credentials c WHERE c.holder_id = h.id AND c.rp_id = parties.rp_id ORDER BY c.created_at LIMIT 1),
                h.created_at
            FROM holders h JOIN (SELECT DISTINCT holder_id, rp_id FROM credentials) parties ON parties.holder_id = h.id;
            CREATE TABLE credentials_by_party (
                id BLOB PRIMARY KEY,
                holder_id TEXT NOT NULL,
                identity_evidence TEXT NOT NULL,
                public_key BLOB NOT NULL,
                algorithm TEXT NOT NULL,
                sign_count INTEGER NOT NULL,
                backup_eligible INTEGER NOT NULL,
                aaguid TEXT NOT NULL,
                authenticator TEXT NOT NULL,
                verdict TEXT NOT NULL,
                amr TEXT NOT NULL,
                client_id INTEGER NOT NULL REFERENCES clients (id),
                rp_id TEXT NOT NULL,
                created_at TEXT NOT NULL,
                last_used_at TEXT,
                deleted_at TEXT,
                enrolled_by TEXT,
                lists TEXT NOT NULL DEFAULT '[]',
                profile TEXT,
                FOREIGN KEY (rp_id, holder_id) REFERENCES holders_by_party (rp_id, id)
            );
            INSERT INTO credentials_by_party
            SELECT id, holder_id, identity_evidence, public_key, algorithm, sign_count, backup_eligible, aaguid, authenticator, verdict, amr,
                client_id, rp_id, created_at, last_used_at, deleted_at, enrolled_by, lists, profile
            FROM credentials;
            DROP TABLE ceremonies;
            DROP TABLE credentials;
            DROP TABLE holders;
            ALTER TABLE holders_by_party RENAME TO holders;
            ALTER TABLE credentials_by_party RENAME TO credentials;
            CREATE INDEX credentials_by_holder ON credentials (rp_id, holder_id);
            CREATE TABLE ceremonies (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                challenge BLOB NOT NULL,
                client_id INTEGER NOT NULL REFERENCES clients (id),
                rp_id TEXT,
                holder_id TEXT,
                profile TEXT,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL,
                used_at INTEGER,
                evidence TEXT,
                operator TEXT,
                FOREIGN KEY (rp_id, holder_id) REFERENCES holders (rp_id, id)
            );
            CREATE INDEX ceremonies_by_expiry ON ceremonies (expires_at);
            ALTER TABLE clients ADD COLUMN adds_keys_to_stronger_holders INTEGER NOT NULL DEFAULT 0;
            """),
        // Audit rows numbered by a counter that only grows: a number is never given twice.
        .init(
            6,
            """
            CREATE TABLE audit_counter (id INTEGER PRIMARY KEY CHECK (id = 1), last_seq INTEGER NOT NULL);
            INSERT INTO audit_counter (id, last_seq) SELECT 1, COALESCE(MAX(seq), 0) FROM audit_events;
            """),
        .init(7, deskSessions),
        // The chain's end kept with its counter: an append reads and locks both in one statement.
        .init(
            8,
            """
            ALTER TABLE audit_counter ADD COLUMN last_hash BLOB;
            UPDATE audit_counter SET last_hash = (SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1);
            """),
        .init(9, rejudging),
        .init(10, openIDProvider),
        // Events queued for the chain by PostgreSQL's state changes (`AuditLog.link`); SQLite
        // links at once and leaves it empty.
        .init(
            11,
            """
            CREATE TABLE audit_pending (
                id INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                event TEXT NOT NULL
            );
            """),
        // The queue's last number linked, kept under the chain's lock: the next link reads the
        // queue from just before it (`AuditLog.linkWaiting`). On PostgreSQL, room left in each
        // credential's page, so the counter's update at every sign-in rewrites the row in place
        // (a HOT update: no new entry in its three indexes) instead of moving it.
        .init(
            12,
            "ALTER TABLE audit_counter ADD COLUMN last_pending INTEGER NOT NULL DEFAULT 0;",
            postgresOnly: "ALTER TABLE credentials SET (fillfactor = 80);"),
    ]

    /// The OpenID Provider the IAMs delegate a factor to: its clients (the IAMs), the
    /// authorization requests waiting for a sign-in, the codes issued (single use, by SHA-256),
    /// and its signing keys (kept in the JWKS after they retire, until their tokens expire).
    static let openIDProvider = """
        CREATE TABLE oidc_clients (
            client_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            redirect_uris TEXT NOT NULL,
            auth_method TEXT NOT NULL,
            secret_hash BLOB,
            jwks TEXT,
            hint_issuer TEXT,
            hint_jwks TEXT,
            hint_subject_claim TEXT NOT NULL,
            id_token_alg TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER
        );
        CREATE TABLE oidc_requests (
            handle_hash BLOB PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES oidc_clients (client_id),
            browser_hash BLOB NOT NULL,
            csrf TEXT NOT NULL,
            request TEXT NOT NULL,
            ceremony_id TEXT,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            used_at INTEGER
        );
        CREATE INDEX oidc_requests_by_expiry ON oidc_requests (expires_at);
        CREATE TABLE oidc_codes (
            code_hash BLOB PRIMARY KEY,
            client_id TEXT NOT NULL REFERENCES oidc_clients (client_id),
            redirect_uri TEXT NOT NULL,
            code_challenge TEXT,
            claims TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            used_at INTEGER,
            access_hash BLOB,
            access_expires_at INTEGER,
            access_revoked INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX oidc_codes_by_expiry ON oidc_codes (expires_at);
        CREATE INDEX oidc_codes_by_access ON oidc_codes (access_hash);
        CREATE TABLE oidc_signing_keys (
            kid TEXT PRIMARY KEY,
            alg TEXT NOT NULL,
            private_key BLOB NOT NULL,
            public_jwk TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            retired_at INTEGER
        );
        """

    /// Credentials keep what they were registered with, so a list change can judge them again
    /// (FI 46): the attestation object and client data as verified, and the lists and profile
    /// they were last judged under. Every change of verdict or AMR is kept, with its cause, and
    /// is the webhook's outbox.
    static let rejudging = """
        ALTER TABLE credentials ADD COLUMN attestation_object BLOB;
        ALTER TABLE credentials ADD COLUMN client_data BLOB;
        ALTER TABLE credentials ADD COLUMN judged_under TEXT;
        CREATE INDEX credentials_by_judgement ON credentials (judged_under);
        CREATE TABLE verdict_changes (
            id INTEGER PRIMARY KEY,
            credential_id BLOB NOT NULL REFERENCES credentials (id),
            rp_id TEXT NOT NULL,
            holder_id TEXT NOT NULL,
            client_id INTEGER NOT NULL,
            aaguid TEXT NOT NULL,
            authenticator TEXT NOT NULL,
            at TEXT NOT NULL,
            old_verdict TEXT NOT NULL,
            new_verdict TEXT NOT NULL,
            old_amr TEXT NOT NULL,
            new_amr TEXT NOT NULL,
            cause TEXT NOT NULL,
            lists TEXT NOT NULL,
            delivered_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        );
        CREATE INDEX verdict_changes_by_credential ON verdict_changes (credential_id);
        CREATE INDEX verdict_changes_undelivered ON verdict_changes (next_attempt) WHERE delivered_at IS NULL;
        """

    /// Desk sessions in the database, so every node shares them (migration 7 on both).
    static let deskSessions = """
        CREATE TABLE desk_sessions (
            token_hash BLOB PRIMARY KEY,
            operator_id INTEGER NOT NULL REFERENCES operators (id),
            name TEXT NOT NULL,
            csrf TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            last_seen INTEGER NOT NULL
        );
        CREATE INDEX desk_sessions_by_operator ON desk_sessions (operator_id);
        CREATE TABLE desk_session_ceremonies (
            token_hash BLOB NOT NULL REFERENCES desk_sessions (token_hash) ON DELETE CASCADE,
            ceremony_id TEXT NOT NULL,
            added_at INTEGER NOT NULL,
            PRIMARY KEY (token_hash, ceremony_id)
        );
        """

    /// The same migrations on PostgreSQL, so a schema change is written once: SQLite's types as
    /// PostgreSQL's (INTEGER as BIGINT, BLOB as BYTEA, an `INTEGER PRIMARY KEY` as an identity
    /// column that still takes explicit values), its pragmas left out. Every statement of the
    /// list is one both engines run the same way (ALTER TABLE … ADD COLUMN, RENAME TO, partial
    /// indexes, INSERT … SELECT).
    package static let postgresMigrations: [SQLMigration] = migrations.map { migration in
        SQLMigration(migration.version, postgres(migration.sql) + "\n" + migration.postgresOnly)
    }

    static func postgres(_ sql: String) -> String {
        sql.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("PRAGMA") }
            .joined(separator: "\n")
            .replacingOccurrences(of: "INTEGER PRIMARY KEY", with: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
            .replacingOccurrences(of: "INTEGER", with: "BIGINT")
            .replacingOccurrences(of: "BLOB", with: "BYTEA")
    }
}
