/// Every migration of the product's database file, in order. One list for every store: a store
/// that knew only some of them would take the file for one written by a newer version.
package enum StorageSchema {
    package static let migrations: [SQLiteDatabase.Migration] = ReferencingStore.migrations + [
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
    ]
}
