import AuthenticatorCatalog
import AuthenticatorVerification
import CardJudgement
import Ceremonies
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresStorage
import PSCPolicy
import SignatureVerification
import Storage
import Synchronization
import VerificationRequests
import WireFormat

/// The stores the service keeps everything in: one SQLite file (WAL), or one PostgreSQL
/// database shared by several nodes; the same stores and SQL over either.
package struct ServiceStores: Sendable {
    package let database: any SQLDatabase
    package let referencing: ReferencingStore
    package var clients: any ClientStoring
    package var credentials: any CredentialStoring
    package var operators: any OperatorStoring
    package var audit: any AuditStoring
    package var deskSessions: any DeskSessionStoring
    package var verdicts: any VerdictChangeStoring
    package var oidc: any OIDCStoring

    /// The stores of one SQLite file, migrated to the schema this version knows.
    package static func sqlite(path: String) throws(StoreError) -> ServiceStores {
        on(try SQLiteDatabase(path: path, migrations: StorageSchema.migrations))
    }

    /// The stores of a PostgreSQL database, migrated (once, whichever node starts first).
    package static func postgres(_ configuration: PostgresConfiguration, logger: Logger) throws(StoreError) -> ServiceStores {
        on(try DatabaseLocation.postgres(configuration).open(logger: logger))
    }

    /// The stores of the configured database: PostgreSQL when one is named, else the SQLite file.
    package static func open(_ configuration: ServiceConfiguration, logger: Logger) throws(StoreError) -> ServiceStores {
        let location = configuration.postgres.map(DatabaseLocation.postgres) ?? .sqlite(path: configuration.databasePath)
        return on(try location.open(logger: logger))
    }

    /// The stores over a database already opened and migrated.
    package static func on(_ database: any SQLDatabase) -> ServiceStores {
        ServiceStores(
            database: database, referencing: ReferencingStore(database: database), clients: ClientStore(database: database),
            credentials: CredentialStore(database: database), operators: OperatorStore(database: database), audit: AuditLog(database: database),
            deskSessions: DeskSessionStore(database: database), verdicts: VerdictChangeStore(database: database),
            oidc: OIDCStore(database: database))
    }

    /// Whether the database answers (readiness).
    package func ping() throws(StoreError) {
        _ = try database.query("SELECT 1") { $0.int(0) }
    }
}
