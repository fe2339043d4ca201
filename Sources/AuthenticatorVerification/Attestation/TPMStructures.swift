import SignatureVerification
import WireFormat

/// TPM 2.0 structures of a `tpm` attestation statement (TPM 2.0 Library, Part 2), read with
/// the byte cursor. Sizes come from the structure; every one is checked before it is read.
enum TPMAlgorithm: UInt16 {
    case rsa = 0x0001
    case sha1 = 0x0004
    case sha256 = 0x000B
    case sha384 = 0x000C
    case sha512 = 0x000D
    case null = 0x0010
    case ecc = 0x0023

    var digest: DigestAlgorithm? {
        switch self {
        case .sha1: .sha1
        case .sha256: .sha256
        case .sha384: .sha384
        case .sha512: .sha512
        default: nil
        }
    }
}

/// TPMS_ATTEST with a TPMS_CERTIFY_INFO body.
struct TPMSAttest {
    static let generatedValue: UInt32 = 0xFF54_4347
    static let attestCertify: UInt16 = 0x8017

    let magic: UInt32
    let type: UInt16
    let qualifiedSigner: ArraySlice<UInt8>
    let extraData: ArraySlice<UInt8>
    let firmwareVersion: UInt64
    let attestedName: ArraySlice<UInt8>
    let attestedQualifiedName: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) throws(VerificationFailure) {
        var cursor = ByteCursor(bytes[...], structure: "tpm certInfo") { VerificationFailure(.malformedAttestationStatement, $0.description) }
        magic = try cursor.readUInt32("magic")
        type = try cursor.readUInt16("type")
        qualifiedSigner = try cursor.readSized16("qualifiedSigner")
        extraData = try cursor.readSized16("extraData")
        _ = try cursor.read(17, "clockInfo")
        firmwareVersion = try cursor.readUInt64("firmwareVersion")
        attestedName = try cursor.readSized16("attested.name")
        attestedQualifiedName = try cursor.readSized16("attested.qualifiedName")
        try cursor.expectEnd()
    }
}

/// TPMT_PUBLIC: the credential key as the TPM describes it.
struct TPMTPublic {
    enum Parameters {
        case rsa(keyBits: UInt16, exponent: UInt32, modulus: ArraySlice<UInt8>)
        case ecc(curveID: UInt16, x: ArraySlice<UInt8>, y: ArraySlice<UInt8>)
    }

    let type: UInt16
    let nameAlg: UInt16
    let objectAttributes: UInt32
    let parameters: Parameters

    init(_ bytes: [UInt8]) throws(VerificationFailure) {
        var cursor = ByteCursor(bytes[...], structure: "tpm pubArea") { VerificationFailure(.malformedAttestationStatement, $0.description) }
        type = try cursor.readUInt16("type")
        nameAlg = try cursor.readUInt16("nameAlg")
        objectAttributes = try cursor.readUInt32("objectAttributes")
        _ = try cursor.readSized16("authPolicy")
        // TPMT_SYM_DEF_OBJECT: an algorithm, then key bits and mode unless it is NULL.
        if try cursor.readUInt16("symmetric") != TPMAlgorithm.null.rawValue {
            _ = try cursor.read(4, "symmetric keyBits and mode")
        }
        // TPMT_RSA_SCHEME / TPMT_ECC_SCHEME: a scheme, then its hash unless it is NULL.
        if try cursor.readUInt16("scheme") != TPMAlgorithm.null.rawValue {
            _ = try cursor.read(2, "scheme hash")
        }
        switch type {
        case TPMAlgorithm.rsa.rawValue:
            let keyBits = try cursor.readUInt16("keyBits")
            let exponent = try cursor.readUInt32("exponent")
            let modulus = try cursor.readSized16("unique (modulus)")
            parameters = .rsa(keyBits: keyBits, exponent: exponent, modulus: modulus)
        case TPMAlgorithm.ecc.rawValue:
            let curveID = try cursor.readUInt16("curveID")
            if try cursor.readUInt16("kdf") != TPMAlgorithm.null.rawValue {
                _ = try cursor.read(2, "kdf hash")
            }
            let x = try cursor.readSized16("unique.x")
            let y = try cursor.readSized16("unique.y")
            parameters = .ecc(curveID: curveID, x: x, y: y)
        default:
            throw cursor.error("unsupported key type 0x\(String(type, radix: 16))")
        }
        try cursor.expectEnd()
    }
}

/// TCG vendor IDs (TCG "TPM Vendor ID Registry"), as they appear in the AIK certificate's
/// subjectAltName: `id:` and eight hex digits. Data, not logic: extend it here.
enum TPMManufacturers {
    static let known: [String: String] = [
        "id:414D4400": "AMD", "id:41544D4C": "Atmel", "id:4252434D": "Broadcom", "id:4353434F": "Cisco",
        "id:464C5953": "Flyslice Technologies", "id:474F4F47": "Google", "id:48504500": "HPE",
        "id:48495349": "Huawei", "id:49424D00": "IBM", "id:49424D58": "IBM", "id:494E5443": "Intel",
        "id:4C454E00": "Lenovo", "id:4D534654": "Microsoft", "id:4E534D20": "National Semiconductor",
        "id:4E545A00": "Nationz", "id:4E544300": "Nuvoton Technology", "id:51434F4D": "Qualcomm",
        "id:524F4343": "Fuzhou Rockchip", "id:534D5343": "SMSC", "id:534D534E": "Samsung",
        "id:534E5300": "Sinosun", "id:53544D20": "STMicroelectronics", "id:54584E00": "Texas Instruments",
        "id:57454300": "Winbond", "id:FFFFF1D0": "FIDO Alliance conformance testing",
    ]
}
