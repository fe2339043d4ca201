import CBORDecoding

/// WebAuthn L3 §8.9 compound attestation: several statements about one credential, each
/// verified on its own. Every one must verify; the result lists each.
struct CompoundAttestation: Sendable {
    static let format = "compound"
    static let maximumStatements = 8

    func verify(_ items: [CBORValue], _ context: AttestationContext) throws(VerificationFailure) -> AttestationResult {
        func malformed(_ what: String) -> VerificationFailure { AttestationStatementVerifier.malformed(Self.format, what) }
        guard items.count >= 2 else { throw malformed("needs at least two statements") }
        guard items.count <= Self.maximumStatements else { throw malformed("more than \(Self.maximumStatements) statements") }
        var components: [AttestationResult] = []
        for item in items {
            guard let entry = item.map, let format = entry[text: "fmt"]?.text, let inner = entry[text: "attStmt"] else {
                throw malformed("each statement must be a map with text fmt and attStmt")
            }
            guard format != Self.format else { throw malformed("compound statements cannot nest") }
            components.append(try AttestationStatementVerifier.verify(format: format, statement: inner, context))
        }
        var result = AttestationResult(format: Self.format, type: .compound, certificates: [], verifiedPath: [], untrustedReason: nil, authenticator: nil)
        result.components = components
        return result
    }
}
