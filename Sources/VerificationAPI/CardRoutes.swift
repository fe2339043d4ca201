import AuthenticatorCatalog
import Foundation
import CardJudgement
import Ceremonies
import Hummingbird
import PSCPolicy
import SignatureVerification
import Storage
import WireFormat

/// CPS-family cards: is this card an accepted MIE? The certificates come from a card reader or
/// from the TLS client certificate an IAM authenticated; the chain is judged against the
/// configured IGC-Santé anchors at the server's time, with the configured CRLs; possession is
/// proven by a signature over a challenge of the service (the raw RSA operation over a PKCS #1
/// type 1 block, as CPS3 INTERNAL AUTHENTICATE and CPS4 PSO DECIPHER compute it; the card only
/// signs once its PIN is verified).
struct CardRoutes {
    let state: ServiceState

    func register(on router: Router<APIRequestContext>) {
        router.post("/v1/cards/challenges") { _, context in try await challenge(context) }
        router.post("/v1/cards/verify") { request, context in try await verify(request, context) }
    }

    func challenge(_ context: APIRequestContext) async throws -> Response {
        let caller = state.caller(try context.require(.verifier, .enrolment))
        let ceremony = try await state.io { [state] in try state.operations.cardChallenge(by: caller) }
        let reply = JSONValue.object([
            ("challengeId", .string(ceremony.id)), ("challenge", .string(Base64URL.encode(ceremony.challenge))),
            ("expiresAt", .string(ceremony.expiryText)),
        ])
        return jsonResponse(reply.json)
    }

    typealias Input = CardEvidence

    static func read(_ bytes: [UInt8]) throws(APIError) -> Input {
        try readRequest(bytes) { (reader: inout JSONReader) throws(JSONError) in try readInput(&reader) }
    }

    /// `{certificates, atr?, serialNumber?, challengeId?, signature?}`.
    static func readInput(_ reader: inout JSONReader) throws(JSONError) -> Input {
        var input = Input()
        try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
            switch key {
            case "certificates":
                input.certificates = try reader.readList { (reader: inout JSONReader) throws(JSONError) in try reader.readBase64URL() }
                guard (1...8).contains(input.certificates.count) else { throw reader.invalid("must hold 1 to 8 certificates") }
            case "atr": input.atr = try readHex(&reader, 2...33)
            case "serialNumber": input.serialNumber = try readHex(&reader, 1...64)
            case "challengeId": input.challengeID = try HolderInput.readText(&reader, limit: 64)
            case "signature":
                input.signature = try reader.readBase64URL()
                guard (1...1024).contains(input.signature?.count ?? 0) else { throw reader.invalid("must be 1 to 1024 bytes") }
            default: throw reader.unknownMember(key)
            }
        }
        guard !input.certificates.isEmpty else { throw reader.missing("certificates") }
        guard (input.challengeID == nil) == (input.signature == nil) else {
            throw reader.invalid("needs challengeId and signature together")
        }
        return input
    }

    /// Hexadecimal bytes, spaces allowed (`3B 9B 18 …`).
    static func readHex(_ reader: inout JSONReader, _ range: ClosedRange<Int>) throws(JSONError) -> [UInt8] {
        let text = try reader.readString().replacingOccurrences(of: " ", with: "")
        guard let bytes = Hex.bytes(text), range.contains(bytes.count) else {
            throw reader.invalid("must be \(range.lowerBound) to \(range.upperBound) bytes in hexadecimal")
        }
        return bytes
    }

    func verify(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = state.caller(try context.require(.verifier, .enrolment))
        var request = request
        let input = try Self.read(try await request.jsonBody(limit: state.configuration.maximumBodySize))
        let judgement = try await state.io { [state] in try state.operations.checkCard(input, by: caller) }
        var w = JSONWriter(capacity: 4096)
        w.object { w in
            w.key("card")
            Self.cardJSON(judgement.facts, judgement.authentication, proven: judgement.proven).write(to: &w)
            judgement.evaluation.writeMembers(to: &w)
        }
        return jsonResponse(w.bytes)
    }

    static func cardJSON(_ facts: CardFacts, _ authentication: CardAuthentication, proven: Bool?) -> JSONValue {
        let identity = authentication.identity
        return JSONValue.object([
            ("generation", .string(facts.generation)), ("issuedByANS", .bool(facts.issuedByANS)),
            (
                "identity",
                .object([
                    ("nationalId", .string(identity.nationalID)), ("identifierType", .string(identity.identifierType.rawValue)),
                    ("luhnValid", identity.luhnValid.map(JSONValue.bool) ?? .null), ("profession", identity.profession.map(JSONValue.string) ?? .null),
                    ("givenName", identity.givenName.map(JSONValue.string) ?? .null), ("surname", identity.surname.map(JSONValue.string) ?? .null),
                    ("cardType", .string(identity.cardType)),
                ])
            ),
            (
                "chain",
                .object([
                    ("trusted", .bool(authentication.trusted)), ("reason", authentication.untrustedReason.map(JSONValue.string) ?? .null),
                    ("environment", authentication.environment.map(JSONValue.string) ?? .null), ("issuer", authentication.issuer.map(JSONValue.string) ?? .null),
                    ("revocation", .string(authentication.revocation)),
                ])
            ),
            ("possessionProven", proven.map(JSONValue.bool) ?? .null),
        ])
    }
}
