import CBORDecoding
import Foundation
import SignatureVerification

/// §8.5 Android SafetyNet attestation: a JWS from Google's SafetyNet service whose nonce binds
/// this registration. Google has shut SafetyNet down in favour of Play Integrity: still
/// verified, and flagged as deprecated in the result.
struct SafetyNetAttestation: AttestationFormatVerifier {
    static let format = "android-safetynet"
    static let hostname = "attest.android.com"
    static let maximumResponseSize = 64 * 1024

    func verify(_ statement: CBORMap, _ context: AttestationContext) throws(VerificationFailure) -> AttestationResult {
        typealias Shared = AttestationStatementVerifier
        func malformed(_ what: String) -> VerificationFailure { Shared.malformed(Self.format, what) }
        guard let version = statement[text: "ver"]?.text, !version.isEmpty else { throw malformed("ver must be a non-empty string") }
        guard let response = statement[text: "response"]?.bytes else { throw malformed("response must be a byte string") }
        guard response.count <= Self.maximumResponseSize else { throw malformed("response is larger than 64 KiB") }

        let jws = try CompactJWS(Array(response), failure: malformed("response is not a compact JWS"))
        let certificates = try jws.certificates(failure: malformed("JWS header x5c is not a list of certificates"))
        let leaf = certificates[0]
        guard leaf.matchesHostname(Self.hostname) else {
            throw VerificationFailure(.attestationCertificateInvalid, "android-safetynet certificate is not issued to \(Self.hostname)")
        }
        let leafKey: PublicKey
        do {
            leafKey = try leaf.publicKey()
        } catch {
            throw VerificationFailure(.attestationCertificateInvalid, "android-safetynet certificate key: \(error.message)")
        }
        guard jws.isSignatureValid(with: leafKey) else {
            throw VerificationFailure(.attestationSignatureInvalid, "android-safetynet JWS signature does not verify")
        }
        let expectedNonce = Data(Digest.sha256(context.authenticatorData.bytes + context.clientDataHash)).base64EncodedString()
        guard jws.payload["nonce"] as? String == expectedNonce else {
            throw VerificationFailure(
                .attestationNonceMismatch, "android-safetynet nonce is not base64(SHA-256(authenticatorData ‖ clientDataHash))")
        }
        if context.policy.requiresSafetyNetCTSProfileMatch, jws.payload["ctsProfileMatch"] as? Bool != true {
            throw VerificationFailure(.safetyNetIntegrityFailed, "android-safetynet ctsProfileMatch is not true")
        }
        guard let timestamp = (jws.payload["timestampMs"] as? NSNumber)?.doubleValue else {
            throw malformed("payload has no numeric timestampMs")
        }
        if let maximumAge = context.policy.safetyNetMaximumAge {
            let age = context.time - timestamp / 1000
            // A minute of clock skew either way; older than the policy allows is stale.
            guard age >= -60, age <= maximumAge + 60 else {
                throw VerificationFailure(.safetyNetStale, "android-safetynet timestamp is \(Int(age)) s from the verification time")
            }
        }
        var result = try Shared.evaluateTrust(format: Self.format, type: .basic, certificates: certificates, context)
        result.properties["safetynet.ver"] = version
        result.properties["safetynet.ctsProfileMatch"] = String(jws.payload["ctsProfileMatch"] as? Bool ?? false)
        result.properties["safetynet.basicIntegrity"] = String(jws.payload["basicIntegrity"] as? Bool ?? false)
        result.warnings.append("android-safetynet is deprecated: Google retired the SafetyNet Attestation API")
        return result
    }
}

/// A JWS in compact serialisation (RFC 7515 §7.1) with an x5c header.
struct CompactJWS {
    let signingInput: [UInt8]
    let header: [String: Any]
    let payload: [String: Any]
    let signature: [UInt8]

    init(_ bytes: [UInt8], failure: VerificationFailure) throws(VerificationFailure) {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerBytes = Base64URL.decode(String(decoding: parts[0], as: UTF8.self)),
            let payloadBytes = Base64URL.decode(String(decoding: parts[1], as: UTF8.self)),
            let signature = Base64URL.decode(String(decoding: parts[2], as: UTF8.self)),
            let header = (try? JSONSerialization.jsonObject(with: Data(headerBytes))) as? [String: Any],
            let payload = (try? JSONSerialization.jsonObject(with: Data(payloadBytes))) as? [String: Any]
        else { throw failure }
        self.signingInput = Array(bytes[..<(parts[0].count + 1 + parts[1].count)])
        self.header = header
        self.payload = payload
        self.signature = signature
    }

    func certificates(failure: VerificationFailure) throws(VerificationFailure) -> [Certificate] {
        guard let x5c = header["x5c"] as? [String], !x5c.isEmpty, x5c.count <= AttestationStatementVerifier.maximumCertificates else {
            throw failure
        }
        var certificates: [Certificate] = []
        for text in x5c {
            guard let der = Data(base64Encoded: text), let certificate = try? Certificate(der: der) else { throw failure }
            certificates.append(certificate)
        }
        return certificates
    }

    /// RS256/384/512, PS256/384/512 and ES256/384/512 (raw r‖s signatures, as JWS writes them).
    func isSignatureValid(with key: PublicKey) -> Bool {
        guard let algorithm = header["alg"] as? String else { return false }
        let scheme: SignatureScheme
        var signature = self.signature
        switch algorithm {
        case "RS256": scheme = .rsaPKCS1v15(.sha256)
        case "RS384": scheme = .rsaPKCS1v15(.sha384)
        case "RS512": scheme = .rsaPKCS1v15(.sha512)
        case "PS256": scheme = .rsaPSS(.sha256)
        case "PS384": scheme = .rsaPSS(.sha384)
        case "PS512": scheme = .rsaPSS(.sha512)
        case "ES256", "ES384", "ES512":
            scheme = .ecdsa(algorithm == "ES256" ? .sha256 : algorithm == "ES384" ? .sha384 : .sha512)
            guard let der = Self.derSignature(fromRaw: signature) else { return false }
            signature = der
        default: return false
        }
        return key.isValidSignature(signature, over: signingInput, scheme: scheme)
    }

    /// r‖s (each half the length) as a DER ECDSA-Sig-Value.
    static func derSignature(fromRaw raw: [UInt8]) -> [UInt8]? {
        guard !raw.isEmpty, raw.count % 2 == 0, raw.count <= 132 else { return nil }
        func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var magnitude = Array(bytes.drop(while: { $0 == 0 }))
            if magnitude.isEmpty { magnitude = [0] }
            if magnitude[0] & 0x80 != 0 { magnitude.insert(0, at: 0) }
            return [0x02, UInt8(magnitude.count)] + magnitude
        }
        let half = raw.count / 2
        let body = integer(raw[..<half]) + integer(raw[half...])
        return body.count < 128 ? [0x30, UInt8(body.count)] + body : [0x30, 0x81, UInt8(body.count)] + body
    }
}
