import SignatureVerification

/// COSE algorithm identifiers (IANA "COSE Algorithms") that WebAuthn credentials use.
public enum COSEAlgorithm: Int64, Sendable, CaseIterable, Codable {
    case es256 = -7
    case esp256 = -9
    case es384 = -35
    case esp384 = -51
    case es512 = -36
    case esp512 = -52
    case es256k = -47
    case edDSA = -8
    case ed25519 = -19
    case ed448 = -53
    case rs256 = -257
    case rs384 = -258
    case rs512 = -259
    case rs1 = -65535
    case ps256 = -37
    case ps384 = -38
    case ps512 = -39
    case mlDSA44 = -48
    case mlDSA65 = -49
    case mlDSA87 = -50

    /// The name used in requests and results.
    public var name: String {
        switch self {
        case .es256: "ES256"
        case .esp256: "ESP256"
        case .es384: "ES384"
        case .esp384: "ESP384"
        case .es512: "ES512"
        case .esp512: "ESP512"
        case .es256k: "ES256K"
        case .edDSA: "EdDSA"
        case .ed25519: "Ed25519"
        case .ed448: "Ed448"
        case .rs256: "RS256"
        case .rs384: "RS384"
        case .rs512: "RS512"
        case .rs1: "RS1"
        case .ps256: "PS256"
        case .ps384: "PS384"
        case .ps512: "PS512"
        case .mlDSA44: "ML-DSA-44"
        case .mlDSA65: "ML-DSA-65"
        case .mlDSA87: "ML-DSA-87"
        }
    }

    public init?(name: String) {
        guard let match = COSEAlgorithm.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// How this algorithm is verified; nil when this build cannot (ML-DSA-44: OpenSSL 3.0 has no
    /// ML-DSA and swift-crypto exposes only ML-DSA-65 and ML-DSA-87).
    package var scheme: SignatureScheme? {
        switch self {
        case .es256, .esp256, .es256k: .ecdsa(.sha256)
        case .es384, .esp384: .ecdsa(.sha384)
        case .es512, .esp512: .ecdsa(.sha512)
        case .edDSA, .ed25519, .ed448: .eddsa
        case .rs256: .rsaPKCS1v15(.sha256)
        case .rs384: .rsaPKCS1v15(.sha384)
        case .rs512: .rsaPKCS1v15(.sha512)
        case .rs1: .rsaPKCS1v15(.sha1)
        case .ps256: .rsaPSS(.sha256)
        case .ps384: .rsaPSS(.sha384)
        case .ps512: .rsaPSS(.sha512)
        case .mlDSA65, .mlDSA87: .mlDSA
        case .mlDSA44: nil
        }
    }

    public var isSupported: Bool { scheme != nil }

    /// Whether a key of `type` makes signatures of this algorithm. ES256 and ESP256 need P-256
    /// (and so on for each curve), Ed25519 and Ed448 their curve, EdDSA either; RS* and PS*
    /// RSA; ML-DSA its parameter set.
    package func fits(_ type: PublicKey.KeyType) -> Bool {
        switch (self, type) {
        case (.es256, .ec(.p256)), (.esp256, .ec(.p256)), (.es384, .ec(.p384)), (.esp384, .ec(.p384)),
            (.es512, .ec(.p521)), (.esp512, .ec(.p521)), (.es256k, .ec(.secp256k1)):
            true
        case (.edDSA, .edwards), (.ed25519, .edwards(.ed25519)), (.ed448, .edwards(.ed448)):
            true
        case (.rs256, .rsa), (.rs384, .rsa), (.rs512, .rsa), (.rs1, .rsa), (.ps256, .rsa), (.ps384, .rsa), (.ps512, .rsa):
            true
        case (.mlDSA65, .mlDSA(.mlDSA65)), (.mlDSA87, .mlDSA(.mlDSA87)):
            true
        default:
            false
        }
    }

    /// Every supported algorithm but RS1, which a policy must name to allow.
    public static let defaultAllowed: Set<COSEAlgorithm> = Set(allCases.filter { $0.isSupported && $0 != .rs1 })
}
