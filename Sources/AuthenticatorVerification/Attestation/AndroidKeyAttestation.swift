import CBORDecoding
import SignatureVerification

/// §8.4 Android key attestation: the credential key lives in Android Keystore, whose
/// attestation certificate describes it in the KeyDescription extension.
struct AndroidKeyAttestation: AttestationFormatVerifier {
    static let format = "android-key"
    static let keyDescriptionOID = "1.3.6.1.4.1.11129.2.1.17"

    func verify(_ statement: CBORMap, _ context: AttestationContext) throws(VerificationFailure) -> AttestationResult {
        typealias Shared = AttestationStatementVerifier
        guard let algValue = statement[text: "alg"]?.integer else { throw Shared.malformed(Self.format, "alg must be an integer") }
        let signature = try Shared.signature(statement, format: Self.format)
        guard let certificates = try Shared.certificates(statement, format: Self.format, context) else {
            throw Shared.malformed(Self.format, "x5c is required")
        }
        guard let algorithm = COSEAlgorithm(rawValue: algValue), algorithm.isSupported else {
            throw VerificationFailure(.algorithmUnsupported, "android-key attestation algorithm \(algValue) is not supported")
        }
        let leaf = certificates[0]
        try Shared.checkSignature(
            by: leaf, algorithm: algorithm, signature, over: context.authenticatorData.bytes, context.clientDataHash, context: context,
            format: Self.format)
        try Shared.checkLeafKeyIsCredentialKey(leaf, context, format: Self.format)
        guard let ext = leaf.extensionValue(oid: Self.keyDescriptionOID) else {
            throw VerificationFailure(.attestationCertificateInvalid, "android-key certificate has no KeyDescription extension")
        }
        let description = try KeyDescription(ext.value)
        guard description.attestationChallenge == context.clientDataHash else {
            throw VerificationFailure(.attestationNonceMismatch, "android-key attestationChallenge is not the clientDataHash")
        }
        try check(description, context.policy)
        var result = try Shared.evaluateTrust(format: Self.format, type: .basic, certificates: certificates, context)
        result.evidence.append(
            .androidKey(
                attestationSecurityLevel: description.attestationSecurityLevel,
                keymasterSecurityLevel: description.keymasterSecurityLevel, attestationVersion: description.attestationVersion))
        return result
    }

    /// §8.4.1: scoped to this RP, generated in the keystore, usable for signing.
    private func check(_ description: KeyDescription, _ policy: VerificationPolicy) throws(VerificationFailure) {
        func invalid(_ what: String) -> VerificationFailure {
            VerificationFailure(.attestationCertificateInvalid, "android-key KeyDescription: \(what)")
        }
        if description.softwareEnforced.allApplications || description.teeEnforced.allApplications {
            throw invalid("allApplications is present: the key is not scoped to this RP")
        }
        let lists: [KeyDescription.AuthorizationList]
        switch policy.androidKeyAuthorization {
        case .teeEnforced: lists = [description.teeEnforced]
        case .teeOrSoftwareEnforced: lists = [description.teeEnforced, description.softwareEnforced]
        case .notCheckedForTesting: return
        }
        let place = policy.androidKeyAuthorization == .teeEnforced ? " in teeEnforced" : ""
        guard lists.contains(where: { $0.origin == KeyDescription.originGenerated }) else {
            throw invalid("origin is not KM_ORIGIN_GENERATED\(place)")
        }
        guard lists.contains(where: { $0.purposes.contains(KeyDescription.purposeSign) }) else {
            throw invalid("purpose does not include KM_PURPOSE_SIGN\(place)")
        }
    }
}

/// The Android Keystore KeyDescription (attestation extension), the fields WebAuthn uses.
struct KeyDescription {
    struct AuthorizationList {
        var purposes: [Int] = []
        var allApplications = false
        var origin: Int?
    }

    static let originGenerated = 0
    static let purposeSign = 2

    let attestationVersion: Int
    let attestationSecurityLevel: Int
    let keymasterSecurityLevel: Int
    let attestationChallenge: [UInt8]
    let softwareEnforced: AuthorizationList
    let teeEnforced: AuthorizationList

    init(_ der: [UInt8]) throws(VerificationFailure) {
        let failure = VerificationFailure(.attestationCertificateInvalid, "android-key KeyDescription is not well-formed DER")
        let root = try DERNode.parse(der, failure)
        let fields = root.children
        guard root.identifier == .sequence, fields.count >= 8,
            let version = fields[0].integer, let attestationLevel = fields[1].integer,
            let keymasterLevel = fields[3].integer, let challenge = fields[4].octetString,
            fields[6].identifier == .sequence, fields[7].identifier == .sequence
        else { throw failure }
        attestationVersion = version
        attestationSecurityLevel = attestationLevel
        keymasterSecurityLevel = keymasterLevel
        attestationChallenge = challenge
        softwareEnforced = Self.authorizationList(fields[6])
        teeEnforced = Self.authorizationList(fields[7])
    }

    /// Each entry is `[tag] EXPLICIT value`; only the ones WebAuthn needs are read.
    private static func authorizationList(_ node: DERNode) -> AuthorizationList {
        var list = AuthorizationList()
        for entry in node.children where entry.identifier.tagClass == .contextSpecific {
            let inner = entry.children.first
            switch entry.identifier.tagNumber {
            case 1: list.purposes = inner?.children.compactMap(\.integer) ?? []
            case 600: list.allApplications = true
            case 702: list.origin = inner?.integer
            default: break
            }
        }
        return list
    }
}
