import ArgumentParser
@_spi(Internals) import AuthenticatorVerification
import Foundation
import HardwareProbe
import SignatureVerification
import WireFormat

@main
struct MIEProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mie-probe",
        abstract: "Looks at smart cards in PC/SC readers: what they are and whether Pro Santé Connect accepts them.",
        discussion: """
            Exit status: 0 success (for `card`: PSC-compatible), 1 the card is not PSC-compatible,
            2 usage or environment error (pcscd not running), 3 no reader or no card.

            Examples:
              mie-probe readers
              mie-probe watch --seconds 30
              mie-probe card --anchors /etc/mie/igc-sante-test.pem --json
              mie-probe card --reader "Virtual PCD 00 00" --pin   (asks for the PIN without echo)
              mie-probe fido list
              mie-probe fido info --reader "Virtual PCD 00 01" --json
              mie-probe fido register --device /dev/hidraw3 --rp-id example.org
            """,
        subcommands: [Readers.self, Watch.self, Card.self, Fido.self])
}

struct Output: ParsableArguments {
    @Flag(name: .long, help: "Print JSON for scripts instead of a table.")
    var json = false
}

func fail(_ message: String, _ code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data("mie-probe: \(message)\n".utf8))
    return ExitCode(code)
}

func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
}

/// The PC/SC context, its readers and their states; exits 3 when there is no reader.
func readerStates() throws -> (PCSCContext, [String], [PCSCContext.ReaderState]) {
    let pcsc = try context()
    let names = try pcsc.readers()
    guard !names.isEmpty else { throw fail("no smart card reader is connected", 3) }
    return (pcsc, names, try pcsc.states(of: names))
}

func context() throws -> PCSCContext {
    do {
        return try PCSCContext()
    } catch let error as PCSCError {
        throw fail(error.message, 2)
    }
}

struct Readers: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List readers and whether a card is present.")
    @OptionGroup var output: Output

    func run() throws {
        let (_, _, states) = try readerStates()
        if output.json {
            printJSON(
                states.map { ["reader": $0.reader, "card": $0.cardPresent ? "present" : "absent", "atr": hex($0.atr, separator: " ")] })
            return
        }
        for state in states {
            print("\(state.reader)\t\(state.cardPresent ? "card present" : "empty")\t\(hex(state.atr, separator: " "))")
        }
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print card insertions and removals as they happen.")
    @Option(help: "Stop after this many seconds (0: run until interrupted).") var seconds: Double = 0

    func run() throws {
        let pcsc = try context()
        let names = try pcsc.readers()
        guard !names.isEmpty else { throw fail("no smart card reader is connected", 3) }
        var states = try pcsc.states(of: names)
        for state in states { print("\(state.reader): \(state.cardPresent ? "card present \(hex(state.atr, separator: " "))" : "empty")") }
        let deadline = seconds > 0 ? Date().addingTimeInterval(seconds) : .distantFuture
        while Date() < deadline {
            let wait = min(1.0, max(0.05, deadline.timeIntervalSinceNow))
            do {
                let next = try pcsc.states(of: names, waitingForChangeFrom: states, timeout: wait)
                for (old, new) in zip(states, next) where old.cardPresent != new.cardPresent {
                    print("\(new.reader): \(new.cardPresent ? "card inserted \(hex(new.atr, separator: " "))" : "card removed")")
                }
                states = next
            } catch let error as PCSCError where error.code == PCSCError.timeout {
                continue
            }
        }
    }
}

struct Card: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Identify a CPS/CPx card, check its certificate and give the PSC view.")
    @Option(help: "Reader name (default: the first with a card).") var reader: String?
    @Option(help: "PEM bundle of IGC-Santé CAs (production or test, never both).") var anchors: String?
    @Option(help: "CRL file (PEM or DER) to check the authentication certificate against.") var crl: [String] = []
    @Option(help: "Verification time, RFC 3339 (default: now).") var at: String?
    @Flag(help: "Prove possession: ask for the PIN (no echo), VERIFY, then have the card sign a challenge.") var pin = false
    // Tests only: a PIN on the command line is visible to other users (ps); never for real cards.
    @Option(name: .customLong("pin-for-testing"), help: .hidden) var pinValue: String?
    @Flag(help: "Allow presenting the PIN when only one try is left.") var force = false
    @OptionGroup var output: Output

    func run() throws {
        let (pcsc, names, states) = try readerStates()
        guard let chosen = reader ?? states.first(where: \.cardPresent)?.reader else { throw fail("there is no card in any reader", 3) }
        guard names.contains(chosen) else { throw fail("unknown reader \(chosen)", 2) }
        var options = CardInspector.Options()
        if let anchors { options.anchors = try IGCSanteAnchors(pemFile: anchors) }
        options.crls = try crl.map(loadCRL)
        if let at {
            guard let date = try? Date(at, strategy: Date.ISO8601FormatStyle()) else { throw fail("--at is not an RFC 3339 time", 2) }
            options.time = date
        }
        if pin || pinValue != nil {
            options.pin = pinValue ?? readPIN()
            options.forceLastPINTry = force
        }
        let card: PCSCCard
        do {
            card = try pcsc.connect(chosen)
        } catch let error as PCSCError {
            throw fail(error.description, error.code == PCSCError.noSmartcard ? 3 : 2)
        }
        card.resetOnClose = options.pin != nil
        let report: CardReport
        do {
            report = try card.transaction { try CardInspector.inspect(card, atr: try card.atr(), options: options) }
        } catch let error as CardError {
            throw fail(error.description, 1)
        }
        if output.json { printJSON(report) } else { printTable(report, reader: chosen) }
        if !report.psc.compatible { throw ExitCode(1) }
    }

    func readPIN() -> String {
        // getpass turns echo off on the terminal; the PIN is never logged.
        guard let entered = getpass("PIN: ") else { return "" }
        return String(cString: entered)
    }

    func loadCRL(_ path: String) throws -> CertificateRevocationList {
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read \(path)", 2) }
        let text = String(decoding: data, as: UTF8.self)
        if text.contains("-----BEGIN X509 CRL-----") {
            let body = text.components(separatedBy: "\n").filter { !$0.hasPrefix("-----") }.joined()
            guard let der = Data(base64Encoded: body) else { throw fail("bad PEM in \(path)", 2) }
            return try CertificateRevocationList(der: der)
        }
        return try CertificateRevocationList(der: data)
    }

    func printTable(_ report: CardReport, reader: String) {
        print("reader          \(reader)")
        print("ATR             \(report.atr)")
        print("card            \(report.generation)\(report.issuedByANS ? ", issued by ANS" : "")")
        if let serial = report.serialNumber { print("EF.SN.ICC       \(serial)") }
        for certificate in report.certificates { print("certificate     \(certificate.role): \(certificate.subject)") }
        for object in report.publicData { print("public data     \(object.label): \(object.text ?? object.hex)") }
        if let auth = report.authentication {
            let identity = auth.identity
            print(
                "national id     \(identity.nationalID) (\(identity.identifierType.rawValue)\(identity.luhnValid.map { $0 ? ", Luhn ok" : ", Luhn FAILS" } ?? ""))"
            )
            if let profession = identity.profession { print("profession      \(profession)") }
            if let upn = identity.userPrincipalName { print("UPN             \(upn)") }
            print("card type       \(identity.cardType)")
            print(
                "chain           \(auth.trusted ? "trusted (\(auth.environment ?? "?"))" : "NOT trusted: \(auth.untrustedReason ?? "")"), revocation \(auth.revocation)"
            )
        }
        if let tries = report.pinTriesLeft { print("PIN tries left  \(tries)") }
        if let proven = report.possessionProven { print("possession      \(proven ? "proven (challenge signed)" : "NOT proven")") }
        print("PSC             \(report.psc.compatible ? "compatible, AMR \(report.psc.amr.joined(separator: " "))" : "not compatible")")
        for reason in report.psc.reasons { print("                - \(reason)") }
    }
}

struct Fido: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "FIDO2 security keys over USB (CTAPHID on /dev/hidraw*) and NFC/contact (through PC/SC).",
        subcommands: [List.self, Info.self, Register.self])

    struct Target: ParsableArguments {
        @Option(help: "A /dev/hidraw device (USB).") var device: String?
        @Option(help: "A PC/SC reader holding an NFC or contact FIDO authenticator.") var reader: String?
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List FIDO authenticators on USB and in PC/SC readers.")
        @OptionGroup var output: Output

        func run() throws {
            var found: [[String: String]] = HIDRawDevice.fidoDevices().map { ["transport": "usb", "device": $0] }
            if let pcsc = try? PCSCContext(), let names = try? pcsc.readers(), let states = try? pcsc.states(of: names) {
                for state in states where state.cardPresent {
                    guard let card = try? pcsc.connect(state.reader), let nfc = try? NFCAuthenticator(card) else { continue }
                    found.append(["transport": "nfc", "reader": state.reader, "version": nfc.version])
                }
            }
            if output.json {
                printJSON(found)
            } else if found.isEmpty {
                print("no FIDO authenticator found")
            } else {
                for entry in found { print(entry.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "  ")) }
            }
            if found.isEmpty { throw ExitCode(3) }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Decode authenticatorGetInfo.")
        @OptionGroup var target: Target
        @OptionGroup var output: Output

        func run() throws {
            let (authenticator, keep) = try open(target)
            defer { withExtendedLifetime(keep) {} }
            let info = try authenticator.info()
            if output.json {
                printJSON(info)
                return
            }
            print("AAGUID          \(info.aaguid)")
            print("versions        \(info.versions.joined(separator: ", "))")
            print("extensions      \(info.extensions.joined(separator: ", "))")
            print("options         \(info.options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
            print("algorithms      \(info.algorithms.map(String.init).joined(separator: ", "))")
            print("PIN/UV protocols \(info.pinUvAuthProtocols.map(String.init).joined(separator: ", "))")
            if let min = info.minPINLength { print("min PIN length  \(min)") }
            if let firmware = info.firmwareVersion { print("firmware        \(firmware)") }
            for (program, level) in info.certifications.sorted(by: { $0.key < $1.key }) {
                print("certification   \(program) level \(level)")
            }
            print("user verification \(info.supportsUserVerification ? "supported" : "NOT supported (PSC needs UV)")")
        }
    }

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a fresh credential (touch the key) and verify its attestation with the core.")
        @OptionGroup var target: Target
        @Option(help: "Relying party ID for the test credential.") var rpId = "mie-probe.invalid"
        @Option(help: "PEM file of attestation roots to check the chain against.") var anchors: String?
        @OptionGroup var output: Output

        func run() throws {
            let (authenticator, keep) = try open(target)
            defer { withExtendedLifetime(keep) {} }
            var challenge = [UInt8](repeating: 0, count: 32)
            for index in challenge.indices { challenge[index] = UInt8.random(in: 0...255) }
            let clientData = Array(
                #"{"type":"webauthn.create","challenge":"\#(Base64URL.encode(challenge))","origin":"https://\#(rpId)","crossOrigin":false}"#
                    .utf8)
            let object = try authenticator.makeCredential(
                clientDataHash: Digest.sha256(clientData), rpID: rpId, userID: Array("mie-probe".utf8))
            let parsed = try AttestationObject.parse(object)
            let rawID = parsed.authenticatorData.attestedCredentialData?.credentialID ?? []
            var trust = FixedTrustAnchors.none
            if let anchors {
                trust = FixedTrustAnchors(try Certificate.fromPEM(String(contentsOfFile: anchors, encoding: .utf8)))
            }
            let verified = try RegistrationVerifier.verify(
                RegistrationResponse(rawID: rawID, clientDataJSON: clientData, attestationObject: object),
                expecting: CeremonyExpectation(
                    challenge: challenge, origins: ["https://\(rpId)"], rpID: rpId, userVerification: .discouraged),
                policy: anchors == nil ? .acceptUntrustedAttestationForTesting : .strict, trust: trust, at: Date())
            let summary: [String: String] = [
                "format": verified.attestation.format, "type": verified.attestation.type.rawValue,
                "trusted": String(verified.attestation.isTrusted), "alg": verified.publicKey.algorithm.name,
                "aaguid": AAGUIDText.string(verified.aaguid), "uv": String(verified.flags.userVerified),
                "backupEligible": String(verified.flags.backupEligible),
            ]
            if output.json {
                printJSON(summary)
            } else {
                for (key, value) in summary.sorted(by: { $0.key < $1.key }) { print("\(key)\t\(value)") }
            }
        }
    }
}

/// Opens the authenticator named by --device or --reader (or the only one found).
func open(_ target: Fido.Target) throws -> (any CTAPAuthenticator, AnyObject?) {
    if let device = target.device {
        let hid = try HIDRawDevice(path: device)
        return (try CTAPHIDAuthenticator(device: hid), hid)
    }
    let pcsc = try context()
    let names = try pcsc.readers()
    let reader = target.reader ?? names.first
    guard let reader, names.contains(reader) else { throw fail("no such reader; see mie-probe fido list", 3) }
    let card: PCSCCard
    do {
        card = try pcsc.connect(reader)
    } catch let error as PCSCError {
        throw fail(error.description, 3)
    }
    return (try NFCAuthenticator(card), card)
}
