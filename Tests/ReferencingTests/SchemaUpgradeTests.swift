import Foundation
import Storage
import Testing

/// A database written by the previous schema (holders with one global id) opens with the
/// current one: each holder becomes one per relying party of its credentials (the first keeps
/// its user handle: its keys were made with it), credentials keep their rows, and the
/// foreign keys hold.
@Suite struct SchemaUpgradeTests {
    @Test func holdersBecomeOnePerRelyingParty() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mie-upgrade-\(UUID().uuidString).sqlite").path
        do {
            let old = try SQLiteDatabase(path: path, migrations: StorageSchema.migrations.filter { $0.version <= 4 })
            try old.run("INSERT INTO clients (id, name, key_hash, roles, created_at) VALUES (1, 'a', x'01', 'enrolment', 't'), (2, 'b', x'02', 'enrolment', 't')")
            try old.run(
                "INSERT INTO holders (id, name, display_name, rpps, user_handle, created_at) VALUES ('h', 'n', 'Dr N', '10003456786', x'AA', 't'), ('lonely', 'l', 'L', NULL, x'BB', 't')")
            for (id, client, party, evidence, created) in [("01", 1, "rp.one", "asserted-by-client", "1"), ("02", 2, "rp.two", "proven-by-card", "2"), ("03", 1, "rp.one", "asserted-by-operator", "3")] {
                try old.run(
                    """
                    INSERT INTO credentials (id, holder_id, identity_evidence, public_key, algorithm, sign_count, backup_eligible, aaguid, authenticator,
                        verdict, amr, client_id, rp_id, created_at)
                    VALUES (x'\(id)', 'h', '\(evidence)', x'A0', 'ES256', 0, 0, 'x', 'x', 'accepted', '[]', \(client), '\(party)', '\(created)')
                    """)
            }
            try old.run("INSERT INTO ceremonies (id, kind, challenge, client_id, holder_id, created_at, expires_at) VALUES ('c', 'registration', x'00', 1, 'h', 0, 9)")
        }
        let database = try SQLiteDatabase(path: path, migrations: StorageSchema.migrations)
        let store = CredentialStore(database: database)
        let one = try #require(try store.find(holder: "h", rpID: "rp.one"))
        let two = try #require(try store.find(holder: "h", rpID: "rp.two"))
        #expect(one.userHandle == [0xAA] && two.userHandle == [0xAA])
        #expect(one.evidence == "asserted-by-operator" && one.ownerClientID == 1 && one.rpps == "10003456786")
        #expect(two.evidence == "proven-by-card" && two.ownerClientID == 2)
        #expect(try store.find(holder: "lonely", rpID: "rp.one") == nil)
        #expect(try store.credentials(holder: "h", rpID: "rp.one").map(\.id) == [[0x01], [0x03]])
        #expect(try store.credentials(holder: "h", rpID: "rp.two").map(\.id) == [[0x02]])
        #expect(try database.query("PRAGMA foreign_key_check") { $0.text(0) ?? "" }.isEmpty)
        #expect(try database.query("SELECT COUNT(*) FROM ceremonies") { $0.int(0) }.first == 0)
    }
}
