import AuthenticatorCatalog
import AuthenticatorVerification
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
        router.post("/enrol/api/operators/options") { request, _ in try await operatorOptions(request) }
        router.post("/enrol/api/operators") { request, _ in try await operatorRegistration(request) }
        router.post("/enrol/api/session/options") { request, _ in try await signInOptions(request) }
        router.post("/enrol/api/session") { request, _ in try await signIn(request) }
        router.get("/enrol/api/session") { request, _ in try await currentSession(request) }
        router.delete("/enrol/api/session") { request, _ in try await signOut(request) }
        router.post("/enrol/api/enrolments/options") { request, _ in try await enrolmentOptions(request) }
        router.post("/enrol/api/enrolments") { request, _ in try await enrolment(request) }
        router.get("/enrol/api/holders/:rpps") { request, context in try await holder(request, context) }
        router.post("/enrol/api/credentials/:id/revoke") { request, context in try await revoke(request, context) }
    }

    private var ceremonies: CeremonyRoutes { CeremonyRoutes(state: state) }
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

    /// Requests before sign-in share one token bucket: nobody can fill the ceremony table.
    func limitBeforeSignIn() throws(APIError) {
        guard state.deskLimiter.allow(0) else { throw APIError(.rateLimited, "too many sign-in attempts at the desk; retry in a moment") }
    }

    /// The signed-in operator's session, checked against the store (a revoked operator is
    /// signed out at once); with `csrf`, the request must carry the session's token.
    func session(_ request: Request, csrf: Bool) async throws -> (token: String, session: DeskSessions.Session) {
        if csrf { try checkOrigin(request) }
        guard let token = request.cookies[DeskSessions.cookieName]?.value else { throw APIError(.sessionMissing, "sign in at /enrol with your key") }
        let session: DeskSessions.Session
        switch sessions.find(token, at: Date()) {
        case .success(let found): session = found
        case .failure(.missing): throw APIError(.sessionMissing, "sign in at /enrol with your key")
        case .failure(.expired): throw APIError(.sessionExpired, "the session has expired; sign in again")
        }
        let active = try await state.io { [state] in try state.operators.find(id: session.operatorID)?.revokedAt == nil }
        guard active else {
            sessions.end(operatorID: session.operatorID)
            throw APIError(.sessionExpired, "this operator was revoked")
        }
        if csrf {
            guard let sent = request.headers[.csrfToken], DeskSessions.same(sent, session.csrf) else {
                throw APIError(.csrfInvalid, "send the session's X-CSRF-Token")
            }
        }
        return (token, session)
    }

    /// Opens a session for the operator: the cookie and `{operator, csrf, expiresAt}`.
    func signedIn(_ name: String, id: Int64) -> Response {
        let now = Date()
        let (token, csrf) = sessions.open(operatorID: id, name: name, at: now)
        var response = deskJSON(sessionJSON(name: name, csrf: csrf, expires: now.addingTimeInterval(min(sessions.idle, sessions.lifetime))))
        response.setCookie(sessionCookie(token, maxAge: Int(sessions.lifetime)))
        return response
    }

    /// The session cookie: HttpOnly, SameSite=Strict, the desk's paths only, Secure behind TLS.
    func sessionCookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(
            name: DeskSessions.cookieName, value: value, maxAge: maxAge, path: "/enrol", secure: state.configuration.tls != nil, httpOnly: true,
            sameSite: .strict)
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
        sessions.end(token)
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

    func operatorOptions(_ request: Request) async throws -> Response {
        try checkOrigin(request)
        try limitBeforeSignIn()
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
        return try await state.io { [state, party, ceremonies] in
            let now = Date()
            guard let found = try state.operators.redeemable(code: code, at: now) else {
                throw APIError(.operatorCodeInvalid, "this code is unknown, spent or expired; ask for a new one (mie-verifier operators code NAME)")
            }
            let ceremony = try state.credentials.open(
                .operatorRegistration, clientID: state.deskClient.id, holderID: nil, profile: nil, lifetime: state.configuration.challengeLifetime,
                at: now, evidence: nil, operator: found.name)
            let existing = try state.operators.credentials(operator: found.id).map(\.id)
            // Staff keys are not judged by the PSC profile: no attestation asked.
            let options = ceremonies.creationOptions(
                party: party, userHandle: found.userHandle, name: found.name, displayName: found.name, challenge: ceremony.challenge, exclude: existing,
                attestation: "none")
            return deskJSON(JSONValue.object([("ceremonyId", .string(ceremony.id)), ("operator", .string(found.name)), ("publicKey", options)]).json)
        }
    }

    /// The operator's first key (or another one): the code, spent with the key's storage.
    func operatorRegistration(_ request: Request) async throws -> Response {
        try checkOrigin(request)
        try limitBeforeSignIn()
        var request = request
        let (ceremonyID, response, code) = try CeremonyRoutes.readCeremonyResponse(
            try await request.jsonBody(limit: state.configuration.maximumBodySize), .operatorRegistration, withCode: true)
        let (name, id) = try await state.io { [state, party] () throws -> (String, Int64) in
            let now = Date()
            let ceremony = try state.takeCeremony(ceremonyID, .operatorRegistration, state.deskClient, at: now)
            guard let found = try state.operators.redeemable(code: code ?? "", at: now), found.name == ceremony.operator else {
                throw APIError(.operatorCodeInvalid, "this code is unknown, spent or expired, or not the ceremony's")
            }
            let outcome = state.current.service.verify(
                .registration,
                request: VerificationRoutes.coreRequest(response, challenge: ceremony.challenge, party: party, credential: nil, at: now), now: now)
            guard case .registration(let registration) = outcome.result else {
                try state.audit.append(
                    [AuditEvent(action: "operator.key", client: "desk:\(found.name)", result: outcome.result.failureCode ?? "refused")], at: now)
                throw APIError(.invalidCredentials, "the key's registration was refused: \(outcome.result.failureMessage ?? "")")
            }
            let credential = OperatorCredential(
                id: registration.credentialID, operatorID: found.id, publicKey: registration.publicKey.encoded,
                algorithm: registration.publicKey.algorithm.name, signCount: registration.signCount,
                backupEligible: registration.flags.backupEligible, aaguid: AAGUIDText.string(registration.aaguid), createdAt: now.formatted(.iso8601))
            let event = AuditEvent(
                action: "operator.key", client: "desk:\(found.name)", credentialID: Base64URL.encode(registration.credentialID),
                authenticator: credential.aaguid, result: "registered")
            do {
                guard try state.operators.enrol(credential, code: code ?? "", event: event, at: now) else {
                    throw APIError(.operatorCodeInvalid, "this code was spent meanwhile")
                }
            } catch let error as StoreError where error.code == "store.credential-exists" {
                throw APIError(.conflict, "this key is already registered")
            }
            return (found.name, found.id)
        }
        return signedIn(name, id: id)
    }

    func signInOptions(_ request: Request) async throws -> Response {
        try checkOrigin(request)
        try limitBeforeSignIn()
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
        return try await state.io { [state, party, ceremonies] in
            let now = Date()
            // An unknown or revoked name gets options like any other (no list of staff names
            // from the outside); its sign-in then fails.
            let found = try state.operators.find(name: name).flatMap { $0.revokedAt == nil ? $0 : nil }
            let keys = try found.map { try state.operators.credentials(operator: $0.id).map(\.id) } ?? []
            let ceremony = try state.credentials.open(
                .operatorAssertion, clientID: state.deskClient.id, holderID: nil, profile: nil, lifetime: state.configuration.challengeLifetime,
                at: now, evidence: nil, operator: name)
            let options = ceremonies.requestOptions(party: party, challenge: ceremony.challenge, allow: keys)
            return deskJSON(JSONValue.object([("ceremonyId", .string(ceremony.id)), ("publicKey", options)]).json)
        }
    }

    func signIn(_ request: Request) async throws -> Response {
        try checkOrigin(request)
        try limitBeforeSignIn()
        var request = request
        let (ceremonyID, response, _) = try CeremonyRoutes.readCeremonyResponse(
            try await request.jsonBody(limit: state.configuration.maximumBodySize), .operatorAssertion)
        let (name, id) = try await state.io { [state, party] () throws -> (String, Int64) in
            let now = Date()
            let ceremony = try state.takeCeremony(ceremonyID, .operatorAssertion, state.deskClient, at: now)
            var event = AuditEvent(
                action: "operator.sign-in", client: ceremony.operator.map { "desk:\($0)" }, credentialID: Base64URL.encode(response.id), result: "")
            guard let key = try state.operators.find(credential: response.id), let found = try state.operators.find(id: key.operatorID),
                found.revokedAt == nil, found.name == ceremony.operator
            else {
                event.result = "credential.unknown"
                try state.audit.append([event], at: now)
                throw APIError(.invalidCredentials, "this key is not registered for this operator")
            }
            let stored = VerificationRequest.StoredCredentialJSON(
                id: key.id, publicKey: key.publicKey, signCount: key.signCount, backupEligible: key.backupEligible, userHandle: found.userHandle)
            let outcome = state.current.service.verify(
                .assertion,
                request: VerificationRoutes.coreRequest(response, challenge: ceremony.challenge, party: party, credential: stored, at: now), now: now)
            guard case .assertion(let assertion) = outcome.result else {
                event.result = outcome.result.failureCode ?? "refused"
                try state.audit.append([event], at: now)
                throw APIError(.invalidCredentials, "the key's signature was refused: \(outcome.result.failureMessage ?? "")")
            }
            event.result = "verified"
            event.authenticator = key.aaguid
            guard try state.operators.recordUse(key.id, expectedCount: key.signCount, newCount: assertion.signCount, event: event, at: now) else {
                throw APIError(.conflict, "the key was used by another sign-in at the same time; sign in again")
            }
            return (found.name, found.id)
        }
        return signedIn(name, id: id)
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
        let (ceremonyID, body) = try await state.io { [state, ceremonies] in
            try ceremonies.openRegistration(
                input, nil, state.deskClient, evidence: DeploymentFacts.IdentityEvidence.assertedByOperator.rawValue, operator: session.name)
        }
        sessions.remember(ceremony: ceremonyID, for: token)
        return deskJSON(body)
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
        return try await state.io { [state, ceremonies] in
            switch try ceremonies.completeRegistration(ceremonyID, response, state.deskClient) {
            case .refused(let outcome):
                guard outcome.disposition != .badRequest else {
                    throw APIError(.malformedRequest, outcome.result.failureMessage ?? "the response could not be read")
                }
                let reply = JSONValue.object([
                    ("registered", .bool(false)),
                    (
                        "error",
                        .object([
                            ("code", .string(outcome.result.failureCode ?? "rejected")), ("message", .string(outcome.result.failureMessage ?? "")),
                        ])
                    ),
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
        _ = try await session(request, csrf: false)
        let rpps = context.parameters.get("rpps") ?? ""
        guard CheckDigit.isRPPS(rpps) else { throw APIError(.malformedRequest, "an RPPS number is 11 digits with a valid Luhn key") }
        let language = DeskPages.language(request)
        return try await state.io { [state] in
            guard let holder = try state.credentials.find(holder: "8" + rpps) else { throw APIError(.notFound, "no professional with RPPS \(rpps)") }
            let records = try state.credentials.credentials(holder: holder.id, includingDeleted: true)
            let keys: [JSONValue] = records.map { record in
                var members = OperatorRoutes.credentialJSON(record, holder: nil).members ?? []
                members.append(("verdictText", .string(DeskText.phrase("verdict.\(record.verdict)", language))))
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
        return try await state.io { [state] in
            let now = Date()
            guard let record = try state.credentials.find(credential: id), record.deletedAt == nil else {
                throw APIError(.notFound, "no live credential with this id")
            }
            let event = AuditEvent(
                action: "deletion", client: "desk:\(session.name)", holder: record.holderID, credentialID: Base64URL.encode(id),
                authenticator: record.aaguid, result: "deleted")
            guard try state.credentials.delete(id, event: event, at: now) else { throw APIError(.notFound, "no live credential with this id") }
            return deskJSON(JSONValue.object([("revoked", .bool(true)), ("credentialId", .string(Base64URL.encode(id)))]).json)
        }
    }

    // MARK: Receipt

    func receipt(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let language = DeskPages.language(request)
        do {
            _ = try await session(request, csrf: false)
        } catch let error as APIError where error.code == .sessionMissing || error.code == .sessionExpired {
            return DeskPages.redirect(to: "/enrol")
        }
        let id = try OperatorRoutes.credentialID(context)
        let (record, holder) = try await state.io { [state] () throws -> (StoredCredentialRecord, Holder?) in
            guard let record = try state.credentials.find(credential: id) else { throw APIError(.notFound, "no such credential") }
            return (record, try state.credentials.find(holder: record.holderID))
        }
        return try DeskPages.receipt(record, holder: holder, language: language)
    }
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
