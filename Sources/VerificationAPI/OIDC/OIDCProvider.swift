import AuthenticatorCatalog
import Ceremonies
import Crypto
import Foundation
import PSCPolicy
import SignatureVerification
import Storage
import VerificationRequests
import WireFormat

/// The OpenID Provider an IAM delegates the second factor to: it checks an authorization
/// request, has the professional sign in with an enrolled FIDO2 key on its page, and answers
/// with a code (redeemed at the token endpoint for an id_token) or, for Entra ID's external
/// authentication methods, the id_token itself by `form_post`. The id_token says how the
/// professional authenticated (`amr` from the PSC engine, `acr` from the profile's values,
/// `auth_time`) and only ever for a PSC-accepted credential.
final class OIDCProvider: Sendable {
    let state: ServiceState
    let settings: OIDCSettings
    let issuer: String
    let keys: OIDCKeyRing

    static let claimNamespace = "urn:mie-verifier:"
    static let maximumParameter = 2048

    init(state: ServiceState) {
        self.state = state
        settings = state.configuration.oidc
        var issuer = settings.issuer ?? state.configuration.relyingParty.origins.first ?? "http://localhost"
        while issuer.hasSuffix("/") { issuer.removeLast() }
        self.issuer = issuer
        // A retired key stays published longer than any token it signed lives, and a margin for
        // the IAMs' JWKS caches.
        keys = OIDCKeyRing(store: state.stores.oidc, settings: settings)
    }

    var store: any OIDCStoring { state.stores.oidc }
    var authorizationEndpoint: String { issuer + "/oidc/authorize" }
    var tokenEndpoint: String { issuer + "/oidc/token" }

    /// The service acting for an IAM: its desk client (ceremonies are bound to it and to the
    /// pending request), in the service's relying party, audited as `oidc:<client_id>`.
    func caller(_ clientID: String) -> Caller {
        Caller(client: state.deskClient, party: state.configuration.relyingParty, actingFor: "oidc:\(clientID)")
    }

    // MARK: Discovery

    func discovery() -> JSONValue {
        .object([
            ("issuer", .string(issuer)), ("authorization_endpoint", .string(authorizationEndpoint)), ("token_endpoint", .string(tokenEndpoint)),
            ("jwks_uri", .string(issuer + "/oidc/jwks")), ("userinfo_endpoint", .string(issuer + "/oidc/userinfo")),
            ("scopes_supported", .strings(["openid"])), ("response_types_supported", .strings(["code", "id_token"])),
            ("response_modes_supported", .strings(["query", "fragment", "form_post"])), ("grant_types_supported", .strings(["authorization_code"])),
            ("subject_types_supported", .strings(["public"])), ("id_token_signing_alg_values_supported", .strings(OIDCSigningKey.algorithms)),
            ("token_endpoint_auth_methods_supported", .strings(OIDCClientAuthentication.allCases.map(\.rawValue))),
            ("token_endpoint_auth_signing_alg_values_supported", .strings(JWT.verifiable.sorted())),
            ("code_challenge_methods_supported", .strings(["S256"])), ("claims_parameter_supported", .bool(true)),
            ("request_parameter_supported", .bool(false)), ("request_uri_parameter_supported", .bool(false)),
            ("authorization_response_iss_parameter_supported", .bool(true)),
            ("prompt_values_supported", .strings(["login", "consent", "select_account"])),
            ("acr_values_supported", .strings(state.profile.acrValues.map(\.value))),
            ("amr_values_supported", .strings(state.profile.amrAllowed)),
            ("claims_supported", .strings(["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "at_hash", "tid", "oid"] + Self.ownClaims)),
            ("ui_locales_supported", .strings(["fr", "en"])),
        ])
    }

    static let ownClaims = ["identity_evidence", "holder", "rpps", "authenticator"].map { claimNamespace + $0 }

    func jwks() throws -> JSONValue {
        // Keys exist from the first request on: an IAM configured before any sign-in finds them.
        for algorithm in OIDCSigningKey.algorithms { _ = try keys.signingKey(algorithm, at: state.clock()) }
        return .object([("keys", .array(try keys.published(at: state.clock())))])
    }

    // MARK: Authorization requests

    /// A request checked: the sign-in it asks for, or an error for the client's redirect URI.
    enum Checked: Sendable {
        case signIn(AuthorizationRequest, client: OIDCClientRecord)
        case answer(AuthorizationResponse)
    }

    /// Checks an authorization request (OpenID Connect Core §3.1.2.2). The client and its
    /// redirect URI first: until both are known, nothing is sent anywhere (thrown, for an error
    /// page); after, errors go back to the redirect URI with `state` and `iss`.
    func check(_ parameters: [String: String], at now: Date) throws -> Checked {
        guard let clientID = parameters["client_id"] else { throw OIDCError("invalid_request", "client_id is missing") }
        guard clientID.utf8.count <= 128, let client = try store.client(id: clientID), client.revokedAt == nil else {
            throw OIDCError("unauthorized_client", "no client \(clientID.prefix(128)) is registered with this provider")
        }
        guard let redirectURI = parameters["redirect_uri"] else { throw OIDCError("invalid_request", "redirect_uri is missing") }
        // Exact comparison, character for character (no prefix, no normalisation).
        guard client.redirectURIs.contains(redirectURI) else {
            throw OIDCError("invalid_request", "redirect_uri is not one registered for this client")
        }
        let typeText = parameters["response_type"] ?? ""
        let type = AuthorizationRequest.ResponseType(rawValue: typeText)
        let modeText = parameters["response_mode"]
        let mode = modeText.flatMap(AuthorizationResponse.Mode.init(rawValue:)) ?? (type == .idToken ? .fragment : .query)
        var request = AuthorizationRequest(
            clientID: clientID, redirectURI: redirectURI, responseType: type ?? .code, responseMode: mode, state: parameters["state"])
        func refuse(_ code: String, _ message: String) -> Checked { .answer(request.error(OIDCError(code, message), issuer: issuer)) }
        if let state = request.state, state.utf8.count > Self.maximumParameter { request.state = nil; return refuse("invalid_request", "state is too long") }
        if parameters["request"] != nil { return refuse("request_not_supported", "request objects are not supported") }
        if parameters["request_uri"] != nil { return refuse("request_uri_not_supported", "request_uri is not supported") }
        guard let type else { return refuse("unsupported_response_type", "response_type is code or id_token") }
        guard modeText == nil || AuthorizationResponse.Mode(rawValue: modeText ?? "") != nil else {
            return refuse("invalid_request", "response_mode is query, fragment or form_post")
        }
        // An id_token in the query would end in logs and Referer headers.
        if type == .idToken, mode == .query { return refuse("invalid_request", "an id_token is not sent in a query: use form_post") }
        guard (parameters["scope"] ?? "").split(separator: " ").contains("openid") else { return refuse("invalid_scope", "scope must include openid") }
        if let nonce = parameters["nonce"] {
            guard nonce.utf8.count <= Self.maximumParameter else { return refuse("invalid_request", "nonce is too long") }
            request.nonce = nonce
        } else if type == .idToken {
            return refuse("invalid_request", "nonce is required when the id_token comes from the authorization endpoint")
        }
        // PKCE: S256 only ("plain" would hand the verifier to whoever reads the request).
        if let challenge = parameters["code_challenge"] {
            guard (parameters["code_challenge_method"] ?? "plain") == "S256" else {
                return refuse("invalid_request", "code_challenge_method must be S256")
            }
            guard challenge.utf8.count == 43, Base64URL.decode(challenge)?.count == 32 else {
                return refuse("invalid_request", "code_challenge is not a base64url SHA-256")
            }
            request.codeChallenge = challenge
        } else if parameters["code_challenge_method"] != nil {
            return refuse("invalid_request", "code_challenge_method without code_challenge")
        } else if client.authentication == .none, type == .code {
            return refuse("invalid_request", "a public client must send a PKCE code_challenge (S256)")
        }
        if let prompt = parameters["prompt"] {
            let values = Set(prompt.split(separator: " ").map(String.init))
            // Every sign-in here is fresh: no session is kept, so nothing can be answered silently.
            if values.contains("none") { return refuse("login_required", "the professional must sign in with their key") }
            guard values.isSubset(of: ["login", "consent", "select_account"]) else { return refuse("invalid_request", "prompt has an unknown value") }
        }
        if let maxAge = parameters["max_age"] {
            guard let seconds = Int(maxAge), seconds >= 0 else { return refuse("invalid_request", "max_age is a number of seconds") }
            request.maxAge = seconds
        }
        // acr: `acr_values` (voluntary) and `claims` (essential or voluntary).
        if let values = parameters["acr_values"] {
            request.acrRequested = values.split(separator: " ").map(String.init)
        }
        if let claims = parameters["claims"] {
            guard claims.utf8.count <= 8192, let value = try? JSONValue.parse(Array(claims.utf8), document: "claims"), value.members != nil else {
                return refuse("invalid_request", "claims is not a JSON object")
            }
            if let acr = value["id_token"]?["acr"] {
                let asked = acr["values"]?.strings ?? acr["value"]?.string.map { [$0] } ?? []
                request.acrRequested = asked + request.acrRequested.filter { !asked.contains($0) }
                request.acrEssential = acr["essential"]?.bool ?? false
            }
        }
        // Who signs in: the id_token_hint's subject (verified), else the login_hint if it names a
        // holder, else whoever holds a discoverable credential of the relying party.
        let party = state.configuration.relyingParty.id
        if let hint = parameters["id_token_hint"] {
            let claims: JSONValue
            do {
                claims = try verifyHint(hint, client: client, at: now)
            } catch let error as OIDCError {
                return .answer(request.error(error, issuer: issuer))
            }
            let subject = claims[client.hintSubjectClaim]?.string ?? ""
            guard try !state.credentials.credentials(holder: subject, rpID: party).isEmpty else {
                return refuse("access_denied", "no key is enrolled for this user")
            }
            request.holderID = subject
            request.hintSubject = claims["sub"]?.string
            request.hintTenant = claims["tid"]?.string
            request.hintObject = claims["oid"]?.string
        } else if let login = parameters["login_hint"], login.utf8.count <= 128, try !state.credentials.credentials(holder: login, rpID: party).isEmpty {
            request.holderID = login
        }
        return .signIn(request, client: client)
    }

    /// Verifies the IAM's id_token_hint: signed by a key of the client's configured JWKS, issued
    /// by its configured issuer, for this client, not expired, naming a subject.
    func verifyHint(_ token: String, client: OIDCClientRecord, at now: Date) throws -> JSONValue {
        guard let issuer = client.hintIssuer, let jwks = client.hintJWKS else {
            throw OIDCError("invalid_request", "this client is not registered to send an id_token_hint")
        }
        let verified = Result { () throws(JWTFailure) in try JWT.verify(token, jwks: jwks) }
        guard case .success(let claims) = verified else {
            if case .failure(let failure) = verified { throw OIDCError("invalid_request", "id_token_hint \(failure.reason)") }
            throw OIDCError("invalid_request", "id_token_hint does not verify")
        }
        guard claims["iss"]?.string == issuer else { throw OIDCError("invalid_request", "id_token_hint is not issued by the client's configured issuer") }
        guard JWT.audiences(claims).contains(client.clientID) else { throw OIDCError("invalid_request", "id_token_hint is not addressed to this client") }
        let skew: TimeInterval = 60
        guard let expiry = claims["exp"]?.double, expiry + skew > now.timeIntervalSince1970 else {
            throw OIDCError("invalid_request", "id_token_hint has expired")
        }
        if let notBefore = claims["nbf"]?.double, notBefore - skew > now.timeIntervalSince1970 {
            throw OIDCError("invalid_request", "id_token_hint is not valid yet")
        }
        guard let subject = claims[client.hintSubjectClaim]?.string, !subject.isEmpty, subject.utf8.count <= 128 else {
            throw OIDCError("invalid_request", "id_token_hint has no \(client.hintSubjectClaim) claim naming the user")
        }
        return claims
    }

    /// A pending request's handle (in the page) and CSRF token (sent back in a header); the
    /// browser is bound by the SHA-256 of its cookie.
    func open(_ request: AuthorizationRequest, browser: String, at now: Date) throws -> (handle: String, csrf: String) {
        let handle = Self.randomToken()
        let csrf = Self.randomToken()
        try store.open(
            request: Digest.sha256(Array(handle.utf8)),
            OIDCPendingRequest(
                clientID: request.clientID, browserHash: Digest.sha256(Array(browser.utf8)), csrf: csrf,
                request: String(decoding: request.json.json, as: UTF8.self), createdAt: now, expiresAt: now.addingTimeInterval(settings.requestLifetime)))
        return (handle, csrf)
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// The pending request a page call names, checked: this browser's, with its CSRF token,
    /// not answered, not expired.
    func pending(handle: String, csrf: String?, browser: String?, at now: Date) throws -> (OIDCPendingRequest, AuthorizationRequest) {
        guard handle.utf8.count <= 64, let found = try store.request(Digest.sha256(Array(handle.utf8))),
            let browser, DeskSessions.same(Digest.sha256(Array(browser.utf8)), found.browserHash)
        else { throw APIError(.ceremonyUnknown, "this sign-in was not opened in this browser; go back to your application and start again") }
        guard let csrf, DeskSessions.same(Array(csrf.utf8), Array(found.csrf.utf8)) else { throw APIError(.csrfInvalid, "send the page's X-CSRF-Token") }
        guard found.usedAt == nil else { throw APIError(.ceremonyReplayed, "this sign-in was already answered") }
        guard found.expiresAt > now else { throw APIError(.ceremonyExpired, "this sign-in has expired; go back to your application and start again") }
        guard let request = AuthorizationRequest(stored: found.request) else { throw APIError(.internalError, "a stored authorization request cannot be read") }
        return (found, request)
    }

    /// WebAuthn request options for the pending request's holder (or any discoverable key).
    func signInOptions(handle: String, csrf: String?, browser: String?, at now: Date) throws -> JSONValue {
        let (_, request) = try pending(handle: handle, csrf: csrf, browser: browser, at: now)
        let opened: ServiceOperations.SignInOpened
        do {
            opened = try state.operations.openSignIn(holder: request.holderID, by: caller(request.clientID))
        } catch let error as OperationError where error.code == .notFound {
            throw APIError(.notFound, "no key is enrolled for this user any more")
        }
        try store.attach(ceremony: opened.ceremony.id, to: Digest.sha256(Array(handle.utf8)))
        return .object([("ceremonyId", .string(opened.ceremony.id)), ("publicKey", opened.options)])
    }

    /// What a sign-in on the page came to.
    enum Finished: Sendable {
        /// The answer for the IAM (a code, an id_token, or an OIDC error such as access_denied).
        case answer(AuthorizationResponse, refusal: String?)
        /// The key's answer was refused (a wrong signature, an unknown key): the page may try again.
        case retry(code: String, message: String)
    }

    func finish(handle: String, csrf: String?, browser: String?, ceremonyID: String, response: CredentialResponse, at now: Date) throws -> Finished {
        let (pendingRecord, request) = try pending(handle: handle, csrf: csrf, browser: browser, at: now)
        guard pendingRecord.ceremonyID == ceremonyID else { throw APIError(.ceremonyUnknown, "this key's answer is not for this sign-in") }
        let caller = caller(request.clientID)
        let completion = try state.operations.finishSignIn(ceremonyID, response, by: caller)
        guard case .verified(let holder, let stored, _, let acceptable, let amr) = completion else {
            if case .refused(let code, let message) = completion { return .retry(code: code, message: message) }
            throw APIError(.internalError, "a sign-in came to nothing")
        }
        var event = AuditEvent(
            action: "oidc.authorize", client: caller.auditName, holder: holder.id, credentialID: Base64URL.encode(stored.id), authenticator: stored.aaguid,
            result: "", amr: amr, lists: stored.lists, profile: state.profile.label)
        // One answer per request, whatever the outcome.
        guard try store.finish(request: Digest.sha256(Array(handle.utf8)), at: now) else {
            throw APIError(.ceremonyReplayed, "this sign-in was already answered")
        }
        func deny(_ message: String) throws -> Finished {
            event.result = "access_denied"
            event.detail = message
            try state.audit.append([event], at: now)
            return .answer(request.error(OIDCError("access_denied", message), issuer: issuer), refusal: message)
        }
        guard acceptable else {
            return try deny("this key (\(stored.authenticator)) is not an authentication means Pro Santé Connect accepts: verdict \(stored.verdict)")
        }
        let acr = chooseACR(request, amr: amr)
        if acr == nil, request.acrEssential {
            return try deny("this sign-in does not satisfy the acr asked for (\(request.acrRequested.joined(separator: " ")))")
        }
        let claims = idTokenClaims(request, holder: holder, credential: stored, amr: amr, acr: acr, at: now)
        switch request.responseType {
        case .code:
            let code = Self.randomToken()
            try store.insert(
                code: Digest.sha256(Array(code.utf8)),
                OIDCCodeRecord(
                    clientID: request.clientID, redirectURI: request.redirectURI, codeChallenge: request.codeChallenge,
                    claims: String(decoding: claims.json, as: UTF8.self), expiresAt: now.addingTimeInterval(settings.codeLifetime)), at: now)
            event.result = "code-issued"
            try state.audit.append([event], at: now)
            return .answer(request.response([("code", code)], issuer: issuer), refusal: nil)
        case .idToken:
            guard let client = try store.client(id: request.clientID), client.revokedAt == nil else {
                return try deny("this client was revoked")
            }
            let token = try signIDToken(claims, client: client, accessToken: nil, at: now)
            event.result = "id-token-issued"
            try state.audit.append([event], at: now)
            return .answer(request.response([("id_token", token)], issuer: issuer), refusal: nil)
        }
    }

    /// The first acr asked for that the profile names and this sign-in satisfies; with none
    /// asked (or none satisfiable, when not essential), the profile's first that applies.
    func chooseACR(_ request: AuthorizationRequest, amr: [String]) -> String? {
        let values = state.profile.acrValues
        for asked in request.acrRequested {
            if let value = values.first(where: { $0.value == asked }), value.applies(acceptable: true, amr: amr) { return value.value }
        }
        if request.acrEssential { return nil }
        return values.first { $0.applies(acceptable: true, amr: amr) }?.value
    }

    /// The id_token's claims decided at sign-in (`iat`, `exp` and `at_hash` are added when it is
    /// signed). `sub`: the IAM's own subject when it sent a hint (Entra requires it back), else
    /// the national id when the holder's identity was proven (card or operator), else the holder.
    func idTokenClaims(
        _ request: AuthorizationRequest, holder: Holder, credential: StoredCredentialRecord, amr: [String], acr: String?, at now: Date
    ) -> JSONValue {
        let proven = holder.evidence == "proven-by-card" || holder.evidence == "asserted-by-operator"
        let subject = request.hintSubject ?? (proven ? holder.rpps.map { "8" + $0 } : nil) ?? holder.id
        var members: [(String, JSONValue)] = [
            ("iss", .string(issuer)), ("sub", .string(subject)), ("aud", .string(request.clientID)),
            ("auth_time", .integer(Int64(now.timeIntervalSince1970))),
        ]
        if let nonce = request.nonce { members.append(("nonce", .string(nonce))) }
        members.append(("amr", .strings(amr)))
        if let acr { members.append(("acr", .string(acr))) }
        if let tenant = request.hintTenant { members.append(("tid", .string(tenant))) }
        if let object = request.hintObject { members.append(("oid", .string(object))) }
        let namespace = Self.claimNamespace
        members.append((namespace + "holder", .string(holder.id)))
        members.append((namespace + "identity_evidence", .string(holder.evidence)))
        if proven, let rpps = holder.rpps { members.append((namespace + "rpps", .string(rpps))) }
        members.append(
            (
                namespace + "authenticator",
                .object([
                    ("aaguid", .string(credential.aaguid)), ("model", .string(credential.authenticator)), ("verdict", .string(credential.verdict)),
                    ("lists", .strings(credential.lists)),
                ])
            ))
        return .object(members)
    }

    func signIDToken(_ claims: JSONValue, client: OIDCClientRecord, accessToken: String?, at now: Date) throws -> String {
        var members = claims.members ?? []
        let issued = Int64(now.timeIntervalSince1970)
        members.append(("iat", .integer(issued)))
        members.append(("exp", .integer(issued + Int64(settings.idTokenLifetime))))
        if let accessToken { members.append(("at_hash", .string(JWT.halfHash(accessToken)))) }
        return try keys.signingKey(client.idTokenAlgorithm, at: now).sign(.object(members))
    }
}
