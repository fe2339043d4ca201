import ArgumentParser
import AuthenticatorVerification
import Foundation
import VerificationRequests

@main
struct MIEVerifier: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mie-verifier",
        abstract: "Verifies WebAuthn registrations and assertions for Pro Santé Connect MIE.",
        subcommands: [Verify.self, Codes.self])
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
    static let configuration = CommandConfiguration(abstract: "List every failure code with its category.")
    func run() {
        for code in FailureCode.allCases {
            print("\(code.rawValue)\t\(code.category.rawValue)")
        }
    }
}

func runVerification(_ ceremony: Ceremony, _ options: Verify.Options) throws {
    let service = VerificationService()
    let input: FileHandle
    if options.request == "-" {
        input = .standardInput
    } else {
        guard let handle = FileHandle(forReadingAtPath: options.request) else {
            FileHandle.standardError.write(Data("mie-verifier: cannot read \(options.request)\n".utf8))
            throw ExitCode(2)
        }
        input = handle
    }
    if options.jsonl {
        let worst = BulkVerifier(service: service, ceremony: ceremony).run(input: input, output: .standardOutput)
        throw ExitCode(worst.rawValue)
    }
    let data = input.readDataToEndOfFile()
    let outcome = service.verify(ceremony, requestJSON: data)
    FileHandle.standardOutput.write(outcome.json() + Data("\n".utf8))
    throw ExitCode(outcome.disposition.rawValue)
}
