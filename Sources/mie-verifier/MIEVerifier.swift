import ArgumentParser
import AuthenticatorVerification
import Foundation
import VerificationAPI
import VerificationRequests

@main
struct MIEVerifier: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mie-verifier",
        abstract: "Verifies WebAuthn registrations and assertions for Pro Santé Connect MIE.",
        version: toolName,
        subcommands: [Serve.self, Verify.self, Evaluate.self, Referencing.self, Fleet.self, Clients.self, OIDC.self, Operators.self, Audit.self, Codes.self])

    /// Usage errors exit 2, as every command documents (ArgumentParser's own default is 64).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify one JSON request, or one request per line with --jsonl.",
        discussion: """
            Exit status: 0 verified, 1 rejected, 2 bad request. With --jsonl the status is the \
            worst of all lines.

            Examples:
              mie-verifier verify registration --request TestVectors/samples/registration-packed-es256.json
              mie-verifier verify assertion --request - < request.json
              mie-verifier verify assertion --jsonl --request audit-log.jsonl
            """,
        subcommands: [Registration.self, Assertion.self])

    struct Options: ParsableArguments {
        @Option(name: .long, help: "Request file, or - for standard input.")
        var request: String = "-"

        @Flag(name: .long, help: "Read one request per line and print one result per line, in order, on all cores.")
        var jsonl = false
    }

    struct Registration: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify a registration (navigator.credentials.create).")
        @OptionGroup var options: Options
        func run() throws { try runVerification(.registration, options) }
    }

    struct Assertion: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify an assertion (navigator.credentials.get).")
        @OptionGroup var options: Options
        func run() throws { try runVerification(.assertion, options) }
    }
}

struct Codes: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List every failure code with its category, then the service's problem codes.")
    func run() {
        for code in RequestFailureCode.allCases {
            print("\(code.rawValue)\tmalformed")
        }
        for code in FailureCode.allCases {
            print("\(code.rawValue)\t\(code.category.rawValue)")
        }
        // The service's own refusals (problem documents), with their HTTP status.
        for code in APIError.Code.allCases {
            print("\(code.rawValue)\tapi \(code.status.code)")
        }
    }
}

func runVerification(_ ceremony: Ceremony, _ options: Verify.Options) throws {
    // A closed stdout is a write error to report, not a signal that kills the process.
    signal(SIGPIPE, SIG_IGN)
    let service = VerificationService()
    do {
        let input = options.request == "-" ? STDIN_FILENO : try FileDescriptorIO.open(options.request)
        defer { if input != STDIN_FILENO { close(input) } }
        if options.jsonl {
            let worst = try BulkVerifier(service: service, ceremony: ceremony).run(input: input, output: STDOUT_FILENO)
            throw ExitCode(worst.rawValue)
        }
        let limit = VerificationService.maximumRequestSize
        let (bytes, oversize) = try FileDescriptorIO.readBounded(input, limit: limit)
        let outcome = oversize ? BulkVerifier.oversize(ceremony) : service.verify(ceremony, requestJSON: bytes)
        try FileDescriptorIO.writeAll(STDOUT_FILENO, outcome.json() + [0x0A])
        throw ExitCode(outcome.disposition.rawValue)
    } catch let failure as FileDescriptorIO.Failure {
        FileHandle.standardError.write(Data("mie-verifier: \(failure.description)\n".utf8))
        throw ExitCode(2)
    }
}
