import AuthenticatorCatalog
import AuthenticatorVerification
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

    /// The profile a client names, if it may.
    static func profile(_ name: String?, for client: APIClient, state: ServiceState) throws(APIError) -> Profile {
        guard let name, name != state.profile.id else { return state.profile }
        throw APIError(.malformedRequest, "profile \(name) is not available (this service runs \(state.profile.id))")
    }

    /// The core's request: the client's ceremony data with the service's relying party, policy
    /// and time. Attestation trust is the PSC engine's to judge (FI 19, 22): an untrusted
    /// statement is reported, not a failed verification.
    static func coreRequest(
        _ response: CredentialResponse, challenge: [UInt8], party: RelyingParty, credential: VerificationRequest.StoredCredentialJSON?, at now: Date
    ) -> VerificationRequest {
        var policy = VerificationPolicy.strict
        policy.attestation = .any
        return VerificationRequest(
            response: response,
            expected: .init(challenge: challenge, origins: party.origins, rpID: party.id, userVerification: .required, credential: credential),
            policy: policy, at: now)
    }

    func verify(_ ceremony: Ceremony, _ request: Request, _ context: APIRequestContext) async throws -> Response {
        let client = try context.require(.verifier, .enrolment)
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        let input = try StatelessRequest.read(body, ceremony: ceremony)
        let profile = try Self.profile(input.profile, for: client, state: state)
        let party = state.relyingParty(for: client)
        let live = state.current
        let now = Date()
        let core = Self.coreRequest(input.response, challenge: input.challenge, party: party, credential: input.credential, at: now)
        let outcome = live.service.verify(ceremony, request: core, now: now)
        var event = AuditEvent(
            action: "\(ceremony.rawValue).verify", client: client.name, result: outcome.result.failureCode ?? "verified",
            profile: profile.label)
        guard outcome.disposition != .badRequest else {
            state.auditBuffer.record(event)
            state.metrics.verification(ceremony.rawValue, event.result)
            throw APIError(.malformedRequest, outcome.result.failureMessage ?? "the request could not be verified")
        }
        var writer = JSONWriter(capacity: 4096)
        writer.object { w in
            w.key("verification")
            outcome.write(to: &w)
            switch outcome.result {
            case .registration(let registration):
                let evaluation = PolicyEngine.evaluate(.fido(FIDOFacts(registration: registration)), catalog: live.catalog, profile: profile, at: now)
                evaluation.writeMembers(to: &w)
                event.authenticator = AAGUIDText.string(registration.aaguid)
                event.credentialID = Base64URL.encode(registration.credentialID)
                event.result = evaluation.verdict.rawValue
                event.amr = evaluation.amr
                event.lists = evaluation.lists.map(\.label)
            case .assertion(let assertion):
                let amr = PolicyEngine.assertionAMR(flags: assertion.flags, entry: nil, profile: profile)
                w.key("amr")
                JSONValue.strings(amr).write(to: &w)
                event.credentialID = Base64URL.encode(assertion.credentialID)
                event.amr = amr
            case .rejected:
                w.key("amr")
                w.array { _ in }
            }
        }
        state.auditBuffer.record(event)
        state.metrics.verification(ceremony.rawValue, event.result)
        return jsonResponse(writer.bytes)
    }
}
