import SignatureVerification

/// The attestation statement parsers, reachable from the fuzz targets (Tools/fuzz) without
/// making them product API: `@_spi(Fuzzing) import AuthenticatorVerification`.
@_spi(Fuzzing)
public enum StatementParsers {
    public static func parseTPMAttest(_ bytes: [UInt8]) throws(VerificationFailure) {
        _ = try TPMSAttest(bytes)
    }

    public static func parseTPMPublic(_ bytes: [UInt8]) throws(VerificationFailure) {
        _ = try TPMTPublic(bytes)
    }

    public static func parseKeyDescription(_ bytes: [UInt8]) throws(VerificationFailure) {
        _ = try KeyDescription(bytes)
    }

    /// The SafetyNet response: the compact JWS, its payload and its certificates.
    public static func parseSafetyNetJWS(_ bytes: [UInt8]) throws(VerificationFailure) {
        let failure = VerificationFailure(.malformedAttestationStatement, "not a SafetyNet response")
        guard let jws = try? CompactJWS(bytes, maximumCertificates: AttestationStatementVerifier.maximumCertificates) else { throw failure }
        guard (try? SafetyNetAttestation.Payload(jws.payload)) != nil else { throw failure }
        for der in jws.certificateChain where (try? Certificate(der: der)) == nil { throw failure }
    }
}
