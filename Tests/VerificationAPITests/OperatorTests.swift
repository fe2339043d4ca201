import Ceremonies
import Foundation
import Hummingbird
import HummingbirdTesting
import Storage
import Testing
import VerificationAPI

/// Credentials, list imports, conformity evaluations and metrics, through the router.
@Suite struct OperatorTests {
    static func file(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: packageRoot.appendingPathComponent(path)))
    }

    @Test func credentialsAreListedShownAndDeletedByAnOperatorOnly() async throws {
        let harness = try ServiceHarness()
        let desk = harness.keys["enrolment"]
        let operatorKey = harness.keys["operator"]
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            _ = try await CeremonyTests.enrol(client, key: desk, authenticator: authenticator)
            let list = try await client.call(.get, "/v1/credentials?holder=holder-1", key: desk)
            #expect(list.status == .ok)
            let credentials = try #require(list.json["credentials"] as? [[String: Any]])
            #expect(credentials.count == 1)
            let id = try #require(credentials.first?["id"] as? String)
            #expect(credentials.first?["verdict"] as? String == "accepted")
            #expect(credentials.first?["identityEvidence"] as? String == "asserted-by-client")

            let one = try await client.call(.get, "/v1/credentials/\(id)", key: operatorKey)
            #expect(one.status == .ok)
            #expect((one.json["holder"] as? [String: Any])?["id"] as? String == "holder-1")

            #expect(try await client.call(.get, "/v1/credentials", key: desk).status == .badRequest)
            #expect(try await client.call(.get, "/v1/credentials?holder=nobody", key: desk).status == .notFound)
            for value in ["", "yes", "TRUE", "1"] {
                #expect(try await client.call(.get, "/v1/credentials?holder=holder-1&deleted=\(value)", key: desk).status == .badRequest, "\(value)")
            }
            #expect(try await client.call(.get, "/v1/credentials/%%%", key: desk).status == .badRequest)
            #expect(try await client.call(.get, "/v1/credentials/AAAA", key: desk).status == .notFound)
            #expect(try await client.call(.get, "/v1/credentials/\(id)", key: harness.keys["verifier"]).status == .forbidden)

            // Only an operator deletes; the desk may not.
            #expect(try await client.call(.delete, "/v1/credentials/\(id)", key: desk).status == .forbidden)
            let deleted = try await client.call(.delete, "/v1/credentials/\(id)", key: operatorKey)
            #expect(deleted.status == .noContent)
            let again = try await client.call(.delete, "/v1/credentials/\(id)", key: operatorKey)
            #expect(again.status == .notFound)
            let after = try await client.call(.get, "/v1/credentials?holder=holder-1", key: desk)
            #expect((after.json["credentials"] as? [Any])?.isEmpty == true)
            let withDeleted = try await client.call(.get, "/v1/credentials?holder=holder-1&deleted=true", key: desk)
            #expect(((withDeleted.json["credentials"] as? [[String: Any]])?.first?["deletedAt"] as? String) != nil)

            // A deleted credential signs nobody in, and cannot be registered again.
            let options = try await client.call(.post, "/v1/assertions/options", key: desk, json: [String: Any]())
            let response = try authenticator.get(try #require(options.json["publicKey"] as? [String: Any]))
            let signIn = try await client.call(.post, "/v1/assertions", key: desk, json: ["ceremonyId": options.json["ceremonyId"]!, "response": response])
            #expect(signIn.json["verified"] as? Bool == false)
        }
        try harness.state.audit.settle()
        let events = try harness.state.database.query("SELECT event FROM audit_events WHERE event LIKE '%credential.delete%'") { $0.text(0) ?? "" }
        #expect(events.count == 1)
        #expect(events.first?.contains("test-operator") == true)
    }

    @Test func listsAreImportedWithTheConfiguredSignersOnly() async throws {
        let harness = try ServiceHarness()
        let operatorKey = harness.keys["operator"]
        let blob2 = try Self.file("TestVectors/referencing/demo-mds-blob-no2.jwt")
        let blob1 = try Self.file("TestVectors/referencing/demo-mds-blob-no1.jwt")
        let foreign = try Self.file("TestVectors/referencing/invalid/other-key.json")
        let foreignSignature = String(decoding: try Self.file("TestVectors/referencing/invalid/other-key.json.jws"), as: UTF8.self)
        try await harness.test { client in
            let body = ["document": SoftwareAuthenticator.encode(blob2)]
            #expect(try await client.call(.post, "/v1/referencing/import", key: harness.keys["verifier"], json: body).status == .forbidden)
            let imported = try await client.call(.post, "/v1/referencing/import", key: operatorKey, json: body)
            #expect(imported.status == .ok, "\(imported.text)")
            #expect(((imported.json["list"] as? [String: Any])?["number"] as? Int) == 2, "\(imported.text)")
            // Swapped in: the catalog now carries BLOB no. 2's status (a UV bypass).
            let entry = try await client.call(.get, "/v1/authenticators/4d49452d-5665-7269-6669-65722d546573", key: operatorKey)
            #expect(entry.text.contains("USER_VERIFICATION_BYPASS"))

            let rollback = try await client.call(.post, "/v1/referencing/import", key: operatorKey, json: ["document": SoftwareAuthenticator.encode(blob1)])
            #expect(rollback.status == .unprocessableContent)
            #expect(rollback.code == "referencing.refused")
            #expect(rollback.json["reason"] as? String == "import.rollback")

            let other = try await client.call(
                .post, "/v1/referencing/import", key: operatorKey, json: ["document": SoftwareAuthenticator.encode(foreign), "signature": foreignSignature])
            #expect(other.status == .unprocessableContent)
            #expect((other.json["reason"] as? String)?.hasPrefix("import.") == true)
            #expect(try await client.call(.post, "/v1/referencing/import", key: operatorKey, json: ["document": "not base64!"]).status == .badRequest)
        }

        let untrusting = try ServiceHarness { $0.demoListsDirectory = nil }
        try await untrusting.test { client in
            let reply = try await client.call(.post, "/v1/referencing/import", key: untrusting.keys["operator"], json: ["document": SoftwareAuthenticator.encode(blob2)])
            #expect(reply.json["reason"] as? String == "import.no-trust")
        }
    }

    @Test func vendorsGetTheConformityReport() async throws {
        let harness = try ServiceHarness()
        let key = harness.keys["verifier"]
        let sampleBytes = try Self.file("TestVectors/samples/registration-packed-es256.json")
        try await harness.test { client in
            let sample = try JSONSerialization.jsonObject(with: Data(sampleBytes)) as? [String: Any]
            let candidate: [String: Any] = ["response": sample?["response"] as Any, "expected": sample?["expected"] as Any]
            let json = try await client.call(.post, "/v1/evaluations", key: key, json: candidate)
            #expect(json.status == .ok, "\(json.text)")
            #expect(json.json["verdict"] as? String == "accepted", "\(json.text)")
            #expect((json.json["criteria"] as? [Any])?.isEmpty == false)
            let html = try await client.call(.post, "/v1/evaluations", key: key, json: candidate, accept: "text/html")
            #expect(html.status == .ok)
            #expect(html.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(html.text.contains("<html"))
            #expect(!html.text.contains("<script"))
            // The vendor's own anchors, policy or time are not taken.
            for member in ["trustAnchors", "policy", "at", "crls"] {
                var relaxed = candidate
                relaxed[member] = sample?[member] ?? []
                let reply = try await client.call(.post, "/v1/evaluations", key: key, json: relaxed)
                #expect(reply.status == .badRequest, "\(member)")
            }
        }
    }

    @Test func metricsCountRequestsAndVerifications() async throws {
        let harness = try ServiceHarness()
        try await harness.test { client in
            _ = try await client.call(.get, "/v1/referencing", key: harness.keys["verifier"])
            _ = try await client.call(.post, "/v1/assertions/verify", key: harness.keys["verifier"], raw: Array("{}".utf8))
            _ = try await client.call(.get, "/v1/referencing", key: nil)
            let metrics = try await client.call(.get, "/metrics", key: nil)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = metrics.text
            #expect(text.contains(#"mie_http_requests_total{route="/v1/referencing",method="GET",status="200"} 1"#), "\(text)")
            #expect(text.contains(#"mie_http_requests_total{route="/v1/referencing",method="GET",status="401"} 1"#))
            #expect(text.contains(#"mie_http_requests_total{route="/v1/assertions/verify",method="POST",status="400"} 1"#))
            #expect(text.contains(#"mie_http_request_duration_seconds_bucket{route="/v1/referencing",le="+Inf"} 2"#))
            #expect(text.contains("mie_referencing_list_info{"))
            #expect(text.contains(#"mie_profile_info{id="psc-2026""#))
        }
    }
}

/// The OpenAPI document served at /v1/openapi.json describes exactly the routes served.
@Suite struct OpenAPIDocumentTests {
    @Test func everyRouteIsDocumentedAndNothingElse() async throws {
        let harness = try ServiceHarness()
        let served = Set(
            buildRouter(state: harness.state).routes.map { route in
                let path = route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
                return "\(route.method.rawValue.lowercased()) /\(path.joined(separator: "/"))"
            }
        // The pages and the desk's own API (session cookie, not API keys) are not the API's, nor
        // is the OpenID Provider (its discovery document describes it: OIDCTests).
        ).subtracting(["get /", "get /try.js", "get /.well-known/openid-configuration"]).filter { !$0.contains(" /enrol") && !$0.contains(" /oidc/") }
        try await harness.test { client in
            let reply = try await client.call(.get, "/v1/openapi.json", key: nil)
            #expect(reply.status == .ok)
            #expect(reply.json["openapi"] as? String == "3.1.0")
            let paths = try #require(reply.json["paths"] as? [String: [String: Any]])
            var documented = Set<String>()
            for (path, item) in paths {
                for method in item.keys where ["get", "post", "delete", "put", "patch"].contains(method) { documented.insert("\(method) \(path)") }
            }
            #expect(documented == served, "documented only: \(documented.subtracting(served)); served only: \(served.subtracting(documented))")
        }
    }
}

/// docs/failure-codes.md lists every problem code the service answers with, and its status.
@Suite struct ProblemCodeDocumentationTests {
    @Test func everyProblemCodeIsDocumentedWithItsStatus() throws {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("docs/failure-codes.md"), encoding: .utf8)
        let section = text.components(separatedBy: "## Service problem codes").last?.components(separatedBy: "## Evidence codes").first ?? ""
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| `") }.map { line in
            line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let documented = Dictionary(uniqueKeysWithValues: rows.map { ($0[0].trimmingCharacters(in: CharacterSet(charactersIn: "`")), $0[1]) })
        let codes = Dictionary(uniqueKeysWithValues: APIError.Code.allCases.map { ($0.rawValue, "\($0.status.code)") })
        #expect(documented == codes)
    }
}

/// The store's and the configuration's codes are documented, each in its own table.
@Suite struct StoreAndConfigurationCodeTests {
    static func table(_ heading: String) throws -> Set<String> {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("docs/failure-codes.md"), encoding: .utf8)
        let section = text.components(separatedBy: "## \(heading)").last?.components(separatedBy: "\n## ").first ?? ""
        return Set(section.split(separator: "\n").filter { $0.hasPrefix("| `") }.map { line in
            String(line.split(separator: "|")[0].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`")))
        })
    }

    @Test func everyStoreCodeIsDocumented() throws {
        #expect(try Self.table("Store codes") == Set(StoreError.Code.allCases.map(\.rawValue)))
    }

    @Test func everyConfigurationCodeIsDocumented() throws {
        #expect(try Self.table("Configuration codes") == Set(ConfigurationError.Code.allCases.map(\.rawValue)))
    }
}

/// The application layer's refusals are the API's problem codes: each one converts to itself.
@Suite struct OperationErrorCodeTests {
    @Test func everyOperationCodeIsAProblemCode() {
        for code in OperationError.Code.allCases {
            #expect(APIError.Code(rawValue: code.rawValue) != nil, "\(code.rawValue)")
        }
    }
}
