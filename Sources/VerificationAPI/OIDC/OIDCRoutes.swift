import Ceremonies
import Foundation
import HTTPTypes
import Hummingbird
import Storage
import WireFormat

/// The OpenID Provider's HTTP face: discovery, JWKS, the authorization endpoint and its sign-in
/// page, the page's two calls, the token and userinfo endpoints.
struct OIDCRoutes {
    let state: ServiceState
    let provider: OIDCProvider

    init(state: ServiceState) {
        self.state = state
        provider = OIDCProvider(state: state)
    }

    func register(on router: Router<APIRequestContext>) {
        router.get("/.well-known/openid-configuration") { _, _ in Self.publicJSON(provider.discovery().json) }
        router.get("/oidc/jwks") { _, _ in try await Self.publicJSON(state.io { [provider] in try provider.jwks() }.json) }
        router.get("/oidc/authorize") { request, context in
            try await authorize(request, context) { try Self.parameters(String(request.uri.query ?? "")) }
        }
        router.post("/oidc/authorize") { request, context in
            try await authorize(request, context) {
                var request = request
                return try await Self.form(&request)
            }
        }
        router.get("/oidc/signin.js") { _, _ in DeskPages.asset("signin.js", type: "text/javascript; charset=utf-8") }
        router.post("/oidc/signin/options") { request, context in try await signInOptions(request, context) }
        router.post("/oidc/signin") { request, context in try await signIn(request, context) }
        router.post("/oidc/token") { request, _ in
            var request = request
            return try await token(&request)
        }
        router.get("/oidc/userinfo") { request, _ in try await userinfo(request) }
        router.post("/oidc/userinfo") { request, _ in try await userinfo(request) }
    }

    // MARK: Reading requests

    static func parameters(_ query: String) throws(OIDCError) -> [String: String] {
        try FormEncoding.parse(Substring(query))
    }

    /// A form body (`application/x-www-form-urlencoded`), at most 16 KiB.
    static func form(_ request: inout Request) async throws -> [String: String] {
        let type = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard type == "application/x-www-form-urlencoded" else {
            throw OIDCError("invalid_request", "send Content-Type: application/x-www-form-urlencoded")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: 16 * 1024)
        } catch {
            throw OIDCError("invalid_request", "the body is over 16 KiB")
        }
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else { throw OIDCError("invalid_request", "the body is not UTF-8") }
        return try FormEncoding.parse(Substring(text))
    }

    /// Discovery and keys: cacheable, readable from any origin.
    static func publicJSON(_ bytes: [UInt8]) -> Response {
        var response = jsonResponse(bytes)
        response.headers[.cacheControl] = "public, max-age=300"
        response.headers[.accessControlAllowOrigin] = "*"
        return response
    }

    /// The browser's cookie: binds a pending request to the browser that opened it.
    var cookie: (name: String, secure: Bool) {
        let secure = state.configuration.relyingParty.origins.contains { $0.hasPrefix("https://") }
        return (secure ? "__Host-mie_oidc" : "mie_oidc", secure)
    }

    func limit(_ request: Request, _ context: APIRequestContext) throws(APIError) {
        let guards = state.guards
        guard guards.oidcBySource.allow(context.sourceAddress(request, trustedProxies: guards.trustedProxies)) else {
            throw APIError(.rateLimited, "too many sign-in requests from this address; retry in a moment")
        }
    }

    // MARK: The authorization endpoint and its page

    func authorize(_ request: Request, _ context: APIRequestContext, parameters read: () async throws -> [String: String]) async throws -> Response {
        let language = Self.language(request, locales: nil)
        do {
            try limit(request, context)
            let parameters = try await read()
            let language = Self.language(request, locales: parameters["ui_locales"])
            let now = state.clock()
            let existing = request.cookies[cookie.name]?.value
            let browser = existing.flatMap { $0.utf8.count == 43 ? $0 : nil } ?? OIDCProvider.randomToken()
            let (checked, opened, holder) = try await state.io { [provider, state] in
                let checked = try provider.check(parameters, at: now)
                guard case .signIn(let request, _) = checked else { return (checked, nil as (handle: String, csrf: String)?, nil as Holder?) }
                let opened = try provider.open(request, browser: browser, at: now)
                // The holder's name is shown only when the IAM proved whom it sends (a verified
                // id_token_hint): a login_hint anyone can type must not tell who is enrolled.
                let shown = request.hintSubject == nil ? nil : request.holderID
                let holder = try shown.flatMap { try state.credentials.find(holder: $0, rpID: state.configuration.relyingParty.id) }
                return (checked, opened, holder)
            }
            switch checked {
            case .answer(let answer):
                return try answerPage(answer, language: language)
            case .signIn(let authorization, let client):
                guard let opened else { throw APIError(.internalError, "a sign-in was not opened") }
                var values: [String: Any] = ["handle": opened.handle, "csrf": opened.csrf, "client": client.name]
                if let holder { values["holder"] = holder.displayName }
                var response = try page(
                    values, language: language, formTarget: authorization.responseMode == .formPost ? authorization.redirectURI : nil)
                if existing != browser {
                    response.setCookie(
                        Cookie(
                            name: cookie.name, value: browser, maxAge: Int(state.configuration.oidc.requestLifetime), path: cookie.secure ? "/" : "/oidc",
                            secure: cookie.secure, httpOnly: true, sameSite: .lax))
                }
                return response
            }
        } catch let error as OIDCError {
            // Before the client and its redirect URI are known, the answer goes nowhere but here.
            var response = try page(["error": "\(error.code): \(error.message)"], language: language, formTarget: nil)
            response.status = .badRequest
            return response
        }
    }

    /// An answer sent at once (an error after the redirect URI was checked): a redirect, or a
    /// page whose script posts the form.
    func answerPage(_ answer: AuthorizationResponse, language: DeskLanguage) throws -> Response {
        switch answer.mode {
        case .query, .fragment:
            var headers = HTTPFields()
            headers[.location] = answer.location
            headers[.cacheControl] = "no-store"
            return Response(status: .found, headers: headers)
        case .formPost:
            return try page(["answer": String(decoding: answer.json.json, as: UTF8.self)], language: language, formTarget: answer.redirectURI)
        }
    }

    /// The sign-in page. Its policy is the desk's, but a `form_post` answer may be posted to
    /// the client's redirect URI (its origin only).
    func page(_ values: [String: Any], language: DeskLanguage, formTarget: String?) throws -> Response {
        var context = DeskPages.common(language)
        for (key, value) in values { context[key] = value }
        context["strings"] = String(
            decoding: JSONValue.object(DeskText.context(language).sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }).json, as: UTF8.self)
        context["demo"] = state.configuration.demoListsDirectory != nil
        var response = DeskPages.html(try DeskPages.render("signin", context))
        if let formTarget { response.headers[.contentSecurityPolicy] = Self.securityPolicy(formTarget: formTarget) }
        return response
    }

    static func securityPolicy(formTarget: String) -> String {
        guard let origin = Self.origin(of: formTarget) else { return DeskPages.securityPolicy }
        return DeskPages.securityPolicy.replacingOccurrences(of: "form-action 'self'", with: "form-action 'self' \(origin)")
    }

    static func origin(of url: String) -> String? {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else { return nil }
        guard !host.contains(" "), !host.contains(";"), !host.contains("'") else { return nil }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }

    static func language(_ request: Request, locales: String?) -> DeskLanguage {
        if let locales {
            for tag in locales.split(separator: " ") {
                if let language = DeskLanguage(rawValue: String(tag.prefix(2)).lowercased()) { return language }
            }
        }
        return DeskPages.language(request)
    }

    // MARK: The page's calls

    /// The page's calls: same origin, the pending request's handle and CSRF token in headers.
    func pageCall(_ request: Request, _ context: APIRequestContext) throws -> (handle: String, csrf: String?, browser: String?) {
        try limit(request, context)
        if let origin = request.headers[.origin], !state.configuration.relyingParty.origins.contains(origin) {
            throw APIError(.csrfInvalid, "this request comes from \(origin), not from the sign-in page")
        }
        guard let handle = request.headers[.oidcRequest] else { throw APIError(.malformedRequest, "send the page's X-OIDC-Request") }
        return (handle, request.headers[.csrfToken], request.cookies[cookie.name]?.value)
    }

    func signInOptions(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let (handle, csrf, browser) = try pageCall(request, context)
        let now = state.clock()
        let options = try await state.io { [provider] in try provider.signInOptions(handle: handle, csrf: csrf, browser: browser, at: now) }
        return deskJSON(options.json)
    }

    func signIn(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let (handle, csrf, browser) = try pageCall(request, context)
        var request = request
        let (ceremonyID, response, _) = try CeremonyRoutes.readCeremonyResponse(
            try await request.jsonBody(limit: state.configuration.maximumBodySize), .assertion)
        let now = state.clock()
        let finished = try await state.io { [provider] in
            try provider.finish(handle: handle, csrf: csrf, browser: browser, ceremonyID: ceremonyID, response: response, at: now)
        }
        switch finished {
        case .retry(let code, let message):
            return deskJSON(JSONValue.object([("retry", .object([("code", .string(code)), ("message", .string(message))]))]).json)
        case .answer(let answer, let refusal):
            return deskJSON(JSONValue.object([("answer", answer.json), ("refused", .optional(refusal))]).json)
        }
    }

    // MARK: Token and userinfo

    func token(_ request: inout Request) async throws -> Response {
        do {
            let form = try await Self.form(&request)
            let authorization = request.headers[.authorization]
            let now = state.clock()
            let reply = try await state.io { [provider] in try provider.token(form, authorization: authorization, at: now) }
            return Self.tokenResponse(reply.json, status: .ok)
        } catch let error as OIDCError {
            return Self.tokenResponse(Self.errorJSON(error), status: .badRequest)
        } catch let error as TokenError {
            var response = Self.tokenResponse(Self.errorJSON(error.error), status: error.error.code == "invalid_client" ? .unauthorized : .badRequest)
            if error.error.code == "invalid_client" { response.headers[.wwwAuthenticate] = error.basic ? "Basic realm=\"oidc\"" : "Bearer" }
            if error.error.code == "slow_down" { response.status = .tooManyRequests }
            return response
        }
    }

    static func errorJSON(_ error: OIDCError) -> [UInt8] {
        JSONValue.object([("error", .string(error.code)), ("error_description", .string(error.message))]).json
    }

    static func tokenResponse(_ bytes: [UInt8], status: HTTPResponse.Status) -> Response {
        var response = jsonResponse(bytes, status: status)
        response.headers[.cacheControl] = "no-store"
        response.headers[.pragma] = "no-cache"
        return response
    }

    func userinfo(_ request: Request) async throws -> Response {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            var response = Self.tokenResponse(Self.errorJSON(OIDCError("invalid_request", "send the access token as a Bearer token")), status: .unauthorized)
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        let now = state.clock()
        guard let claims = try await state.io({ [provider] in try provider.userinfo(bearer: token, at: now) }) else {
            var response = Self.tokenResponse(Self.errorJSON(OIDCError("invalid_token", "the access token is unknown, expired or revoked")), status: .unauthorized)
            response.headers[.wwwAuthenticate] = "Bearer error=\"invalid_token\""
            return response
        }
        return Self.tokenResponse(claims.json, status: .ok)
    }
}

extension HTTPField.Name {
    /// The sign-in page's pending request handle.
    static let oidcRequest = HTTPField.Name("X-OIDC-Request")!
    static let pragma = HTTPField.Name("Pragma")!
}
