import ArgumentParser
import AuthenticatorCatalog
import AuthenticatorVerification
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
                Self.evaluate(line, service: VerificationService(trust: catalog), catalog: catalog, profile: policyProfile, at: fixed, otherwise: Date())
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
                Self.writeReport(outcome, evaluation, to: &writer)
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

    /// A registration request verified with the catalog and judged by the profile, or why not.
    enum Judged {
        case rejected(VerificationOutcome)
        case evaluated(VerificationOutcome, Evaluation)

        /// The exit status: 0 accepted, 1 refused, indeterminate or not verified, 2 malformed.
        var disposition: VerificationOutcome.Disposition {
            switch self {
            case .rejected(let outcome): outcome.disposition == .badRequest ? .badRequest : .rejected
            case .evaluated(_, let evaluation): evaluation.verdict == .accepted ? .verified : .rejected
            }
        }
    }

    /// One request as `evaluate` judges it, alone or as a line of `--jsonl`: read, verified at
    /// `fixed`, else the request's `at`, else `otherwise`, then evaluated.
    static func evaluate(
        _ bytes: UnsafeRawBufferPointer, service: VerificationService, catalog: CatalogSnapshot, profile: Profile, at fixed: Date?,
        otherwise: Date
    ) -> Judged {
        var parsed: VerificationRequest
        do throws(RequestError) {
            parsed = try VerificationRequest.read(bytes, ceremony: .registration)
        } catch {
            return .rejected(
                VerificationOutcome(
                    disposition: .badRequest,
                    result: .rejected(code: RequestFailureCode.malformedRequest.rawValue, message: error.message, ceremony: .registration)))
        }
        let time = fixed ?? parsed.at ?? otherwise
        parsed.at = time
        let outcome = service.verify(.registration, request: parsed, now: time)
        guard case .registration(let registration) = outcome.result else { return .rejected(outcome) }
        return .evaluated(outcome, PolicyEngine.evaluate(.fido(FIDOFacts(registration: registration)), catalog: catalog, profile: profile, at: time))
    }

    /// The JSON report: the verification, then the evaluation (the service's
    /// `/v1/registrations/verify` answer has the same members).
    static func writeReport(_ outcome: VerificationOutcome, _ evaluation: Evaluation, to writer: inout JSONWriter) {
        writer.object { w in
            w.key("verification")
            outcome.write(to: &w)
            evaluation.writeMembers(to: &w)
        }
    }

    /// A registration that did not verify: the verification result, no verdict but refused.
    static func writeRejected(_ outcome: VerificationOutcome, to writer: inout JSONWriter) {
        writer.object { w in
            w.key("verification")
            outcome.write(to: &w)
            w.key("verdict")
            w.string("refused")
            w.key("reason")
            w.string(outcome.disposition == .badRequest ? "the request is malformed" : "the registration does not verify")
            w.key("amr")
            w.array { _ in }
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
                Self.writeRejected(BulkVerifier.oversize(.registration), to: &out)
                return .badRequest
            }
            let judged = Self.evaluate(line, service: service, catalog: catalog, profile: profile, at: fixed, otherwise: start)
            switch judged {
            case .rejected(let outcome): Self.writeRejected(outcome, to: &out)
            case .evaluated(let outcome, let evaluation): Self.writeReport(outcome, evaluation, to: &out)
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
        Self.writeRejected(outcome, to: &writer)
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
