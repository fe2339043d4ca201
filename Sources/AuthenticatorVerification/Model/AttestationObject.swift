import CBORDecoding

/// The attestation object (WebAuthn L3 §6.5): format, statement and authenticator data.
@_spi(Internals) public struct AttestationObject: Sendable {
    public let format: String
    /// `attStmt`: a map, or for compound attestation an array of statements.
    public let statement: CBORValue
    public let authenticatorData: AuthenticatorData
    /// The exact bytes received.
    public let bytes: [UInt8]

    public static func parse(_ bytes: [UInt8]) throws(VerificationFailure) -> AttestationObject {
        let value: CBORValue
        do {
            value = try CBORDecoder().decode(bytes)
        } catch {
            throw VerificationFailure(.malformedCBOR, "attestationObject: \(error)")
        }
        guard let map = value.map else {
            throw VerificationFailure(.malformedAttestationObject, "attestationObject is a \(value.kindName), not a map")
        }
        guard let format = map[text: "fmt"]?.text else {
            throw VerificationFailure(.malformedAttestationObject, "attestationObject has no text \"fmt\"")
        }
        guard let statement = map[text: "attStmt"], statement.map != nil || statement.array != nil else {
            throw VerificationFailure(.malformedAttestationObject, "attestationObject has no map (or array) \"attStmt\"")
        }
        guard let authData = map[text: "authData"]?.bytes else {
            throw VerificationFailure(.malformedAttestationObject, "attestationObject has no byte string \"authData\"")
        }
        return AttestationObject(
            format: format, statement: statement, authenticatorData: try AuthenticatorData.parse(Array(authData)), bytes: bytes)
    }
}
