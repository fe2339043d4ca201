import Foundation
import Hummingbird
import Logging
import Synchronization
import HummingbirdTesting
import Storage
import Testing
import VerificationAPI

/// Health, authentication, request limits and the problem documents, through the router.
@Suite struct ServiceEdgeTests {
    @Test func healthAnswersWithoutAKey() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            let live = try await client.call(.get, "/health/live", key: nil)
            #expect(live.status == .ok)
            let ready = try await client.call(.get, "/health/ready", key: nil)
            #expect(ready.status == .ok)
            #expect(ready.json["status"] as? String == "ready")
        }
    }

    @Test func notReadyWithoutAList() async throws {
        let harness = try ServiceHarness { $0.demoListsDirectory = nil }
        try await harness.test { client in
            let ready = try await client.call(.get, "/health/ready", key: nil)
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.code == "unavailable")
        }
    }

    @Test func apiRoutesNeedAValidKeyWithTheRightRole() async throws {
        var harness = try ServiceHarness()
        let revoked = try harness.state.clients.add(name: "gone", roles: [.verifier], rpID: nil, origins: [], at: Date()).key
        #expect(try harness.state.clients.revoke(name: "gone", at: Date()))
        harness.keys["revoked"] = revoked
        let keys = harness.keys
        try await harness.test { client in
            let none = try await client.call(.get, "/v1/referencing", key: nil)
            #expect(none.status == .unauthorized)
            #expect(none.code == "auth.missing")
            #expect(none.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            #expect(none.headers[.contentType] == "application/problem+json")
            for bad in ["mie_AAAA", "not-a-key", keys["revoked"]!, keys["verifier"]! + "x"] {
                let reply = try await client.call(.get, "/v1/referencing", key: bad)
                #expect(reply.status == .unauthorized, "\(bad)")
                #expect(reply.code == "auth.invalid")
            }
            // A verifier may not open ceremonies; an enrolment desk may not verify statelessly
            // only if it lacks the role (enrolment includes verification of its own ceremonies).
            let forbidden = try await client.call(.post, "/v1/registrations/options", key: keys["verifier"], json: ["holder": ["id": "a", "name": "a"]])
            #expect(forbidden.status == .forbidden)
            #expect(forbidden.code == "auth.forbidden")
            let ok = try await client.call(.get, "/v1/referencing", key: keys["verifier"])
            #expect(ok.status == .ok)
        }
    }

    @Test func badRequestsGetProblemsNeverA500() async throws {
        let harness = try ServiceHarness { $0.maximumBodySize = 4096 }
        let key = harness.keys["verifier"]
        try await harness.test { client in
            let cases: [(String, [UInt8], String, HTTPResponse.Status, String)] = [
                ("not json", Array("{".utf8), "application/json", .badRequest, "request.malformed"),
                ("wrong type", Array("{}".utf8), "text/plain", .unsupportedMediaType, "request.unsupported-media-type"),
                ("a longer type", Array("{}".utf8), "application/jsonx", .unsupportedMediaType, "request.unsupported-media-type"),
                ("a shorter type", Array("{}".utf8), "application/jso", .unsupportedMediaType, "request.unsupported-media-type"),
                ("a suffix type", Array("{}".utf8), "application/problem+json", .unsupportedMediaType, "request.unsupported-media-type"),
                ("no type", Array("{}".utf8), ";charset=utf-8", .unsupportedMediaType, "request.unsupported-media-type"),
                ("a no-break space", Array("{}".utf8), "\u{A0}application/json", .unsupportedMediaType, "request.unsupported-media-type"),
                // The type in any case, with parameters and optional whitespace, is JSON: the body is read.
                ("type in capitals", Array("{".utf8), "Application/JSON", .badRequest, "request.malformed"),
                ("type with parameters", Array("{".utf8), " application/json ;charset=utf-8", .badRequest, "request.malformed"),
                ("type with a tab", Array("{".utf8), "\tapplication/json", .badRequest, "request.malformed"),
                ("too large", Array(repeating: 0x20, count: 5000), "application/json", .contentTooLarge, "request.too-large"),
                ("unknown member", Array(#"{"response":{},"challenge":"AAAAAAAAAAAAAAAAAAAAAA","trustAnchors":[]}"#.utf8), "application/json", .badRequest, "request.malformed"),
                ("short challenge", Array(#"{"challenge":"AAAA"}"#.utf8), "application/json", .badRequest, "request.malformed"),
                ("array", Array("[]".utf8), "application/json", .badRequest, "request.malformed"),
                ("deep", Array(String(repeating: "[", count: 3000).utf8), "application/json", .badRequest, "request.malformed"),
                ("invalid UTF-8", [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], "application/json", .badRequest, "request.malformed"),
            ]
            for (name, body, type, status, code) in cases {
                let reply = try await client.call(.post, "/v1/registrations/verify", key: key, raw: body, contentType: type)
                #expect(reply.status == status, "\(name): \(reply.text)")
                #expect(reply.code == code, "\(name)")
                #expect(!reply.text.contains("AAAAAAAAAAAAAAAAAAAAAA"), "\(name): a problem does not echo the request")
            }
            let unknownRoute = try await client.call(.get, "/v1/nothing", key: key)
            #expect(unknownRoute.status == .notFound)
            #expect(unknownRoute.code == "not-found")
            // A known path with another method: 405 naming the methods it has.
            let wrongMethod = try await client.call(.get, "/v1/registrations/verify", key: key)
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(wrongMethod.code == "method-not-allowed")
            #expect(wrongMethod.headers[.allow] == "POST")
            let credential = try await client.call(.put, "/v1/credentials/AAAA", key: key)
            #expect(credential.headers[.allow] == "DELETE, GET")
        }
    }

    @Test func referencingAndAuthenticatorLookups() async throws {
        let harness = try ServiceHarness()
        let key = harness.keys["verifier"]
        try await harness.test { client in
            let lists = try await client.call(.get, "/v1/referencing", key: key)
            #expect(lists.status == .ok)
            #expect((lists.json["lists"] as? [Any])?.count == 2)
            #expect((lists.json["authenticators"] as? Int ?? 0) >= 3)
            let known = try await client.call(.get, "/v1/authenticators/4d49452d-5665-7269-6669-65722d546573", key: key)
            #expect(known.status == .ok)
            #expect(known.text.contains("MIE Verifier software authenticator (DEMO)"))
            let unknown = try await client.call(.get, "/v1/authenticators/00000000-0000-0000-0000-000000000001", key: key)
            #expect(unknown.status == .notFound)
            let malformed = try await client.call(.get, "/v1/authenticators/zz", key: key)
            #expect(malformed.status == .badRequest)
            #expect(malformed.code == "request.malformed")
        }
    }

    @Test func aClientOverItsRateIsToldToSlowDown() async throws {
        // Time stands still: the bucket does not refill while a loaded machine answers the burst.
        let clock = HandClock()
        let harness = try ServiceHarness(configure: {
            $0.rateLimit = 1
            $0.rateBurst = 3
        }, clock: clock.read)
        let key = harness.keys["verifier"]
        try await harness.test { client in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<5 { statuses.append(try await client.call(.get, "/v1/referencing", key: key).status) }
            #expect(statuses.prefix(3).allSatisfy { $0 == .ok })
            let limited = try await client.call(.get, "/v1/referencing", key: key)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.code == "rate-limited")
            #expect(limited.headers[.retryAfter] == "1")
            // Another client is not held back.
            #expect(try await client.call(.get, "/v1/referencing", key: harness.keys["operator"]).status == .ok)
            // A second later the bucket holds one token again.
            clock.advance(1)
            #expect(try await client.call(.get, "/v1/referencing", key: key).status == .ok)
            #expect(try await client.call(.get, "/v1/referencing", key: key).status == .tooManyRequests)
        }
    }

    @Test func overloadIsShedWith503() async throws {
        let harness = try ServiceHarness { $0.maximumInFlight = 0 }
        try await harness.test { client in
            let reply = try await client.call(.get, "/health/live", key: nil)
            #expect(reply.status == .serviceUnavailable)
            #expect(reply.code == "overloaded")
        }
    }
}

/// The stateless endpoints (the IAM keeps challenges and credentials) and the audit trail.
@Suite struct StatelessVerificationTests {
    static func creationOptions(_ challenge: [UInt8]) -> [String: Any] {
        [
            "rp": ["id": "mie.example", "name": "mie.example"], "user": ["id": SoftwareAuthenticator.encode([9, 9, 9]), "name": "u", "displayName": "u"],
            "challenge": SoftwareAuthenticator.encode(challenge),
        ]
    }

    @Test func registrationThenAssertionWithTheIAMsOwnState() async throws {
        let harness = try ServiceHarness()
        let key = harness.keys["verifier"]
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        let challenge = [UInt8](repeating: 1, count: 32)
        try await harness.test { client in
            let registration = try authenticator.create(Self.creationOptions(challenge))
            let reply = try await client.call(
                .post, "/v1/registrations/verify", key: key, json: ["response": registration, "challenge": SoftwareAuthenticator.encode(challenge)])
            #expect(reply.status == .ok)
            #expect(reply.json["verdict"] as? String == "accepted", "\(reply.text)")
            let verification = try #require(reply.json["verification"] as? [String: Any])
            #expect(verification["verified"] as? Bool == true)
            let credential = try #require(verification["credential"] as? [String: Any], "\(verification)")
            let publicKey = try #require(credential["publicKey"] as? String)

            // The IAM stores the key and counter, then sends them with each assertion.
            let assertion = try authenticator.get(["rpId": "mie.example", "challenge": SoftwareAuthenticator.encode(challenge)])
            let body: [String: Any] = [
                "response": assertion, "challenge": SoftwareAuthenticator.encode(challenge),
                "credential": ["publicKey": publicKey, "signCount": 0, "id": registration["id"]!],
            ]
            let verified = try await client.call(.post, "/v1/assertions/verify", key: key, json: body)
            #expect((verified.json["verification"] as? [String: Any])?["verified"] as? Bool == true, "\(verified.text)")
            #expect((verified.json["amr"] as? [String])?.isEmpty == false)

            // The wrong challenge: a normal answer saying why.
            var wrong = body
            wrong["challenge"] = SoftwareAuthenticator.encode([UInt8](repeating: 2, count: 32))
            let refused = try await client.call(.post, "/v1/assertions/verify", key: key, json: wrong)
            #expect(refused.status == .ok)
            let error = (refused.json["verification"] as? [String: Any])?["error"] as? [String: Any]
            #expect(error?["code"] as? String == "mismatch.challenge")
            #expect(refused.json["amr"] as? [String] == [])

            // The client cannot bring its own trust or policy.
            var relaxed = body
            relaxed["policy"] = ["attestation": "any"]
            #expect(try await client.call(.post, "/v1/assertions/verify", key: key, json: relaxed).status == .badRequest)
            // An origin other than the client's relying party's is refused by the core.
            let elsewhere = try SoftwareAuthenticator(origin: "https://evil.example")
            let foreign = try elsewhere.create(Self.creationOptions(challenge))
            let reply2 = try await client.call(
                .post, "/v1/registrations/verify", key: key, json: ["response": foreign, "challenge": SoftwareAuthenticator.encode(challenge)])
            #expect(((reply2.json["verification"] as? [String: Any])?["error"] as? [String: Any])?["code"] as? String == "mismatch.origin")
        }
        // Every verification left an audit event once the buffer is flushed.
        await harness.state.auditBuffer.flush()
        try harness.state.audit.settle()
        let events = try harness.state.database.query("SELECT event FROM audit_events WHERE event LIKE '%.verify%'") { $0.text(0) ?? "" }
        #expect(events.count == 4)
        #expect(try harness.state.audit.verify().broken == nil)
    }

    @Test func aClientWithItsOwnRelyingPartyVerifiesForIt() async throws {
        let harness = try ServiceHarness()
        let key = try harness.state.clients.add(name: "other-rp", roles: [.verifier], rpID: "desk.example", origins: ["https://desk.example"], at: Date()).key
        let authenticator = try SoftwareAuthenticator(origin: "https://desk.example")
        let challenge = [UInt8](repeating: 3, count: 32)
        try await harness.test { client in
            var options = Self.creationOptions(challenge)
            options["rp"] = ["id": "desk.example"]
            let registration = try authenticator.create(options)
            let mine = try await client.call(
                .post, "/v1/registrations/verify", key: key, json: ["response": registration, "challenge": SoftwareAuthenticator.encode(challenge)])
            #expect((mine.json["verification"] as? [String: Any])?["verified"] as? Bool == true, "\(mine.text)")
            let notTheirs = try await client.call(
                .post, "/v1/registrations/verify", key: harness.keys["verifier"],
                json: ["response": registration, "challenge": SoftwareAuthenticator.encode(challenge)])
            #expect((notTheirs.json["verification"] as? [String: Any])?["verified"] as? Bool == false)
        }
    }

    @Test func aTamperedAuditRowIsNamed() async throws {
        let harness = try ServiceHarness()
        let audit = harness.state.audit
        for index in 0..<5 { try audit.append([AuditEvent(action: "test", result: "r\(index)")], at: Date()) }
        try audit.settle()
        let intact = try audit.verify()
        #expect(intact.broken == nil)
        let total = intact.events
        let target = try #require(try harness.state.database.query("SELECT seq FROM audit_events WHERE event LIKE '%\"r1\"%'") { $0.int64(0) }.first)
        try harness.state.database.run("UPDATE audit_events SET event = replace(event, '\"r1\"', '\"r9\"') WHERE seq = ?", [.int(target)])
        let broken = try audit.verify()
        #expect(broken.broken?.seq == target)
        try harness.state.database.run("UPDATE audit_events SET event = replace(event, '\"r9\"', '\"r1\"') WHERE seq = ?", [.int(target)])
        #expect(try audit.verify().broken == nil)
        try harness.state.database.run("DELETE FROM audit_events WHERE seq = ?", [.int(target)])
        let gap = try audit.verify()
        #expect(gap.broken?.seq == target + 1)
        #expect(gap.events < total)
    }

    @Test func theServiceAnswersOverARealSocket() async throws {
        let harness = try ServiceHarness { $0.port = 0 }
        let app = try buildApplication(state: harness.state, logger: harness.state.logger)
        let key = harness.keys["verifier"]
        try await app.test(.live) { client in
            let ready = try await client.call(.get, "/health/ready", key: nil)
            #expect(ready.status == .ok)
            let lists = try await client.call(.get, "/v1/referencing", key: key)
            #expect(lists.status == .ok)
            let bad = try await client.call(.post, "/v1/assertions/verify", key: key, raw: Array("{\"response\":".utf8))
            #expect(bad.status == .badRequest)
        }
    }
}

/// The application assembled from a configuration, stores and a clock: time moves when the test
/// says, nothing sleeps.
@Suite struct ApplicationAssemblyTests {
    @Test func aCeremonyExpiresWhenTheClockSaysSo() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mie-clock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = ServiceConfiguration()
        configuration.databasePath = directory.appendingPathComponent("mie.sqlite").path
        configuration.relyingParty = RelyingParty(id: "mie.example", origins: [ServiceHarness.origin])
        let stores = try ServiceStores.sqlite(path: configuration.databasePath)
        let (_, key) = try stores.clients.add(name: "iam", roles: [.enrolment], rpID: nil, origins: [], at: Date())
        let clock = HandClock(Date(timeIntervalSince1970: 1_800_000_000))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let app = try buildApplication(configuration: configuration, stores: stores, clock: clock.read, logger: logger)
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await app.test(.router) { client in
            let options = try await client.call(.post, "/v1/registrations/options", key: key, json: ["holder": CeremonyTests.holder])
            #expect(options.status == .ok, "\(options.text)")
            #expect(options.json["expiresAt"] as? String == Date(timeIntervalSince1970: 1_800_000_300).formatted(.iso8601))
            let response = try authenticator.create(try #require(options.json["publicKey"] as? [String: Any]))
            clock.advance(301)
            let late = try await client.call(.post, "/v1/registrations", key: key, json: ["ceremonyId": options.json["ceremonyId"]!, "response": response])
            #expect(late.status == .gone && late.code == "ceremony.expired", "\(late.text)")
        }
    }
}
