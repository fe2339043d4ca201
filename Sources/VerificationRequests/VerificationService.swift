import AuthenticatorVerification
import Foundation
import SignatureVerification

/// Which ceremony a request is for.
public enum Ceremony: String, Sendable, CaseIterable {
    case registration
    case assertion
}

/// What became of one request: the JSON to return and its disposition.
public struct VerificationOutcome: Sendable {
    public enum Disposition: Int32, Sendable {
        case verified = 0
        case rejected = 1
        case badRequest = 2
    }

    public let disposition: Disposition
    public let result: VerificationResult

    /// One line of compact JSON with sorted keys.
    public func json() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain structs of strings, numbers and booleans cannot fail.
        return (try? encoder.encode(result)) ?? Data(#"{"verified":false,"error":{"code":"internal","message":"encoding failed"}}"#.utf8)
    }
}

/// Turns JSON requests into verified results: the shared edge of the CLI and the HTTP API.
/// Holds a cache of decoded credential keys so repeated assertions for a credential decode
/// its COSE key once.
public final class VerificationService: Sendable {
    public let trust: any AttestationTrustSource
    public let caches: VerificationCaches
    /// Largest request accepted, in bytes.
    public static let maximumRequestSize = 256 * 1024

    public init(trust: any AttestationTrustSource = FixedTrustAnchors.none, caches: VerificationCaches = VerificationCaches()) {
        self.trust = trust
        self.caches = caches
    }

    public func verify(_ ceremony: Ceremony, requestJSON: Data, now: Date = Date()) -> VerificationOutcome {
        guard requestJSON.count <= Self.maximumRequestSize else {
            return badRequest("request is larger than \(Self.maximumRequestSize) bytes", ceremony)
        }
        let request: VerificationRequest
        do {
            request = try JSONDecoder().decode(VerificationRequest.self, from: requestJSON)
        } catch let error as RequestError {
            return badRequest(error.message, ceremony)
        } catch let error as DecodingError {
            return badRequest(Self.describe(error), ceremony)
        } catch {
            return badRequest("request is not valid JSON", ceremony)
        }
        return verify(ceremony, request: request, now: now)
    }

    public func verify(_ ceremony: Ceremony, request: VerificationRequest, now: Date = Date()) -> VerificationOutcome {
        do {
            let inputs = try RequestInputs(request, ceremony: ceremony, now: now)
            switch inputs.response {
            case .registration(let response):
                let trust: any AttestationTrustSource =
                    inputs.anchors.isEmpty && inputs.crls.isEmpty
                    ? self.trust : CombinedTrustSource([self.trust, FixedTrustAnchors(inputs.anchors, crls: inputs.crls)])
                let verified = try RegistrationVerifier.verify(
                    response, expecting: inputs.expectation, policy: inputs.policy, trust: trust, at: inputs.time, caches: caches)
                return VerificationOutcome(disposition: .verified, result: .registration(verified))
            case .assertion(let response):
                let stored = try storedCredential(request)
                let verified = try AssertionVerifier.verify(
                    response, expecting: inputs.expectation, credential: stored, policy: inputs.policy)
                return VerificationOutcome(disposition: .verified, result: .assertion(verified))
            }
        } catch let error as RequestError {
            return badRequest(error.message, ceremony)
        } catch let failure as VerificationFailure {
            let disposition: VerificationOutcome.Disposition = failure.code == .malformedRequest ? .badRequest : .rejected
            return VerificationOutcome(disposition: disposition, result: .rejected(failure, ceremony: ceremony.rawValue))
        } catch {
            return VerificationOutcome(
                disposition: .rejected,
                result: .rejected(VerificationFailure(.internalError, "unexpected error"), ceremony: ceremony.rawValue))
        }
    }

    /// The stored credential, its key decoded once per distinct COSE key.
    private func storedCredential(_ request: VerificationRequest) throws -> StoredCredential {
        guard let json = request.expected.credential else { throw RequestError("expected.credential is required for an assertion") }
        let encoded = try RequestInputs.bytes(json.publicKey, "expected.credential.publicKey")
        let key = try caches.credentialKey(for: encoded)
        return StoredCredential(
            id: try json.id.map { try RequestInputs.bytes($0, "expected.credential.id") }, publicKey: key,
            signCount: json.signCount, backupEligible: json.backupEligible,
            userHandle: try json.userHandle.map { try RequestInputs.bytes($0, "expected.credential.userHandle") })
    }

    private func badRequest(_ message: String, _ ceremony: Ceremony) -> VerificationOutcome {
        VerificationOutcome(
            disposition: .badRequest, result: .rejected(VerificationFailure(.malformedRequest, message), ceremony: ceremony.rawValue))
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map(\.stringValue).joined(separator: ".")
            return p.isEmpty ? "the request" : p
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "\(parent == "the request" ? "" : parent + ".")\(key.stringValue) is required"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context)) has the wrong type"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "request is not valid JSON" : "\(path(context)) has an invalid value"
        @unknown default:
            return "request is not valid"
        }
    }
}

/// A request's fields turned into the core's types.
struct RequestInputs {
    let expectation: CeremonyExpectation
    let policy: VerificationPolicy
    let time: Date
    let anchors: [Certificate]
    let crls: [CertificateRevocationList]
    let response: Response

    enum Response {
        case registration(RegistrationResponse)
        case assertion(AssertionResponse)
    }

    static func bytes(_ text: String, _ field: String) throws -> [UInt8] {
        guard let bytes = Base64URL.decode(text) else { throw RequestError("\(field) is not base64url") }
        return bytes
    }

    init(_ request: VerificationRequest, ceremony: Ceremony, now: Date) throws {
        let expected = request.expected
        guard !expected.origins.isEmpty else { throw RequestError("expected.origins must list at least one origin") }
        expectation = CeremonyExpectation(
            challenge: try Self.bytes(expected.challenge, "expected.challenge"), origins: expected.origins, rpID: expected.rpId,
            userVerification: expected.userVerification ?? .required)

        var policy = VerificationPolicy.strict
        if let p = request.policy {
            if let attestation = p.attestation { policy.attestation = attestation }
            if let names = p.algorithms {
                var algorithms = Set<COSEAlgorithm>()
                for name in names {
                    guard let algorithm = COSEAlgorithm(name: name) else {
                        throw RequestError("policy.algorithms: unknown algorithm \"\(name)\"")
                    }
                    algorithms.insert(algorithm)
                }
                policy.allowedAlgorithms = algorithms
            }
            if let allow = p.allowCrossOrigin { policy.allowsCrossOrigin = allow }
            if let top = p.topOrigins { policy.allowedTopOrigins = top }
            if let sha1 = p.allowSHA1Attestation { policy.allowsSHA1AttestationSignatures = sha1 }
            if let formats = p.formats {
                let supported = Set(AttestationStatementVerifier.supportedFormats)
                if let unknown = formats.first(where: { !supported.contains($0) }) {
                    throw RequestError("policy.formats: unknown attestation format \"\(unknown)\"")
                }
                policy.allowedAttestationFormats = Set(formats)
            }
            if let name = p.androidKeyAuthorization {
                guard let value = VerificationPolicy.AndroidKeyAuthorization(rawValue: name) else {
                    throw RequestError("policy.androidKeyAuthorization must be teeEnforced, teeOrSoftwareEnforced or notCheckedForTesting")
                }
                policy.androidKeyAuthorization = value
            }
            if let known = p.requireKnownTPMManufacturer { policy.requiresKnownTPMManufacturer = known }
            if let age = p.safetyNetMaxAgeSeconds {
                guard age >= 0, age.isFinite else { throw RequestError("policy.safetyNetMaxAgeSeconds must be a non-negative number") }
                policy.safetyNetMaximumAge = age
            }
            if let cts = p.requireSafetyNetCTSProfileMatch { policy.requiresSafetyNetCTSProfileMatch = cts }
        }
        self.policy = policy

        if let at = request.at {
            guard let date = Self.parseTime(at) else { throw RequestError("at is not an RFC 3339 time") }
            time = date
        } else {
            time = now
        }

        anchors = try Self.decodeEach(request.trustAnchors, "trustAnchors", "a DER certificate") { try Certificate(der: $0) }
        crls = try Self.decodeEach(request.crls, "crls", "a DER CRL") { try CertificateRevocationList(der: $0) }

        let credential = request.response
        if let type = credential.type, type != "public-key" { throw RequestError("response.type must be \"public-key\"") }
        guard let rawIDText = credential.rawId ?? credential.id else { throw RequestError("response.rawId is required") }
        let rawID = try Self.bytes(rawIDText, "response.rawId")
        if let id = credential.id, let rawId = credential.rawId, id != rawId {
            throw RequestError("response.id and response.rawId differ")
        }
        let clientDataJSON = try Self.bytes(credential.response.clientDataJSON, "response.response.clientDataJSON")
        switch ceremony {
        case .registration:
            guard let attestationObject = credential.response.attestationObject else {
                throw RequestError("response.response.attestationObject is required for a registration")
            }
            response = .registration(
                RegistrationResponse(
                    rawID: rawID, clientDataJSON: clientDataJSON,
                    attestationObject: try Self.bytes(attestationObject, "response.response.attestationObject")))
        case .assertion:
            guard let authenticatorData = credential.response.authenticatorData, let signature = credential.response.signature else {
                throw RequestError("response.response.authenticatorData and signature are required for an assertion")
            }
            response = .assertion(
                AssertionResponse(
                    rawID: rawID, clientDataJSON: clientDataJSON,
                    authenticatorData: try Self.bytes(authenticatorData, "response.response.authenticatorData"),
                    signature: try Self.bytes(signature, "response.response.signature"),
                    userHandle: try credential.response.userHandle.map { try Self.bytes($0, "response.response.userHandle") }))
        }
    }

    /// Each base64url entry of a request list decoded by `decode`; the first bad one names its index.
    static func decodeEach<T>(
        _ texts: [String]?, _ field: String, _ what: String, _ decode: ([UInt8]) throws -> T
    ) throws -> [T] {
        try (texts ?? []).enumerated().map { index, text in
            let der = try bytes(text, "\(field)[\(index)]")
            do {
                return try decode(der)
            } catch {
                throw RequestError("\(field)[\(index)] is not \(what)")
            }
        }
    }

    static func parseTime(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }
}
