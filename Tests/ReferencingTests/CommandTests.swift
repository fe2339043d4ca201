import Foundation
import Storage
import Testing
import WireFormat

/// `mie-verifier referencing …` and `mie-verifier evaluate`, run as an operator would, on a
/// real database file.
@Suite(RequiredMode.needs(FileManager.default.isExecutableFile(atPath: CommandRunner.binary.path), "build mie-verifier first"))
struct CommandTests {
    let runner = CommandRunner()
    let directory: URL
    let database: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mie-commands-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        database = directory.appendingPathComponent("mie.sqlite").path
    }

    func importDemo() throws {
        let blob = try runner.run(["referencing", "import", "TestVectors/referencing/demo-mds-blob-no1.jwt", "--database", database, "--root", "TestVectors/referencing/demo-mds-root.pem"])
        #expect(blob.status == 0, "\(blob.error)")
        let ans = try runner.run(["referencing", "import", "TestVectors/referencing/demo-ans-list.json", "--database", database, "--ans-key", "TestVectors/referencing/demo-ans-key.pem"])
        #expect(ans.status == 0, "\(ans.error)")
        #expect(ans.output.contains("imported ANS list no 1"))
    }

    @Test func importRefusesWithACodeAndKeepsTheActiveList() throws {
        try importDemo()
        let again = try runner.run(["referencing", "import", "TestVectors/referencing/demo-mds-blob-no1.jwt", "--database", database, "--root", "TestVectors/referencing/demo-mds-root.pem"])
        #expect(again.status == 1)
        #expect(again.error.contains("import.rollback"))
        let json = try runner.run(["referencing", "import", "TestVectors/referencing/invalid/other-key.json", "--database", database, "--ans-key", "TestVectors/referencing/demo-ans-key.pem", "--json"])
        #expect(json.status == 1)
        let refusal = try JSONValue.parse(Array(json.output.utf8), document: "output")
        #expect(refusal["code"]?.string == "import.untrusted-signer")
        // An MDS BLOB needs a root; without one it is refused, not trusted.
        let noRoot = try runner.run(["referencing", "import", "TestVectors/referencing/demo-mds-blob-no2.jwt", "--database", database, "--json"])
        #expect(noRoot.status == 1)
        #expect(noRoot.output.contains("import.untrusted-signer"))
        let list = try JSONValue.parse(Array(try runner.run(["referencing", "list", "--database", database, "--json"]).output.utf8), document: "list")
        #expect(list["versions"]?.array?.count == 2)
        #expect(list["imports"]?.array?.count == 5)
        // Usage errors exit 2.
        #expect(try runner.run(["referencing", "import", "--database", database]).status == 2)
        #expect(try runner.run(["referencing", "import", "missing.jwt", "--database", database]).status == 2)
        #expect(try runner.run(["referencing", "import", "TestVectors/referencing/demo-mds-blob-no2.jwt", "--database", database, "--at", "yesterday"]).status == 2)
        let offline = try runner.run(["referencing", "import", "--url", "http://127.0.0.1:9/blob.jwt", "--database", database])
        #expect(offline.status == 2)
        #expect(offline.error.contains("cannot fetch"))
    }

    /// `audit head` signs the trail's end; `audit verify --head` names a cut made after it.
    @Test func aSignedHeadNamesACutMadeAfterIt() throws {
        try importDemo()
        let head = try runner.run(["audit", "head", "--database", database])
        #expect(head.status == 0, "\(head.error)")
        let file = directory.appendingPathComponent("head.json")
        try head.output.write(to: file, atomically: true, encoding: .utf8)
        let intact = try runner.run(["audit", "verify", "--database", database, "--head", file.path])
        #expect(intact.status == 0 && intact.output.contains("intact"), "\(intact.output) \(intact.error)")
        // The newest row removed and the counter put back: only the head shows it.
        let db = try SQLiteDatabase(path: database, migrations: StorageSchema.migrations)
        try db.run("DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)")
        try db.run("UPDATE audit_counter SET last_seq = last_seq - 1")
        #expect(try runner.run(["audit", "verify", "--database", database]).status == 0)
        let cut = try runner.run(["audit", "verify", "--database", database, "--head", file.path])
        #expect(cut.status == 1 && cut.output.contains("cut"), "\(cut.output)")
        // A head signed by another key is refused.
        let other = try runner.run(["audit", "verify", "--database", database, "--head", file.path, "--key", directory.appendingPathComponent("other-key").path])
        #expect(other.status != 0 && other.error.contains("another key"), "\(other.error)")
    }

    @Test func showDiffAndExport() throws {
        try importDemo()
        let show = try runner.run(["referencing", "show", "4d49452d-5665-7269-6669-65722d546573", "--database", database, "--json"])
        #expect(show.status == 0)
        let entry = try JSONValue.parse(Array(show.output.utf8), document: "show")
        #expect(entry["description"]?.string == "MIE Verifier software authenticator (DEMO)")
        #expect(entry["ans"]?["decision"]?["status"]?.string == "referenced")
        #expect(entry["mds"]?.array?.first?["metadataStatement"]?["aaguid"]?.string == "4d49452d-5665-7269-6669-65722d546573")
        #expect(try runner.run(["referencing", "show", "00000000-0000-0000-0000-000000000000", "--database", database]).status == 1)

        let second = try runner.run(["referencing", "import", "TestVectors/referencing/demo-ans-list-no2.json", "--database", database, "--ans-key", "TestVectors/referencing/demo-ans-key.pem"])
        #expect(second.status == 0)
        let diff = try runner.run(["referencing", "diff", "2", "3", "--database", database, "--json"])
        #expect(diff.status == 1, "alerts make the exit status 1")
        let changes = try JSONValue.parse(Array(diff.output.utf8), document: "diff")
        #expect(changes["alerts"]?.integer == 5)
        #expect(changes["changes"]?.array?.contains { $0["code"]?.string == "card.decision" && $0["subject"]?.string == "CPS4" } == true)
        #expect(try runner.run(["referencing", "diff", "1", "3", "--database", database]).status == 2)

        let documents = directory.appendingPathComponent("documents").path
        let export = try runner.run(["referencing", "export", "--database", database, "--documents", documents])
        #expect(export.status == 0)
        let catalog = try JSONValue.parse(Array(export.output.utf8), document: "export")
        #expect(catalog["lists"]?.array?.count == 2)
        #expect(catalog["cardFamilies"]?.array?.count == 3)
        #expect(catalog["authenticators"]?.array?.contains { $0["description"]?.string == "MIE Verifier software U2F key (DEMO)" } == true)
        let exported = try Data(contentsOf: URL(fileURLWithPath: documents).appendingPathComponent("ans-list-2.json"))
        #expect(exported == (try Data(contentsOf: TestData.referencing.appendingPathComponent("demo-ans-list-no2.json"))))
    }

    /// `referencing impact`, `export --for` and `fleet audit`, as an operator runs them.
    @Test func impactPolicyExportAndFleetAudit() throws {
        try importDemo()
        // A credential enrolled before registrations were kept: judged by its model's standing.
        let sqlite = try SQLiteDatabase(path: database, migrations: StorageSchema.migrations)
        let (client, _) = try ClientStore(database: sqlite).add(name: "iam", roles: [.enrolment], rpID: nil, origins: [], at: Date())
        let store = CredentialStore(database: sqlite)
        let holder = Holder(rpID: "mie.example", id: "h1", name: "h1", displayName: "H 1", rpps: nil, userHandle: [1, 2, 3])
        #expect(try store.create(holder, event: AuditEvent(action: "holder", result: "created"), at: Date()))
        try store.insert(
            StoredCredentialRecord(
                id: [9, 9, 9], holderID: "h1", identityEvidence: "asserted-by-operator", publicKey: [0], algorithm: "ES256", signCount: 0,
                backupEligible: false, aaguid: "4d49452d-5665-7269-6669-65722d546573", authenticator: "software", verdict: "accepted",
                amr: ["hwk", "pin", "mfa"], clientID: client.id, rpID: "mie.example", createdAt: "2026-11-30T00:00:00Z"),
            event: AuditEvent(action: "registration", result: "accepted"), at: Date())

        let impact = try runner.run([
            "referencing", "impact", "TestVectors/referencing/demo-mds-blob-no2.jwt", "--database", database, "--root", "TestVectors/referencing/demo-mds-root.pem", "--json",
        ])
        #expect(impact.status == 1, "\(impact.error)")
        let report = try JSONValue.parse(Array(impact.output.utf8), document: "impact")
        #expect(report["list"]?.string == "FIDO MDS no 1 -> FIDO MDS no 2")
        #expect(report["changes"]?.integer == 1)
        #expect(report["changed"]?.array?.first?["new"]?["verdict"]?.string == "refused")
        #expect(report["changed"]?.array?.first?["cause"]?.string?.contains("USER_VERIFICATION_BYPASS") == true)
        // Nothing written, and the same list again is refused (a rollback), exit 2.
        #expect(try store.find(credential: [9, 9, 9])?.verdict == "accepted")
        let rollback = try runner.run([
            "referencing", "impact", "TestVectors/referencing/demo-mds-blob-no1.jwt", "--database", database, "--root", "TestVectors/referencing/demo-mds-root.pem",
        ])
        #expect(rollback.status == 2 && rollback.error.contains("rollback"))
        let unsigned = try runner.run(["referencing", "impact", "TestVectors/referencing/demo-mds-blob-no2.jwt", "--database", database])
        #expect(unsigned.status == 2 && unsigned.error.contains("import.untrusted-signer"))

        let keycloak = try runner.run(["referencing", "export", "--for", "keycloak", "--body", "--database", database])
        #expect(keycloak.status == 0, "\(keycloak.error)")
        let realm = try JSONValue.parse(Array(keycloak.output.utf8), document: "keycloak")
        #expect(realm["webAuthnPolicyAcceptableAaguids"]?.strings?.contains("4d49452d-5665-7269-6669-65722d546573") == true)
        #expect(try runner.run(["referencing", "export", "--for", "ping", "--database", database]).status == 2)
        let entra = try JSONValue.parse(Array(try runner.run(["referencing", "export", "--for", "entra", "--database", database]).output.utf8), document: "entra")
        #expect(entra["requests"]?.array?.first?["body"]?["isAttestationEnforced"]?.bool == true)

        let export = directory.appendingPathComponent("fido2Methods.json")
        try #"[{"userPrincipalName": "claire@chu.example", "fido2Methods": [{"id": "m1", "aaGuid": "2fc0579f-8113-47ea-b116-bb5a8db9202a", "attestationLevel": "attested"}, {"id": "m2", "aaGuid": "08987058-cadc-4b81-b6e1-30de50dcbe96", "attestationLevel": "attested"}]}]"#
            .write(to: export, atomically: true, encoding: .utf8)
        let html = directory.appendingPathComponent("fleet.html").path
        let audit = try runner.run(["fleet", "audit", export.path, "--database", database, "--html", html])
        #expect(audit.status == 1, "a refused key makes the exit status 1: \(audit.error)")
        #expect(audit.output.contains("2 credentials of 1 people") && audit.output.contains("1 accepted, 1 refused"), "\(audit.output)")
        #expect(try String(contentsOfFile: html, encoding: .utf8).contains("claire@chu.example"))
        #expect(try runner.run(["fleet", "audit", export.path, "--database", database, "--from", "okta"]).status == 2)
    }

    @Test func evaluateGivesTheVerdictTheAMRAndReports() throws {
        try importDemo()
        let request = "TestVectors/samples/registration-packed-es256.json"
        let json = try runner.run(["evaluate", "--request", request, "--database", database])
        #expect(json.status == 0, "\(json.error)")
        let evaluation = try JSONValue.parse(Array(json.output.utf8), document: "evaluation")
        #expect(evaluation["verification"]?["verified"]?.bool == true)
        #expect(evaluation["verdict"]?.string == "accepted")
        #expect(evaluation["amr"]?.strings == ["hwk", "pin", "mfa"])
        #expect(evaluation["criteria"]?.array?.map { $0["id"]?.string ?? "" } == (19...25).map { "EXI EDC PSC FI \($0)" } + (41...46).map { "EXI EDC PSC FI \($0)" })
        #expect(evaluation["authenticator"]?["aaguid"]?.string == "4d49452d-5665-7269-6669-65722d546573")
        #expect(evaluation["referencing"]?["stale"]?.bool == false)
        #expect(evaluation["profile"]?["id"]?.string == "psc-2026")

        let late = try runner.run(["evaluate", "--request", request, "--database", database, "--at", "2028-01-01T00:00:00Z"])
        #expect(late.status == 1)
        #expect(late.output.contains(#""verdict":"refused""#))

        let markdown = try runner.run(["evaluate", "--request", request, "--database", database, "--format", "markdown"])
        #expect(markdown.status == 0)
        #expect(markdown.output.contains("| EXI EDC PSC FI 46 |"))
        #expect(markdown.output.contains("**DEMO DATA**"))

        // A request that is not JSON, and one whose signature no longer verifies.
        let bad = directory.appendingPathComponent("bad.json")
        try Data("{\"response\": }".utf8).write(to: bad)
        #expect(try runner.run(["evaluate", "--request", bad.path, "--database", database]).status == 2)
        var text = try String(contentsOf: packageRoot.appendingPathComponent(request), encoding: .utf8)
        text = text.replacingOccurrences(of: "\"challenge\": \"JrPh", with: "\"challenge\": \"KrPh")
        let tampered = directory.appendingPathComponent("tampered.json")
        try Data(text.utf8).write(to: tampered)
        let rejected = try runner.run(["evaluate", "--request", tampered.path, "--database", database])
        #expect(rejected.status == 1)
        #expect(rejected.output.contains(#""verdict":"refused""#))
        #expect(rejected.output.contains("mismatch.challenge"))
    }

    /// `evaluate --jsonl`: one report per line, in order, each the report `evaluate` gives for
    /// that request alone; a bad line is answered in its place; the status is the worst line's.
    @Test func evaluateJSONLinesReportsEachLineAsAlone() throws {
        try importDemo()
        let request = "TestVectors/samples/registration-packed-es256.json"
        let at = "2026-06-01T00:00:00Z"
        let alone = try runner.run(["evaluate", "--request", request, "--database", database, "--at", at])
        #expect(alone.status == 0, "\(alone.error)")
        // The sample on one line (JSON allows it: its newlines are whitespace outside strings).
        let line = try String(contentsOf: packageRoot.appendingPathComponent(request), encoding: .utf8)
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        let tampered = line.replacingOccurrences(of: "\"challenge\": \"JrPh", with: "\"challenge\": \"KrPh")
        #expect(tampered != line)
        let oversize = "{\"padding\": \"" + String(repeating: "x", count: 1 << 20) + "\"}"
        let lines = directory.appendingPathComponent("registrations.jsonl")
        try Data(([line, tampered, "", line, "{\"response\": }", oversize, line].joined(separator: "\n") + "\n").utf8).write(to: lines)
        let bulk = try runner.run(["evaluate", "--jsonl", "--request", lines.path, "--database", database, "--at", at])
        #expect(bulk.status == 2, "a malformed line makes the status 2: \(bulk.error)")
        let reports = bulk.output.split(separator: "\n").map(String.init)
        #expect(reports.count == 6, "the blank line is skipped, every other line answered: \(reports.count)")
        guard reports.count == 6 else { return }
        for index in [0, 2, 5] { #expect(reports[index] + "\n" == alone.output, "line \(index)") }
        #expect(reports[1].contains(#""verdict":"refused""#) && reports[1].contains("mismatch.challenge"))
        #expect(reports[3].contains("malformed.request") && reports[4].contains("malformed.request"))
        #expect(reports[4].contains("larger than"))
        // Without the bad lines the status is the verdict's: 0 when all are accepted, 1 when one is refused.
        try Data((line + "\n" + line + "\n").utf8).write(to: lines)
        #expect(try runner.run(["evaluate", "--jsonl", "--request", lines.path, "--database", database, "--at", at]).status == 0)
        try Data((line + "\n" + tampered + "\n").utf8).write(to: lines)
        #expect(try runner.run(["evaluate", "--jsonl", "--request", lines.path, "--database", database, "--at", at]).status == 1)
        let output = directory.appendingPathComponent("reports.jsonl").path
        #expect(try runner.run(["evaluate", "--jsonl", "--request", lines.path, "--database", database, "--at", at, "--output", output]).status == 1)
        #expect(try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").count == 2)
        #expect(try runner.run(["evaluate", "--jsonl", "--request", lines.path, "--database", database, "--format", "html"]).status == 2)
    }

    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(RequiredMode.needs(chromium != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/pdftotext"), "install chromium and poppler-utils"))
    func theHTMLReportPrintsToPDF() throws {
        try importDemo()
        let html = directory.appendingPathComponent("report.html")
        let run = try runner.run(["evaluate", "--request", "TestVectors/samples/registration-packed-es256.json", "--database", database, "--format", "html", "--output", html.path])
        #expect(run.status == 0)
        let page = try String(contentsOf: html, encoding: .utf8)
        #expect(page.contains("<img src=\"data:image/png;base64,"))
        #expect(page.contains("Content-Security-Policy"))
        let pdf = directory.appendingPathComponent("report.pdf")
        let print = try runner.run(
            ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer", "--print-to-pdf=\(pdf.path)", html.absoluteString],
            executable: URL(fileURLWithPath: try #require(Self.chromium)))
        #expect(print.status == 0)
        let bytes = try Data(contentsOf: pdf)
        #expect(bytes.starts(with: Data("%PDF".utf8)))
        let info = try runner.run([pdf.path], executable: URL(fileURLWithPath: "/usr/bin/pdfinfo"))
        let pages = info.output.split(separator: "\n").first { $0.hasPrefix("Pages:") }.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        #expect(pages >= 2, "the criteria table runs over pages: \(pages)")
        let text = try runner.run([pdf.path, "-"], executable: URL(fileURLWithPath: "/usr/bin/pdftotext")).output
        for expected in ["ACCEPTED MIE", "EXI EDC PSC FI 19", "EXI EDC PSC FI 46", "Attestation chain", "DEMO DATA"] {
            #expect(text.contains(expected), "\(expected) printed")
        }
    }
}

/// Runs a program with the repository as its working directory.
struct CommandRunner {
    static let binary: URL = {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mie-verifier")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        return packageRoot.appendingPathComponent(".build/debug/mie-verifier")
    }()

    struct Run {
        let status: Int32
        let output: String
        let error: String
    }

    func run(_ arguments: [String], executable: URL = CommandRunner.binary) throws -> Run {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Both pipes drain at once, or a chatty program blocks on the one nobody reads.
        final class Box: @unchecked Sendable { var data = Data() }
        let errors = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            errors.data = stderr.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        let error = errors.data
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: output, as: UTF8.self), error: String(decoding: error, as: UTF8.self))
    }
}
