import Foundation
import Hummingbird
import HummingbirdTesting
import Storage
import Testing
@testable import VerificationAPI

/// The enrolment desk's API as its page drives it: operator bootstrap by one-time code, sign-in
/// with the operator's key, sessions (cookie, CSRF, origin, timeouts), enrolment with the
/// verdict in plain words, the receipt, a professional's keys, revocation.
@Suite struct DeskTests {
    /// A browser's view of the desk: its cookie and CSRF token.
    struct Browser {
        var cookie: String?
        var csrf: String?
        var origin = ServiceHarness.origin

        func call(
            _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, json: Any? = nil, csrf sendCSRF: Bool = true,
            bearer: String? = nil, language: String? = nil
        ) async throws -> Reply {
            var headers = HTTPFields()
            if let cookie { headers[.cookie] = cookie }
            if sendCSRF, let csrf { headers[.csrfToken] = csrf }
            if method != .get { headers[.origin] = origin }
            if let bearer { headers[.authorization] = "Bearer \(bearer)" }
            if let language { headers[.acceptLanguage] = language }
            var body: ByteBuffer?
            if let json {
                body = ByteBuffer(bytes: Array(try JSONSerialization.data(withJSONObject: json)))
                headers[.contentType] = "application/json"
            }
            return try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
                Reply(status: response.status, headers: response.headers, body: Array(response.body.readableBytesView))
            }
        }

        /// Keeps the session cookie and CSRF token of a sign-in answer.
        mutating func signedIn(_ reply: Reply) throws {
            let setCookie = try #require(reply.headers[.setCookie])
            cookie = String(try #require(setCookie.split(separator: ";").first))
            csrf = reply.json["csrf"] as? String
        }
    }

    /// Redeems a fresh code for `name` with `key`: the browser is then signed in.
    static func bootstrap(
        _ client: any TestClientProtocol, _ harness: ServiceHarness, name: String, key: SoftwareAuthenticator
    ) async throws -> (Browser, Reply) {
        let (_, code) = try harness.state.operators.add(name: name, lifetime: 3600, at: Date())
        var browser = Browser()
        let options = try await browser.call(client, .post, "/enrol/api/operators/options", json: ["code": code])
        #expect(options.status == .ok, "\(options.text)")
        let created = try key.create(try #require(options.json["publicKey"] as? [String: Any]))
        let reply = try await browser.call(
            client, .post, "/enrol/api/operators", json: ["code": code, "ceremonyId": options.json["ceremonyId"]!, "response": created])
        #expect(reply.status == .ok, "\(reply.text)")
        try browser.signedIn(reply)
        // The code is spent.
        let again = try await browser.call(client, .post, "/enrol/api/operators/options", json: ["code": code])
        #expect(again.code == "operator.code-invalid")
        return (browser, reply)
    }

    static func signIn(_ client: any TestClientProtocol, name: String, key: SoftwareAuthenticator) async throws -> (Browser, Reply) {
        var browser = Browser()
        let options = try await browser.call(client, .post, "/enrol/api/session/options", json: ["operator": name])
        #expect(options.status == .ok, "\(options.text)")
        let assertion = try key.get(try #require(options.json["publicKey"] as? [String: Any]))
        let reply = try await browser.call(client, .post, "/enrol/api/session", json: ["ceremonyId": options.json["ceremonyId"]!, "response": assertion])
        if reply.status == .ok { try browser.signedIn(reply) }
        return (browser, reply)
    }

    static func enrol(
        _ client: any TestClientProtocol, _ browser: Browser, key: SoftwareAuthenticator, rpps: String = "10001234565", language: String? = nil
    ) async throws -> Reply {
        let options = try await browser.call(
            client, .post, "/enrol/api/enrolments/options", json: ["givenName": "Claire", "surname": "Martin", "rpps": rpps])
        #expect(options.status == .ok, "\(options.text)")
        let created = try key.create(try #require(options.json["publicKey"] as? [String: Any]))
        return try await browser.call(
            client, .post, "/enrol/api/enrolments", json: ["ceremonyId": options.json["ceremonyId"]!, "response": created], language: language)
    }

    @Test func operatorBootstrapsSignsInEnrolsAndRevokes() async throws {
        let harness = try ServiceHarness()
        let operatorKey = try SoftwareAuthenticator(origin: ServiceHarness.origin, aaguid: SoftwareAuthenticator.unknownAAGUID, attestation: .none)
        let holderKey = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        let apiKey = harness.keys["enrolment"]
        try await harness.test { client in
            let (_, first) = try await Self.bootstrap(client, harness, name: "alice", key: operatorKey)
            let cookie = try #require(first.headers[.setCookie])
            // The desk's origin is https (behind a TLS proxy here): __Host-, Secure, Path=/, whatever
            // the service itself speaks.
            let attributes = cookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(cookie.hasPrefix("__Host-mie_desk=") && attributes.contains("HttpOnly") && attributes.contains("SameSite=Strict") && attributes.contains("Path=/"))
            #expect(cookie.contains("Secure") && !cookie.contains("Domain"), "\(cookie)")
            #expect(first.json["operator"] as? String == "alice")

            let (browser, signIn) = try await Self.signIn(client, name: "alice", key: operatorKey)
            #expect(signIn.status == .ok, "\(signIn.text)")
            let session = try await browser.call(client, .get, "/enrol/api/session")
            #expect(session.json["operator"] as? String == "alice" && session.json["csrf"] as? String == browser.csrf)

            let result = try await Self.enrol(client, browser, key: holderKey, language: "en")
            #expect(result.status == .ok, "\(result.text)")
            #expect(
                result.json["registered"] as? Bool == true && result.json["verdict"] as? String == "accepted",
                "\((result.json["criteria"] as? [[String: Any]] ?? []).filter { $0["status"] as? String != "satisfied" })")
            let criteria = try #require(result.json["criteria"] as? [[String: Any]])
            let binding = try #require(criteria.first { $0["id"] as? String == "EXI EDC PSC FI 25" })
            #expect(binding["status"] as? String == "satisfied", "the typed RPPS binds the key (FI 25): \(binding)")
            #expect(((result.json["authenticator"] as? [String: Any])?["name"] as? String)?.isEmpty == false)
            let receipt = try #require(result.json["receipt"] as? String)
            let credentialID = try #require(result.json["credentialId"] as? String)

            let stored = try #require(try harness.state.credentials.find(credential: try SoftwareAuthenticator.decode(credentialID)))
            #expect(stored.identityEvidence == "asserted-by-operator" && stored.enrolledBy == "alice" && stored.holderID == "810001234565")
            #expect(!stored.lists.isEmpty && stored.profile?.hasPrefix("psc-2026") == true)

            let page = try await browser.call(client, .get, receipt + "?lang=fr")
            #expect(page.status == .ok)
            #expect(page.text.contains("Récépissé d&#39;enrôlement") && page.text.contains("Claire MARTIN") && page.text.contains("alice"))
            #expect(page.text.contains("10001234565") && page.text.contains(stored.aaguid) && page.text.contains("accepté"))

            // The IAM signs the professional in through the API with the enrolled key.
            let signedIn = try await CeremonyTests.signIn(client, key: apiKey, authenticator: holderKey, holder: "810001234565")
            #expect(signedIn.json["verified"] as? Bool == true && !((signedIn.json["amr"] as? [String])?.isEmpty ?? true), "\(signedIn.text)")

            let keys = try await browser.call(client, .get, "/enrol/api/holders/10001234565", language: "fr")
            let listed = try #require((keys.json["credentials"] as? [[String: Any]])?.first)
            #expect(listed["lastUsedAt"] is String && listed["evidenceText"] as? String == "saisie par l'opérateur")

            // Revocation needs the CSRF token, and is recorded.
            let forged = try await browser.call(client, .post, "/enrol/api/credentials/\(credentialID)/revoke", json: [String: Any](), csrf: false)
            #expect(forged.status == .forbidden && forged.code == "csrf.invalid")
            let revoked = try await browser.call(client, .post, "/enrol/api/credentials/\(credentialID)/revoke", json: [String: Any]())
            #expect(revoked.status == .ok, "\(revoked.text)")
            let after = try await client.call(.post, "/v1/assertions/options", key: apiKey, json: ["holder": "810001234565"])
            #expect(after.status == .notFound, "a revoked key no longer signs in: \(after.text)")
            var events: [String] = []
            try harness.state.audit.settle()
            try harness.state.audit.export { events.append($0) }
            #expect(events.contains { $0.contains(#""action":"deletion""#) && $0.contains("desk:alice") })
            #expect(events.contains { $0.contains(#""action":"registration""#) && $0.contains("identity asserted-by-operator") })
            #expect(events.contains { $0.contains(#""action":"operator.sign-in""#) && $0.contains(#""result":"verified""#) })

            let out = try await browser.call(client, .delete, "/enrol/api/session")
            #expect(out.status == .ok)
            let gone = try await browser.call(client, .get, "/enrol/api/session")
            #expect(gone.status == .unauthorized && gone.code == "session.missing")
        }
    }

    @Test func aSecondOperatorsSessionReachesNothingOfTheFirsts() async throws {
        let harness = try ServiceHarness()
        let aliceKey = try SoftwareAuthenticator(origin: ServiceHarness.origin, aaguid: SoftwareAuthenticator.unknownAAGUID, attestation: .none)
        let bobKey = try SoftwareAuthenticator(origin: ServiceHarness.origin, aaguid: SoftwareAuthenticator.unknownAAGUID, attestation: .none)
        let holderKey = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            let (alice, _) = try await Self.bootstrap(client, harness, name: "alice", key: aliceKey)
            var (bob, _) = try await Self.bootstrap(client, harness, name: "bob", key: bobKey)
            // Alice opens an enrolment; Bob's session cannot finish it.
            let options = try await alice.call(
                client, .post, "/enrol/api/enrolments/options", json: ["givenName": "Claire", "surname": "Martin", "rpps": "10001234565"])
            #expect(options.status == .ok, "\(options.text)")
            let created = try holderKey.create(try #require(options.json["publicKey"] as? [String: Any]))
            let body: [String: Any] = ["ceremonyId": options.json["ceremonyId"]!, "response": created]
            let stolen = try await bob.call(client, .post, "/enrol/api/enrolments", json: body)
            #expect(stolen.code == "ceremony.unknown", "\(stolen.text)")
            // Bob's cookie with Alice's CSRF token is refused; Bob signing out leaves Alice signed in.
            let bobsToken = bob.csrf
            bob.csrf = alice.csrf
            let mixed = try await bob.call(client, .delete, "/enrol/api/session")
            #expect(mixed.code == "csrf.invalid", "\(mixed.text)")
            bob.csrf = bobsToken
            #expect(try await bob.call(client, .delete, "/enrol/api/session").status == .ok)
            #expect(try await bob.call(client, .get, "/enrol/api/session").code == "session.missing")
            let still = try await alice.call(client, .get, "/enrol/api/session")
            #expect(still.status == .ok && still.json["operator"] as? String == "alice")
            // Alice's ceremony is still hers to finish.
            let finished = try await alice.call(client, .post, "/enrol/api/enrolments", json: body)
            #expect(finished.status == .ok && finished.json["registered"] as? Bool == true, "\(finished.text)")
        }
    }

    @Test func stateChangesNeedTheTokenAndTheOrigin() async throws {
        let harness = try ServiceHarness()
        let operatorKey = try SoftwareAuthenticator(origin: ServiceHarness.origin, attestation: .none)
        try await harness.test { client in
            var (browser, _) = try await Self.bootstrap(client, harness, name: "bob", key: operatorKey)
            let body: [String: Any] = ["givenName": "A", "surname": "B", "rpps": "10001234565"]
            let missing = try await browser.call(client, .post, "/enrol/api/enrolments/options", json: body, csrf: false)
            #expect(missing.status == .forbidden && missing.code == "csrf.invalid")
            let token = browser.csrf
            browser.csrf = String(token!.reversed())
            let wrong = try await browser.call(client, .post, "/enrol/api/enrolments/options", json: body)
            #expect(wrong.code == "csrf.invalid")
            browser.csrf = token
            browser.origin = "https://evil.example"
            let crossSite = try await browser.call(client, .post, "/enrol/api/enrolments/options", json: body)
            #expect(crossSite.code == "csrf.invalid", "another origin is refused even with the token")
            browser.origin = ServiceHarness.origin
            let bad = try await browser.call(client, .post, "/enrol/api/enrolments/options", json: ["givenName": "A", "surname": "B", "rpps": "10001234566"])
            #expect(bad.status == .badRequest, "an RPPS number whose Luhn key fails is refused")
            let ok = try await browser.call(client, .post, "/enrol/api/enrolments/options", json: body)
            #expect(ok.status == .ok)
        }
    }

    @Test func apiKeysDoNotOpenTheDesk() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let browser = Browser()
            for key in [harness.keys["verifier"]!, harness.keys["all"]!] {
                let options = try await browser.call(
                    client, .post, "/enrol/api/enrolments/options", json: ["givenName": "A", "surname": "B", "rpps": "10001234565"], bearer: key)
                #expect(options.status == .unauthorized && options.code == "session.missing")
                let keys = try await browser.call(client, .get, "/enrol/api/holders/10001234565", bearer: key)
                #expect(keys.code == "session.missing")
            }
            let receipt = try await browser.call(client, .get, "/enrol/receipt/AAAA")
            #expect(receipt.status == .seeOther && receipt.headers[.location] == "/enrol")
            let forged = Browser(cookie: "__Host-mie_desk=\(String(repeating: "A", count: 43))", csrf: "x")
            let refused = try await forged.call(client, .get, "/enrol/api/session")
            #expect(refused.code == "session.missing")
        }
    }

    /// A plain-http origin (a developer's localhost): no Secure cookie, which would never come back.
    @Test func aPlainHTTPOriginGetsAPlainCookie() async throws {
        let harness = try ServiceHarness { $0.relyingParty = RelyingParty(id: "localhost", origins: ["http://localhost:8080"]) }
        let operatorKey = try SoftwareAuthenticator(origin: "http://localhost:8080", aaguid: SoftwareAuthenticator.unknownAAGUID, attestation: .none)
        try await harness.test { client in
            let (_, code) = try harness.state.operators.add(name: "dev", lifetime: 3600, at: Date())
            var browser = Browser()
            browser.origin = "http://localhost:8080"
            let options = try await browser.call(client, .post, "/enrol/api/operators/options", json: ["code": code])
            let created = try operatorKey.create(try #require(options.json["publicKey"] as? [String: Any]))
            let reply = try await browser.call(
                client, .post, "/enrol/api/operators", json: ["code": code, "ceremonyId": options.json["ceremonyId"]!, "response": created])
            let cookie = try #require(reply.headers[.setCookie], "\(reply.text)")
            let attributes = cookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(cookie.hasPrefix("mie_desk=") && attributes.contains("Path=/enrol") && !attributes.contains("Secure"), "\(cookie)")
        }
    }

    @Test func badInputGetsAProblemNeverAFault() async throws {
        let harness = try ServiceHarness()
        let operatorKey = try SoftwareAuthenticator(origin: ServiceHarness.origin, attestation: .none)
        try await harness.test { client in
            let (browser, _) = try await Self.bootstrap(client, harness, name: "eve", key: operatorKey)
            let bodies: [Any] = [
                [String: Any](), ["unknown": 1], ["code": 42], ["operator": String(repeating: "x", count: 500)], ["ceremonyId": "x", "response": "y"],
                ["givenName": "A\u{0007}", "surname": "B", "rpps": "10001234565"], ["givenName": "A", "surname": "B", "rpps": "1000123456"], [1, 2, 3],
            ]
            let paths = [
                "/enrol/api/operators/options", "/enrol/api/operators", "/enrol/api/session/options", "/enrol/api/session",
                "/enrol/api/enrolments/options", "/enrol/api/enrolments",
            ]
            for path in paths {
                for body in bodies {
                    let reply = try await browser.call(client, .post, path, json: body)
                    #expect((400..<500).contains(reply.status.code) && reply.code != nil, "\(path) \(body): \(reply.status) \(reply.text)")
                }
                var headers = HTTPFields()
                headers[.contentType] = "application/json"
                headers[.cookie] = browser.cookie
                headers[.csrfToken] = browser.csrf
                headers[.origin] = ServiceHarness.origin
                let raw = try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(bytes: [0xFF, 0xFE, 0x7B])) {
                    Reply(status: $0.status, headers: $0.headers, body: Array($0.body.readableBytesView))
                }
                #expect(raw.status == .badRequest || raw.status == .forbidden, "\(path) non-UTF-8: \(raw.status)")
            }
            for path in ["/enrol/api/holders/abc", "/enrol/api/holders/10001234566", "/enrol/receipt/%%%", "/enrol/receipt/" + String(repeating: "A", count: 3000)] {
                let reply = try await browser.call(client, .get, path)
                #expect((400..<500).contains(reply.status.code), "\(path): \(reply.status)")
            }
            let revoke = try await browser.call(client, .post, "/enrol/api/credentials/!!!/revoke", json: [String: Any]())
            #expect(revoke.status == .badRequest)
        }
    }

    @Test func requestsBeforeSignInAreRateLimited() async throws {
        // Time stands still: the buckets (2 a second) do not refill during the 230 requests.
        let clock = HandClock()
        let harness = try ServiceHarness(clock: clock.read)
        try await harness.test { client in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<230 {
                statuses.append(try await Browser().call(client, .post, "/enrol/api/session/options", json: ["operator": "x"]).status)
            }
            #expect(statuses.prefix(200).allSatisfy { $0 == .ok })
            #expect(statuses.dropFirst(200).allSatisfy { $0 == .tooManyRequests }, "a burst of anonymous sign-in attempts is cut")
        }
    }

    @Test func sessionsExpireAndRevocationEndsThem() async throws {
        let clock = HandClock()
        let harness = try ServiceHarness(configure: { $0.deskIdleTimeout = 1 }, clock: clock.read)
        let operatorKey = try SoftwareAuthenticator(origin: ServiceHarness.origin, attestation: .none)
        try await harness.test { client in
            let (browser, _) = try await Self.bootstrap(client, harness, name: "carol", key: operatorKey)
            clock.advance(1.3)
            let expired = try await browser.call(client, .get, "/enrol/api/session")
            #expect(expired.status == .unauthorized && expired.code == "session.expired")
            let (again, reply) = try await Self.signIn(client, name: "carol", key: operatorKey)
            #expect(reply.status == .ok)
            #expect(try harness.state.operators.revoke(name: "carol", at: Date()))
            let revoked = try await again.call(client, .get, "/enrol/api/session")
            #expect(revoked.code == "session.expired", "a revoked operator's session ends")
            let (_, refused) = try await Self.signIn(client, name: "carol", key: operatorKey)
            #expect(refused.status == .unauthorized, "a revoked operator's key no longer signs in")
            let (_, stranger) = try await Self.signIn(client, name: "nobody", key: operatorKey)
            #expect(stranger.status == .unauthorized)
        }
    }

    @Test func anUnreferencedKeyIsExplainedAndStoredOnlyWhenAllowed() async throws {
        for allowed in [false, true] {
            let harness = try ServiceHarness { $0.enrolsUnacceptableKeys = allowed }
            let operatorKey = try SoftwareAuthenticator(origin: ServiceHarness.origin, attestation: .none)
            let holderKey = try SoftwareAuthenticator(origin: ServiceHarness.origin, aaguid: SoftwareAuthenticator.unknownAAGUID, attestation: .none)
            try await harness.test { client in
                let (browser, _) = try await Self.bootstrap(client, harness, name: "dan", key: operatorKey)
                let result = try await Self.enrol(client, browser, key: holderKey, language: "fr")
                #expect(result.json["registered"] as? Bool == allowed, "\(result.text)")
                #expect(result.json["verdict"] as? String == "refused" && result.json["verdictText"] as? String == "refusé")
                let plain = (result.json["criteria"] as? [[String: Any]] ?? []).flatMap { $0["plain"] as? [String] ?? [] }
                #expect(plain.contains("Cette clé ne figure pas sur la liste de référencement de l'ANS."), "\(plain)")
                #expect((result.json["receipt"] is String) == allowed)
            }
        }
    }

    @Test func thePageSpeaksTheOperatorsLanguage() async throws {
        #expect(DeskLanguage.pick(query: nil, cookie: nil, acceptLanguage: "en-GB,en;q=0.9,fr;q=0.8") == .en)
        #expect(DeskLanguage.pick(query: nil, cookie: nil, acceptLanguage: "de-DE, fr;q=0.3, en;q=0.2") == .fr)
        #expect(DeskLanguage.pick(query: nil, cookie: nil, acceptLanguage: "de-DE") == .fr)
        #expect(DeskLanguage.pick(query: "en", cookie: "fr", acceptLanguage: "fr") == .en)
        #expect(DeskLanguage.pick(query: "xx", cookie: "en", acceptLanguage: "fr") == .en)
        for (key, phrase) in DeskText.phrases { #expect(!phrase.fr.isEmpty && !phrase.en.isEmpty, "\(key)") }
        let harness = try ServiceHarness()
        try await harness.test { client in
            let french = try await Browser().call(client, .get, "/enrol", language: "fr-FR,fr;q=0.9")
            #expect(french.text.contains(#"<html lang="fr">"#) && french.text.contains("Guichet d&#39;enrôlement"))
            #expect(french.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(!french.text.contains("<script>"), "no inline script")
            let english = try await Browser().call(client, .get, "/enrol?lang=en", language: "fr")
            #expect(english.text.contains("Enrolment desk") && english.headers[.setCookie]?.hasPrefix("mie_lang=en") == true)
            let script = try await Browser().call(client, .get, "/enrol/desk.js")
            #expect(script.status == .ok && !script.text.contains("innerHTML"))
        }
    }
}
