import AuthenticatorVerification
import CBORDecoding
import Foundation

/// The JSON result printed by the CLI and returned by the HTTP API.
public struct VerificationResult: Encodable, Sendable {
    public struct Flags: Encodable, Sendable {
        let up: Bool
        let uv: Bool
        let be: Bool
        let bs: Bool

        init(_ flags: AuthenticatorData.Flags) {
            up = flags.userPresent
            uv = flags.userVerified
            be = flags.backupEligible
            bs = flags.backupState
        }
    }

    public struct Credential: Encodable, Sendable {
        let id: String
        let publicKey: String
        let alg: String
        let signCount: UInt32
        let aaguid: String
        let backupEligible: Bool
        let backupState: Bool
    }

    public struct Attestation: Encodable, Sendable {
        let format: String
        let type: String
        let trusted: Bool
        /// x5c as received, leaf first (base64url DER).
        let trustPath: [String]
        /// Why the chain is not trusted, when it is not.
        let untrustedReason: String?
        /// not-checked, checked or partial.
        let revocation: String
        let properties: [String: String]?
        let warnings: [String]?
        /// The statements of a compound attestation.
        let components: [Attestation]?

        init(_ a: AttestationResult) {
            format = a.format
            type = a.type.rawValue
            trusted = a.isTrusted
            trustPath = a.certificates.map { Base64URL.encode($0.der) }
            untrustedReason = a.isTrusted ? nil : a.untrustedReason
            revocation = a.revocation.rawValue
            properties = a.properties.isEmpty ? nil : a.properties
            warnings = a.warnings.isEmpty ? nil : a.warnings
            components = a.components.isEmpty ? nil : a.components.map(Attestation.init)
        }
    }

    public struct Failure: Encodable, Sendable {
        public let code: String
        public let message: String
    }

    public let verified: Bool
    public let ceremony: String?
    public let credential: Credential?
    public let signCount: UInt32?
    public let flags: Flags?
    public let backupState: Bool?
    public let userVerified: Bool?
    public let attestation: Attestation?
    public let extensions: CBORJSON?
    public let error: Failure?

    static func registration(_ r: VerifiedRegistration) -> VerificationResult {
        VerificationResult(
            verified: true, ceremony: "registration",
            credential: Credential(
                id: Base64URL.encode(r.credentialID), publicKey: Base64URL.encode(r.publicKey.encoded),
                alg: r.publicKey.algorithm.name, signCount: r.signCount, aaguid: AAGUIDText.string(r.aaguid),
                backupEligible: r.flags.backupEligible, backupState: r.flags.backupState),
            signCount: nil, flags: Flags(r.flags), backupState: nil, userVerified: nil,
            attestation: Attestation(r.attestation),
            extensions: r.extensions.map { CBORJSON(.map($0)) }, error: nil)
    }

    static func assertion(_ a: VerifiedAssertion) -> VerificationResult {
        VerificationResult(
            verified: true, ceremony: "assertion", credential: nil, signCount: a.signCount, flags: Flags(a.flags),
            backupState: a.backupState, userVerified: a.userVerified, attestation: nil,
            extensions: a.extensions.map { CBORJSON(.map($0)) }, error: nil)
    }

    static func rejected(_ failure: VerificationFailure, ceremony: String?) -> VerificationResult {
        VerificationResult(
            verified: false, ceremony: ceremony, credential: nil, signCount: nil, flags: nil, backupState: nil,
            userVerified: nil, attestation: nil, extensions: nil,
            error: Failure(code: failure.code.rawValue, message: failure.message))
    }

}

/// CBOR rendered as JSON for reports: byte strings become base64url, non-text map keys their
/// decimal or descriptive text.
public struct CBORJSON: Encodable, Sendable {
    let value: CBORValue

    init(_ value: CBORValue) {
        self.value = value
    }

    public func encode(to encoder: any Encoder) throws {
        switch value {
        case .unsigned(let n):
            var c = encoder.singleValueContainer()
            try c.encode(n)
        case .negative:
            var c = encoder.singleValueContainer()
            if let i = value.integer { try c.encode(i) } else { try c.encode("negative-bignum") }
        case .bytes(let b):
            var c = encoder.singleValueContainer()
            try c.encode(Base64URL.encode(b))
        case .text(let t):
            var c = encoder.singleValueContainer()
            try c.encode(t)
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(CBORJSON(item)) }
        case .map(let map):
            var c = encoder.container(keyedBy: AnyCodingKey.self)
            for entry in map.entries {
                let key: String
                switch entry.key {
                case .text(let t): key = t
                default: key = entry.key.integer.map(String.init) ?? entry.key.kindName
                }
                try c.encode(CBORJSON(entry.value), forKey: AnyCodingKey(stringValue: key))
            }
        case .tagged(_, let inner):
            try CBORJSON(inner).encode(to: encoder)
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .null, .undefined:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .float(let d):
            var c = encoder.singleValueContainer()
            if d.isFinite { try c.encode(d) } else { try c.encode(String(describing: d)) }
        }
    }
}
