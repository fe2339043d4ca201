import ArgumentParser
import AuthenticatorCatalog
import AuthenticatorVerification
import Ceremonies
import Foundation
import PostgresStorage
import PSCPolicy
import Storage
import VerificationRequests
import WireFormat

/// `mie-verifier evaluate`: a registration verified with the catalog as trust source, then
/// judged by the PSC profile; JSON for machines, HTML or Markdown for an auditor.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a registration and evaluate it against the PSC criteria (the MIE conformity report).",
        discussion: """
            REQUEST is the same registration request as `verify registration`. Trust comes from the \
            referencing lists in --database (anchors in the request may verify a chain, but only a \
            root the catalog lists for that model makes it compatible).

            Exit status: 0 accepted, 1 refused or indeterminate (or the registration does not \
            verify), 2 bad request or usage. With --jsonl (one request per line, one JSON report \
            per line, in order, on all cores) the status is the worst of all lines.

            Examples:
              mie-verifier evaluate --request registration.json --database mie.sqlite --format html --output report.html
              mie-verifier evaluate --jsonl --request registrations.jsonl --database mie.sqlite
            """)

    @Option(name: .long, help: "The registration request file, or - for standard input.")
    var request: String = "-"

    @Option(name: .long, help: "The SQLite database holding the referencing lists.")
    var database: String

    @Option(name: .long, help: "A PSC profile (JSON); default: the bundled psc-2026.")
    var profile: String?

    @Option(name: .long, help: "Evaluate at this time (RFC 3339); default: the request's `at`, else now.")
    var at: String?

    @Option(name: .long, help: "json, html or markdown.")
    var format: ReportFormat = .json

    @Option(name: .long, help: "Write the report to this file instead of standard output.")
    var output: String?

    @Flag(name: .long, help: "Read one request per line and print one JSON report per line, in order, on all cores.")
    var jsonl = false

    enum ReportFormat: String, ExpressibleByArgument {
        case json, html, markdown
    }

    func run() throws {
        try runReporting {
            let fixed = try Times.parse(at)
            if jsonl {
                guard format == .json else { throw CLIFailure("--jsonl writes JSON reports: --format \(format.rawValue) is for one request") }
                try evaluateLines(profile: try readProfile(), catalog: try readCatalog(), at: fixed)
            }
            let bytes = try Files.read(request, limit: VerificationService.maximumRequestSize, what: "the request")
            let policyProfile = try readProfile()
            let catalog = try readCatalog()
            let judged = bytes.withUnsafeBytes { line in
                OfflineEvaluation.evaluate(line, service: VerificationService(trust: catalog), catalog: catalog, profile: policyProfile, at: fixed, otherwise: Date())
            }
            let outcome: VerificationOutcome, evaluation: Evaluation
            switch judged {
            case .rejected(let refused):
                emit(rejected: refused)
                throw ExitCode(judged.disposition.rawValue)
            case .evaluated(let verified, let evaluated): (outcome, evaluation) = (verified, evaluated)
            }
            let report: [UInt8]
            switch format {
            case .json:
                var writer = JSONWriter()
                OfflineEvaluation.writeReport(outcome, evaluation, to: &writer)
                report = writer.bytes + [0x0A]
            case .html, .markdown:
                do {
                    report = Array(try ConformityReport.render(evaluation, format: format == .html ? .html : .markdown, tool: toolName).utf8)
                } catch {
                    throw CLIFailure("\(error)")
                }
            }
            try write(report)
            if evaluation.verdict != .accepted { throw ExitCode(1) }
        }
    }

    func readProfile() throws -> Profile {
        do {
            return try profile.map { try Profile.parse(try Files.read($0, limit: Profile.maximumSize, what: "the profile")) } ?? Profile.bundled()
        } catch let failure as Profile.Failure {
            throw CLIFailure("the profile is refused: \(failure)")
        }
    }

    func readCatalog() throws -> CatalogSnapshot {
        do {
            return try ReferencingStore(database: try openDatabase(database)).snapshot()
        } catch {
            throw CLIFailure(error.description)
        }
    }

    /// `--jsonl`: each line verified and evaluated as one request would be, at `--at`, else the
    /// line's `at`, else the run's start. Never returns: exits with the worst status.
    func evaluateLines(profile: Profile, catalog: CatalogSnapshot, at fixed: Date?) throws -> Never {
        signal(SIGPIPE, SIG_IGN)
        let service = VerificationService(trust: catalog)
        let start = Date()
        let bulk = BulkVerifier { line, out in
            guard let line else {
                OfflineEvaluation.writeRejected(BulkVerifier.oversize(.registration), to: &out)
                return .badRequest
            }
            let judged = OfflineEvaluation.evaluate(line, service: service, catalog: catalog, profile: profile, at: fixed, otherwise: start)
            switch judged {
            case .rejected(let outcome): OfflineEvaluation.writeRejected(outcome, to: &out)
            case .evaluated(let outcome, let evaluation): OfflineEvaluation.writeReport(outcome, evaluation, to: &out)
            }
            return judged.disposition
        }
        do {
            let input = request == "-" ? STDIN_FILENO : try FileDescriptorIO.open(request)
            defer { if input != STDIN_FILENO { close(input) } }
            let output = try output.map { try FileDescriptorIO.create($0) } ?? STDOUT_FILENO
            let worst = try bulk.run(input: input, output: output)
            if output != STDOUT_FILENO { close(output) }
            throw ExitCode(worst.rawValue)
        } catch let failure as FileDescriptorIO.Failure {
            throw CLIFailure(failure.description)
        }
    }

    /// A registration that did not verify: its verification result as the report (JSON), or a
    /// line on standard error (no report in HTML or Markdown).
    func emit(rejected outcome: VerificationOutcome) {
        var writer = JSONWriter()
        OfflineEvaluation.writeRejected(outcome, to: &writer)
        if format == .json {
            try? write(writer.bytes + [0x0A])
        } else {
            printError("\(outcome.result.failureCode ?? "rejected"): the registration does not verify; no report")
        }
    }

    func write(_ bytes: [UInt8]) throws {
        if let output {
            do {
                try Data(bytes).write(to: URL(fileURLWithPath: output))
            } catch {
                throw CLIFailure("cannot write \(output): \(error.localizedDescription)")
            }
        } else {
            try FileDescriptorIO.writeAll(STDOUT_FILENO, bytes)
        }
    }
}

let toolName = "mie-verifier \(Product.version)"
