internal import COpenSSL

/// Elliptic curves for ECDSA keys.
public enum EllipticCurve: String, Sendable, CaseIterable {
    case p256 = "P-256"
    case p384 = "P-384"
    case p521 = "P-521"
    case secp256k1

    /// Length of one affine coordinate in bytes.
    public var coordinateSize: Int {
        switch self {
        case .p256, .secp256k1: 32
        case .p384: 48
        case .p521: 66
        }
    }

    /// The DER of a SubjectPublicKeyInfo for this curve up to the point itself.
    var subjectPublicKeyInfoPrefix: [UInt8] {
        switch self {
        case .p256: Self.prefixes.p256
        case .p384: Self.prefixes.p384
        case .p521: Self.prefixes.p521
        case .secp256k1: Self.prefixes.secp256k1
        }
    }

    private static let prefixes = (
        p256: prefix(.p256), p384: prefix(.p384), p521: prefix(.p521), secp256k1: prefix(.secp256k1)
    )

    private static func prefix(_ curve: EllipticCurve) -> [UInt8] {
        let placeholder = [UInt8](repeating: 0, count: 1 + 2 * curve.coordinateSize)
        let full = DER.sequence(DER.sequence(ObjectIdentifierDER.ecPublicKey, curve.oid), DER.bitString(placeholder))
        return Array(full.dropLast(placeholder.count))
    }

    var openSSLGroupName: String {
        switch self {
        case .p256: "prime256v1"
        case .p384: "secp384r1"
        case .p521: "secp521r1"
        case .secp256k1: "secp256k1"
        }
    }

    var oid: [UInt8] {
        switch self {
        case .p256: ObjectIdentifierDER.prime256v1
        case .p384: ObjectIdentifierDER.secp384r1
        case .p521: ObjectIdentifierDER.secp521r1
        case .secp256k1: ObjectIdentifierDER.secp256k1
        }
    }
}

/// Edwards curves for EdDSA keys.
public enum EdwardsCurve: String, Sendable, CaseIterable {
    case ed25519 = "Ed25519"
    case ed448 = "Ed448"

    public var keySize: Int {
        switch self {
        case .ed25519: 32
        case .ed448: 57
        }
    }

    var oid: [UInt8] {
        switch self {
        case .ed25519: ObjectIdentifierDER.ed25519
        case .ed448: ObjectIdentifierDER.ed448
        }
    }
}
