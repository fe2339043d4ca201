import AuthenticatorVerification
import Foundation

/// What an evaluation is about: a verified FIDO2 registration, or a CPS/CPx card the probe (or
/// the service) read. Facts only; the decision is the engine's.
public enum EvaluationSubject: Sendable {
    case fido(FIDOFacts)
    case card(CardFacts)

    public var kind: String {
        switch self {
        case .fido: "fido2"
        case .card: "card"
        }
    }
}

/// A verified registration and what else is known of the key and the ceremony. A class: the
/// engine hands it around, and a registration is a large value to copy.
public final class FIDOFacts: Sendable {
    public let registration: VerifiedRegistration
    /// getInfo as read from the device (the probe), when available.
    public let deviceInfo: DeviceInfo?

    public init(registration: VerifiedRegistration, deviceInfo: DeviceInfo? = nil) {
        self.registration = registration
        self.deviceInfo = deviceInfo
    }
}

/// The authenticatorGetInfo fields the criteria use.
public struct DeviceInfo: Sendable, Equatable {
    public var aaguid: [UInt8]?
    public var versions: [String]
    public var options: [String: Bool]
    public var firmwareVersion: Int64?
    public var algorithms: [Int]

    public init(aaguid: [UInt8]?, versions: [String], options: [String: Bool], firmwareVersion: Int64?, algorithms: [Int]) {
        self.aaguid = aaguid
        self.versions = versions
        self.options = options
        self.firmwareVersion = firmwareVersion
        self.algorithms = algorithms
    }
}

/// What a card reader learnt about a CPS/CPx card.
public struct CardFacts: Sendable {
    public enum Revocation: String, Sendable {
        case notChecked = "not-checked"
        case good
        case revoked
    }

    /// The generation the ATR names (`CPS3`, `CPS4`) or `unknown`.
    public var generation: String
    public var atr: [UInt8]
    /// EF.SN.ICC carries the ANS issuer number.
    public var issuedByANS: Bool
    /// Whether IGC-Santé anchors were configured, and whether the authentication certificate
    /// chains to them at the evaluation time.
    public var anchorsConfigured: Bool
    public var chainTrusted: Bool
    public var chainFailure: String?
    /// The CA that issued the authentication certificate (its subject and SHA-256), when the
    /// chain was built.
    public var issuerName: String?
    public var issuerSHA256: [UInt8]?
    public var revocation: Revocation
    /// nil: no PIN presented.
    public var pinVerified: Bool?
    /// nil: not attempted.
    public var possessionProven: Bool?
    /// The authentication key (`RSA-2048`, `EC P-256`) and its size in bits.
    public var keyType: String?
    public var keyBits: Int?
    public var nationalID: String?
    public var identifierType: String?
    /// For RPPS numbers, whether the Luhn key holds.
    public var luhnValid: Bool?

    public init(
        generation: String, atr: [UInt8], issuedByANS: Bool, anchorsConfigured: Bool, chainTrusted: Bool, chainFailure: String? = nil,
        issuerName: String? = nil, issuerSHA256: [UInt8]? = nil, revocation: Revocation = .notChecked, pinVerified: Bool? = nil,
        possessionProven: Bool? = nil, keyType: String? = nil, keyBits: Int? = nil, nationalID: String? = nil,
        identifierType: String? = nil, luhnValid: Bool? = nil
    ) {
        self.generation = generation
        self.atr = atr
        self.issuedByANS = issuedByANS
        self.anchorsConfigured = anchorsConfigured
        self.chainTrusted = chainTrusted
        self.chainFailure = chainFailure
        self.issuerName = issuerName
        self.issuerSHA256 = issuerSHA256
        self.revocation = revocation
        self.pinVerified = pinVerified
        self.possessionProven = possessionProven
        self.keyType = keyType
        self.keyBits = keyBits
        self.nationalID = nationalID
        self.identifierType = identifierType
        self.luhnValid = luhnValid
    }
}

/// Facts the service knows at enrolment and token time (FI 25, 42, 43); absent for an offline
/// evaluation of an authenticator.
public struct DeploymentFacts: Sendable {
    /// How the holder's identity was established, weakest first.
    public enum IdentityEvidence: String, Sendable, CaseIterable, Comparable {
        /// The API client (the IAM) sent the holder's identifier: its word only.
        case assertedByClient = "asserted-by-client"
        /// The desk operator typed the holder's identifier.
        case assertedByOperator = "asserted-by-operator"
        /// The holder's CPx card proved it (card-bound enrolment).
        case provenByCard = "proven-by-card"

        /// The order evidence strengthens in: a card's proof over an operator's word over a client's.
        public var strength: Int {
            switch self {
            case .assertedByClient: 1
            case .assertedByOperator: 2
            case .provenByCard: 3
            }
        }

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.strength < rhs.strength }
    }

    public var holderNationalID: String?
    public var holderLuhnValid: Bool?
    public var identityEvidence: IdentityEvidence?
    /// Whether the credential ID is new to the credential store (nil: not consulted).
    public var credentialIDUnique: Bool?
    /// The id_token claims the IAM will send (FI 42).
    public var tokenClaims: [String: String]?
    /// When the user last authenticated (FI 43).
    public var authTime: Date?

    /// Whether these facts are a token's (FI 42, 43): an enrolment's carry none.
    public var atTokenTime: Bool { tokenClaims != nil || authTime != nil }

    public init(
        holderNationalID: String? = nil, holderLuhnValid: Bool? = nil, identityEvidence: IdentityEvidence? = nil,
        credentialIDUnique: Bool? = nil, tokenClaims: [String: String]? = nil, authTime: Date? = nil
    ) {
        self.holderNationalID = holderNationalID
        self.holderLuhnValid = holderLuhnValid
        self.identityEvidence = identityEvidence
        self.credentialIDUnique = credentialIDUnique
        self.tokenClaims = tokenClaims
        self.authTime = authTime
    }
}
