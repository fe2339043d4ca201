import AuthenticatorCatalog
import AuthenticatorVerification
import Ceremonies
import Foundation
import Hummingbird
import PSCPolicy
import Storage
import VerificationRequests
import WireFormat

/// The holder named in a registration's options, as the request states it.
typealias HolderInput = HolderClaim

extension HolderClaim {
    static func read(_ reader: inout JSONReader) throws(JSONError) -> HolderClaim {
        var id: String?
        var name: String?
        var displayName: String?
        var rpps: String?
        try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
            switch key {
            case "id": id = try readText(&reader, limit: 64)
            case "name": name = try readText(&reader, limit: 64)
            case "displayName": displayName = try readText(&reader, limit: 64)
            case "rpps":
                let text = try reader.readString()
                guard CheckDigit.isRPPS(text) else { throw reader.invalid("must be an RPPS number: 11 digits with a valid Luhn key") }
                rpps = text
            default: throw reader.unknownMember(key)
            }
        }
        guard let id else { throw reader.missing("holder.id") }
        guard let name else { throw reader.missing("holder.name") }
        return HolderClaim(id: id, name: name, displayName: displayName ?? name, rpps: rpps)
    }

    /// 1 to `limit` characters (Unicode scalars, as JSON Schema counts them) without control
    /// characters: what authenticators display.
    static func readText(_ reader: inout JSONReader, limit: Int) throws(JSONError) -> String {
        let text = try reader.readString()
        guard !text.isEmpty, text.unicodeScalars.count <= limit else { throw reader.invalid("must be 1 to \(limit) characters") }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw reader.invalid("must not hold control characters")
        }
        return text
    }
}

/// Reads a small request object whose members `body` handles; unknown members are refused.
func readRequest<T>(_ bytes: [UInt8], _ body: (inout JSONReader) throws(JSONError) -> T) throws(APIError) -> T {
    do {
        return try JSONReader.read(bytes, document: "the request", body)
    } catch {
        throw APIError(.malformedRequest, error.message)
    }
}

/// The stateful ceremonies (enrolment desks, simple relying parties): the service keeps the
/// challenges (32 random bytes, single use, bound to the ceremony and client, expiring) and
/// the credentials. Each route reads its request, calls one operation with its caller, and
/// writes the answer.
struct CeremonyRoutes {
    let state: ServiceState

    func register(on router: Router<APIRequestContext>) {
        router.post("/v1/registrations/options") { request, context in try await registrationOptions(request, context) }
        router.post("/v1/registrations") { request, context in try await registration(request, context) }
        router.post("/v1/assertions/options") { request, context in try await assertionOptions(request, context) }
        router.post("/v1/assertions") { request, context in try await assertion(request, context) }
    }

    private var operations: ServiceOperations { state.operations }

    // MARK: Registration

    func registrationOptions(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = state.caller(try context.require(.enrolment))
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        let (holder, profileName, card) = try readRequest(body) { (reader: inout JSONReader) throws(JSONError) in
            var holder: HolderClaim?
            var profile: String?
            var card: CardEvidence?
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                switch key {
                case "holder": holder = try HolderClaim.read(&reader)
                case "profile": profile = try reader.readString()
                case "card":
                    card = try CardRoutes.readInput(&reader)
                    guard card?.challengeID != nil else {
                        throw reader.invalid("needs challengeId and signature: the card signs a challenge of POST /v1/cards/challenges")
                    }
                default: throw reader.unknownMember(key)
                }
            }
            guard (holder == nil) != (card == nil) else { throw reader.invalid("needs either holder (typed identity) or card (proven by card)") }
            return (holder, profile, card)
        }
        let opened = try await state.write { [operations] in
            if let card { return try operations.openCardRegistration(card, profile: profileName, by: caller) }
            guard let holder else { throw OperationError(.malformed, "needs either holder or card") }
            return try operations.openRegistration(holder, evidence: .assertedByClient, profile: profileName, by: caller)
        }
        return jsonResponse(Self.openedJSON(opened).json)
    }

    /// `{ceremonyId, expiresAt, publicKey, holder, identityEvidence, origins}`.
    static func openedJSON(_ opened: ServiceOperations.RegistrationOpened) -> JSONValue {
        .object([
            ("ceremonyId", .string(opened.ceremony.id)), ("expiresAt", .string(opened.ceremony.expiryText)), ("publicKey", opened.options),
            ("holder", holderJSON(opened.holder)), ("identityEvidence", .string(opened.evidence.rawValue)),
            // For a client that is not a browser (mie-probe enrol): the origins it may claim.
            ("origins", .strings(opened.origins)),
        ])
    }

    /// Reads `{ceremonyId, response}`, and the desk's one-time `code` when `withCode`.
    static func readCeremonyResponse(
        _ bytes: [UInt8], _ ceremony: CeremonyRecord.Kind, withCode: Bool = false
    ) throws(APIError) -> (id: String, response: CredentialResponse, code: String?) {
        try readRequest(bytes) { (reader: inout JSONReader) throws(JSONError) in
            var id: String?
            var response: CredentialResponse?
            var code: String?
            let kind: Ceremony = ceremony == .registration || ceremony == .operatorRegistration ? .registration : .assertion
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                switch key {
                case "ceremonyId":
                    let text = try reader.readString()
                    guard text.utf8.count <= 64 else { throw reader.invalid("is not a ceremony id") }
                    id = text
                case "response": response = try CredentialResponse.read(&reader, ceremony: kind)
                case "code" where withCode: code = try DeskRoutes.readCode(&reader)
                default: throw reader.unknownMember(key)
                }
            }
            guard let id else { throw reader.missing("ceremonyId") }
            guard let response else { throw reader.missing("response") }
            if withCode, code == nil { throw reader.missing("code") }
            return (id, response, code)
        }
    }

    func registration(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = state.caller(try context.require(.enrolment))
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        let (ceremonyID, response, _) = try Self.readCeremonyResponse(body, .registration)
        let completion = try await state.write { [operations] in try operations.finishRegistration(ceremonyID, response, by: caller) }
        switch completion {
        case .refused(let outcome): return try Self.refusal(outcome)
        case .verified(let holder, let registration, let evaluation, let stored, let outcome):
            var w = JSONWriter(capacity: 4096)
            w.object { w in
                w.key("registered")
                w.bool(stored)
                w.key("holder")
                Self.holderJSON(holder).write(to: &w)
                w.key("credentialId")
                w.base64URL(registration.credentialID)
                w.key("verification")
                outcome.write(to: &w)
                evaluation.writeMembers(to: &w)
            }
            return jsonResponse(w.bytes)
        }
    }

    /// A failed registration: 200 with `registered: false`, the core's verification and the
    /// failure in the one shape every failed ceremony has (`error: {code, message}`); a request
    /// the core could not read: 400.
    static func refusal(_ outcome: VerificationOutcome) throws -> Response {
        guard outcome.disposition != .badRequest else {
            throw APIError(.malformedRequest, outcome.result.failureMessage ?? "the response could not be read")
        }
        var w = JSONWriter(capacity: 512)
        w.object { w in
            w.key("registered")
            w.bool(false)
            w.key("verification")
            outcome.write(to: &w)
            w.key("error")
            failure(code: outcome.result.failureCode ?? "rejected", message: outcome.result.failureMessage ?? "").write(to: &w)
        }
        return jsonResponse(w.bytes)
    }

    /// What a failed ceremony says, in every answer that reports one (registration, sign-in,
    /// the desk's enrolment): `{code, message}`.
    static func failure(code: String, message: String) -> JSONValue {
        .object([("code", .string(code)), ("message", .string(message))])
    }

    static func holderJSON(_ holder: Holder) -> JSONValue {
        .object([
            ("id", .string(holder.id)), ("name", .string(holder.name)), ("displayName", .string(holder.displayName)),
            ("rpps", holder.rpps.map(JSONValue.string) ?? .null), ("identityEvidence", .string(holder.evidence)),
        ])
    }

    // MARK: Sign-in

    func assertionOptions(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = state.caller(try context.require(.enrolment))
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        let holderID: String? = try readRequest(body) { (reader: inout JSONReader) throws(JSONError) in
            var holder: String?
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                switch key {
                case "holder": holder = try HolderClaim.readText(&reader, limit: 64)
                default: throw reader.unknownMember(key)
                }
            }
            return holder
        }
        let opened = try await state.openSignIn(holder: holderID, by: caller)
        return jsonResponse(
            JSONValue.object([
                ("ceremonyId", .string(opened.ceremony.id)), ("expiresAt", .string(opened.ceremony.expiryText)), ("publicKey", opened.options),
            ]).json)
    }

    func assertion(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = state.caller(try context.require(.enrolment))
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        let (ceremonyID, response, _) = try Self.readCeremonyResponse(body, .assertion)
        let completion = try await state.finishSignIn(ceremonyID, response, by: caller)
        return jsonResponse(Self.signInAnswer(completion))
    }

    /// A finished sign-in's answer, the router's and the hot path's.
    static func signInAnswer(_ completion: ServiceOperations.SignInCompletion) -> [UInt8] {
        switch completion {
        case .refused(let code, let message):
            return JSONValue.object([("verified", .bool(false)), ("error", failure(code: code, message: message))]).json
        case .verified(let holder, let stored, let assertion, let acceptable, let amr):
            return JSONValue.object([
                ("verified", .bool(true)), ("holder", Self.holderJSON(holder)), ("credentialId", .string(Base64URL.encode(stored.id))),
                ("authenticator", .string(stored.authenticator)), ("aaguid", .string(stored.aaguid)), ("verdict", .string(stored.verdict)),
                ("pscAcceptable", .bool(acceptable)), ("amr", .strings(amr)), ("signCount", .integer(assertion.signCount)),
                ("userVerified", .bool(assertion.userVerified)),
                // How the holder's identity was established when this key was enrolled (FI 25):
                // the IAM decides what a client's word is worth.
                ("identityEvidence", .string(stored.identityEvidence)),
            ]).json
        }
    }
}

extension CeremonyRecord {
    /// When the challenge expires, RFC 3339.
    var expiryText: String { Date(timeIntervalSince1970: TimeInterval(expiresAt)).formatted(.iso8601) }
}
