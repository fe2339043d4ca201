import ArgumentParser
import AuthenticatorCatalog
@_spi(Internals) import AuthenticatorVerification
import Foundation
import HardwareProbe
import PSCPolicy
import SignatureVerification
import WireFormat

/// `mie-probe candidate`: the referencing test battery an MIE vendor runs on a real key with its
/// metadata statement before handing both to the ANS. It checks that the device behaves as the
/// statement claims (getInfo, attestation chain and AAGUIDs, algorithms, user verification with
/// the PIN through the CTAP PIN/UV auth protocol, assertions and their counter, discoverable
/// credentials, credProtect) and gives the PSC evaluation of the registration it made.
struct Candidate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "candidate",
        abstract: "Run the referencing battery on a FIDO2 key against its metadata statement; JSON or the HTML conformity report.",
        discussion: """
            Exit status: 0 every check passed; 1 a check failed; 2 usage or environment (unreadable
            statement, wrong PIN, too few PIN tries left: the battery never risks the last ones);
            3 no authenticator. The PIN is asked without echo and never logged or written.

            Example:
              mie-probe candidate --statement statement.json --reader "ACS ACR122U" --format html --output dossier.html
            """)

    @Option(help: "The model's MDS3 metadata statement (JSON).") var statement: String
    @Option(help: "A PC/SC reader holding the key (NFC or contact).") var reader: String?
    @Option(help: "A /dev/hidraw device: the key over USB.") var hid: String?
    @Flag(name: .customLong("pin-prompt"), help: "Ask for the key's PIN (no echo); asked anyway when the key has a PIN.") var pinPrompt = false
    // Tests only: a PIN on the command line is visible to other users (ps); never for real keys.
    @Option(name: .customLong("pin-for-testing"), help: .hidden) var pinValue: String?
    @Option(help: "PSC profile (JSON); default: the bundled psc-2026.") var profile: String?
    @Option(help: "json or html.") var format: Format = .json
    @Option(help: "Write the report here instead of standard output.") var output: String?
    @Option(help: "Assertions to make in a row (counter behaviour).") var assertions = 3
    @Option(name: .customLong("minimum-pin-tries"), help: "Refuse to run below this many PIN tries left.") var minimumTries = 3

    enum Format: String, ExpressibleByArgument { case json, html }

    func run() throws {
        guard (2...20).contains(assertions) else { throw fail("--assertions is 2 to 20", 2) }
        guard (2...8).contains(minimumTries) else { throw fail("--minimum-pin-tries is 2 to 8", 2) }
        guard let document = FileManager.default.contents(atPath: statement).map(Array.init) else { throw fail("cannot read \(statement)", 2) }
        let parsed: MetadataStatement
        do {
            parsed = try MetadataStatement.parse(document)
        } catch {
            throw fail("the statement is refused: \(error)", 2)
        }
        let policy: Profile
        do {
            policy = try profile.map { path in
                guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read \(path)", 2) }
                return try Profile.parse(Array(data))
            } ?? Profile.bundled()
        } catch let error as Profile.Failure {
            throw fail("the profile is refused: \(error)", 2)
        }
        let (device, keep): (any CTAPAuthenticator, AnyObject?)
        do {
            (device, keep) = try open(device: hid, reader: reader)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail("no FIDO authenticator answers: \(error)", 3)
        }
        defer { withExtendedLifetime(keep) {} }
        let recorder = RecordingAuthenticator(device)
        var battery = CandidateBattery(statement: parsed, catalog: .candidate(parsed, document: document), device: recorder)
        do {
            try battery.run(pin: { pinValue ?? readSecret("Key PIN: ") }, assertions: assertions, minimumTries: minimumTries)
        } catch let stop as BatteryStop {
            throw fail(stop.description, 2)
        }

        let evaluation = battery.registration.map {
            PolicyEngine.evaluate(.fido(FIDOFacts(registration: $0, deviceInfo: battery.deviceInfo)), catalog: battery.catalog, profile: policy, at: battery.time)
        }
        let path = hid ?? "pcsc:\(reader ?? "first reader")"
        let firmware = battery.info?.firmwareVersion.map { "0x" + String($0, radix: 16) } ?? "not given"
        let text: String
        switch format {
        case .json:
            text = String(decoding: battery.json(device: path, firmware: firmware, transcript: recorder.digest, evaluation: evaluation).json, as: UTF8.self)
        case .html:
            guard let evaluation else { throw fail("no registration was made: nothing to report in HTML (see --format json)", 1) }
            do {
                text = try ConformityReport.render(
                    evaluation, format: .html, tool: "mie-probe \(Product.version) candidate",
                    battery: ConformityReport.Battery(
                        checks: battery.checks.map { .init(id: $0.id, title: $0.title, status: $0.status.rawValue, detail: $0.detail) }, device: path,
                        firmware: firmware, transcriptSHA256: recorder.digest))
            } catch {
                throw fail("the report cannot be rendered: \(error)", 2)
            }
        }
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: Data(text.utf8)) else { throw fail("cannot write \(output)", 2) }
        } else {
            print(text)
        }
        let failed = battery.checks.filter { $0.status == .failed }
        for check in failed { FileHandle.standardError.write(Data("FAILED \(check.id): \(check.detail)\n".utf8)) }
        if !failed.isEmpty { throw ExitCode(1) }
    }
}
