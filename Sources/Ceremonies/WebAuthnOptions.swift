import AuthenticatorVerification
import WireFormat

/// The options a WebAuthn client is given, as `parseCreationOptionsFromJSON` and
/// `parseRequestOptionsFromJSON` read them: the service's algorithms, user verification
/// required.
package enum WebAuthnOptions {
    /// What the service offers to sign with: the algorithms its policy verifies, the usual
    /// ones first (WebAuthn clients take the first the authenticator supports).
    package static let offeredAlgorithms: [COSEAlgorithm] = [.es256, .edDSA, .es384, .es512, .ps256, .rs256].filter {
        VerificationPolicy.strict.allowedAlgorithms.contains($0)
    }

    /// PublicKeyCredentialCreationOptions, a discoverable credential preferred.
    package static func creation(
        party: RelyingParty, userHandle: [UInt8], name: String, displayName: String, challenge: [UInt8], exclude: [[UInt8]], attestation: String,
        timeoutMilliseconds: Int
    ) -> JSONValue {
        .object([
            ("rp", .object([("id", .string(party.id)), ("name", .string(party.name))])),
            (
                "user",
                .object([("id", .string(Base64URL.encode(userHandle))), ("name", .string(name)), ("displayName", .string(displayName))])
            ),
            ("challenge", .string(Base64URL.encode(challenge))),
            ("pubKeyCredParams", .array(offeredAlgorithms.map { .object([("type", .string("public-key")), ("alg", .integer($0.rawValue))]) })),
            ("timeout", .integer(timeoutMilliseconds)),
            ("excludeCredentials", descriptors(exclude)),
            (
                "authenticatorSelection",
                .object([("residentKey", .string("preferred")), ("requireResidentKey", .bool(false)), ("userVerification", .string("required"))])
            ),
            ("attestation", .string(attestation)),
            ("hints", .array([.string("security-key")])),
            ("extensions", .object([("credProps", .bool(true))])),
        ])
    }

    /// PublicKeyCredentialRequestOptions.
    package static func request(party: RelyingParty, challenge: [UInt8], allow: [[UInt8]], timeoutMilliseconds: Int) -> JSONValue {
        .object([
            ("challenge", .string(Base64URL.encode(challenge))), ("timeout", .integer(timeoutMilliseconds)), ("rpId", .string(party.id)),
            ("allowCredentials", descriptors(allow)), ("userVerification", .string("required")),
        ])
    }

    static func descriptors(_ ids: [[UInt8]]) -> JSONValue {
        .array(ids.map { .object([("type", .string("public-key")), ("id", .string(Base64URL.encode($0)))]) })
    }
}
