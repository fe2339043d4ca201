@_spi(Fuzzing) @_spi(Internals) import AuthenticatorVerification
import CBORDecoding
import Foundation
import SignatureVerification
import Testing
import VerificationRequests

/// Inputs that once crashed a parser (TestVectors/fuzz-regressions/<target>/) are replayed
/// through the same parser: each must now be rejected with its layer's error.
@Suite struct FuzzRegressionTests {
    struct Input: Sendable, CustomTestStringConvertible {
        let target: String
        let name: String
        let bytes: [UInt8]
        var testDescription: String { "\(target)/\(name)" }
    }

    static let inputs: [Input] = {
        let root = packageRoot.appendingPathComponent("TestVectors/fuzz-regressions")
        let targets = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return targets.sorted().flatMap { target in
            let folder = root.appendingPathComponent(target)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            return files.sorted().compactMap { name in
                (try? Data(contentsOf: folder.appendingPathComponent(name))).map { Input(target: target, name: name, bytes: Array($0)) }
            }
        }
    }()

    @Test func regressionsArePresent() {
        #expect(!Self.inputs.isEmpty)
    }

    @Test(arguments: inputs)
    func inputIsRejectedCleanly(_ input: Input) {
        switch input.target {
        case "cbor":
            #expect(throws: CBORDecodingError.self) { try CBORDecoder().decode(input.bytes) }
        case "authenticator-data":
            #expect(throws: VerificationFailure.self) { try AuthenticatorData.parse(input.bytes) }
        case "cose-key":
            #expect(throws: VerificationFailure.self) { try CredentialPublicKey.decode(input.bytes) }
        case "attestation-object":
            #expect(throws: VerificationFailure.self) {
                let object = try AttestationObject.parse(input.bytes)
                _ = try AttestationStatementVerifier.verify(
                    object, clientDataHash: [UInt8](repeating: 0, count: 32), policy: .acceptUntrustedAttestationForTesting,
                    trust: FixedTrustAnchors.none, at: Date(timeIntervalSince1970: 1_800_000_000))
            }
        case "client-data":
            #expect(throws: VerificationFailure.self) { try CollectedClientData.parse(input.bytes) }
        case "tpm-attest":
            #expect(throws: VerificationFailure.self) { try StatementParsers.parseTPMAttest(input.bytes) }
        case "tpm-public":
            #expect(throws: VerificationFailure.self) { try StatementParsers.parseTPMPublic(input.bytes) }
        case "key-description":
            #expect(throws: VerificationFailure.self) { try StatementParsers.parseKeyDescription(input.bytes) }
        case "safetynet-jws":
            #expect(throws: VerificationFailure.self) { try StatementParsers.parseSafetyNetJWS(input.bytes) }
        case "request-json":
            // Any request gets an answer with a listed code.
            for ceremony in Ceremony.allCases {
                let outcome = VerificationService().verify(ceremony, requestJSON: input.bytes)
                #expect(outcome.result.failureCode != "internal", "\(input.name)")
            }
        case "certificate":
            _ = try? Certificate(der: input.bytes)
            _ = try? CertificateRevocationList(der: input.bytes)
        case "resign":
            // A request from Tools/fuzz/resign.py that once killed the verifier: it now gets an
            // answer with a listed code.
            let object = try? JSONSerialization.jsonObject(with: Data(input.bytes)) as? [String: Any]
            let ceremony = (object?["ceremony"] as? String).flatMap(Ceremony.init(rawValue:))
            let request = object?["request"].flatMap { try? JSONSerialization.data(withJSONObject: $0) }
            guard let ceremony, let request else {
                Issue.record("\(input.name) is not {ceremony, request}")
                return
            }
            let outcome = VerificationService().verify(ceremony, requestJSON: request)
            let known = Set(FailureCode.allCases.map(\.rawValue) + RequestFailureCode.allCases.map(\.rawValue)).subtracting(["internal"])
            #expect(outcome.result.isVerified || known.contains(outcome.result.failureCode ?? ""), "\(input.name)")
        default:
            Issue.record("unknown fuzz target folder \(input.target)")
        }
    }
}
