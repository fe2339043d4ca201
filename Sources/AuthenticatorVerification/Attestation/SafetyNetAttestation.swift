import CBORDecoding
import SignatureVerification
import WireFormat

/// §8.5 Android SafetyNet attestation: a JWS from Google's SafetyNet service whose nonce binds
/// this registration. Google has shut SafetyNet down in favour of Play Integrity: still
/// verified, and flagged as deprecated in the result.
struct SafetyNetAttestation: AttestationFormatVerifier {
    static let format = "android-safetynet"
    static let hostname = "attest.android.com"
    static let maximumResponseSize = 64 * 1024
    /// Clock skew tolerated either way between Google's clock and the verification time.
    static let clockSkewMilliseconds: Int64 = 60_000

    /// The members of the JWS payload that attestation uses (SafetyNet API documentation).
    struct Payload {
        var nonce: String?
        var timestampMs: Int64?
        var ctsProfileMatch = false
        var basicIntegrity = false

        init(_ bytes: [UInt8]) throws(JSONError) {
            var payload = Payload()
            try JSONReader.read(bytes, document: "the SafetyNet payload") { (reader: inout JSONReader) throws(JSONError) in
                try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                    switch key {
                    case "nonce": payload.nonce = try reader.readString()
                    // Milliseconds since 1970 as an integer: 1e300 or 1.5 is refused, not rounded.
                    case "timestampMs": payload.timestampMs = try reader.readInteger(Int64.self)
                    // Booleans only: 1 or "true" is not true.
                    case "ctsProfileMatch": payload.ctsProfileMatch = try reader.readBool()
                    case "basicIntegrity": payload.basicIntegrity = try reader.readBool()
                    default: return
                    }
                }
            }
            self = payload
        }

        private init() {}
    }

    func verify(_ statement: CBORMap, _ context: AttestationContext) throws(VerificationFailure) -> AttestationResult {
        typealias Shared = AttestationStatementVerifier
        func malformed(_ what: String) -> VerificationFailure { Shared.malformed(Self.format, what) }
        guard let version = statement[text: "ver"]?.text, !version.isEmpty else { throw malformed("ver must be a non-empty string") }
        guard let response = statement[text: "response"]?.bytes else { throw malformed("response must be a byte string") }
        guard response.count <= Self.maximumResponseSize else { throw malformed("response is larger than 64 KiB") }

        let jws: CompactJWS
        do {
            jws = try CompactJWS(Array(response), maximumCertificates: Shared.maximumCertificates)
        } catch {
            guard case .malformed(let why) = error else { throw malformed("response is not a compact JWS") }
            throw malformed("response \(why)")
        }
        let certificates = try Shared.certificates(jws.certificateChain, format: Self.format, context)
        let leaf = certificates[0]
        guard leaf.matchesHostname(Self.hostname) else {
            throw VerificationFailure(.attestationCertificateInvalid, "android-safetynet certificate is not issued to \(Self.hostname)")
        }
        let leafKey = try Shared.publicKey(of: leaf, format: Self.format)
        guard jws.isSignatureValid(with: leafKey) else {
            throw VerificationFailure(.attestationSignatureInvalid, "android-safetynet JWS signature does not verify")
        }
        let payload: Payload
        do {
            payload = try Payload(jws.payload)
        } catch {
            throw malformed(error.message)
        }
        let expectedNonce = Base64.encode(Digest.sha256(context.authenticatorData.bytes + context.clientDataHash))
        guard payload.nonce == expectedNonce else {
            throw VerificationFailure(
                .attestationNonceMismatch, "android-safetynet nonce is not base64(SHA-256(authenticatorData ‖ clientDataHash))")
        }
        if context.policy.requiresSafetyNetCTSProfileMatch, !payload.ctsProfileMatch {
            throw VerificationFailure(.safetyNetIntegrityFailed, "android-safetynet ctsProfileMatch is not true")
        }
        guard let timestamp = payload.timestampMs else { throw malformed("payload has no integer timestampMs") }
        if let maximumAge = context.policy.safetyNetMaximumAge {
            try checkFreshness(timestamp, maximumAge: maximumAge, at: context.time)
        }
        var result = try Shared.evaluateTrust(format: Self.format, type: .basic, certificates: certificates, context)
        result.evidence.append(.safetyNet(version: version, ctsProfileMatch: payload.ctsProfileMatch, basicIntegrity: payload.basicIntegrity))
        result.evidence.append(.deprecatedFormat(Self.format))
        return result
    }

    /// The JWS must have been issued within `maximumAge` seconds before the verification time,
    /// with a minute of skew either way. All arithmetic is in checked integers: a timestamp
    /// far from any real time is stale, never a crash.
    private func checkFreshness(_ timestamp: Int64, maximumAge: Double, at time: Double) throws(VerificationFailure) {
        let stale = { (detail: String) in VerificationFailure(.safetyNetStale, "android-safetynet timestamp \(detail)") }
        guard let now = Int64(exactly: (time * 1000).rounded(.down)) else { throw stale("cannot be compared with the verification time") }
        let (age, overflow) = now.subtractingReportingOverflow(timestamp)
        guard !overflow else { throw stale("is out of any plausible range") }
        guard age >= -Self.clockSkewMilliseconds else { throw stale("is \(-age / 1000) s after the verification time") }
        guard Double(age) <= maximumAge * 1000 + Double(Self.clockSkewMilliseconds) else {
            throw stale("is \(age / 1000) s before the verification time")
        }
    }
}
