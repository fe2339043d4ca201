import ArgumentParser
import AuthenticatorCatalog
import Ceremonies
import Foundation
import PSCPolicy
import Storage
import WireFormat

/// `mie-verifier referencing impact FILE`: before importing a list, which stored credentials it
/// would change (FI 46).
struct Impact: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show which stored credentials a new list would change, before importing it.",
        discussion: """
            FILE is verified as `import` would (same --root, --crl, --ans-key, --signature) and put \
            beside the active lists in place of the version of its source; every stored credential \
            is judged under the lists in force and under the new ones. Nothing is written. \
            Exit status: 0 no change, 1 changes, 2 usage or a refused list.
            """)

    @Argument(help: "The list file (MDS3 BLOB or ANS list).") var file: String
    @OptionGroup var database: Referencing.DatabaseOptions
    @Option(name: .long, help: "The detached JWS of an ANS list (default: FILE.jws).") var signature: String?
    @Option(name: .long, help: "A root certificate for MDS3 BLOBs; repeatable.") var root: [String] = []
    @Option(name: .long, help: "A CRL of the BLOB's signer chain; repeatable.") var crl: [String] = []
    @Option(name: .customLong("ans-key"), help: "A public key (PEM) that signs ANS lists; repeatable.") var ansKey: [String] = []
    @Option(name: .long, help: "The PSC profile the service runs (default: the bundled one).") var profile: String?
    @Option(name: .long, help: "Judge at this time (RFC 3339; default now).") var at: String?

    func run() throws {
        try runReporting {
            let document = try Files.read(file, limit: maximumListSize, what: "the list")
            var detached: [UInt8]?
            if ListKind.detect(document) == .ans {
                let path = signature ?? file + ".jws"
                if FileManager.default.fileExists(atPath: path) { detached = try Files.read(path, limit: 64 * 1024, what: "the signature") }
            }
            let time = try Times.parse(at) ?? Date()
            let trust = try TrustFiles.load(roots: root, crls: crl, ansKeys: ansKey)
            let list: VerifiedList
            do {
                list = try VerifiedList.verify(document, signature: detached, trust: trust, at: time)
            } catch let error as ImportFailure {
                printError("refused \(file): \(error.code.rawValue): \(error.message)")
                throw ExitCode(2)
            }
            let store = try database.open()
            let progress = Progress(enabled: !database.json)
            let impact: ListImpact
            do {
                impact = try ListImpact.of(
                    list, document: document, referencing: store, verdicts: VerdictChangeStore(database: store.database),
                    profile: try Self.loadProfile(profile), at: time
                ) { judged in progress.report("\(judged) credentials judged") }
            } catch let refusal as ListImpact.Refusal {
                progress.finish()
                printError(refusal.description)
                throw ExitCode(2)
            }
            progress.finish()
            let (replacing, judged) = (impact.replacing, impact.judged)
            let changes = impact.changes.map { ($0.input, $0.before, $0.after) }
            if database.json {
                printJSON(
                    .object([
                        ("list", .string(replacing)), ("credentials", .integer(judged)), ("changes", .integer(changes.count)),
                        ("changed", .array(changes.map { input, before, after in
                            .object([
                                ("credentialId", .string(Base64URL.encode(input.credential.id))), ("rpId", .string(input.credential.rpID)),
                                ("holder", .string(input.credential.holderID)), ("aaguid", .string(input.credential.aaguid)),
                                ("authenticator", .string(after.authenticator)),
                                ("old", .object([("verdict", .string(before.verdict)), ("amr", .strings(before.amr))])),
                                ("new", .object([("verdict", .string(after.verdict)), ("amr", .strings(after.amr))])), ("cause", .string(after.cause)),
                            ])
                        })),
                    ]))
            } else {
                print("\(replacing): \(judged) stored credentials judged, \(changes.count) would change")
                for (input, before, after) in changes {
                    print(
                        "  \(input.credential.rpID)  \(input.credential.holderID)  \(after.authenticator)  \(before.verdict) [\(before.amr.joined(separator: " "))] -> \(after.verdict) [\(after.amr.joined(separator: " "))]: \(after.cause)")
                }
            }
            if !changes.isEmpty { throw ExitCode(1) }
        }
    }

    static func loadProfile(_ path: String?) throws -> Profile {
        do {
            guard let path else { return try Profile.bundled() }
            return try Profile.parse(try Files.read(path, limit: 4 * 1024 * 1024, what: "the profile"))
        } catch let failure as CLIFailure {
            throw failure
        } catch {
            throw CLIFailure("the profile cannot be read: \(error)")
        }
    }
}

/// `mie-verifier fleet audit FILE`: the FIDO2 credentials an IAM holds, judged.
struct Fleet: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Audit the FIDO2 credentials an IAM already holds against the referencing lists.", subcommands: [Audit.self])

    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Judge an IAM's FIDO2 credentials (Entra fido2Methods, Keycloak credentials) per person and per model.",
            discussion: """
                FILE is Microsoft Graph's fido2Methods JSON (grouped per user or flat with \
                userPrincipalName), a Keycloak realm export, or rows of Keycloak's credential \
                table (credential_data). Prints JSON with --json, else a summary; --html writes \
                the report as a page. Exit status: 0 every credential accepted, 1 some refused or \
                unknown, 2 usage.
                """)

        @Argument(help: "The IAM's export (- for standard input).") var file: String
        @OptionGroup var database: Referencing.DatabaseOptions
        @Option(name: .long, help: "entra or keycloak (default: detected).") var from: String?
        @Option(name: .long, help: "Write the HTML report here.") var html: String?
        @Option(name: .long, help: "Judge at this time (RFC 3339; default now).") var at: String?

        func run() throws {
            try runReporting {
                var source: FleetAudit.Source?
                if let from {
                    guard let value = FleetAudit.Source(rawValue: from) else { throw ValidationError("--from is entra or keycloak") }
                    source = value
                }
                let progress = Progress(enabled: !database.json)
                progress.report("reading \(file)")
                let bytes = try Files.read(file, limit: 512 * 1024 * 1024, what: "the export")
                let credentials: [FleetAudit.Credential]
                do {
                    credentials = try FleetAudit.read(bytes, source: source)
                } catch let failure as FleetAudit.Failure {
                    throw CLIFailure(failure.message)
                }
                let catalog = try database.open().snapshot()
                let time = try Times.parse(at) ?? Date()
                let findings = FleetAudit.judge(credentials, catalog: catalog, at: time) { done in
                    progress.report("\(done) of \(credentials.count) credentials judged")
                }
                progress.finish()
                let report = FleetAudit.Report(findings: findings, lists: catalog.lists.map(\.label), generatedAt: time)
                if let html {
                    do {
                        try Data(try report.html(tool: "mie-verifier fleet audit").utf8).write(to: URL(fileURLWithPath: html))
                    } catch let failure as FleetAudit.Failure {
                        throw CLIFailure(failure.message)
                    }
                }
                if database.json {
                    printJSON(report.json)
                } else {
                    let people = report.people
                    print(
                        "\(findings.count) credentials of \(people.count) people under \(report.lists.joined(separator: ", ")): \(report.count(.accepted)) accepted, \(report.count(.refused)) refused, \(report.count(.unknown)) unknown; \(people.filter { $0.standing == .accepted }.count) people hold an accepted MIE")
                    for model in report.models {
                        print("  \(model.standing.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(String(model.count).padding(toLength: 6, withPad: " ", startingAt: 0)) \(model.name) (\(model.aaguid)): \(model.reason)")
                    }
                    if let html { print("report: \(html)") }
                }
                if report.count(.accepted) != findings.count { throw ExitCode(1) }
            }
        }
    }
}
