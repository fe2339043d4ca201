import CPCSCLite
import CSQLite
import Foundation
import Testing

/// The SQLite and PC/SC module maps link and behave; the store and the hardware probe build on
/// them.
@Suite struct SystemLibraryTests {
    @Test func sqliteRoundTripsARowThroughTheTransientShim() throws {
        var db: OpaquePointer?
        #expect(sqlite3_open(":memory:", &db) == SQLITE_OK)
        defer { sqlite3_close(db) }
        #expect(sqlite3_exec(db, "CREATE TABLE t (v TEXT)", nil, nil, nil) == SQLITE_OK)
        var statement: OpaquePointer?
        #expect(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?)", -1, &statement, nil) == SQLITE_OK)
        #expect(sqlite3_bind_text(statement, 1, "mie", -1, mie_sqlite_transient()) == SQLITE_OK)
        #expect(sqlite3_step(statement) == SQLITE_DONE)
        sqlite3_finalize(statement)
        #expect(sqlite3_prepare_v2(db, "SELECT v FROM t", -1, &statement, nil) == SQLITE_OK)
        #expect(sqlite3_step(statement) == SQLITE_ROW)
        let text = try #require(sqlite3_column_text(statement, 0))
        #expect(String(cString: text) == "mie")
        sqlite3_finalize(statement)
    }

    /// With pcscd's socket present (always under `make test` and CI) the context is
    /// established; without it, the answer is exactly SCARD_E_NO_SERVICE.
    @Test func pcscAnswersAccordingToTheDaemon() {
        let daemonRunning = FileManager.default.fileExists(atPath: "/run/pcscd/pcscd.comm")
        if RequiredMode.isOn { #expect(daemonRunning, "pcscd must be running (Tools/virtualcard/with-virtual-cards.sh)") }
        var context: SCARDCONTEXT = 0
        let status = SCardEstablishContext(DWORD(SCARD_SCOPE_SYSTEM), nil, nil, &context)
        if daemonRunning {
            #expect(status == SCARD_S_SUCCESS)
        } else {
            #expect(UInt32(truncatingIfNeeded: status) == 0x8010_001D)
        }
        if status == SCARD_S_SUCCESS { SCardReleaseContext(context) }
        #expect(mie_scard_pci_t1().pointee.dwProtocol == DWORD(SCARD_PROTOCOL_T1))
        #expect(String(cString: pcsc_stringify_error(LONG(bitPattern: UInt(0x8010_001D)))).lowercased().contains("service"))
    }
}
