import AuthenticatorVerification
import Foundation

/// The JSON request of `mie-verifier verify …` and of the HTTP API (README, "Request").
public struct VerificationRequest: Decodable, Sendable {
    public struct Credential: Decodable, Sendable {
        public var id: String?
        public var rawId: String?
        public var type: String?
        public var response: AuthenticatorResponse

        // The WebAuthn JSON serialisation: other members (clientExtensionResults,
        // authenticatorAttachment, …) are accepted and ignored.
    }

    public struct AuthenticatorResponse: Decodable, Sendable {
        public var clientDataJSON: String
        public var attestationObject: String?
        public var authenticatorData: String?
        public var signature: String?
        public var userHandle: String?
    }

    public struct Expected: Decodable, Sendable {
        public var challenge: String
        public var origins: [String]
        public var rpId: String
        public var userVerification: UserVerificationRequirement?
        public var credential: StoredCredentialJSON?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case challenge, origins, rpId, userVerification, credential
        }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(Set(CodingKeys.allCases.map(\.rawValue)), in: "expected")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            challenge = try c.decode(String.self, forKey: .challenge)
            origins = try c.decode([String].self, forKey: .origins)
            rpId = try c.decode(String.self, forKey: .rpId)
            userVerification = try c.decodeIfPresent(UserVerificationRequirement.self, forKey: .userVerification)
            credential = try c.decodeIfPresent(StoredCredentialJSON.self, forKey: .credential)
        }
    }

    public struct StoredCredentialJSON: Decodable, Sendable {
        public var id: String?
        public var publicKey: String
        public var signCount: UInt32
        public var backupEligible: Bool?
        public var userHandle: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case id, publicKey, signCount, backupEligible, userHandle
        }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(Set(CodingKeys.allCases.map(\.rawValue)), in: "expected.credential")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decodeIfPresent(String.self, forKey: .id)
            publicKey = try c.decode(String.self, forKey: .publicKey)
            signCount = try c.decodeIfPresent(UInt32.self, forKey: .signCount) ?? 0
            backupEligible = try c.decodeIfPresent(Bool.self, forKey: .backupEligible)
            userHandle = try c.decodeIfPresent(String.self, forKey: .userHandle)
        }
    }

    public struct Policy: Decodable, Sendable {
        public var attestation: VerificationPolicy.AttestationRequirement?
        public var algorithms: [String]?
        public var allowCrossOrigin: Bool?
        public var topOrigins: [String]?
        public var allowSHA1Attestation: Bool?
        public var formats: [String]?
        public var androidKeyAuthorization: String?
        public var requireKnownTPMManufacturer: Bool?
        public var safetyNetMaxAgeSeconds: Double?
        public var requireSafetyNetCTSProfileMatch: Bool?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case attestation, algorithms, allowCrossOrigin, topOrigins, allowSHA1Attestation, formats
            case androidKeyAuthorization, requireKnownTPMManufacturer, safetyNetMaxAgeSeconds, requireSafetyNetCTSProfileMatch
        }

        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(Set(CodingKeys.allCases.map(\.rawValue)), in: "policy")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            attestation = try c.decodeIfPresent(VerificationPolicy.AttestationRequirement.self, forKey: .attestation)
            algorithms = try c.decodeIfPresent([String].self, forKey: .algorithms)
            allowCrossOrigin = try c.decodeIfPresent(Bool.self, forKey: .allowCrossOrigin)
            topOrigins = try c.decodeIfPresent([String].self, forKey: .topOrigins)
            allowSHA1Attestation = try c.decodeIfPresent(Bool.self, forKey: .allowSHA1Attestation)
            formats = try c.decodeIfPresent([String].self, forKey: .formats)
            androidKeyAuthorization = try c.decodeIfPresent(String.self, forKey: .androidKeyAuthorization)
            requireKnownTPMManufacturer = try c.decodeIfPresent(Bool.self, forKey: .requireKnownTPMManufacturer)
            safetyNetMaxAgeSeconds = try c.decodeIfPresent(Double.self, forKey: .safetyNetMaxAgeSeconds)
            requireSafetyNetCTSProfileMatch = try c.decodeIfPresent(Bool.self, forKey: .requireSafetyNetCTSProfileMatch)
        }
    }

    public var response: Credential
    public var expected: Expected
    public var policy: Policy?
    public var at: String?
    public var trustAnchors: [String]?
    /// CRLs (DER, base64url) to check attestation paths against.
    public var crls: [String]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case response, expected, policy, at, trustAnchors, crls
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(Set(CodingKeys.allCases.map(\.rawValue)), in: "the request")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        response = try c.decode(Credential.self, forKey: .response)
        expected = try c.decode(Expected.self, forKey: .expected)
        policy = try c.decodeIfPresent(Policy.self, forKey: .policy)
        at = try c.decodeIfPresent(String.self, forKey: .at)
        trustAnchors = try c.decodeIfPresent([String].self, forKey: .trustAnchors)
        crls = try c.decodeIfPresent([String].self, forKey: .crls)
    }
}
