import Foundation
import Storage
import WireFormat

extension ServiceOperations {
    /// A holder of the caller's relying party and their credentials; a holder unknown there is
    /// `not-found`, whatever another party holds.
    package func credentials(of holderID: String, includingDeleted: Bool, by caller: Caller) throws -> (Holder, [StoredCredentialRecord]) {
        guard let holder = try credentials.find(holder: holderID, rpID: caller.party.id) else {
            throw OperationError(.notFound, "no holder \(holderID)")
        }
        return (holder, try credentials.credentials(holder: holder.id, rpID: caller.party.id, includingDeleted: includingDeleted))
    }

    /// A credential of the caller's relying party (deleted ones included) and its holder; one of
    /// another party is answered as one that does not exist.
    package func credential(_ id: [UInt8], by caller: Caller) throws -> (StoredCredentialRecord, Holder?) {
        guard let record = try credentials.find(credential: id), record.rpID == caller.party.id else {
            throw OperationError(.notFound, "no such credential")
        }
        return (record, try credentials.find(holder: record.holderID, rpID: caller.party.id))
    }

    /// Marks a live credential of the caller's relying party deleted, with its audit event
    /// (`action`: `credential.delete` for the API, `deletion` for the desk).
    package func revoke(_ id: [UInt8], action: String, by caller: Caller) throws -> StoredCredentialRecord {
        let now = clock()
        guard let record = try credentials.find(credential: id), record.rpID == caller.party.id, record.deletedAt == nil else {
            throw OperationError(.notFound, "no live credential with this id")
        }
        let event = AuditEvent(
            action: action, client: caller.auditName, holder: record.holderID, credentialID: Base64URL.encode(id), authenticator: record.aaguid,
            result: "deleted")
        guard try credentials.delete(id, event: event, at: now) else { throw OperationError(.notFound, "no live credential with this id") }
        return record
    }
}
