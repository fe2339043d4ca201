import ArgumentParser
import AuthenticatorCatalog
@_spi(Internals) import AuthenticatorVerification
import Foundation
import HardwareProbe
import PSCPolicy
import SignatureVerification
import Storage
import WireFormat

@main
struct MIEProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mie-probe",
        abstract: "Looks at smart cards in PC/SC readers: what they are and whether Pro Santé Connect accepts them.",
        discussion: """
            Exit status: 0 success (for `card` and `fido register`: an accepted MIE under the PSC
            profile; for `fido info`: getInfo agrees with the catalog), 1 refused or indeterminate
            (or getInfo disagrees), 2 usage or environment error (pcscd not running), 3 no reader
            or no card. The PSC verdict uses the referencing lists of --database (see
            `mie-verifier referencing import`).

            Examples:
              mie-probe readers
              mie-probe watch --seconds 30
              mie-probe card --anchors /etc/mie/igc-sante-test.pem --database mie.sqlite --json
              mie-probe card --reader "Virtual PCD 00 00" --database mie.sqlite --pin   (asks for the PIN without echo)
              mie-probe fido list
              mie-probe fido info --reader "Virtual PCD 00 01" --database mie.sqlite --json
              mie-probe fido register --device /dev/hidraw3 --rp-id example.org --database mie.sqlite
            """,
        version: "mie-probe \(Product.version)",
        subcommands: [Readers.self, Watch.self, Card.self, Fido.self, Enrol.self, Candidate.self])
}

struct Output: ParsableArguments {
    @Flag(name: .long, help: "Print JSON for scripts instead of a table.")
    var json = false
}

/// Where the PSC verdict comes from: the referencing lists and the profile.
struct PolicyOptions: ParsableArguments {
    @Option(help: "SQLite database with the referencing lists (mie-verifier referencing import).") var database: String?
    @Option(help: "PSC profile (JSON); default: the bundled psc-2026.") var profile: String?

    func load() throws -> (CatalogSnapshot, Profile) {
        let catalog: CatalogSnapshot
        do {
            catalog = try database.map { try ReferencingStore(path: $0).snapshot() } ?? .empty
        } catch let error as StoreError {
            throw fail(error.description, 2)
        }
        do {
            guard let profile else { return (catalog, try Profile.bundled()) }
            guard let data = FileManager.default.contents(atPath: profile) else { throw fail("cannot read \(profile)", 2) }
            return (catalog, try Profile.parse(Array(data)))
        } catch let error as Profile.Failure {
            throw fail("the profile is refused: \(error)", 2)
        }
    }
}

/// Prints a report (its own JSON) with the PSC evaluation added as `psc`.
func printJSON(_ report: some Encodable, psc evaluation: Evaluation) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    guard let data = try? encoder.encode(report), case .object(var members)? = try? JSONValue.parse(Array(data), document: "report"),
        let psc = try? JSONValue.parse(evaluation.json, document: "evaluation")
    else { return }
    members.append(("psc", psc))
    print(String(decoding: JSONValue.object(members).json, as: UTF8.self))
}

/// The verdict for people: the verdict, the AMR, then each criterion that is not satisfied.
func printVerdict(_ evaluation: Evaluation) {
    let amr = evaluation.amr.isEmpty ? "" : ", AMR \(evaluation.amr.joined(separator: " "))"
    print("PSC             \(evaluation.verdict.rawValue)\(amr) (profile \(evaluation.profile.id) \(evaluation.profile.version))")
    for result in evaluation.criteria where result.status == .notSatisfied || result.status == .indeterminate {
        print("                \(result.criterion.id) \(result.status.rawValue): \(result.reason)")
    }
}

/// A PIN typed at the terminal: getpass turns echo off; the PIN is never logged or written.
func readSecret(_ prompt: String) -> String {
    guard let entered = getpass(prompt) else { return "" }
    return String(cString: entered)
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
    @OptionGroup var policy: PolicyOptions
    @OptionGroup var output: Output

    func run() throws {
        let (catalog, profile) = try policy.load()
        let (pcsc, names, states) = try readerStates()
        guard let chosen = reader ?? states.first(where: \.cardPresent)?.reader else { throw fail("there is no card in any reader", 3) }
        guard names.contains(chosen) else { throw fail("unknown reader \(chosen)", 2) }
        var options = CardInspector.Options()
        if let anchors { options.anchors = try IGCSanteAnchors(pemFile: anchors) }
        options.crls = try crl.flatMap(loadCRLs)
        if let at {
            guard let date = try? Date(at, strategy: Date.ISO8601FormatStyle()) else { throw fail("--at is not an RFC 3339 time", 2) }
            options.time = date
        }
        if pin || pinValue != nil {
            options.pin = pinValue ?? readSecret("PIN: ")
            options.forceLastPINTry = force
        }
        let report: CardReport
        let atr: [UInt8]
        do {
            // A PIN verified here must not stay open for the next program: reset on close.
            (atr, report) = try pcsc.withCardSession(chosen, resetOnClose: options.pin != nil) { card in
                let atr = try card.atr()
                return (atr, try CardInspector.inspect(card, atr: atr, options: options))
            }
        } catch let error as PCSCError {
            throw fail(error.description, error.code == PCSCError.noSmartcard ? 3 : 2)
        } catch let error as CardError {
            throw fail(error.description, 1)
        }
        let evaluation = PolicyEngine.evaluate(
            .card(Self.facts(report, atr: atr, anchorsConfigured: options.anchors != nil)), catalog: catalog, profile: profile,
            at: options.time)
        if output.json {
            printJSON(report, psc: evaluation)
        } else {
            printTable(report, reader: chosen)
            printVerdict(evaluation)
        }
        if evaluation.verdict != .accepted { throw ExitCode(1) }
    }

    /// The facts the PSC engine decides on, from what the probe read.
    static func facts(_ report: CardReport, atr: [UInt8], anchorsConfigured: Bool) -> CardFacts {
        .card(
            generation: report.generation, atr: atr, issuedByANS: report.issuedByANS, authentication: report.authentication,
            anchorsConfigured: anchorsConfigured, pinVerified: report.pinVerified, possessionProven: report.possessionProven)
    }



    func loadCRLs(_ path: String) throws -> [CertificateRevocationList] {
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read \(path)", 2) }
        do {
            return try CertificateRevocationList.load(file: Array(data))
        } catch {
            throw fail("\(path) is not a CRL: \(error.message)", 2)
        }
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
        for note in report.notes { print("note            \(note)") }
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
                // A known CPS/CPx card carries no FIDO applet: leave it alone (the program using
                // it could see its session end when this connection does, see withCardSession).
                for state in states where state.cardPresent && CardIdentification.generation(of: state.atr) == .unknown {
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
        static let configuration = CommandConfiguration(
            abstract: "Decode authenticatorGetInfo and, with --database, compare it with the catalog's statement.")
        @OptionGroup var target: Target
        @OptionGroup var policy: PolicyOptions
        @OptionGroup var output: Output

        func run() throws {
            let (catalog, _) = try policy.load()
            let (authenticator, keep) = try open(target)
            defer { withExtendedLifetime(keep) {} }
            let info = try authenticator.info()
            let comparison = policy.database == nil ? [] : DeviceComparison.compare(info.policyView, catalog: catalog, at: Date())
            if output.json {
                if policy.database == nil {
                    printJSON(info)
                } else {
                    printJSON(InfoReport(info: info, catalog: comparison.map { ComparisonItem(check: $0.check, status: $0.status.rawValue, detail: $0.detail) }))
                }
            } else {
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
                for item in comparison {
                    print("catalog         \(item.check): \(item.status.rawValue), \(item.detail)")
                }
            }
            if comparison.contains(where: { $0.status == .notSatisfied }) { throw ExitCode(1) }
        }
    }

    struct InfoReport: Encodable {
        let info: AuthenticatorInfo
        let catalog: [ComparisonItem]
    }

    struct ComparisonItem: Encodable {
        let check: String
        let status: String
        let detail: String
    }

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a fresh credential (touch the key), verify it with the catalog as trust source and give the PSC verdict.")
        @OptionGroup var target: Target
        @Option(help: "Relying party ID for the test credential.") var rpId = "mie-probe.invalid"
        @Option(help: "PEM file of extra attestation roots (they verify a chain; only the catalog's make a key compatible).") var anchors: String?
        @OptionGroup var policy: PolicyOptions
        @OptionGroup var output: Output

        func run() throws {
            let (catalog, profile) = try policy.load()
            let (authenticator, keep) = try open(target)
            defer { withExtendedLifetime(keep) {} }
            let info = try authenticator.info()
            var challenge = [UInt8](repeating: 0, count: 32)
            for index in challenge.indices { challenge[index] = UInt8.random(in: 0...255) }
            let clientData = Array(
                #"{"type":"webauthn.create","challenge":"\#(Base64URL.encode(challenge))","origin":"https://\#(rpId)","crossOrigin":false}"#
                    .utf8)
            let object = try authenticator.makeCredential(
                clientDataHash: Digest.sha256(clientData), rpID: rpId, userID: Array("mie-probe".utf8))
            let parsed = try AttestationObject.parse(object)
            let rawID = parsed.authenticatorData.attestedCredentialData?.credentialID ?? []
            var trust: any AttestationTrustSource = catalog
            if let anchors {
                trust = CombinedTrustSource([catalog, FixedTrustAnchors(try Certificate.fromPEM(String(contentsOfFile: anchors, encoding: .utf8)))])
            }
            let now = Date()
            let verified = try RegistrationVerifier.verify(
                RegistrationResponse(rawID: rawID, clientDataJSON: clientData, attestationObject: object),
                expecting: CeremonyExpectation(
                    challenge: challenge, origins: ["https://\(rpId)"], rpID: rpId, userVerification: .discouraged),
                policy: .acceptUntrustedAttestationForTesting, trust: trust, at: now)
            let evaluation = PolicyEngine.evaluate(
                .fido(FIDOFacts(registration: verified, deviceInfo: info.policyView)), catalog: catalog, profile: profile, at: now)
            let summary: [String: String] = [
                "format": verified.attestation.format, "type": verified.attestation.type.rawValue,
                "trusted": String(verified.attestation.isTrusted), "alg": verified.publicKey.algorithm.name,
                "aaguid": AAGUIDText.string(verified.aaguid), "uv": String(verified.flags.userVerified),
                "backupEligible": String(verified.flags.backupEligible),
            ]
            if output.json {
                printJSON(summary, psc: evaluation)
            } else {
                for (key, value) in summary.sorted(by: { $0.key < $1.key }) { print("\(key)\t\(value)") }
                printVerdict(evaluation)
            }
            if evaluation.verdict != .accepted { throw ExitCode(1) }
        }
    }
}

/// Opens the authenticator named by --device or --reader (or the only one found).
func open(_ target: Fido.Target) throws -> (any CTAPAuthenticator, AnyObject?) {
    try open(device: target.device, reader: target.reader)
}

/// Opens the authenticator on `device` (USB HID) or in `reader` (NFC or contact; default: the
/// first reader).
func open(device: String?, reader chosen: String?) throws -> (any CTAPAuthenticator, AnyObject?) {
    if let device {
        let hid = try HIDRawDevice(path: device)
        return (try CTAPHIDAuthenticator(device: hid), hid)
    }
    let pcsc = try context()
    let names = try pcsc.readers()
    let reader = chosen ?? names.first
    guard let reader, names.contains(reader) else { throw fail("no such reader; see mie-probe fido list", 3) }
    let card: PCSCCard
    do {
        card = try pcsc.connect(reader)
    } catch let error as PCSCError {
        throw fail(error.description, 3)
    }
    return (try NFCAuthenticator(card), card)
}
