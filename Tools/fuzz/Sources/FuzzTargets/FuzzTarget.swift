@_spi(Fuzzing) @_spi(Internals) import AuthenticatorVerification
import AuthenticatorCatalog
import CBORDecoding
import Foundation
import PSCPolicy
import SignatureVerification
import VerificationRequests
import WireFormat

/// The parsers under fuzzing. Each must return or throw its own error type for every input,
/// never crash, hang or allocate without bound.
enum FuzzTarget: String, CaseIterable {
    case cbor
    case authenticatorData = "authenticator-data"
    case coseKey = "cose-key"
    case attestationObject = "attestation-object"
    case clientData = "client-data"
    case tpmAttest = "tpm-attest"
    case tpmPublic = "tpm-public"
    case keyDescription = "key-description"
    case safetyNetJWS = "safetynet-jws"
    case requestJSON = "request-json"
    case certificate
    /// The ANS list and MDS BLOB readers (after the signature: what a stored list goes
    /// through on every load) and the PSC profile reader.
    case referencingList = "referencing-list"

    static let service = VerificationService()

    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["MIE_FUZZ_TARGET"] ?? "cbor"
        return FuzzTarget(rawValue: name) ?? .cbor
    }()

    func run(_ bytes: [UInt8]) {
        switch self {
        case .cbor:
            _ = try? CBORDecoder().decode(bytes)
        case .authenticatorData:
            _ = try? AuthenticatorData.parse(bytes)
        case .coseKey:
            _ = try? CredentialPublicKey.decode(bytes)
        case .attestationObject:
            // Parse, then run the statement verifiers over whatever parsed.
            guard let object = try? AttestationObject.parse(bytes) else { return }
            _ = try? AttestationStatementVerifier.verify(
                object, clientDataHash: [UInt8](repeating: 0, count: 32), policy: .acceptUntrustedAttestationForTesting,
                trust: FixedTrustAnchors.none, at: Date(timeIntervalSince1970: 1_800_000_000))
        case .clientData:
            _ = try? CollectedClientData.parse(bytes)
        case .tpmAttest:
            try? StatementParsers.parseTPMAttest(bytes)
        case .tpmPublic:
            try? StatementParsers.parseTPMPublic(bytes)
        case .keyDescription:
            try? StatementParsers.parseKeyDescription(bytes)
        case .safetyNetJWS:
            try? StatementParsers.parseSafetyNetJWS(bytes)
        case .requestJSON:
            // The strict request reader, then the whole service path for what it accepts.
            for ceremony in Ceremony.allCases {
                _ = Self.service.verify(ceremony, requestJSON: bytes)
            }
        case .certificate:
            _ = try? Certificate(der: bytes)
            _ = try? CertificateRevocationList(der: bytes)
        case .referencingList:
            for kind in ListKind.allCases {
                if let list = try? VerifiedList.load(kind: kind, document: bytes, signer: "fuzz", source: "fuzz") {
                    _ = CatalogSnapshot(lists: [(list.version(document: bytes), list)]).entryCount
                }
            }
            _ = try? Profile.parse(bytes)
        }
    }
}
