import Crypto
import Foundation
import SignatureVerification
import Storage
import WireFormat

/// An error of the token endpoint (RFC 6749 §5.2): 400, or 401 for `invalid_client`.
struct TokenError: Error, Sendable {
    let error: OIDCError
    /// The client authenticated with HTTP Basic: a 401 names the scheme.
    let basic: Bool

    init(_ code: String, _ message: String, basic: Bool = false) {
        error = OIDCError(code, message)
        self.basic = basic
    }
}

extension OIDCProvider {
    static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    /// The client a token request authenticates as: exactly one method, the one it registered.
    func authenticateClient(_ form: [String: String], authorization: String?, at now: Date) throws -> OIDCClientRecord {
        var used: OIDCClientAuthentication
        var clientID: String
        var secret: String?
        let basic = authorization.map { $0.lowercased().hasPrefix("basic ") } ?? false
        if let authorization, basic {
            guard let decoded = Base64.decode(String(authorization.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
                let text = String(validating: decoded, as: UTF8.self), let colon = text.firstIndex(of: ":"),
                let id = FormEncoding.decode(text[..<colon]), let password = FormEncoding.decode(text[text.index(after: colon)...])
            else { throw TokenError("invalid_client", "the Basic credentials cannot be read", basic: true) }
            guard form["client_secret"] == nil, form["client_assertion"] == nil else {
                throw TokenError("invalid_request", "one client authentication method at a time")
            }
            if let named = form["client_id"], named != id { throw TokenError("invalid_request", "client_id differs from the Basic credentials") }
            (used, clientID, secret) = (.clientSecretBasic, id, password)
        } else if let assertion = form["client_assertion"] {
            guard form["client_assertion_type"] == Self.assertionType else {
                throw TokenError("invalid_request", "client_assertion_type must be \(Self.assertionType)")
            }
            guard form["client_secret"] == nil else { throw TokenError("invalid_request", "one client authentication method at a time") }
            return try authenticateAssertion(assertion, named: form["client_id"], at: now)
        } else if let posted = form["client_secret"] {
            guard let id = form["client_id"] else { throw TokenError("invalid_request", "client_id is missing") }
            (used, clientID, secret) = (.clientSecretPost, id, posted)
        } else {
            guard let id = form["client_id"] else { throw TokenError("invalid_client", "the client did not authenticate") }
            (used, clientID, secret) = (.none, id, nil)
        }
        guard clientID.utf8.count <= 128, let client = try store.client(id: clientID), client.revokedAt == nil else {
            throw TokenError("invalid_client", "unknown client", basic: basic)
        }
        guard client.authentication == used else {
            throw TokenError("invalid_client", "this client authenticates with \(client.authentication.rawValue)", basic: basic)
        }
        if used != .none {
            guard let secret, let hash = client.secretHash, DeskSessions.same(Digest.sha256(Array(secret.utf8)), hash) else {
                throw TokenError("invalid_client", "the client secret is wrong", basic: basic)
            }
        }
        return client
    }

    /// RFC 7523 client authentication: a JWT the client signed with a key of its registered JWKS,
    /// `iss` and `sub` its client id, addressed to this token endpoint (or the issuer), live.
    func authenticateAssertion(_ assertion: String, named: String?, at now: Date) throws -> OIDCClientRecord {
        // Who claims to have signed, read before the signature (to find the keys), trusted after.
        let parts = assertion.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(String(parts[1])),
            let unverified = try? JSONValue.parse(payload, document: "the client assertion"), let id = unverified["iss"]?.string, id.utf8.count <= 128
        else { throw TokenError("invalid_client", "the client assertion cannot be read") }
        if let named, named != id { throw TokenError("invalid_client", "client_id differs from the assertion's issuer") }
        guard let client = try store.client(id: id), client.revokedAt == nil, client.authentication == .privateKeyJWT, let jwks = client.jwks else {
            throw TokenError("invalid_client", "no client \(id) authenticates with private_key_jwt")
        }
        let verified = Result { () throws(JWTFailure) in try JWT.verify(assertion, jwks: jwks) }
        guard case .success(let claims) = verified else {
            if case .failure(let failure) = verified { throw TokenError("invalid_client", "the client assertion \(failure.reason)") }
            throw TokenError("invalid_client", "the client assertion does not verify")
        }
        guard claims["sub"]?.string == id else { throw TokenError("invalid_client", "the client assertion's sub is not the client") }
        let audiences = JWT.audiences(claims)
        guard audiences.contains(tokenEndpoint) || audiences.contains(issuer) else {
            throw TokenError("invalid_client", "the client assertion is not addressed to this token endpoint")
        }
        let moment = now.timeIntervalSince1970
        guard let expiry = claims["exp"]?.double, expiry + 60 > moment, expiry - moment <= 3600 else {
            throw TokenError("invalid_client", "the client assertion has expired or lives longer than an hour")
        }
        return client
    }

    /// `POST /oidc/token`, grant `authorization_code`: the code spent once, checked against its
    /// client, redirect URI and PKCE verifier; the id_token signed now, with `at_hash`.
    func token(_ form: [String: String], authorization: String?, at now: Date) throws -> JSONValue {
        let client = try authenticateClient(form, authorization: authorization, at: now)
        guard state.guards.oidcTokens.allow(client.clientID) else { throw TokenError("slow_down", "too many token requests for this client") }
        var event = AuditEvent(action: "oidc.token", client: "oidc:\(client.clientID)", result: "")
        func refuse(_ code: String, _ message: String) throws -> Never {
            event.result = code
            event.detail = message
            try state.audit.append([event], at: now)
            throw TokenError(code, message)
        }
        guard form["grant_type"] == "authorization_code" else { try refuse("unsupported_grant_type", "grant_type must be authorization_code") }
        guard let code = form["code"], code.utf8.count <= 128 else { try refuse("invalid_request", "code is missing") }
        let accessToken = Self.randomToken()
        let redemption = try store.redeem(
            code: Digest.sha256(Array(code.utf8)), accessHash: Digest.sha256(Array(accessToken.utf8)),
            accessExpiresAt: now.addingTimeInterval(settings.accessTokenLifetime), at: now)
        let record: OIDCCodeRecord
        switch redemption {
        case .redeemed(let found): record = found
        case .unknown: try refuse("invalid_grant", "this code is not known")
        case .expired: try refuse("invalid_grant", "this code has expired")
        case .replayed: try refuse("invalid_grant", "this code was already used; the tokens issued with it are revoked")
        }
        // A code spent by the wrong client, redirect URI or verifier is spent all the same: whoever
        // holds it cannot try again. The access token recorded with it was never handed out.
        guard record.clientID == client.clientID else { try refuse("invalid_grant", "this code was issued to another client") }
        guard form["redirect_uri"] == record.redirectURI else { try refuse("invalid_grant", "redirect_uri differs from the authorization request's") }
        let verifier = form["code_verifier"]
        if let challenge = record.codeChallenge {
            guard let verifier, (43...128).contains(verifier.utf8.count), verifier.utf8.allSatisfy(Self.isUnreserved),
                Base64URL.encode(Digest.sha256(Array(verifier.utf8))) == challenge
            else { try refuse("invalid_grant", "the PKCE code_verifier does not match the code_challenge") }
        } else if verifier != nil {
            try refuse("invalid_grant", "a code_verifier was sent for a code issued without a code_challenge")
        }
        guard let claims = try? JSONValue.parse(Array(record.claims.utf8), document: "stored claims") else {
            throw APIError(.internalError, "the claims stored with a code cannot be read")
        }
        let idToken = try signIDToken(claims, client: client, accessToken: accessToken, at: now)
        event.holder = claims[Self.claimNamespace + "holder"]?.string
        event.amr = claims["amr"]?.strings ?? []
        event.result = "issued"
        try state.audit.append([event], at: now)
        return .object([
            ("access_token", .string(accessToken)), ("token_type", .string("Bearer")), ("expires_in", .integer(Int64(settings.accessTokenLifetime))),
            ("id_token", .string(idToken)), ("scope", .string("openid")),
        ])
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    /// `/oidc/userinfo`: the claims of the sign-in an access token was issued for (OpenID
    /// Connect Core §5.3), while it is live and its code was not replayed.
    func userinfo(bearer token: String, at now: Date) throws -> JSONValue? {
        guard token.utf8.count <= 128, let text = try store.claims(access: Digest.sha256(Array(token.utf8)), at: now),
            let claims = try? JSONValue.parse(Array(text.utf8), document: "stored claims")
        else { return nil }
        let kept: Set<String> = ["sub", "amr", "acr", "auth_time", "tid", "oid"]
        return .object((claims.members ?? []).filter { kept.contains($0.0) || $0.0.hasPrefix(Self.claimNamespace) })
    }
}
