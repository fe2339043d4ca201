import CBORDecoding
import SignatureVerification

/// §8.3 TPM attestation: the TPM certifies the credential key (pubArea) with its attestation
/// identity key (AIK), whose certificate chains to the TPM manufacturer or a privacy CA.
struct TPMAttestation: AttestationFormatVerifier {
    static let format = "tpm"
    /// tcg-kp-AIKCertificate
    static let aikCertificateUsage = "2.23.133.8.3"

    func verify(_ statement: CBORMap, _ context: AttestationContext) throws(VerificationFailure) -> AttestationResult {
        typealias Shared = AttestationStatementVerifier
        func malformed(_ what: String) -> VerificationFailure { Shared.malformed(Self.format, what) }
        switch statement[text: "ver"] {
        case .text("2.0"): break
        case nil where context.policy.allowsTPMStatementWithoutVersion: break
        default: throw malformed("ver must be \"2.0\"")
        }
        guard let algValue = statement[text: "alg"]?.integer else { throw malformed("alg must be an integer") }
        let signature = try Shared.signature(statement, format: Self.format)
        if statement[text: "ecdaaKeyId"] != nil {
            throw VerificationFailure(.attestationFormatUnsupported, "TPM ECDAA attestation is not supported")
        }
        guard let certInfoBytes = statement[text: "certInfo"]?.bytes else { throw malformed("certInfo must be a byte string") }
        guard let pubAreaBytes = statement[text: "pubArea"]?.bytes else { throw malformed("pubArea must be a byte string") }
        guard let certificates = try Shared.certificates(statement, format: Self.format, context) else {
            throw malformed("x5c is required")
        }
        guard let algorithm = COSEAlgorithm(rawValue: algValue), algorithm.isSupported else {
            throw VerificationFailure(.algorithmUnsupported, "tpm attestation algorithm \(algValue) is not supported")
        }
        let pubArea = try TPMTPublic(Array(pubAreaBytes))
        let certInfo = try TPMSAttest(Array(certInfoBytes))

        try checkPublicArea(pubArea, matches: context.credential.credentialPublicKey)
        try checkCertInfo(certInfo, algorithm: algorithm, pubArea: Array(pubAreaBytes), pubAreaType: pubArea, context)
        let aik = certificates[0]
        try Shared.checkSignature(
            by: aik, algorithm: algorithm, signature, over: Array(certInfoBytes), context: context, format: Self.format)
        let manufacturer = try checkAIKCertificate(aik, aaguid: context.credential.aaguid)
        var result = try Shared.evaluateTrust(format: Self.format, type: .attCA, certificates: certificates, context)
        let name = TPMManufacturers.known[manufacturer.id]
        result.evidence.append(.tpmManufacturer(id: manufacturer.id, name: name, model: manufacturer.model, version: manufacturer.version))
        if name == nil {
            guard !context.policy.requiresKnownTPMManufacturer else {
                throw VerificationFailure(.attestationCertificateInvalid, "tpm manufacturer \(manufacturer.id) is not a known TPM vendor")
            }
            result.evidence.append(.tpmManufacturerUnknown(id: manufacturer.id))
        }
        if algorithm == .rs1 { result.evidence.append(.sha1StatementSignature) }
        return result
    }

    /// §8.3.2: pubArea's parameters and unique value are the credential key.
    private func checkPublicArea(_ pubArea: TPMTPublic, matches key: CredentialPublicKey) throws(VerificationFailure) {
        func mismatch(_ what: String) -> VerificationFailure {
            VerificationFailure(.attestedKeyMismatch, "tpm pubArea does not describe the credential key: \(what)")
        }
        switch (pubArea.parameters, key.parameters) {
        case (.rsa(let keyBits, let exponent, let modulus), .rsa(let n, let e)):
            guard magnitude(modulus) == magnitude(n) else { throw mismatch("RSA modulus differs") }
            guard bitLength(modulus) == Int(keyBits) else {
                throw mismatch("keyBits \(keyBits) is not the modulus's \(bitLength(modulus)) bits")
            }
            let tpmExponent = exponent == 0 ? 65_537 : exponent
            guard magnitude(e) == magnitude(bigEndian(tpmExponent)) else { throw mismatch("RSA exponent differs") }
        case (.ecc(let curveID, let x, let y), .ec2(let curve, let kx, let ky)):
            let expected: UInt16
            switch curve {
            case .p256: expected = 0x0003
            case .p384: expected = 0x0004
            case .p521: expected = 0x0005
            case .secp256k1: throw mismatch("secp256k1 has no TPM curve")
            }
            guard curveID == expected else { throw mismatch("curve 0x\(String(curveID, radix: 16)) is not \(curve.rawValue)") }
            guard magnitude(x) == magnitude(kx), magnitude(y) == magnitude(ky) else { throw mismatch("EC point differs") }
        default:
            throw mismatch("key types differ")
        }
    }

    /// §8.3.2: certInfo is a TPM-generated certification of this very pubArea over this
    /// registration's data.
    private func checkCertInfo(
        _ certInfo: TPMSAttest, algorithm: COSEAlgorithm, pubArea: [UInt8], pubAreaType: TPMTPublic, _ context: AttestationContext
    ) throws(VerificationFailure) {
        let malformed = { (what: String) in AttestationStatementVerifier.malformed(Self.format, what) }
        guard certInfo.magic == TPMSAttest.generatedValue else { throw malformed("certInfo.magic is not TPM_GENERATED_VALUE") }
        guard certInfo.type == TPMSAttest.attestCertify else { throw malformed("certInfo.type is not TPM_ST_ATTEST_CERTIFY") }
        guard let hash = algorithm.scheme?.digest else { throw malformed("alg \(algorithm.name) has no digest") }
        let attToBeSigned = context.authenticatorData.bytes + context.clientDataHash
        guard certInfo.extraData.elementsEqual(Digest.hash(hash, attToBeSigned)) else {
            throw VerificationFailure(.attestationSignatureInvalid, "tpm certInfo.extraData does not bind this registration's data")
        }
        guard let nameAlg = TPMAlgorithm(rawValue: pubAreaType.nameAlg)?.digest else {
            throw malformed("pubArea.nameAlg 0x\(String(pubAreaType.nameAlg, radix: 16)) is not a supported hash")
        }
        let name = bigEndian16(pubAreaType.nameAlg) + Digest.hash(nameAlg, pubArea)
        guard certInfo.attestedName.elementsEqual(name) else {
            throw VerificationFailure(.attestationSignatureInvalid, "tpm certInfo.attested.name is not the name of pubArea")
        }
    }

    struct Manufacturer {
        let id: String
        let model: String?
        let version: String?
    }

    /// §8.3.1 TPM attestation statement certificate requirements.
    private func checkAIKCertificate(_ aik: Certificate, aaguid: [UInt8]) throws(VerificationFailure) -> Manufacturer {
        func invalid(_ what: String) -> VerificationFailure {
            VerificationFailure(.attestationCertificateInvalid, "tpm AIK certificate: \(what)")
        }
        guard aik.version == 3 else { throw invalid("version must be 3") }
        guard aik.hasEmptySubject else { throw invalid("subject must be empty") }
        guard let san = aik.extensionValue(oid: "2.5.29.17") else { throw invalid("subjectAltName is missing") }
        // RFC 5280 §4.2.1.6: with an empty subject, the subjectAltName must be critical.
        guard san.critical else { throw invalid("subjectAltName must be critical (the subject is empty)") }
        let attributes = try directoryNameAttributes(san.value, invalid("subjectAltName is not a TPM directoryName"))
        guard let manufacturer = attributes["2.23.133.2.1"] else { throw invalid("subjectAltName has no TPM manufacturer") }
        guard let eku = aik.extensionValue(oid: "2.5.29.37"),
            try objectIdentifiers(eku.value, invalid("extendedKeyUsage is malformed")).contains(Self.aikCertificateUsage)
        else { throw invalid("extendedKeyUsage lacks tcg-kp-AIKCertificate (2.23.133.8.3)") }
        guard !aik.isCertificateAuthority else { throw invalid("basic constraints must say CA=false") }
        try AttestationStatementVerifier.checkAAGUIDExtension(aik, aaguid: aaguid, format: Self.format)
        return Manufacturer(id: manufacturer, model: attributes["2.23.133.2.2"], version: attributes["2.23.133.2.3"])
    }

    /// The attributes of the directoryName entries of a GeneralNames value, by OID.
    private func directoryNameAttributes(_ der: [UInt8], _ failure: VerificationFailure) throws(VerificationFailure) -> [String: String] {
        let names = try DERNode.parse(der, failure)
        guard names.identifier == .sequence else { throw failure }
        var attributes: [String: String] = [:]
        for general in names.children where general.isContextTag(4) {
            // [4] EXPLICIT Name: Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF ATV).
            for name in general.children where name.identifier == .sequence {
                for rdn in name.children where rdn.identifier == .set {
                    for pair in rdn.children where pair.identifier == .sequence {
                        let parts = pair.children
                        guard parts.count == 2, let oid = parts[0].objectIdentifier, let value = parts[1].string else { continue }
                        attributes[oid] = value
                    }
                }
            }
        }
        return attributes
    }

    private func objectIdentifiers(_ der: [UInt8], _ failure: VerificationFailure) throws(VerificationFailure) -> [String] {
        let node = try DERNode.parse(der, failure)
        guard node.identifier == .sequence else { throw failure }
        return node.children.compactMap(\.objectIdentifier)
    }
}

/// A big-endian magnitude without leading zero bytes, so encodings of one integer compare equal.
func magnitude(_ bytes: some Collection<UInt8>) -> [UInt8] {
    Array(bytes.drop(while: { $0 == 0 }))
}

/// Bits of a big-endian magnitude (0 for zero).
func bitLength(_ bytes: some Collection<UInt8>) -> Int {
    let m = magnitude(bytes)
    guard let first = m.first else { return 0 }
    return (m.count - 1) * 8 + (8 - first.leadingZeroBitCount)
}

func bigEndian(_ value: UInt32) -> [UInt8] {
    [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
}

func bigEndian16(_ value: UInt16) -> [UInt8] {
    [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
}

extension SignatureScheme {
    var digest: DigestAlgorithm? {
        switch self {
        case .ecdsa(let d), .rsaPKCS1v15(let d), .rsaPSS(let d): d
        case .eddsa, .mlDSA: nil
        }
    }
}
