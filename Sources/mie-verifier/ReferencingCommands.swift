import ArgumentParser
import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import PostgresStorage
import SignatureVerification
import Storage
import WireFormat

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `mie-verifier referencing …`: the operator's side of the referencing lists.
struct Referencing: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import, list, show, compare and export the referencing lists (FIDO MDS3 and the ANS list).",
        discussion: """
            The lists live in one SQLite database (--database), the file the service uses. Every \
            version and every import attempt is kept; a refused import changes nothing.
            """,
        subcommands: [Import.self, List.self, Show.self, Diff.self, Impact.self, Export.self])

    struct DatabaseOptions: ParsableArguments {
        @Option(name: .long, help: "The SQLite database file (created when missing).")
        var database: String

        @Flag(name: .long, help: "Print JSON (and no progress).")
        var json = false

        func open() throws -> ReferencingStore {
            do {
                return ReferencingStore(database: try openDatabase(database))
            } catch {
                throw CLIFailure(error.description)
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify and import an MDS3 BLOB or an ANS list (the kind is detected).",
            discussion: """
                Exit status: 0 imported, 1 refused (its code and reason are printed), 2 usage.

                An MDS3 BLOB is verified against --root certificates (production: GlobalSign Root \
                R3) at --at with the --crl files given; an ANS list against its detached JWS \
                (--signature, by default FILE.jws) and the --ans-key public keys.

                Examples:
                  mie-verifier referencing import blob.jwt --database mie.sqlite --root root-r3.crt --crl r3.crl --crl ev.crl
                  mie-verifier referencing import ans-list.json --database mie.sqlite --ans-key ans-key.pem
                """)

        @Argument(help: "The list file (omit with --url).")
        var file: String?

        @OptionGroup var database: DatabaseOptions

        @Option(name: .long, help: "Fetch the list from this URL instead of a file.")
        var url: String?

        @Option(name: .long, help: "The detached JWS of an ANS list (default: FILE.jws).")
        var signature: String?

        @Option(name: .long, help: "A root certificate for MDS3 BLOBs (PEM or DER); repeatable.")
        var root: [String] = []

        @Option(name: .long, help: "A CRL to check the BLOB's signer chain against (PEM or DER); repeatable.")
        var crl: [String] = []

        @Option(name: .customLong("ans-key"), help: "A public key (PEM) that signs ANS lists; repeatable.")
        var ansKey: [String] = []

        @Option(name: .long, help: "Verify the signer's certificates and CRLs at this time (RFC 3339; default now).")
        var at: String?

        func run() throws {
            try runReporting {
                let document: [UInt8]
                let name: String
                if let url {
                    document = try Fetch.bytes(url, limit: maximumListSize)
                    name = url
                } else if let file {
                    document = try Files.read(file, limit: maximumListSize, what: "the list")
                    name = file
                } else {
                    throw ValidationError("give a FILE or --url")
                }
                var signatureBytes: [UInt8]? = nil
                if ListKind.detect(document) == .ans {
                    let path = signature ?? (file.map { $0 + ".jws" })
                    if let path, FileManager.default.fileExists(atPath: path) {
                        signatureBytes = try Files.read(path, limit: 64 * 1024, what: "the signature")
                    }
                }
                let trust = try TrustFiles.load(roots: root, crls: crl, ansKeys: ansKey)
                let time = try Times.parse(at) ?? Date()
                let store = try database.open()
                let progress = Progress(enabled: !database.json)
                let outcome = store.importList(document, signature: signatureBytes, trust: trust, at: time, progress: progress.report)
                progress.finish()
                switch outcome {
                case .imported(let version, _):
                    if database.json {
                        printJSON(.object([("result", .string("imported")), ("list", listJSON(version, at: time))]))
                    } else {
                        print("imported \(version.label) from \(name): \(version.entryCount) entries, next update \(version.nextUpdate ?? "not given")\(version.isStale(at: time) ? " (STALE)" : "")\(version.demo ? " [DEMO list]" : "")")
                    }
                case .refused(let failure):
                    if database.json {
                        printJSON(.object([("result", .string("refused")), ("code", .string(failure.code.rawValue)), ("message", .string(failure.message))]))
                    } else {
                        printError("refused \(name): \(failure.code.rawValue): \(failure.message); the active lists are unchanged")
                    }
                    throw ExitCode(1)
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every stored version (newest first) and the last import attempts.")
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try runReporting {
                let store = try database.open()
                let versions = try store.versions()
                let imports = try store.imports().prefix(20)
                let now = Date()
                if database.json {
                    printJSON(
                        .object([
                            ("versions", .array(versions.map { item in
                                var value = listJSON(item.version, at: now)
                                if case .object(var members) = value { members.append(("active", .bool(item.active))); value = .object(members) }
                                return value
                            })),
                            ("imports", .array(imports.map { record in
                                .object([
                                    ("attemptedAt", .string(record.attemptedAt)), ("kind", .optional(record.kind)), ("result", .string(record.result)),
                                    ("message", .string(record.message)), ("sha256", .string(record.sha256)),
                                ])
                            })),
                        ]))
                    return
                }
                if versions.isEmpty { print("no list imported yet") }
                for (version, active) in versions {
                    print(
                        "\(String(version.id ?? 0).padding(toLength: 5, withPad: " ", startingAt: 0)) \(active ? "active  " : "        ")\(version.label.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(version.entryCount).padding(toLength: 5, withPad: " ", startingAt: 0)) entries  next update \(version.nextUpdate ?? "-")\(version.isStale(at: now) ? " STALE" : "")\(version.demo ? " DEMO" : "")  imported \(version.importedAt ?? "")")
                }
                if !imports.isEmpty { print("\nlast import attempts:") }
                for record in imports {
                    print("  \(record.attemptedAt)  \(record.result.padding(toLength: 26, withPad: " ", startingAt: 0)) \(record.message)")
                }
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what the active lists say about one authenticator (AAGUID, attestation key identifier or AAID).")
        @Argument(help: "An AAGUID (8-4-4-4-12), a 40-digit attestation key identifier or an AAID.")
        var identifier: String

        @OptionGroup var database: DatabaseOptions

        @Option(name: .long, help: "The time for the status in force (RFC 3339; default now).")
        var at: String?

        func run() throws {
            try runReporting {
                let catalog = try database.open().snapshot()
                let time = try Times.parse(at) ?? Date()
                let entry: CatalogEntry?
                if let aaguid = AAGUIDText.bytes(identifier), identifier.count == 36 || identifier.count == 32 {
                    entry = catalog.entry(for: .aaguid(aaguid))
                } else if let keyID = Hex.bytes(identifier), keyID.count == 20 {
                    entry = catalog.entry(for: .certificateKeyIdentifier(keyID))
                } else {
                    entry = catalog.entry(aaid: identifier)
                }
                guard let entry else {
                    printError("\(identifier) is in no active list")
                    throw ExitCode(1)
                }
                if database.json {
                    printJSON(CatalogJSON.entry(entry, at: time, statements: true))
                    return
                }
                print(entry.description)
                if let id = entry.identifier { print("  identifier      \(id)") }
                if let aaid = entry.aaid { print("  AAID            \(aaid)") }
                if let ans = entry.ans {
                    let d = ans.authenticator.decision
                    print("  ANS decision    \(d.status.rawValue) since \(d.since)\(d.until.map { " until \($0)" } ?? "") (\(d.reference), \(ans.list.label)); in force now: \(d.effect(at: time).rawValue)")
                    if let firmware = d.acceptedFirmware { print("  firmware        \(firmware.map(String.init).joined(separator: ", "))") }
                    if let notes = d.notes { print("  notes           \(notes)") }
                } else {
                    print("  ANS decision    not on the ANS list")
                }
                for record in entry.mds {
                    let governing = record.entry.status(at: time)
                    print("  FIDO MDS        \(governing?.status.description ?? "no status in force") (\(record.list.label))")
                    for report in record.entry.statusReports {
                        print("    \(report.effectiveDateText ?? "undated")  \(report.status)\(report.certificateNumber.map { "  \($0)" } ?? "")")
                    }
                }
                if let statement = entry.statement {
                    print("  user verification  \(statement.userVerificationDetails.map { $0.joined(separator: "+") }.joined(separator: " | "))")
                    print("  key protection     \(statement.keyProtection.joined(separator: ", "))")
                    print("  attestation types  \(statement.attestationTypes.joined(separator: ", "))")
                }
                for root in entry.roots { print("  root            \(root.subjectDescription)") }
            }
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What changed between two stored versions of a list: the FI 46 alert feed.",
            discussion: "OLD and NEW are stored version ids (see `list`). Exit status: 0 no alert, 1 alerts, 2 usage.")
        @Argument(help: "The older version id.") var old: Int64
        @Argument(help: "The newer version id.") var new: Int64
        @OptionGroup var database: DatabaseOptions

        func run() throws {
            try runReporting {
                let store = try database.open()
                guard let before = try store.list(id: old) else { throw CLIFailure("no stored version \(old)") }
                guard let after = try store.list(id: new) else { throw CLIFailure("no stored version \(new)") }
                let diff: ReferencingDiff
                do {
                    diff = try ReferencingDiff(old: (before.0, before.1), new: (after.0, after.1))
                } catch {
                    throw CLIFailure("versions \(old) and \(new) are lists of different kinds")
                }
                if database.json {
                    printJSON(
                        .object([
                            ("old", .string(diff.old.label)), ("new", .string(diff.new.label)), ("alerts", .integer(diff.alerts.count)),
                            ("changes", .array(diff.changes.map { change in
                                .object([
                                    ("code", .string(change.code)), ("subject", .string(change.subject)), ("description", .string(change.description)),
                                    ("from", .optional(change.from)), ("to", .optional(change.to)), ("alert", .bool(change.alert)),
                                ])
                            })),
                        ]))
                } else {
                    print("\(diff.old.label) -> \(diff.new.label): \(diff.changes.count) changes, \(diff.alerts.count) alerts")
                    for change in diff.changes {
                        print("\(change.alert ? "ALERT " : "      ")\(change.code.padding(toLength: 22, withPad: " ", startingAt: 0)) \(change.subject)  \(change.description): \(change.from ?? "-") -> \(change.to ?? "-")")
                    }
                }
                if !diff.alerts.isEmpty { throw ExitCode(1) }
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export the catalog of the active lists as JSON (or, --for, as an IAM's policy), and optionally the exact documents.",
            discussion: """
                --for entra|okta|keycloak: the models the active lists accept, as that IAM's own \
                configuration: the lists it comes from, the accepted and excluded models, the \
                requests to send to the IAM (method, path, body, attestation enforcement switched \
                on where the IAM has it) and what the IAM cannot enforce. --body prints only the \
                body of the policy request, to pipe into curl. GET /v1/referencing/export?for=… \
                serves the same document.
                """)
        @OptionGroup var database: DatabaseOptions

        @Option(name: .long, help: "Also write each active list's document, as imported, into this directory.")
        var documents: String?

        @Option(name: .customLong("for"), help: "entra, okta or keycloak: the IAM's policy instead of the catalog.")
        var target: String?

        @Flag(name: .long, help: "With --for: only the body of the IAM's policy request.")
        var body = false

        @Option(name: .long, help: "The time decisions are read at (RFC 3339; default now).")
        var at: String?

        func run() throws {
            try runReporting {
                let store = try database.open()
                let catalog = try store.snapshot()
                let now = try Times.parse(at) ?? Date()
                if let target {
                    guard let target = IAMPolicyExport.Target(rawValue: target) else { throw ValidationError("--for is entra, okta or keycloak") }
                    let document = IAMPolicyExport.document(for: target, catalog: catalog, at: now)
                    printJSON(body ? document["requests"]?.array?.last?["body"] ?? .null : document)
                    return
                }
                if body { throw ValidationError("--body goes with --for") }
                if let documents {
                    try FileManager.default.createDirectory(atPath: documents, withIntermediateDirectories: true)
                    for version in catalog.lists {
                        guard let id = version.id, let (_, _, bytes) = try store.list(id: id) else { continue }
                        let name = "\(version.kind.rawValue)-\(version.number).\(version.kind == .mds ? "jwt" : "json")"
                        try Data(bytes).write(to: URL(fileURLWithPath: documents).appendingPathComponent(name))
                    }
                }
                printJSON(
                    .object([
                        ("lists", .array(catalog.lists.map { listJSON($0, at: now) })),
                        ("authenticators", .array(catalog.allEntries.map { CatalogJSON.entry($0, at: now, statements: false) })),
                        ("cardFamilies", .array(catalog.cardFamilies.map { CatalogJSON.family($0.family, list: $0.list) })),
                    ]))
            }
        }
    }
}

/// Trust material an operator names on the command line.
enum TrustFiles {
    static func load(roots: [String], crls: [String], ansKeys: [String]) throws -> ReferencingTrust {
        var trust = ReferencingTrust()
        for path in roots {
            do {
                trust.mdsRoots += try Certificate.load(file: try Files.read(path, limit: 1024 * 1024, what: "a root"))
            } catch let failure as CLIFailure { throw failure } catch { throw CLIFailure("\(path) is not a certificate: \(error)") }
        }
        for path in crls {
            do {
                trust.crls += try CertificateRevocationList.load(file: try Files.read(path, limit: CertificateRevocationList.maximumSize, what: "a CRL"))
            } catch let failure as CLIFailure { throw failure } catch { throw CLIFailure("\(path) is not a CRL: \(error)") }
        }
        for path in ansKeys {
            let text = String(decoding: try Files.read(path, limit: 64 * 1024, what: "a key"), as: UTF8.self)
            guard let der = PEM.blocks(text, label: "PUBLIC KEY")?.first else { throw CLIFailure("\(path) holds no PEM PUBLIC KEY") }
            do {
                trust.ansKeys.append(try PublicKey.subjectPublicKeyInfo(der))
            } catch {
                throw CLIFailure("\(path) is not a usable public key: \(error.message)")
            }
        }
        return trust
    }
}

/// Shows the stages of a long import on a terminal (standard error), on one line.
final class Progress: Sendable {
    let enabled: Bool

    init(enabled: Bool) {
        self.enabled = enabled && isatty(STDERR_FILENO) == 1
    }

    var report: ImportProgress {
        let enabled = self.enabled
        return { stage in
            guard enabled else { return }
            FileHandle.standardError.write(Data("\r\u{1B}[K… \(stage)".utf8))
        }
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

/// Optional network fetch of a list: fails with a clear message without network.
enum Fetch {
    static func bytes(_ address: String, limit: Int) throws -> [UInt8] {
        guard let url = URL(string: address), url.scheme == "https" || url.scheme == "http" else {
            throw CLIFailure("--url must be an http(s) URL")
        }
        final class Box: @unchecked Sendable {
            var result: Result<Data, any Error> = .failure(CLIFailure("no answer"))
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: url)
        request.timeoutInterval = 30
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                box.result = .failure(error)
            } else if let http = response as? HTTPURLResponse, http.statusCode != 200 {
                box.result = .failure(CLIFailure("the server answered HTTP \(http.statusCode)"))
            } else {
                box.result = .success(data ?? Data())
            }
            done.signal()
        }.resume()
        done.wait()
        switch box.result {
        case .success(let data):
            guard data.count <= limit else { throw CLIFailure("\(address) is larger than \(limit) bytes") }
            return Array(data)
        case .failure(let error):
            throw CLIFailure("cannot fetch \(address): \(error.localizedDescription) (no network? import a downloaded file instead)")
        }
    }
}
