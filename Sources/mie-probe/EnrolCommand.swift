import ArgumentParser
@_spi(Internals) import AuthenticatorVerification
import Foundation
import HardwareProbe
import SignatureVerification
import WireFormat

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `mie-probe enrol`: a card-bound enrolment at a desk. The holder's CPS card proves who they
/// are (its chain, and its signature over the service's challenge once the PIN is verified),
/// then their FIDO2 key is registered for that identity in the same ceremony, the probe acting
/// as the WebAuthn client for the service's origin.
struct Enrol: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enrol a professional's FIDO2 key bound to the identity their CPS card proves (card + key in one act).",
        discussion: """
            Exit status: 0 the key is enrolled and PSC-acceptable; 1 refused (card, PIN or key:
            the message says what to do next); 2 usage or environment (service unreachable,
            pcscd not running); 3 no card, reader or authenticator.

            Example:
              mie-probe enrol --server https://mie.example:8443 --api-key-file /etc/mie/desk.key \\
                --reader "Virtual PCD 00 00" --fido-reader "Virtual PCD 00 01"
            """)

    @Option(help: "The MIE Verifier service, e.g. https://mie.example.") var server: String
    @Option(name: .customLong("api-key-file"), help: "A file holding an API key with the enrolment role.") var apiKeyFile: String
    @Option(help: "The reader holding the CPS card (default: the first with a CPS card).") var reader: String?
    @Option(name: .customLong("fido-reader"), help: "The reader holding an NFC or contact FIDO2 authenticator.") var fidoReader: String?
    @Option(help: "A /dev/hidraw device: a USB FIDO2 key.") var hid: String?
    @Option(help: "The origin the probe claims as WebAuthn client (default: the service's first).") var origin: String?
    @Flag(help: "Allow presenting the card's PIN when only one try is left.") var force = false
    // Tests only: a PIN on the command line is visible to other users (ps); never for real cards.
    @Option(name: .customLong("pin-for-testing"), help: .hidden) var pinValue: String?
    @Option(name: .customLong("key-pin-for-testing"), help: .hidden) var keyPINValue: String?
    @Flag(help: "Print the service's answer as JSON.") var json = false

    func run() throws {
        let service = try serviceClient()
        let pcsc = try context()
        let names = try pcsc.readers()
        guard !names.isEmpty else { throw fail("no smart card reader is connected", 3) }
        let states = try pcsc.states(of: names)
        // 1. The card: identity and chain, then possession over the service's challenge.
        let (card, cardReader) = try connectCard(pcsc, names: names, states: states)
        let proof = try proveCard(card, to: service)
        let ceremony = try service.post("/v1/registrations/options", .object([("card", proof)]))
        guard let ceremonyID = ceremony["ceremonyId"]?.string, let options = ceremony["publicKey"] else {
            throw fail("the service's creation options are malformed", 2)
        }
        let holder = ceremony["holder"]?["displayName"]?.string ?? "?"
        FileHandle.standardError.write(Data("card proves \(holder) (\(ceremony["holder"]?["id"]?.string ?? "?")): touch the key to register it\n".utf8))
        // 2. The key, as a WebAuthn client would make it for the service's origin.
        guard let claimed = origin ?? ceremony["origins"]?.strings?.first else { throw fail("the service names no origin; give --origin", 2) }
        let (authenticator, keep) = try open(device: hid, reader: fidoReader ?? otherReader(states, than: cardReader))
        defer { withExtendedLifetime(keep) {} }
        let response = try registerKey(authenticator, options: options, origin: claimed)
        // 3. The service verifies, judges and stores it.
        let result = try service.post("/v1/registrations", .object([("ceremonyId", .string(ceremonyID)), ("response", response)]))
        try report(result)
    }

    /// The service at --server with the API key of --api-key-file.
    func serviceClient() throws -> ServiceClient {
        guard let base = URL(string: server), base.scheme == "https" || base.scheme == "http" else { throw fail("--server is not an http(s) URL", 2) }
        guard let keyData = FileManager.default.contents(atPath: apiKeyFile),
            let key = String(data: keyData, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !key.isEmpty
        else { throw fail("cannot read an API key in \(apiKeyFile)", 2) }
        return ServiceClient(base: base, key: key)
    }

    /// The holder's CPS card: in --reader, or the first reader holding a known CPS card that is
    /// not the key's.
    func connectCard(_ pcsc: PCSCContext, names: [String], states: [PCSCContext.ReaderState]) throws -> (PCSCCard, String) {
        let cardReader =
            reader
            ?? states.first { $0.cardPresent && CardIdentification.generation(of: $0.atr) != .unknown && $0.reader != fidoReader }?.reader
        guard let cardReader, names.contains(cardReader) else { throw fail("no CPS card found: insert the holder's card (or name --reader)", 3) }
        let card: PCSCCard
        do {
            card = try pcsc.connect(cardReader)
        } catch let error as PCSCError {
            throw fail(error.description, error.code == PCSCError.noSmartcard ? 3 : 2)
        }
        card.resetOnClose = true
        return (card, cardReader)
    }

    /// The card's proof for the service: its certificates and identification, and its
    /// signature over the service's challenge once the holder's PIN is verified (the last try
    /// never spent without --force).
    func proveCard(_ card: PCSCCard, to service: ServiceClient) throws -> JSONValue {
        try card.transaction { () throws -> JSONValue in
            let atr = try card.atr()
            let cps = CPSCardReader(card)
            let identification = try cps.identify(atr: atr)
            let found = try cps.certificates()
            guard let authentication = found.first(where: { $0.certificate.extendedKeyUsages.contains(CardInspector.clientAuth) }) else {
                throw fail("the card holds no authentication certificate: is it a CPS card?", 1)
            }
            if let tries = try cps.pinTriesLeft() {
                guard tries > 0 else { throw fail("card blocked: its PIN is blocked; have it unblocked (PUK) before enrolling", 1) }
                guard tries > 1 || force else {
                    throw fail("one PIN try left: not spent without --force; make sure of the PIN, or have the card unblocked", 1)
                }
            }
            let challenge = try service.post("/v1/cards/challenges", nil)
            guard let id = challenge["challengeId"]?.string, let text = challenge["challenge"]?.string, let bytes = Base64URL.decode(text) else {
                throw fail("the service's card challenge is malformed", 2)
            }
            do {
                try cps.verifyPIN(pinValue ?? readSecret("Card PIN: "), force: force)
            } catch CardError.wrongPIN(let tries) {
                throw fail("wrong PIN, \(tries) tr\(tries == 1 ? "y" : "ies") left\(tries == 1 ? " (the last one is not spent without --force)" : "")", 1)
            } catch CardError.pinBlocked {
                throw fail("card blocked: its PIN is blocked; have it unblocked (PUK) before enrolling", 1)
            } catch CardError.lastPINTry {
                throw fail("one PIN try left: not spent without --force", 1)
            }
            let signature = try cps.sign(bytes, certificate: authentication.certificate, generation: identification.generation)
            var members: [(String, JSONValue)] = [
                ("certificates", .array(found.map { .string(Base64URL.encode($0.certificate.der)) })),
                ("atr", .string(hex(atr))), ("challengeId", .string(id)), ("signature", .string(Base64URL.encode(signature))),
            ]
            if let serial = identification.serialNumber { members.append(("serialNumber", .string(hex(serial)))) }
            return .object(members)
        }
    }

    /// Registers a key with the service's creation options as the WebAuthn client of `origin`
    /// would (a pinUvAuthToken first when the key verifies its holder by its own PIN): the
    /// response as `PublicKeyCredential.toJSON()` gives it.
    func registerKey(_ authenticator: any CTAPAuthenticator, options: JSONValue, origin claimed: String) throws -> JSONValue {
        let info = try authenticator.info()
        var request = try Self.credentialRequest(options, origin: claimed, info: info)
        if request.needsPIN {
            // The key verifies its holder by its own PIN: a pinUvAuthToken for this relying party.
            let pinProtocol: PINProtocol = info.pinUvAuthProtocols.contains(2) ? .two : .one
            let tries = try authenticator.pinRetries(pinProtocol)
            guard tries > 1 else { throw fail("the key has \(tries) PIN tr\(tries == 1 ? "y" : "ies") left: have the holder reset it before enrolling", 1) }
            let pin = keyPINValue ?? readSecret("Key PIN (the holder types it): ")
            do {
                request.ctap.pinToken = try authenticator.pinToken(
                    pin: pin, pinProtocol: pinProtocol, permissions: info.options["pinUvAuthToken"] == true ? 0x01 : nil, rpID: request.ctap.rpID)
            } catch let error as CTAPError where error.status == 0x31 {
                let left = (try? authenticator.pinRetries(pinProtocol)).map { "\($0) tr\($0 == 1 ? "y" : "ies") left" } ?? "tries unknown"
                throw fail("wrong key PIN, \(left)", 1)
            } catch let error as CTAPError where error.status == 0x32 || error.status == 0x34 {
                throw fail("the key's PIN is blocked (\(error.name)): reset the key before enrolling it", 1)
            }
        }
        let attestation = try authenticator.makeCredential(request.ctap)
        let parsed = try AttestationObject.parse(attestation)
        let credentialID = parsed.authenticatorData.attestedCredentialData?.credentialID ?? []
        return JSONValue.object([
            ("id", .string(Base64URL.encode(credentialID))), ("rawId", .string(Base64URL.encode(credentialID))), ("type", .string("public-key")),
            (
                "response",
                .object([
                    ("clientDataJSON", .string(Base64URL.encode(request.clientData))), ("attestationObject", .string(Base64URL.encode(attestation))),
                    ("transports", .strings([hid == nil ? "nfc" : "usb"])),
                ])
            ),
            ("clientExtensionResults", .object([])),
        ])
    }

    /// Prints the service's answer; the exit status says whether the key is enrolled and
    /// acceptable.
    func report(_ result: JSONValue) throws {
        if json {
            print(String(decoding: result.json, as: UTF8.self))
        } else {
            Self.printResult(result)
        }
        guard result["registered"]?.bool == true else {
            if let code = result["verification"]?["error"]?["code"]?.string { throw fail("the key's registration was refused: \(code)", 1) }
            throw fail("key not stored: \(Self.why(result)); hand out a key on the ANS referencing list", 1)
        }
        if result["verdict"]?.string != "accepted" {
            throw fail("the key is enrolled but not PSC-acceptable (DEMO service): \(Self.why(result))", 1)
        }
    }

    /// The first other reader with a card: where an NFC authenticator sits.
    func otherReader(_ states: [PCSCContext.ReaderState], than card: String) -> String? {
        states.first { $0.cardPresent && $0.reader != card }?.reader
    }

    /// The CTAP request and the client data for the service's creation options.
    static func credentialRequest(
        _ options: JSONValue, origin: String, info: AuthenticatorInfo
    ) throws -> (ctap: CredentialRequest, clientData: [UInt8], needsPIN: Bool) {
        guard let rpID = options["rp"]?["id"]?.string, let userText = options["user"]?["id"]?.string, let userID = Base64URL.decode(userText),
            let challenge = options["challenge"]?.string, Base64URL.decode(challenge) != nil
        else { throw fail("the service's creation options lack rp, user or challenge", 2) }
        let clientData = Array(
            JSONValue.object([
                ("type", .string("webauthn.create")), ("challenge", .string(challenge)), ("origin", .string(origin)), ("crossOrigin", .bool(false)),
            ]).json)
        var request = CredentialRequest(
            clientDataHash: Digest.sha256(clientData), rpID: rpID, rpName: options["rp"]?["name"]?.string, userID: userID,
            userName: options["user"]?["name"]?.string ?? "", userDisplayName: options["user"]?["displayName"]?.string)
        request.algorithms = options["pubKeyCredParams"]?.array?.compactMap { $0["alg"]?.integer.map(Int.init) } ?? [-7]
        request.exclude = options["excludeCredentials"]?.array?.compactMap { $0["id"]?.string.flatMap(Base64URL.decode) } ?? []
        let selection = options["authenticatorSelection"]
        request.residentKey = selection?["residentKey"]?.string == "required" || (selection?["residentKey"]?.string == "preferred" && info.options["rk"] == true)
        var needsPIN = false
        if selection?["userVerification"]?.string == "required" {
            if info.options["uv"] == true {
                request.userVerification = true
            } else if info.options["clientPin"] == true {
                needsPIN = true
            } else {
                throw fail(
                    info.options["clientPin"] == false
                        ? "this key has no PIN set and no built-in verification: set its PIN first" : "this key cannot verify its user: PSC needs a key that does",
                    1)
            }
        }
        return (request, clientData, needsPIN)
    }

    /// Why a key is not PSC-acceptable, in the words a desk uses.
    static func why(_ result: JSONValue) -> String {
        let failed = (result["criteria"]?.array ?? []).flatMap { $0["checks"]?.array ?? [] }.filter { $0["status"]?.string == "not_satisfied" }
        let kinds = failed.compactMap { $0["check"]?.string }
        if kinds.contains("referencing.ans-referenced") { return "key not referenced: this model is not on the ANS referencing list" }
        if kinds.contains("uv.capable") { return "this key cannot verify a PIN or a fingerprint" }
        return failed.first?["reason"]?.string ?? "verdict \(result["verdict"]?.string ?? "?")"
    }

    static func printResult(_ result: JSONValue) {
        let holder = result["holder"]?["displayName"]?.string ?? "?"
        print("holder          \(holder) (\(result["holder"]?["id"]?.string ?? "?")), identity proven by card")
        print("registered      \(result["registered"]?.bool == true ? "yes" : "NO")")
        if let verdict = result["verdict"]?.string {
            print("PSC             \(verdict), AMR \((result["amr"]?.strings ?? []).joined(separator: " "))")
        }
        for criterion in result["criteria"]?.array ?? [] where criterion["status"]?.string == "not_satisfied" {
            print("                \(criterion["id"]?.string ?? "") not satisfied: \(criterion["reason"]?.string ?? "")")
        }
    }
}

/// The service's HTTP API, as the probe calls it: JSON in, JSON out, problems turned into
/// messages that say what to do.
struct ServiceClient {
    let base: URL
    let key: String

    final class Box: @unchecked Sendable {
        var data: Data?
        var status = 0
        var error: (any Error)?
    }

    func post(_ path: String, _ body: JSONValue?) throws -> JSONValue {
        guard let url = URL(string: path, relativeTo: base) else { throw fail("bad service URL", 2) }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = "POST"
        request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body.json)
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            box.data = data
            box.status = (response as? HTTPURLResponse)?.statusCode ?? 0
            box.error = error
            done.signal()
        }.resume()
        done.wait()
        if let error = box.error { throw fail("the service at \(base.absoluteString) cannot be reached: \(error.localizedDescription)", 2) }
        let value = (try? JSONValue.parse(Array(box.data ?? Data()), document: "the service's answer")) ?? .null
        guard (200..<300).contains(box.status) else {
            let code = value["code"]?.string ?? "HTTP \(box.status)"
            let detail = value["detail"]?.string ?? ""
            switch code {
            case "card.refused": throw fail("card refused: \(detail) (\(value["reason"]?.string ?? "")); this card cannot prove the holder's identity", 1)
            case "auth.missing", "auth.invalid": throw fail("the service refused the API key (\(code)): check --api-key-file", 2)
            case "auth.forbidden": throw fail("this API key lacks the enrolment role: \(detail)", 2)
            default: throw fail("the service refused \(path): \(code) \(detail)", box.status >= 500 ? 2 : 1)
            }
        }
        return value
    }
}
