import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Storage
import Testing
import VerificationAPI
import _CryptoExtras

/// The OpenID Provider through its routes: discovery and keys, the code flow with PKCE, the
/// Entra-shaped `form_post` request with an `id_token_hint`, and every refusal the issue names
/// (wrong redirect URI, replayed code, wrong verifier, expired hint, a refused key, a hint for
/// another holder), each with a second client where a client could reach another's.
@Suite struct OIDCTests {
    static let redirect = "https://iam.example/broker/mie/endpoint"
    static let entraRedirect = "https://login.microsoftonline.com/common/federation/externalauthprovider"
    static let entraIssuer = "https://login.microsoftonline.com/tenant-1/v2.0"

    /// A registered client and its secret.
    struct Client {
        let id: String
        let secret: String?
    }

    static func register(
        _ harness: ServiceHarness, id: String, authentication: OIDCClientAuthentication = .clientSecretBasic, redirect: String = redirect,
        algorithm: String = "ES256", jwks: String? = nil, hint: (issuer: String, jwks: String, claim: String)? = nil
    ) throws -> Client {
        let secret = authentication == .clientSecretBasic || authentication == .clientSecretPost ? "secret-of-\(id)-0123456789" : nil
        let added = try harness.state.stores.oidc.add(
            client: OIDCClientRecord(
                clientID: id, name: "IAM \(id)", redirectURIs: [redirect], authentication: authentication,
                secretHash: secret.map { Array(SHA256.hash(data: Array($0.utf8))) }, jwks: jwks, hintIssuer: hint?.issuer, hintJWKS: hint?.jwks,
                hintSubjectClaim: hint?.claim ?? "sub", idTokenAlgorithm: algorithm, createdAt: Date()))
        #expect(added)
        return Client(id: id, secret: secret)
    }

    /// A browser on the sign-in page: its cookie, the page's request handle and CSRF token.
    struct Page {
        var cookie: String?
        var handle: String
        var csrf: String
        let html: String
        let policy: String?

        init(_ reply: Reply) throws {
            html = reply.text
            cookie = reply.headers[.setCookie].flatMap { $0.split(separator: ";").first.map(String.init) }
            handle = try #require(Self.attribute("data-request", html))
            csrf = try #require(Self.attribute("data-csrf", html))
            policy = reply.headers[.contentSecurityPolicy]
        }

        static func attribute(_ name: String, _ html: String) -> String? {
            guard let start = html.range(of: "\(name)=\"") else { return nil }
            let rest = html[start.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { return nil }
            let value = String(rest[..<end])
            return value.isEmpty ? nil : value
        }

        func post(_ client: any TestClientProtocol, _ uri: String, json: Any, origin: String = ServiceHarness.origin) async throws -> Reply {
            var headers = HTTPFields()
            if let cookie { headers[.cookie] = cookie }
            headers[HTTPField.Name("X-CSRF-Token")!] = csrf
            headers[HTTPField.Name("X-OIDC-Request")!] = handle
            headers[.origin] = origin
            headers[.contentType] = "application/json"
            return try await client.execute(
                uri: uri, method: .post, headers: headers, body: ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: json)))
            ) { response in
                Reply(status: response.status, headers: response.headers, body: Array(response.body.readableBytesView))
            }
        }

        /// The key answers the page's options; the service's answer to the sign-in.
        func signIn(_ client: any TestClientProtocol, with key: SoftwareAuthenticator) async throws -> Reply {
            let options = try await post(client, "/oidc/signin/options", json: [String: Any]())
            #expect(options.status == .ok, "\(options.text)")
            let response = try key.get(try #require(options.json["publicKey"] as? [String: Any]))
            return try await post(client, "/oidc/signin", json: ["ceremonyId": options.json["ceremonyId"]!, "response": response])
        }
    }

    static func query(_ parameters: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return parameters.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
    }

    static func get(_ client: any TestClientProtocol, _ uri: String) async throws -> Reply {
        try await client.execute(uri: uri, method: .get) { response in
            Reply(status: response.status, headers: response.headers, body: Array(response.body.readableBytesView))
        }
    }

    static func form(_ client: any TestClientProtocol, _ uri: String, _ parameters: [(String, String)], basic: (String, String)? = nil) async throws -> Reply {
        var headers = HTTPFields()
        headers[.contentType] = "application/x-www-form-urlencoded"
        if let (user, password) = basic { headers[.authorization] = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: query(parameters))) { response in
            Reply(status: response.status, headers: response.headers, body: Array(response.body.readableBytesView))
        }
    }

    static let verifier = "a-pkce-code-verifier-of-forty-three-characters-or-more-0123"
    static var challenge: String { SoftwareAuthenticator.encode(Array(SHA256.hash(data: Array(verifier.utf8)))) }

    static func codeRequest(_ client: Client, state: String = "state-1", nonce: String = "nonce-1", extra: [(String, String)] = []) -> String {
        "/oidc/authorize?"
            + query(
                [
                    ("response_type", "code"), ("client_id", client.id), ("redirect_uri", redirect), ("scope", "openid"), ("state", state),
                    ("nonce", nonce), ("code_challenge", challenge), ("code_challenge_method", "S256"),
                ] + extra)
    }

    /// The parameters of a redirect's query.
    static func parameters(_ location: String) -> [String: String] {
        var found: [String: String] = [:]
        var components = URLComponents(string: location)
        // The fragment mode's parameters are read the same way.
        if let fragment = components?.percentEncodedFragment { components?.percentEncodedQuery = fragment }
        for item in components?.queryItems ?? [] { found[item.name] = item.value }
        return found
    }

    /// A JWT's claims, its signature checked against the provider's JWKS (ES256 or RS256).
    static func verifiedClaims(_ token: String, jwks: [String: Any]) throws -> [String: Any] {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        #expect(parts.count == 3)
        let header = try #require(try JSONSerialization.jsonObject(with: Data(SoftwareAuthenticator.decode(parts[0]))) as? [String: Any])
        let keys = try #require(jwks["keys"] as? [[String: Any]])
        let jwk = try #require(keys.first { $0["kid"] as? String == header["kid"] as? String }, "kid \(header["kid"] ?? "none") is in the JWKS")
        let signed = Data((parts[0] + "." + parts[1]).utf8)
        let signature = try SoftwareAuthenticator.decode(parts[2])
        switch header["alg"] as? String {
        case "ES256":
            let x = try SoftwareAuthenticator.decode(try #require(jwk["x"] as? String))
            let y = try SoftwareAuthenticator.decode(try #require(jwk["y"] as? String))
            let key = try P256.Signing.PublicKey(rawRepresentation: x + y)
            #expect(key.isValidSignature(try P256.Signing.ECDSASignature(rawRepresentation: signature), for: signed))
        case "RS256":
            let n = try SoftwareAuthenticator.decode(try #require(jwk["n"] as? String))
            let e = try SoftwareAuthenticator.decode(try #require(jwk["e"] as? String))
            let key = try _RSA.Signing.PublicKey(n: n, e: e)
            #expect(key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: signed, padding: .insecurePKCS1v1_5))
        default: Issue.record("unexpected alg \(header["alg"] ?? "none")")
        }
        return try #require(try JSONSerialization.jsonObject(with: Data(SoftwareAuthenticator.decode(parts[1]))) as? [String: Any])
    }

    /// An ES256 JWT signed by `key` (the tests' IAM issuer, or a client's assertion key).
    static func sign(_ claims: [String: Any], key: P256.Signing.PrivateKey, kid: String = "iam-key-1") throws -> String {
        let header = SoftwareAuthenticator.encode(Array(try JSONSerialization.data(withJSONObject: ["alg": "ES256", "kid": kid, "typ": "JWT"])))
        let payload = SoftwareAuthenticator.encode(Array(try JSONSerialization.data(withJSONObject: claims)))
        let signature = try key.signature(for: Data((header + "." + payload).utf8))
        return header + "." + payload + "." + SoftwareAuthenticator.encode(Array(signature.rawRepresentation))
    }

    static func jwks(_ key: P256.Signing.PrivateKey, kid: String = "iam-key-1") throws -> String {
        let point = Array(key.publicKey.x963Representation)
        let jwk: [String: Any] = [
            "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "x": SoftwareAuthenticator.encode(Array(point[1...32])),
            "y": SoftwareAuthenticator.encode(Array(point[33...64])),
        ]
        return String(decoding: try JSONSerialization.data(withJSONObject: ["keys": [jwk]]), as: UTF8.self)
    }

    /// A harness with `holder-1`'s key enrolled (PSC-accepted on the test profile).
    static func enrolled(clock: HandClock? = nil, configure: @escaping (inout ServiceConfiguration) -> Void = { _ in }) async throws -> (
        ServiceHarness, SoftwareAuthenticator
    ) {
        let harness = try ServiceHarness(configure: configure, clock: clock?.read)
        let key = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            let enrolled = try await CeremonyTests.enrol(client, key: harness.keys["enrolment"], authenticator: key)
            #expect(enrolled.json["registered"] as? Bool == true, "\(enrolled.text)")
        }
        return (harness, key)
    }

    // MARK: Discovery and keys

    @Test func discoveryAndKeysArePublishedAndRotate() async throws {
        let clock = HandClock()
        let harness = try ServiceHarness(clock: clock.read)
        try await harness.test { client in
            let discovery = try await Self.get(client, "/.well-known/openid-configuration")
            #expect(discovery.status == .ok)
            let document = discovery.json
            #expect(document["issuer"] as? String == ServiceHarness.origin)
            #expect(document["authorization_endpoint"] as? String == ServiceHarness.origin + "/oidc/authorize")
            #expect(document["token_endpoint"] as? String == ServiceHarness.origin + "/oidc/token")
            #expect(document["jwks_uri"] as? String == ServiceHarness.origin + "/oidc/jwks")
            #expect(document["code_challenge_methods_supported"] as? [String] == ["S256"])
            #expect(document["authorization_response_iss_parameter_supported"] as? Bool == true)
            #expect(document["acr_values_supported"] as? [String] == ["eidas1", "possessionorinherence"])
            #expect(Set(document["id_token_signing_alg_values_supported"] as? [String] ?? []) == ["RS256", "ES256"])
            #expect(Set(document["response_modes_supported"] as? [String] ?? []).contains("form_post"))

            let first = try await Self.get(client, "/oidc/jwks")
            let keys = try #require(first.json["keys"] as? [[String: Any]])
            #expect(Set(keys.compactMap { $0["alg"] as? String }) == ["RS256", "ES256"])
            #expect(keys.allSatisfy { $0["d"] == nil && $0["p"] == nil }, "no private member is published")
            // A second read gives the same keys: they are made once, not per request.
            #expect(Set(((try await Self.get(client, "/oidc/jwks")).json["keys"] as? [[String: Any]] ?? []).compactMap { $0["kid"] as? String })
                == Set(keys.compactMap { $0["kid"] as? String }))

            // Rotation: new keys sign, the old ones stay published for their tokens' lifetime…
            clock.advance(31 * 86_400)
            let rotated = try #require((try await Self.get(client, "/oidc/jwks")).json["keys"] as? [[String: Any]])
            #expect(rotated.count == 4)
            #expect(Set(keys.compactMap { $0["kid"] as? String }).isSubset(of: Set(rotated.compactMap { $0["kid"] as? String })))
            // …and are gone a day after (no token they signed is still valid).
            clock.advance(2 * 86_400)
            _ = try OIDCKeyCheck.rotate(harness.state.stores.oidc, at: clock.read())
            let later = try #require((try await Self.get(client, "/oidc/jwks")).json["keys"] as? [[String: Any]])
            #expect(Set(keys.compactMap { $0["kid"] as? String }).isDisjoint(with: Set(later.compactMap { $0["kid"] as? String })))
        }
    }

    // MARK: The code flow

    @Test func theCodeFlowIssuesAVerifiableIdTokenOnce() async throws {
        let (harness, key) = try await Self.enrolled()
        for algorithm in ["ES256", "RS256"] {
            let iam = try Self.register(harness, id: "keycloak-\(algorithm)", algorithm: algorithm)
            try await harness.test { client in
                let authorize = try await Self.get(client, Self.codeRequest(iam, extra: [("acr_values", "eidas1"), ("prompt", "login"), ("max_age", "0"), ("login_hint", "holder-1")]))
                #expect(authorize.status == .ok, "\(authorize.text)")
                let page = try Page(authorize)
                #expect(page.cookie?.hasPrefix("__Host-mie_oidc=") == true)
                #expect(page.html.contains("IAM keycloak-\(algorithm)"))
                #expect(!page.html.contains("Dr Claire Martin"), "no name for a request anyone can make")
                #expect(page.policy?.contains("script-src 'self'") == true)
                let signedIn = try await page.signIn(client, with: key)
                #expect(signedIn.status == .ok, "\(signedIn.text)")
                let answer = try #require(signedIn.json["answer"] as? [String: Any])
                #expect(answer["mode"] as? String == "redirect")
                let location = try #require(answer["location"] as? String)
                #expect(location.hasPrefix(Self.redirect + "?"))
                let returned = Self.parameters(location)
                #expect(returned["state"] == "state-1")
                #expect(returned["iss"] == ServiceHarness.origin)
                let code = try #require(returned["code"])

                let token = try await Self.form(
                    client, "/oidc/token", [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Self.redirect), ("code_verifier", Self.verifier)],
                    basic: (iam.id, iam.secret!))
                #expect(token.status == .ok, "\(token.text)")
                #expect(token.headers[.cacheControl] == "no-store")
                let accessToken = try #require(token.json["access_token"] as? String)
                let jwks = (try await Self.get(client, "/oidc/jwks")).json
                let claims = try Self.verifiedClaims(try #require(token.json["id_token"] as? String), jwks: jwks)
                #expect(claims["iss"] as? String == ServiceHarness.origin)
                #expect(claims["aud"] as? String == iam.id)
                #expect(claims["sub"] as? String == "holder-1")
                #expect(claims["nonce"] as? String == "nonce-1")
                #expect(claims["acr"] as? String == "eidas1")
                #expect(Set(claims["amr"] as? [String] ?? []).isSuperset(of: ["hwk", "mfa"]))
                #expect(claims["auth_time"] is Int)
                #expect((claims["exp"] as? Int ?? 0) - (claims["iat"] as? Int ?? 0) == 300)
                #expect(claims["urn:mie-verifier:identity_evidence"] as? String == "asserted-by-client")
                #expect((claims["urn:mie-verifier:authenticator"] as? [String: Any])?["verdict"] as? String == "accepted")
                let atHash = SoftwareAuthenticator.encode(Array(Array(SHA256.hash(data: Array(accessToken.utf8))).prefix(16)))
                #expect(claims["at_hash"] as? String == atHash)

                var bearer = HTTPFields()
                bearer[.authorization] = "Bearer \(accessToken)"
                let info = try await client.execute(uri: "/oidc/userinfo", method: .get, headers: bearer) { response in
                    Reply(status: response.status, headers: response.headers, body: Array(response.body.readableBytesView))
                }
                #expect(info.status == .ok)
                #expect(info.json["sub"] as? String == "holder-1")

                // The code is single use; a replay revokes what was issued with it.
                let replay = try await Self.form(
                    client, "/oidc/token", [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Self.redirect), ("code_verifier", Self.verifier)],
                    basic: (iam.id, iam.secret!))
                #expect(replay.status == .badRequest)
                #expect(replay.json["error"] as? String == "invalid_grant")
                let revoked = try await client.execute(uri: "/oidc/userinfo", method: .get, headers: bearer) { response in response.status }
                #expect(revoked == .unauthorized)
                // The page's request was answered once.
                let again = try await page.post(client, "/oidc/signin/options", json: [String: Any]())
                #expect(again.code == "ceremony.replayed", "\(again.text)")
            }
        }
        let events = try harness.state.audit.count()
        #expect(events > 0)
    }

    @Test func codesAreBoundToTheirClientRedirectAndVerifier() async throws {
        let clock = HandClock()
        let (harness, key) = try await Self.enrolled(clock: clock)
        let first = try Self.register(harness, id: "iam-a")
        let second = try Self.register(harness, id: "iam-b")
        try await harness.test { client in
            func code() async throws -> String {
                let page = try Page(try await Self.get(client, Self.codeRequest(first)))
                let answer = try await page.signIn(client, with: key)
                let location = try #require((answer.json["answer"] as? [String: Any])?["location"] as? String)
                return try #require(Self.parameters(location)["code"])
            }
            func redeem(_ code: String, by iam: Client, redirect: String = Self.redirect, verifier: String? = Self.verifier) async throws -> Reply {
                var parameters = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect)]
                if let verifier { parameters.append(("code_verifier", verifier)) }
                return try await Self.form(client, "/oidc/token", parameters, basic: (iam.id, iam.secret!))
            }
            // Another client's code: refused, and spent (whoever leaked it cannot try again).
            let stolen = try await code()
            #expect((try await redeem(stolen, by: second)).json["error"] as? String == "invalid_grant")
            #expect((try await redeem(stolen, by: first)).json["error"] as? String == "invalid_grant")
            // The wrong verifier, or none.
            #expect((try await redeem(try await code(), by: first, verifier: Self.verifier + "x")).json["error"] as? String == "invalid_grant")
            #expect((try await redeem(try await code(), by: first, verifier: nil)).json["error"] as? String == "invalid_grant")
            // Another redirect URI than the request's.
            #expect((try await redeem(try await code(), by: first, redirect: Self.redirect + "/")).json["error"] as? String == "invalid_grant")
            // A wrong secret, or the secret of another client.
            let wrong = try await Self.form(client, "/oidc/token", [("grant_type", "authorization_code"), ("code", "x")], basic: (first.id, second.secret!))
            #expect(wrong.status == .unauthorized)
            #expect(wrong.json["error"] as? String == "invalid_client")
            #expect(wrong.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
            // A secret in the body for a client registered for Basic.
            let posted = try await Self.form(
                client, "/oidc/token", [("grant_type", "authorization_code"), ("code", "x"), ("client_id", first.id), ("client_secret", first.secret!)])
            #expect(posted.json["error"] as? String == "invalid_client")
            // A code redeemed late.
            let late = try await code()
            clock.advance(61)
            #expect((try await redeem(late, by: first)).json["error"] as? String == "invalid_grant")
            // And one redeemed in time still works.
            let fresh = try await code()
            #expect((try await redeem(fresh, by: first)).status == .ok)
        }
    }

    @Test func aPrivateKeyJWTClientAuthenticatesWithItsOwnKey() async throws {
        let (harness, key) = try await Self.enrolled()
        let clientKey = P256.Signing.PrivateKey()
        let iam = try Self.register(harness, id: "okta-jwt", authentication: .privateKeyJWT, jwks: try Self.jwks(clientKey, kid: "okta-1"))
        try await harness.test { client in
            func attempt(audience: String, signer: P256.Signing.PrivateKey) async throws -> Reply {
                let page = try Page(try await Self.get(client, Self.codeRequest(iam)))
                let answer = try await page.signIn(client, with: key)
                let location = try #require((answer.json["answer"] as? [String: Any])?["location"] as? String)
                let code = try #require(Self.parameters(location)["code"])
                let now = Int(Date().timeIntervalSince1970)
                let assertion = try Self.sign(
                    ["iss": iam.id, "sub": iam.id, "aud": audience, "exp": now + 120, "iat": now, "jti": UUID().uuidString], key: signer, kid: "okta-1")
                return try await Self.form(
                    client, "/oidc/token",
                    [
                        ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Self.redirect), ("code_verifier", Self.verifier),
                        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), ("client_assertion", assertion),
                    ])
            }
            #expect((try await attempt(audience: ServiceHarness.origin + "/oidc/token", signer: clientKey)).status == .ok)
            let elsewhere = try await attempt(audience: "https://other.example/token", signer: clientKey)
            #expect(elsewhere.json["error"] as? String == "invalid_client")
            let forged = try await attempt(audience: ServiceHarness.origin + "/oidc/token", signer: P256.Signing.PrivateKey())
            #expect(forged.json["error"] as? String == "invalid_client")
        }
    }

    // MARK: Requests refused before and after the redirect URI is known

    @Test func badRequestsNeverRedirectAnywhereUnchecked() async throws {
        let harness = try ServiceHarness()
        let iam = try Self.register(harness, id: "iam-a")
        let publicClient = try Self.register(harness, id: "spa", authentication: .none)
        try await harness.test { client in
            // Unknown client, unregistered redirect URIs (longer, other case, open redirect): an
            // error page, no Location.
            for uri in [
                "/oidc/authorize?" + Self.query([("response_type", "code"), ("client_id", "nobody"), ("redirect_uri", Self.redirect), ("scope", "openid")]),
                "/oidc/authorize?" + Self.query([("response_type", "code"), ("client_id", iam.id), ("redirect_uri", Self.redirect + "x"), ("scope", "openid")]),
                "/oidc/authorize?"
                    + Self.query([("response_type", "code"), ("client_id", iam.id), ("redirect_uri", Self.redirect.uppercased()), ("scope", "openid")]),
                "/oidc/authorize?" + Self.query([("response_type", "code"), ("client_id", iam.id), ("redirect_uri", "https://evil.example/"), ("scope", "openid")]),
                "/oidc/authorize?" + Self.query([("response_type", "code"), ("client_id", iam.id), ("scope", "openid")]),
                "/oidc/authorize?client_id=iam-a&client_id=iam-b&redirect_uri=x",
            ] {
                let reply = try await Self.get(client, uri)
                #expect(reply.status == .badRequest, "\(uri)")
                #expect(reply.headers[.location] == nil, "\(uri)")
                #expect(reply.text.contains("class=\"error\""), "\(uri)")
            }
            // Past that, errors go back with state and iss.
            func error(_ uri: String) async throws -> [String: String] {
                let reply = try await Self.get(client, uri)
                #expect(reply.status == .found, "\(uri): \(reply.text)")
                let location = try #require(reply.headers[.location])
                #expect(location.hasPrefix(Self.redirect + "?") || location.hasPrefix(Self.redirect + "#"))
                let found = Self.parameters(location)
                #expect(found["iss"] == ServiceHarness.origin)
                return found
            }
            let base: [(String, String)] = [("client_id", iam.id), ("redirect_uri", Self.redirect), ("state", "s")]
            #expect(try await error("/oidc/authorize?" + Self.query(base + [("response_type", "code"), ("scope", "profile")]))["error"] == "invalid_scope")
            #expect(try await error("/oidc/authorize?" + Self.query(base + [("response_type", "token"), ("scope", "openid")]))["error"] == "unsupported_response_type")
            let plain = try await error(
                "/oidc/authorize?" + Self.query(base + [("response_type", "code"), ("scope", "openid"), ("code_challenge", Self.challenge), ("code_challenge_method", "plain")]))
            #expect(plain["error"] == "invalid_request")
            #expect(plain["state"] == "s")
            #expect(try await error("/oidc/authorize?" + Self.query(base + [("response_type", "code"), ("scope", "openid"), ("prompt", "none")]))["error"] == "login_required")
            // An id_token in the fragment (the implicit flow's default) is a sign-in page, not an error.
            #expect((try await Self.get(client, "/oidc/authorize?" + Self.query(base + [("response_type", "id_token"), ("scope", "openid"), ("nonce", "n")]))).status == .ok)
            #expect(try await error("/oidc/authorize?" + Self.query(base + [("response_type", "id_token"), ("scope", "openid")]))["error"] == "invalid_request")
            #expect(try await error("/oidc/authorize?" + Self.query(base + [("response_type", "code"), ("scope", "openid"), ("request", "x.y.z")]))["error"] == "request_not_supported")
            // A public client without PKCE.
            let spa = try await Self.get(
                client, "/oidc/authorize?" + Self.query([("client_id", publicClient.id), ("redirect_uri", Self.redirect), ("response_type", "code"), ("scope", "openid")]))
            #expect(Self.parameters(try #require(spa.headers[.location]))["error"] == "invalid_request")
            // An id_token is never put in a query.
            let leaky = try await Self.get(
                client, "/oidc/authorize?" + Self.query(base + [("response_type", "id_token"), ("response_mode", "query"), ("scope", "openid"), ("nonce", "n")]))
            #expect(Self.parameters(try #require(leaky.headers[.location]))["error"] == "invalid_request")
        }
    }

    @Test func thePageCallsAreBoundToTheBrowserThatOpenedTheRequest() async throws {
        let (harness, key) = try await Self.enrolled()
        let iam = try Self.register(harness, id: "iam-a")
        try await harness.test { client in
            let page = try Page(try await Self.get(client, Self.codeRequest(iam)))
            var stranger = page
            stranger.cookie = "__Host-mie_oidc=" + String(repeating: "A", count: 43)
            #expect((try await stranger.post(client, "/oidc/signin/options", json: [String: Any]())).code == "ceremony.unknown")
            var noCookie = page
            noCookie.cookie = nil
            #expect((try await noCookie.post(client, "/oidc/signin/options", json: [String: Any]())).code == "ceremony.unknown")
            var forged = page
            forged.csrf = "forged"
            #expect((try await forged.post(client, "/oidc/signin/options", json: [String: Any]())).code == "csrf.invalid")
            #expect((try await page.post(client, "/oidc/signin/options", json: [String: Any](), origin: "https://evil.example")).code == "csrf.invalid")
            // Another request's ceremony cannot finish this one.
            let other = try Page(try await Self.get(client, Self.codeRequest(iam, state: "other")))
            let options = try await other.post(client, "/oidc/signin/options", json: [String: Any]())
            let response = try key.get(try #require(options.json["publicKey"] as? [String: Any]))
            let crossed = try await page.post(client, "/oidc/signin", json: ["ceremonyId": options.json["ceremonyId"]!, "response": response])
            #expect(crossed.code == "ceremony.unknown")
            #expect((try await page.signIn(client, with: key)).json["answer"] != nil)
        }
    }

    @Test func aKeyPSCDoesNotAcceptGetsAccessDenied() async throws {
        let harness = try ServiceHarness { $0.enrolsUnacceptableKeys = true }
        let key = try SoftwareAuthenticator(origin: ServiceHarness.origin, aaguid: SoftwareAuthenticator.unknownAAGUID, attestation: .none)
        let iam = try Self.register(harness, id: "iam-a")
        try await harness.test { client in
            let enrolled = try await CeremonyTests.enrol(client, key: harness.keys["enrolment"], authenticator: key)
            #expect(enrolled.json["registered"] as? Bool == true, "\(enrolled.text)")
            let page = try Page(try await Self.get(client, Self.codeRequest(iam)))
            let reply = try await page.signIn(client, with: key)
            #expect(reply.status == .ok, "\(reply.text)")
            let refusal = try #require(reply.json["refused"] as? String)
            #expect(refusal.contains("not an authentication means Pro Santé Connect accepts"))
            let location = try #require((reply.json["answer"] as? [String: Any])?["location"] as? String)
            let returned = Self.parameters(location)
            #expect(returned["error"] == "access_denied")
            #expect(returned["error_description"]?.isEmpty == false)
            #expect(returned["code"] == nil)
        }
        var denied = 0
        try harness.state.audit.settle()
        try harness.state.audit.export { line in if line.contains("\"oidc.authorize\"") && line.contains("access_denied") { denied += 1 } }
        #expect(denied == 1)
    }

    // MARK: Entra ID's external authentication methods

    @Test func anEntraShapedRequestIsAnsweredByFormPostWithTheHintsSubject() async throws {
        let (harness, key) = try await Self.enrolled()
        let other = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        let issuerKey = P256.Signing.PrivateKey()
        let iam = try Self.register(
            harness, id: "entra-eam", redirect: Self.entraRedirect, algorithm: "RS256",
            hint: (Self.entraIssuer, try Self.jwks(issuerKey), "preferred_username"))
        try await harness.test { client in
            var holder2 = CeremonyTests.holder
            holder2["id"] = "holder-2"
            holder2["name"] = "dr.durand"
            holder2["rpps"] = "10001234573"
            #expect((try await CeremonyTests.enrol(client, key: harness.keys["enrolment"], authenticator: other, holder: holder2)).json["registered"] as? Bool == true)

            func hint(_ username: String, expiresIn: Int = 300, signer: P256.Signing.PrivateKey? = nil) throws -> String {
                let now = Int(Date().timeIntervalSince1970)
                return try Self.sign(
                    [
                        "iss": Self.entraIssuer, "aud": iam.id, "sub": "entra-sub-\(username)", "oid": "oid-\(username)", "tid": "tenant-1",
                        "preferred_username": username, "iat": now - 10, "exp": now + expiresIn,
                    ], key: signer ?? issuerKey)
            }
            func request(_ token: String) -> [(String, String)] {
                [
                    ("scope", "openid"), ("response_type", "id_token"), ("response_mode", "form_post"), ("client_id", iam.id),
                    ("redirect_uri", Self.entraRedirect), ("nonce", "entra-nonce"), ("state", "entra-state"), ("id_token_hint", token),
                    ("claims", #"{"id_token":{"acr":{"essential":true,"values":["possessionorinherence"]},"amr":{"essential":true,"values":["fido","hwk","sc"]}}}"#),
                ]
            }
            // Entra posts the request as a form.
            let opened = try await Self.form(client, "/oidc/authorize", request(try hint("holder-1")))
            #expect(opened.status == .ok, "\(opened.text)")
            let page = try Page(opened)
            #expect(page.policy?.contains("form-action 'self' https://login.microsoftonline.com") == true)
            #expect(page.html.contains("Dr Claire Martin"))
            let reply = try await page.signIn(client, with: key)
            let answer = try #require(reply.json["answer"] as? [String: Any], "\(reply.text)")
            #expect(answer["mode"] as? String == "form_post")
            #expect(answer["action"] as? String == Self.entraRedirect)
            var fields: [String: String] = [:]
            for field in answer["fields"] as? [[String: String]] ?? [] { fields[field["name"]!] = field["value"] }
            #expect(fields["state"] == "entra-state")
            let jwks = (try await Self.get(client, "/oidc/jwks")).json
            let claims = try Self.verifiedClaims(try #require(fields["id_token"]), jwks: jwks)
            #expect(claims["sub"] as? String == "entra-sub-holder-1")
            #expect(claims["oid"] as? String == "oid-holder-1")
            #expect(claims["tid"] as? String == "tenant-1")
            #expect(claims["aud"] as? String == iam.id)
            #expect(claims["nonce"] as? String == "entra-nonce")
            #expect(claims["acr"] as? String == "possessionorinherence")
            #expect((claims["amr"] as? [String])?.contains("hwk") == true)
            #expect(claims["urn:mie-verifier:holder"] as? String == "holder-1")

            // A hint for another holder: their key only is asked for; this one is not taken.
            let theirs = try Page(try await Self.form(client, "/oidc/authorize", request(try hint("holder-2"))))
            let options = try await theirs.post(client, "/oidc/signin/options", json: [String: Any]())
            let allowed = (options.json["publicKey"] as? [String: Any])?["allowCredentials"] as? [[String: Any]] ?? []
            #expect(allowed.count == 1)
            let wrongKey = try key.get(try #require(options.json["publicKey"] as? [String: Any]), credential: Array(key.credentials.keys)[0])
            let refused = try await theirs.post(client, "/oidc/signin", json: ["ceremonyId": options.json["ceremonyId"]!, "response": wrongKey])
            #expect((refused.json["retry"] as? [String: Any])?["code"] as? String == "credential.unknown", "\(refused.text)")
            #expect(refused.json["answer"] == nil)

            // Hints that are refused: expired, signed by another key, for another audience.
            func answerError(_ token: String) async throws -> String? {
                let reply = try await Self.form(client, "/oidc/authorize", request(token))
                let answer = try #require(Page.attribute("data-answer", reply.text)).replacingOccurrences(of: "&quot;", with: "\"")
                    .replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                    .replacingOccurrences(of: "&amp;", with: "&")
                let value = try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any]
                let fields = value?["fields"] as? [[String: String]] ?? []
                #expect(!fields.contains { $0["name"] == "id_token" })
                return fields.first { $0["name"] == "error" }?["value"]
            }
            #expect(try await answerError(try hint("holder-1", expiresIn: -120)) == "invalid_request")
            #expect(try await answerError(try hint("holder-1", signer: P256.Signing.PrivateKey())) == "invalid_request")
            #expect(try await answerError(try hint("nobody")) == "access_denied")
        }
    }
}
