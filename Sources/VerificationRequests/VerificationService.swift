import AuthenticatorVerification
import Foundation
import SignatureVerification
import WireFormat

/// Which ceremony a request is for.
public enum Ceremony: String, Sendable, CaseIterable {
    case registration
    case assertion
}

/// Codes the request layer adds to the core's (docs/failure-codes.md).
public enum RequestFailureCode: String, CaseIterable, Sendable {
    /// The request itself is unusable: not strict JSON, a member missing, unknown, duplicated
    /// or of the wrong type, bad base64url, too large. Exit status 2, HTTP 400.
    case malformedRequest = "malformed.request"
}

/// What became of one request: the result to return and its disposition.
public struct VerificationOutcome: Sendable {
    public enum Disposition: Int32, Sendable {
        case verified = 0
        case rejected = 1
        case badRequest = 2
    }

    public let disposition: Disposition
    public let result: VerificationResult

    public init(disposition: Disposition, result: VerificationResult) {
        self.disposition = disposition
        self.result = result
    }

    /// One line of compact JSON, members in alphabetical order.
    public func json() -> [UInt8] {
        var writer = JSONWriter()
        result.write(to: &writer)
        return writer.bytes
    }

    public func write(to writer: inout JSONWriter) {
        result.write(to: &writer)
    }
}

/// Turns JSON requests into verified results: the shared edge of the CLI and the HTTP API.
/// Holds caches of decoded credential keys, certificates and verified paths, so repeated
/// requests for one credential or one authenticator model decode once.
public final class VerificationService: Sendable {
    public let trust: any AttestationTrustSource
    public let caches: VerificationCaches
    /// Largest request accepted, in bytes.
    public static let maximumRequestSize = 256 * 1024

    public init(trust: any AttestationTrustSource = FixedTrustAnchors.none, caches: VerificationCaches = VerificationCaches()) {
        self.trust = trust
        self.caches = caches
    }

    public func verify(_ ceremony: Ceremony, requestJSON: UnsafeRawBufferPointer, now: Date = Date()) -> VerificationOutcome {
        guard requestJSON.count <= Self.maximumRequestSize else {
            return Self.badRequest("the request is larger than \(Self.maximumRequestSize) bytes", ceremony)
        }
        do {
            let request = try VerificationRequest.read(requestJSON, ceremony: ceremony)
            return verify(ceremony, request: request, now: now)
        } catch {
            return Self.badRequest(error.message, ceremony)
        }
    }

    public func verify(_ ceremony: Ceremony, requestJSON: [UInt8], now: Date = Date()) -> VerificationOutcome {
        requestJSON.withUnsafeBytes { verify(ceremony, requestJSON: $0, now: now) }
    }

    public func verify(_ ceremony: Ceremony, requestJSON: Data, now: Date = Date()) -> VerificationOutcome {
        requestJSON.withUnsafeBytes { verify(ceremony, requestJSON: $0, now: now) }
    }

    public func verify(_ ceremony: Ceremony, request: VerificationRequest, now: Date = Date()) -> VerificationOutcome {
        do {
            let expectation = CeremonyExpectation(
                challenge: request.expected.challenge, origins: request.expected.origins, rpID: request.expected.rpID,
                userVerification: request.expected.userVerification)
            switch ceremony {
            case .registration:
                // Anchors and CRLs come with every request of a batch: parse each distinct one once.
                let anchors = try Self.decodeEach(request.trustAnchors, "trustAnchors", "a DER certificate") { try caches.certificate($0) }
                let crls = try Self.decodeEach(request.crls, "crls", "a DER CRL") { try caches.revocationList($0) }
                let trust: any AttestationTrustSource =
                    anchors.isEmpty && crls.isEmpty ? self.trust : CombinedTrustSource([self.trust, FixedTrustAnchors(anchors, crls: crls)])
                let verified = try RegistrationVerifier.verify(
                    request.response.registration, expecting: expectation, policy: request.policy, trust: trust, at: request.at ?? now,
                    caches: caches)
                return VerificationOutcome(disposition: .verified, result: .registration(verified))
            case .assertion:
                let stored = try storedCredential(request)
                let verified = try AssertionVerifier.verify(
                    request.response.assertion, expecting: expectation, credential: stored, policy: request.policy)
                return VerificationOutcome(disposition: .verified, result: .assertion(verified))
            }
        } catch let error as RequestError {
            return Self.badRequest(error.message, ceremony)
        } catch let failure as VerificationFailure {
            return VerificationOutcome(
                disposition: .rejected, result: .rejected(code: failure.code.rawValue, message: failure.message, ceremony: ceremony))
        } catch {
            return VerificationOutcome(
                disposition: .rejected,
                result: .rejected(code: FailureCode.internalError.rawValue, message: "unexpected error", ceremony: ceremony))
        }
    }

    /// The stored credential, its key decoded once per distinct COSE key. A key the relying
    /// party stored that does not decode is a bad request, not a verdict on the authenticator.
    private func storedCredential(_ request: VerificationRequest) throws -> StoredCredential {
        guard let json = request.expected.credential else { throw RequestError("expected.credential is required for an assertion") }
        let key: CredentialPublicKey
        do {
            key = try caches.credentialKey(for: json.publicKey)
        } catch {
            throw RequestError("expected.credential.publicKey is not a usable COSE key: \(error.message)")
        }
        return StoredCredential(
            id: json.id, publicKey: key, signCount: json.signCount, backupEligible: json.backupEligible, userHandle: json.userHandle)
    }

    static func badRequest(_ message: String, _ ceremony: Ceremony) -> VerificationOutcome {
        VerificationOutcome(
            disposition: .badRequest,
            result: .rejected(code: RequestFailureCode.malformedRequest.rawValue, message: message, ceremony: ceremony))
    }

    /// Each DER entry of a request list decoded by `decode`; the first bad one names its index.
    static func decodeEach<T>(_ ders: [[UInt8]], _ field: String, _ what: String, _ decode: ([UInt8]) throws -> T) throws -> [T] {
        try ders.enumerated().map { index, der in
            do {
                return try decode(der)
            } catch {
                throw RequestError("\(field)[\(index)] is not \(what)")
            }
        }
    }
}
