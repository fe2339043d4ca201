import AuthenticatorCatalog
import AuthenticatorVerification
import CardJudgement
import Ceremonies
import Foundation
import Logging
import NIOCore
import NIOPosix
import PSCPolicy
import SignatureVerification
import Storage
import Synchronization
import VerificationRequests
import WireFormat

/// The stores the service keeps everything in: one SQLite file (WAL) today, behind the store
/// protocols a PostgreSQL backend implements for several nodes.
package struct ServiceStores: Sendable {
    package let database: SQLiteDatabase
    package let referencing: ReferencingStore
    package var clients: any ClientStoring
    package var credentials: any CredentialStoring
    package var operators: any OperatorStoring
    package var audit: any AuditStoring

    /// The stores of one SQLite file, migrated to the schema this version knows.
    package static func sqlite(path: String) throws(StoreError) -> ServiceStores {
        let database = try SQLiteDatabase(path: path, migrations: StorageSchema.migrations)
        return ServiceStores(
            database: database, referencing: ReferencingStore(database: database), clients: ClientStore(database: database),
            credentials: CredentialStore(database: database), operators: OperatorStore(database: database), audit: AuditLog(database: database))
    }

    /// Whether the database answers (readiness).
    package func ping() throws(StoreError) {
        _ = try database.query("SELECT 1") { $0.int(0) }
    }
}
