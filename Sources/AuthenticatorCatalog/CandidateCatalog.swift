import Foundation
import SignatureVerification
import WireFormat

extension MetadataStatement {
    /// A metadata statement on its own (MDS3 §4): what an MIE vendor hands in with a candidate
    /// key, before any list names it. Read as strictly as the statements of a BLOB.
    public static func parse(_ bytes: [UInt8]) throws(ImportFailure) -> MetadataStatement {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes, document: "the metadata statement")
        } catch {
            throw ImportFailure(.malformed, error.message)
        }
        do {
            return try MetadataReader.statement(value, "statement")
        } catch {
            throw ImportFailure(.malformed, "\(error.path) \(error.message)")
        }
    }
}

extension CatalogSnapshot {
    /// A catalog holding only a vendor's candidate statement, as a list of its own (`demo`:
    /// nothing decided on it proves anything to an auditor). Its roots make the candidate's
    /// attestation verifiable; no status report and no ANS decision exist yet, so the criteria
    /// that need them (FI 19's referencing, FI 23) say so.
    public static func candidate(_ statement: MetadataStatement, document: [UInt8]) -> CatalogSnapshot {
        let entry = MetadataEntry(
            aaguid: statement.aaguid, aaid: statement.aaid, attestationCertificateKeyIdentifiers: statement.attestationCertificateKeyIdentifiers,
            statement: statement, statusReports: [], timeOfLastStatusChange: nil)
        let digest = Hex.string(Digest.sha256(document))
        let blob = MetadataBLOB(
            number: 0, nextUpdate: "", nextUpdateDate: nil, legalHeader: nil, entries: [entry], signer: "the vendor (unsigned candidate)",
            source: "candidate:\(digest)")
        let version = ListVersion(
            kind: .mds, source: "candidate:\(digest)", number: 0, nextUpdate: nil, nextUpdateDate: nil, sha256: digest,
            signer: "the vendor (unsigned candidate)", entryCount: 1, demo: true)
        return CatalogSnapshot(lists: [(version, .mds(blob))])
    }
}
