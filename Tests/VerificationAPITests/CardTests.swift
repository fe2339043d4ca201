import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VerificationAPI

/// `POST /v1/cards/challenges` and `/v1/cards/verify` with the virtual CPS card's certificates
/// (TestVectors/cards/cps-test, our own IGC-Santé-like test PKI). Possession with a real
/// signature is tested end to end by Tools/service/cards_test.py (the card's key is derived
/// there, never stored).
@Suite struct CardTests {
    static let folder = packageRoot.appendingPathComponent("TestVectors/cards/cps-test")
    static let cps3ATR = "3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00"

    static func harness(crl: String = "crl-current.pem") throws -> ServiceHarness {
        try ServiceHarness {
            $0.cardAnchorsFile = folder.appendingPathComponent("anchors-test.pem").path
            $0.cardCRLFiles = [folder.appendingPathComponent(crl).path]
        }
    }

    static func certificates() throws -> [String] {
        try ["auth.der", "ca.der"].map { SoftwareAuthenticator.encode(Array(try Data(contentsOf: folder.appendingPathComponent($0)))) }
    }

    @Test func theCardIsIdentifiedAndItsChainJudged() async throws {
        let harness = try Self.harness()
        let key = harness.keys["verifier"]
        let certificates = try Self.certificates()
        try await harness.test { client in
            let reply = try await client.call(.post, "/v1/cards/verify", key: key, json: ["certificates": certificates, "atr": Self.cps3ATR])
            #expect(reply.status == .ok, "\(reply.text)")
            let card = try #require(reply.json["card"] as? [String: Any])
            let identity = try #require(card["identity"] as? [String: Any])
            #expect(identity["nationalId"] as? String == "810003456786")
            #expect(identity["identifierType"] as? String == "RPPS")
            #expect(identity["luhnValid"] as? Bool == true)
            let chain = try #require(card["chain"] as? [String: Any])
            #expect(chain["trusted"] as? Bool == true, "\(chain)")
            #expect(chain["revocation"] as? String == "checked")
            #expect(card["possessionProven"] is NSNull)
            // Without a possession proof the card is not (yet) an accepted MIE.
            #expect(reply.json["verdict"] as? String != "accepted")
            #expect((reply.json["amr"] as? [String]) == [])
        }
    }

    @Test func aRevokedCardIsRefused() async throws {
        let harness = try Self.harness(crl: "crl-auth-revoked.pem")
        let certificates = try Self.certificates()
        try await harness.test { client in
            let reply = try await client.call(.post, "/v1/cards/verify", key: harness.keys["verifier"], json: ["certificates": certificates])
            #expect(((reply.json["card"] as? [String: Any])?["chain"] as? [String: Any])?["revocation"] as? String == "revoked")
            #expect(reply.json["verdict"] as? String == "refused")
        }
    }

    @Test func withoutAnchorsTheChainIsNotTrusted() async throws {
        let harness = try ServiceHarness()
        let certificates = try Self.certificates()
        try await harness.test { client in
            let reply = try await client.call(.post, "/v1/cards/verify", key: harness.keys["verifier"], json: ["certificates": certificates])
            #expect(((reply.json["card"] as? [String: Any])?["chain"] as? [String: Any])?["trusted"] as? Bool == false)
            #expect(reply.json["verdict"] as? String != "accepted")
        }
    }

    @Test func challengesServeOnceAndAWrongSignatureProvesNothing() async throws {
        let harness = try Self.harness()
        let key = harness.keys["verifier"]
        let certificates = try Self.certificates()
        try await harness.test { client in
            let challenge = try await client.call(.post, "/v1/cards/challenges", key: key)
            #expect(challenge.status == .ok)
            let id = try #require(challenge.json["challengeId"] as? String)
            #expect(try SoftwareAuthenticator.decode(try #require(challenge.json["challenge"] as? String)).count == 32)
            let forged = SoftwareAuthenticator.encode([UInt8](repeating: 0x5A, count: 256))
            let body: [String: Any] = ["certificates": certificates, "challengeId": id, "signature": forged]
            let reply = try await client.call(.post, "/v1/cards/verify", key: key, json: body)
            #expect((reply.json["card"] as? [String: Any])?["possessionProven"] as? Bool == false)
            #expect(reply.json["verdict"] as? String == "refused")
            let replay = try await client.call(.post, "/v1/cards/verify", key: key, json: body)
            #expect(replay.status == .conflict)
            #expect(replay.code == "ceremony.replayed")
            let other = try await client.call(.post, "/v1/cards/challenges", key: harness.keys["all"])
            let foreign = try await client.call(
                .post, "/v1/cards/verify", key: key, json: ["certificates": certificates, "challengeId": other.json["challengeId"]!, "signature": forged])
            #expect(foreign.code == "ceremony.unknown")
        }
    }

    /// A card-bound enrolment opens only for a card that proves its holder (the success, with
    /// the virtual card's key, is Tools/service/enrol_test.py through mie-probe).
    @Test func aCardBoundEnrolmentNeedsAProvenCard() async throws {
        let harness = try Self.harness()
        let key = harness.keys["enrolment"]
        let certificates = try Self.certificates()
        try await harness.test { client in
            let unsigned = try await client.call(.post, "/v1/registrations/options", key: key, json: ["card": ["certificates": certificates]])
            #expect(unsigned.status == .badRequest, "a card without its signature over a challenge proves no one")
            let challenge = try await client.call(.post, "/v1/cards/challenges", key: key)
            let forged = SoftwareAuthenticator.encode([UInt8](repeating: 0x5A, count: 256))
            let card: [String: Any] = [
                "certificates": certificates, "atr": Self.cps3ATR, "serialNumber": "00 80 25 00 00 01 12 34 56",
                "challengeId": challenge.json["challengeId"]!, "signature": forged,
            ]
            let both = try await client.call(.post, "/v1/registrations/options", key: key, json: ["card": card, "holder": CeremonyTests.holder])
            #expect(both.status == .badRequest, "a typed identity and a card at once are refused")
            let refused = try await client.call(.post, "/v1/registrations/options", key: key, json: ["card": card])
            #expect(refused.status == .unprocessableContent && refused.code == "card.refused", "\(refused.text)")
            #expect(refused.json["reason"] as? String == "card.possession" || refused.json["reason"] as? String == "card.pin-verified", "\(refused.text)")
            let verifier = try await client.call(.post, "/v1/registrations/options", key: harness.keys["verifier"], json: ["card": card])
            #expect(verifier.status == .forbidden)
        }
    }

    @Test func badCardRequestsAreRefused() async throws {
        let harness = try Self.harness()
        let key = harness.keys["verifier"]
        let certificates = try Self.certificates()
        try await harness.test { client in
            let bodies: [[String: Any]] = [
                [:], ["certificates": []], ["certificates": ["AAAA"]], ["certificates": certificates, "atr": "zz"],
                ["certificates": certificates, "challengeId": "x"], ["certificates": certificates, "signature": "AAAA"],
                ["certificates": Array(repeating: certificates[0], count: 9)], ["certificates": certificates, "pin": "1234"],
            ]
            for body in bodies {
                let reply = try await client.call(.post, "/v1/cards/verify", key: key, json: body)
                #expect(reply.status == .badRequest, "\(body.keys.sorted()): \(reply.text)")
            }
            #expect(try await client.call(.post, "/v1/cards/verify", key: harness.keys["enrolment"], json: ["certificates": certificates]).status == .ok)
            #expect(try await client.call(.post, "/v1/cards/verify", key: harness.keys["operator"], json: ["certificates": certificates]).status == .forbidden)
        }
    }
}

/// Card CRLs are read again while the service runs: a CRL replaced on disk is in force at the
/// next check, a file that cannot be read leaves the CRLs in force, and readiness and metrics
/// name each CRL's next update.
@Suite struct CardCRLReloadTests {
    @Test func aReplacedCRLIsInForceWithoutARestart() async throws {
        let folder = CardTests.folder
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mie-crl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let crl = directory.appendingPathComponent("ca.crl.pem")
        try FileManager.default.copyItem(at: folder.appendingPathComponent("crl-current.pem"), to: crl)
        let harness = try ServiceHarness {
            $0.cardAnchorsFile = folder.appendingPathComponent("anchors-test.pem").path
            $0.cardCRLFiles = [crl.path]
        }
        let certificates = try CardTests.certificates()
        @Sendable func revocation(_ client: any TestClientProtocol) async throws -> String? {
            let reply = try await client.call(.post, "/v1/cards/verify", key: harness.keys["verifier"], json: ["certificates": certificates])
            return ((reply.json["card"] as? [String: Any])?["chain"] as? [String: Any])?["revocation"] as? String
        }
        try await harness.test { client in
            #expect(try await revocation(client) == "checked")
            #expect(!harness.state.reloadCardCRLs(), "nothing changed")
            // The CA's next CRL revokes the card: in force at the next check.
            try Data(contentsOf: folder.appendingPathComponent("crl-auth-revoked.pem")).write(to: crl)
            #expect(harness.state.reloadCardCRLs())
            #expect(try await revocation(client) == "revoked")
            // A broken file: the CRLs in force stay, the failure is counted.
            try Data("not a CRL".utf8).write(to: crl)
            #expect(!harness.state.reloadCardCRLs())
            #expect(try await revocation(client) == "revoked")
            let metrics = try await client.call(.get, "/metrics", key: nil)
            #expect(metrics.text.contains("mie_card_crl_reload_failures_total 1") && metrics.text.contains("mie_card_crl_reloads_total 1"))
            #expect(metrics.text.contains("mie_card_crl_next_update_seconds{issuer="))
            let ready = try await client.call(.get, "/health/ready", key: nil)
            let crls = try #require(ready.json["cardCRLs"] as? [[String: Any]], "\(ready.text)")
            #expect(crls.count == 1 && crls[0]["nextUpdate"] is String)
            #expect(ready.json["status"] as? String == ((crls[0]["expired"] as? Bool) == true ? "degraded" : "ready"))
        }
    }
}
