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

    public static func parseSafetyNetJWS(_ bytes: [UInt8]) throws(VerificationFailure) {
        let failure = VerificationFailure(.malformedAttestationStatement, "fuzz")
        let jws = try CompactJWS(bytes, failure: failure)
        _ = try? jws.certificates(failure: failure)
    }
}
