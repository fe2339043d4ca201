import CBORDecoding

/// §8.7: no statement; the authenticator's identity is unknown.
struct NoneAttestation: AttestationFormatVerifier {
    static let format = "none"

    func verify(_ statement: CBORMap, _ context: AttestationContext) throws(VerificationFailure) -> AttestationResult {
        guard statement.count == 0 else {
            throw AttestationStatementVerifier.malformed(Self.format, "must be an empty map")
        }
        return AttestationResult(format: Self.format, type: .none, certificates: [], verifiedPath: [], untrustedReason: nil, authenticator: nil)
    }
}
