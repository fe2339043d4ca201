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

    public static func parseSafetyNetJWS(_ bytes: [UInt8]) {
        guard let jws = try? CompactJWS(bytes, maximumCertificates: AttestationStatementVerifier.maximumCertificates) else { return }
        _ = try? SafetyNetAttestation.Payload(jws.payload)
        for der in jws.certificateChain { _ = try? Certificate(der: der) }
    }
}
