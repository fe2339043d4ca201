import SignatureVerification
import WireFormat

/// A JWS in compact serialisation (RFC 7515 §7.1) signed by the leaf of its `x5c` header:
/// the SafetyNet response, the FIDO metadata BLOB. The header is read strictly (duplicate
/// members refused); the payload is handed back as bytes for its consumer's strict reader.
package struct CompactJWS: Sendable {
    package let algorithm: String
    /// `x5c`, leaf first (DER).
    package let certificateChain: [[UInt8]]
    package let payload: [UInt8]
    package let signature: [UInt8]
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`, the bytes the signature covers.
    package let signingInput: ArraySlice<UInt8>

    package enum Failure: Error, Equatable {
        case malformed(String)
    }

    package init(_ bytes: [UInt8], maximumCertificates: Int) throws(Failure) {
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("is not a compact JWS (three base64url parts)") }
        guard let header = Base64URL.decode(parts[0]), let payload = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2])
        else { throw .malformed("has a part that is not base64url") }
        var algorithm: String? = nil
        var chain: [[UInt8]]? = nil
        do {
            try JSONReader.read(header, document: "the JWS header") { (reader: inout JSONReader) throws(JSONError) in
                try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                    switch key {
                    case "alg": algorithm = try reader.readString()
                    case "x5c":
                        chain = try reader.readList { (reader: inout JSONReader) throws(JSONError) in
                            guard let der = Base64.decode(try reader.readString()) else { throw reader.invalid("is not base64") }
                            return der
                        }
                    default: return
                    }
                }
            }
        } catch {
            throw .malformed(error.message)
        }
        guard let algorithm else { throw .malformed("header has no alg") }
        guard let chain, !chain.isEmpty else { throw .malformed("header has no x5c certificates") }
        guard chain.count <= maximumCertificates else {
            throw .malformed("header x5c holds \(chain.count) certificates, more than \(maximumCertificates)")
        }
        self.algorithm = algorithm
        self.certificateChain = chain
        self.payload = payload
        self.signature = signature
        self.signingInput = bytes[..<(parts[0].count + 1 + parts[1].count)]
    }

    /// Whether the signature verifies with `key`, which must fit `alg` (an ES256 header with a
    /// P-384 key is refused, not tried).
    package func isSignatureValid(with key: PublicKey) -> Bool {
        Self.isSignatureValid(algorithm: algorithm, signature: signature, over: signingInput, with: key)
    }

    /// The signature scheme `alg` names, for the algorithms FIDO and Google sign with.
    package static func scheme(_ algorithm: String) -> SignatureScheme? {
        switch algorithm {
        case "RS256": .rsaPKCS1v15(.sha256)
        case "RS384": .rsaPKCS1v15(.sha384)
        case "RS512": .rsaPKCS1v15(.sha512)
        case "PS256": .rsaPSS(.sha256)
        case "PS384": .rsaPSS(.sha384)
        case "PS512": .rsaPSS(.sha512)
        case "ES256": .ecdsa(.sha256)
        case "ES384": .ecdsa(.sha384)
        case "ES512": .ecdsa(.sha512)
        default: nil
        }
    }

    /// The curve an ES* algorithm requires (RFC 7518 §3.4).
    private static func requiredCurve(_ algorithm: String) -> EllipticCurve? {
        switch algorithm {
        case "ES256": .p256
        case "ES384": .p384
        case "ES512": .p521
        default: nil
        }
    }

    /// A JWS signature check, also for detached payloads (RFC 7515 Appendix F): ECDSA
    /// signatures must be r ‖ s of the curve's size (a DER signature is refused).
    package static func isSignatureValid(
        algorithm: String, signature: [UInt8], over signingInput: some ContiguousBytesSequence, with key: PublicKey
    ) -> Bool {
        guard let scheme = scheme(algorithm), key.accepts(scheme) else { return false }
        if let curve = requiredCurve(algorithm) {
            guard key.type == .ec(curve), let der = derSignature(fromRaw: signature, coordinateSize: curve.coordinateSize) else {
                return false
            }
            return key.isValidSignature(der, over: signingInput, scheme: scheme)
        }
        return key.isValidSignature(signature, over: signingInput, scheme: scheme)
    }

    /// A JWS ECDSA signature (r ‖ s, each exactly the curve's size) as DER ECDSA-Sig-Value.
    static func derSignature(fromRaw raw: [UInt8], coordinateSize: Int) -> [UInt8]? {
        guard raw.count == 2 * coordinateSize else { return nil }
        func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var magnitude = Array(bytes.drop(while: { $0 == 0 }))
            if magnitude.isEmpty { magnitude = [0] }
            if magnitude[0] & 0x80 != 0 { magnitude.insert(0, at: 0) }
            return [0x02, UInt8(truncatingIfNeeded: magnitude.count)] + magnitude
        }
        let body = integer(raw[..<coordinateSize]) + integer(raw[coordinateSize...])
        return body.count < 128
            ? [0x30, UInt8(truncatingIfNeeded: body.count)] + body : [0x30, 0x81, UInt8(truncatingIfNeeded: body.count)] + body
    }
}
