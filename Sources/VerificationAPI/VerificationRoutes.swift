import AuthenticatorCatalog
import AuthenticatorVerification
import Ceremonies
import Foundation
import Hummingbird
import PSCPolicy
import Storage
import VerificationRequests
import WireFormat

/// What a client sends to the stateless endpoints: the ceremony data only. The relying party,
/// the policy, the trust and the time are the service's.
struct StatelessRequest {
    var response: CredentialResponse
    var challenge: [UInt8]
    var profile: String?
    var credential: VerificationRequest.StoredCredentialJSON?

    static func read(_ bytes: [UInt8], ceremony: Ceremony) throws(APIError) -> StatelessRequest {
        do {
            return try JSONReader.read(bytes, document: "the request") { (reader: inout JSONReader) throws(JSONError) in
                var response: CredentialResponse?
                var challenge: [UInt8]?
                var profile: String?
                var credential: VerificationRequest.StoredCredentialJSON?
                try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                    switch key {
                    case "response": response = try CredentialResponse.read(&reader, ceremony: ceremony)
                    case "challenge":
                        let bytes = try reader.readBase64URL()
                        guard (16...64).contains(bytes.count) else { throw reader.invalid("must be 16 to 64 bytes") }
                        challenge = bytes
                    case "profile": profile = try reader.readString()
                    case "credential" where ceremony == .assertion: credential = try VerificationRequest.readStoredCredential(&reader)
                    default: throw reader.unknownMember(key)
                    }
                }
                guard let response else { throw reader.missing("response") }
                guard let challenge else { throw reader.missing("challenge") }
                if ceremony == .assertion, credential == nil { throw reader.missing("credential") }
                return StatelessRequest(response: response, challenge: challenge, profile: profile, credential: credential)
            }
        } catch {
            throw APIError(.malformedRequest, error.message)
        }
    }
}

/// POST /v1/registrations/verify and /v1/assertions/verify: the IAM keeps challenges and
/// credentials; the service verifies with its catalog, policy and clock, and judges.
struct VerificationRoutes {
    let state: ServiceState

    func register(on router: Router<APIRequestContext>) {
        router.post("/v1/registrations/verify") { request, context in try await verify(.registration, request, context) }
        router.post("/v1/assertions/verify") { request, context in try await verify(.assertion, request, context) }
    }

    /// Verifies and judges in the request's task: nothing here waits for the disk (the audit
    /// event is queued).
    func verify(_ ceremony: Ceremony, _ request: Request, _ context: APIRequestContext) async throws -> Response {
        let client = try context.require(.verifier, .enrolment)
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        return jsonResponse(try Self.answer(ceremony, body, for: client, state: state))
    }

    /// The answer to a stateless verification's body, for an authenticated client: the router's
    /// route and the hot path (`HotPathHandler`) both answer with it.
    static func answer(_ ceremony: Ceremony, _ body: [UInt8], for client: APIClient, state: ServiceState) throws -> [UInt8] {
        let caller = state.caller(client)
        let input = try StatelessRequest.read(body, ceremony: ceremony)
        let judged = try state.operations.judge(
            ceremony, input.response, challenge: input.challenge, credential: input.credential, profile: input.profile, by: caller)
        var writer = JSONWriter(capacity: 4096)
        writer.object { w in
            w.key("verification")
            judged.outcome.write(to: &w)
            if let evaluation = judged.evaluation {
                evaluation.writeMembers(to: &w)
            } else {
                w.key("amr")
                JSONValue.strings(judged.amr).write(to: &w)
            }
        }
        return writer.bytes
    }
}
