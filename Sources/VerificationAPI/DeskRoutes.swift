import AuthenticatorCatalog
import AuthenticatorVerification
import Ceremonies
import Foundation
import HTTPTypes
import Hummingbird
import PSCPolicy
import Storage
import VerificationRequests
import WireFormat

/// The enrolment desk at `/enrol`: staff sign in with their own FIDO2 key (the first one
/// registered with a one-time code from `mie-verifier operators add`), enrol a professional's
/// key with the PSC verdict on screen and a printable receipt, list and revoke a professional's
/// keys. The page calls `/enrol/api/…` with its session cookie; every state change carries the
/// session's CSRF token and comes from the relying party's origin.
struct DeskRoutes {
    let state: ServiceState

    func register(on router: Router<APIRequestContext>) {
        router.get("/enrol") { request, _ in try DeskPages.desk(request, state: state) }
        router.get("/enrol/desk.js") { _, _ in DeskPages.asset("desk.js", type: "text/javascript; charset=utf-8") }
        router.get("/enrol/desk.css") { _, _ in DeskPages.asset("desk.css", type: "text/css; charset=utf-8") }
        router.get("/enrol/receipt/:id") { request, context in try await receipt(request, context) }
        router.post("/enrol/api/operators/options") { request, context in try await operatorOptions(request, context) }
        router.post("/enrol/api/operators") { request, context in try await operatorRegistration(request, context) }
        router.post("/enrol/api/session/options") { request, context in try await signInOptions(request, context) }
        router.post("/enrol/api/session") { request, context in try await signIn(request, context) }
        router.get("/enrol/api/session") { request, _ in try await currentSession(request) }
        router.delete("/enrol/api/session") { request, _ in try await signOut(request) }
        router.post("/enrol/api/enrolments/options") { request, _ in try await enrolmentOptions(request) }
        router.post("/enrol/api/enrolments") { request, _ in try await enrolment(request) }
        router.get("/enrol/api/holders/:rpps") { request, context in try await holder(request, context) }
        router.post("/enrol/api/credentials/:id/revoke") { request, context in try await revoke(request, context) }
    }

    private var operations: ServiceOperations { state.operations }
    private var sessions: DeskSessions { state.deskSessions }
    /// The desk's relying party: the service's own.
    private var party: RelyingParty { state.configuration.relyingParty }

    // MARK: Sessions and CSRF

    /// A state change must come from the relying party's origin (browsers send `Origin` on
    /// every POST and DELETE); one from elsewhere is refused as cross-site.
    func checkOrigin(_ request: Request) throws(APIError) {
        guard let origin = request.headers[.origin] else { return }
        guard party.origins.contains(origin) else { throw APIError(.csrfInvalid, "this request comes from \(origin), not from the desk") }
    }

    /// What a request before sign-in is, for its rate limits.
    enum BeforeSignIn {
        /// Options naming an operator (a known one is limited by name, not with everyone else).
        case signInOptions(String)
        /// Finishing a ceremony the service opened (its id is the proof): by source only.
        case finishing
        /// Anything else (one-time codes): by source and with every other source.
        case other
    }

    /// Requests before sign-in are limited per source address; options for a known operator per
    /// operator name; the rest with every source together too, so nobody fills the ceremony
    /// table, and a flood from elsewhere or naming nobody never locks a real operator out.
    func limitBeforeSignIn(_ request: Request, _ context: APIRequestContext, _ kind: BeforeSignIn) async throws {
        let guards = state.guards
        let busy = APIError(.rateLimited, "too many sign-in attempts at the desk; retry in a moment")
        guard guards.deskBySource.allow(context.sourceAddress(request, trustedProxies: guards.trustedProxies)) else { throw busy }
        switch kind {
        case .finishing: return
        case .other: guard guards.deskShared.allow(0) else { throw busy }
        case .signInOptions(let name):
            let known = try await state.io { [state] in try state.operators.find(name: name).map { $0.revokedAt == nil } ?? false }
            guard known ? guards.deskByOperator.allow(name) : guards.deskShared.allow(0) else { throw busy }
        }
    }

    /// The signed-in operator's session, checked against the store (a revoked operator is
    /// signed out at once); with `csrf`, the request must carry the session's token.
    func session(_ request: Request, csrf: Bool) async throws -> (token: String, session: DeskSessions.Session) {
        if csrf { try checkOrigin(request) }
        guard let token = request.cookies[cookie.name]?.value else { throw APIError(.sessionMissing, "sign in at /enrol with your key") }
        let session: DeskSessions.Session
        let now = state.clock()
        let (found, active) = try await state.io { [state, sessions] in
            let found = try sessions.find(token, at: now)
            guard case .success(let session) = found else { return (found, true) }
            let active = try state.operators.find(id: session.operatorID)?.revokedAt == nil
            if !active { try sessions.end(operatorID: session.operatorID) }
            return (found, active)
        }
        switch found {
        case .success(let live): session = live
        case .failure(.missing): throw APIError(.sessionMissing, "sign in at /enrol with your key")
        case .failure(.expired): throw APIError(.sessionExpired, "the session has expired; sign in again")
        }
        guard active else { throw APIError(.sessionExpired, "this operator was revoked") }
        if csrf {
            guard let sent = request.headers[.csrfToken], DeskSessions.same(sent, session.csrf) else {
                throw APIError(.csrfInvalid, "send the session's X-CSRF-Token")
            }
        }
        return (token, session)
    }

    /// Opens a session for the operator: the cookie and `{operator, csrf, expiresAt}`.
    func signedIn(_ name: String, id: Int64) async throws -> Response {
        let now = state.clock()
        let (token, csrf) = try await state.io { [sessions] in try sessions.open(operatorID: id, name: name, at: now) }
        var response = deskJSON(sessionJSON(name: name, csrf: csrf, expires: now.addingTimeInterval(min(sessions.idle, sessions.lifetime))))
        response.setCookie(sessionCookie(token, maxAge: Int(sessions.lifetime)))
        return response
    }

    /// How the session cookie is named and scoped for the desk's origin.
    var cookie: DeskCookie { DeskCookie(origins: party.origins) }

    /// The session cookie: HttpOnly, SameSite=Strict; `__Host-`, Secure and Path=/ whenever the
    /// desk's origin is https, whatever terminates TLS (the documented deployment is behind a
    /// proxy: the service then sees plain HTTP, the browser does not).
    func sessionCookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(name: cookie.name, value: value, maxAge: maxAge, path: cookie.path, secure: cookie.secure, httpOnly: true, sameSite: .strict)
    }

    func sessionJSON(name: String, csrf: String, expires: Date) -> [UInt8] {
        JSONValue.object([("operator", .string(name)), ("csrf", .string(csrf)), ("expiresAt", .string(expires.formatted(.iso8601)))]).json
    }

    func currentSession(_ request: Request) async throws -> Response {
        let (_, session) = try await self.session(request, csrf: false)
        return deskJSON(sessionJSON(name: session.name, csrf: session.csrf, expires: sessions.expiry(of: session)))
    }

    func signOut(_ request: Request) async throws -> Response {
        let (token, session) = try await self.session(request, csrf: true)
        try await state.io { [sessions] in try sessions.end(token) }
        state.auditBuffer.record(AuditEvent(action: "operator.sign-out", client: "desk:\(session.name)", result: "signed-out"))
        var response = deskJSON(Array(#"{"signedOut":true}"#.utf8))
        response.setCookie(sessionCookie("", maxAge: 0))
        return response
    }

    // MARK: Operators: bootstrap and sign-in

    static func readCode(_ reader: inout JSONReader) throws(JSONError) -> String {
        let code = try reader.readString()
        guard code.utf8.count <= 100 else { throw reader.invalid("is not a one-time code") }
        return code.trimmingCharacters(in: .whitespaces)
    }

    func operatorOptions(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try checkOrigin(request)
        try await limitBeforeSignIn(request, context, .other)
        var request = request
        let code: String = try readRequest(try await request.jsonBody(limit: 4096)) { (reader: inout JSONReader) throws(JSONError) in
            var code: String?
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                guard case "code" = key else { throw reader.unknownMember(key) }
                code = try Self.readCode(&reader)
            }
            guard let code else { throw reader.missing("code") }
            return code
        }
        let opened = try await state.io { [state, operations] in try operations.openOperatorEnrolment(code: code, desk: state.desk()) }
        return deskJSON(
            JSONValue.object([("ceremonyId", .string(opened.ceremony.id)), ("operator", .string(opened.operatorName)), ("publicKey", opened.options)]).json)
    }

    /// The operator's first key (or another one): the code, spent with the key's storage.
    func operatorRegistration(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try checkOrigin(request)
        try await limitBeforeSignIn(request, context, .finishing)
        var request = request
        let (ceremonyID, response, code) = try CeremonyRoutes.readCeremonyResponse(
            try await request.jsonBody(limit: state.configuration.maximumBodySize), .operatorRegistration, withCode: true)
        let found = try await state.io { [state, operations] in
            try operations.finishOperatorEnrolment(ceremonyID, response, code: code ?? "", desk: state.desk())
        }
        return try await signedIn(found.name, id: found.id)
    }

    func signInOptions(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try checkOrigin(request)
        var request = request
        let name: String = try readRequest(try await request.jsonBody(limit: 4096)) { (reader: inout JSONReader) throws(JSONError) in
            var name: String?
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                guard case "operator" = key else { throw reader.unknownMember(key) }
                name = try HolderInput.readText(&reader, limit: 64)
            }
            guard let name else { throw reader.missing("operator") }
            return name
        }
        try await limitBeforeSignIn(request, context, .signInOptions(name))
        let opened = try await state.io { [state, operations] in try operations.openOperatorSignIn(name: name, desk: state.desk()) }
        return deskJSON(JSONValue.object([("ceremonyId", .string(opened.ceremony.id)), ("publicKey", opened.options)]).json)
    }

    func signIn(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        try checkOrigin(request)
        try await limitBeforeSignIn(request, context, .finishing)
        var request = request
        let (ceremonyID, response, _) = try CeremonyRoutes.readCeremonyResponse(
            try await request.jsonBody(limit: state.configuration.maximumBodySize), .operatorAssertion)
        let found = try await state.io { [state, operations] in try operations.finishOperatorSignIn(ceremonyID, response, desk: state.desk()) }
        return try await signedIn(found.name, id: found.id)
    }

    // MARK: Enrolling a professional

    func enrolmentOptions(_ request: Request) async throws -> Response {
        let (token, session) = try await self.session(request, csrf: true)
        var request = request
        let input: HolderInput = try readRequest(try await request.jsonBody(limit: 4096)) { (reader: inout JSONReader) throws(JSONError) in
            var given: String?
            var surname: String?
            var rpps: String?
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                switch key {
                case "givenName": given = try HolderInput.readText(&reader, limit: 30)
                case "surname": surname = try HolderInput.readText(&reader, limit: 30)
                case "rpps":
                    let text = try reader.readString().replacingOccurrences(of: " ", with: "")
                    guard CheckDigit.isRPPS(text) else { throw reader.invalid("must be an RPPS number: 11 digits with a valid Luhn key") }
                    rpps = text
                default: throw reader.unknownMember(key)
                }
            }
            guard let given else { throw reader.missing("givenName") }
            guard let surname else { throw reader.missing("surname") }
            guard let rpps else { throw reader.missing("rpps") }
            // The holder is known by their national id (type 8: RPPS), as a CPS card names them.
            return HolderInput(id: "8" + rpps, name: "8" + rpps, displayName: "\(given) \(surname.uppercased())", rpps: rpps)
        }
        let opened = try await state.io { [state, operations, sessions] in
            let opened = try operations.openRegistration(input, evidence: .assertedByOperator, profile: nil, by: state.desk(operator: session.name))
            try sessions.remember(ceremony: opened.ceremony.id, for: token, at: state.clock())
            return opened
        }
        return deskJSON(CeremonyRoutes.openedJSON(opened).json)
    }

    func enrolment(_ request: Request) async throws -> Response {
        let (_, session) = try await self.session(request, csrf: true)
        var request = request
        let (ceremonyID, response, _) = try CeremonyRoutes.readCeremonyResponse(
            try await request.jsonBody(limit: state.configuration.maximumBodySize), .registration)
        guard session.ceremonies.contains(ceremonyID) else {
            throw APIError(.ceremonyUnknown, "this enrolment was not opened by this session")
        }
        let language = DeskPages.language(request)
        return try await state.io { [state, operations] in
            switch try operations.finishRegistration(ceremonyID, response, by: state.desk(operator: session.name)) {
            case .refused(let outcome):
                guard outcome.disposition != .badRequest else {
                    throw APIError(.malformedRequest, outcome.result.failureMessage ?? "the response could not be read")
                }
                let reply = JSONValue.object([
                    ("registered", .bool(false)),
                    ("error", CeremonyRoutes.failure(code: outcome.result.failureCode ?? "rejected", message: outcome.result.failureMessage ?? "")),
                ])
                return deskJSON(reply.json)
            case .verified(let holder, let registration, let evaluation, let stored, _):
                return deskJSON(Self.resultJSON(holder, registration.credentialID, evaluation, stored: stored, language: language).json)
            }
        }
    }

    /// What the page shows after an enrolment: the model with its icon, the verdict criterion by
    /// criterion in plain words, the AMR, the receipt's address.
    static func resultJSON(_ holder: Holder, _ credentialID: [UInt8], _ evaluation: Evaluation, stored: Bool, language: DeskLanguage) -> JSONValue {
        let authenticator = evaluation.authenticator
        let criteria: [JSONValue] = evaluation.criteria.map { result in
            // Plain words for each check that failed the criterion (once each).
            var plain: [String] = []
            for check in result.checks where check.status == result.status && (check.status == .notSatisfied || check.status == .indeterminate) {
                if let words = DeskText.reason(check.kind, language), !plain.contains(words) { plain.append(words) }
            }
            return .object([
                ("id", .string(result.criterion.id)), ("title", .string(result.criterion.title)), ("status", .string(result.status.rawValue)),
                ("statusText", .string(DeskText.phrase("status.\(result.status.rawValue)", language))),
                ("plain", .strings(plain)), ("reason", .string(result.reason)),
            ])
        }
        let credential = Base64URL.encode(credentialID)
        return .object([
            ("registered", .bool(stored)), ("holder", CeremonyRoutes.holderJSON(holder)), ("credentialId", .string(credential)),
            (
                "authenticator",
                .object([
                    ("name", .string(authenticator.description)), ("aaguid", authenticator.aaguid.map(JSONValue.string) ?? .null),
                    ("icon", ConformityReport.safeIcon(authenticator.icon).map(JSONValue.string) ?? .null),
                ])
            ),
            ("verdict", .string(evaluation.verdict.rawValue)), ("verdictText", .string(DeskText.phrase("verdict.\(evaluation.verdict.rawValue)", language))),
            ("amr", .strings(evaluation.amr)), ("criteria", .array(criteria)),
            ("lists", .strings(evaluation.lists.map(\.label))), ("profile", .string("\(evaluation.profile.id) \(evaluation.profile.version)")),
            ("receipt", stored ? .string("/enrol/receipt/\(credential)") : .null),
        ])
    }

    // MARK: A professional's keys

    func holder(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let (_, session) = try await session(request, csrf: false)
        let rpps = context.parameters.get("rpps") ?? ""
        guard CheckDigit.isRPPS(rpps) else { throw APIError(.malformedRequest, "an RPPS number is 11 digits with a valid Luhn key") }
        let language = DeskPages.language(request)
        return try await state.io { [state] in
            let holder: Holder
            let records: [StoredCredentialRecord]
            do {
                (holder, records) = try state.operations.credentials(of: "8" + rpps, includingDeleted: true, by: state.desk(operator: session.name))
            } catch let error as OperationError where error.code == .notFound {
                throw APIError(.notFound, "no professional with RPPS \(rpps)")
            }
            let keys: [JSONValue] = try records.map { record in
                let changes = try state.stores.verdicts.changes(credential: record.id)
                var members = OperatorRoutes.credentialJSON(record, holder: nil, changes: changes).members ?? []
                members.append(("verdictText", .string(DeskText.phrase("verdict.\(record.verdict)", language))))
                // The last change a list made to this key's verdict (FI 46), in words.
                if let change = changes.first {
                    let text =
                        "\(DeskText.phrase("changedOn", language)) \(change.at.prefix(10)): \(DeskText.phrase("verdict.\(change.oldVerdict)", language)) → "
                        + "\(DeskText.phrase("verdict.\(change.newVerdict)", language)) (\(change.lists.joined(separator: ", "))). \(change.cause)"
                    members.append(("verdictChangeText", .string(text)))
                }
                members.append(("evidenceText", .string(DeskText.phrase("evidence.\(record.identityEvidence)", language))))
                members.append(("enrolledBy", record.enrolledBy.map(JSONValue.string) ?? .null))
                return .object(members)
            }
            return deskJSON(JSONValue.object([("holder", CeremonyRoutes.holderJSON(holder)), ("credentials", .array(keys))]).json)
        }
    }

    func revoke(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let (_, session) = try await self.session(request, csrf: true)
        let id = try OperatorRoutes.credentialID(context)
        _ = try await state.io { [state] in try state.operations.revoke(id, action: "deletion", by: state.desk(operator: session.name)) }
        return deskJSON(JSONValue.object([("revoked", .bool(true)), ("credentialId", .string(Base64URL.encode(id)))]).json)
    }

    // MARK: Receipt

    func receipt(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let language = DeskPages.language(request)
        let session: DeskSessions.Session
        do {
            (_, session) = try await self.session(request, csrf: false)
        } catch let error as APIError where error.code == .sessionMissing || error.code == .sessionExpired {
            return DeskPages.redirect(to: "/enrol")
        }
        let id = try OperatorRoutes.credentialID(context)
        let (record, holder) = try await state.io { [state] in try state.operations.credential(id, by: state.desk(operator: session.name)) }
        return try DeskPages.receipt(record, holder: holder, language: language)
    }
}

/// The desk cookie's name, path and Secure flag: an https origin gets the `__Host-` prefix
/// (Secure, Path=/, no Domain: the browser refuses it on any other host or over plain HTTP); a
/// plain-http origin (localhost while developing) a plain name on the desk's paths.
struct DeskCookie {
    let secure: Bool

    init(origins: [String]) {
        secure = origins.contains { $0.hasPrefix("https://") }
    }

    var name: String { secure ? "__Host-" + DeskSessions.cookieName : DeskSessions.cookieName }
    var path: String { secure ? "/" : "/enrol" }
}

/// A desk JSON answer: never cached.
func deskJSON(_ bytes: [UInt8]) -> Response {
    var response = jsonResponse(bytes)
    response.headers[.cacheControl] = "no-store"
    return response
}

extension HTTPField.Name {
    /// The desk's CSRF token header.
    static let csrfToken = HTTPField.Name("X-CSRF-Token")!
}
