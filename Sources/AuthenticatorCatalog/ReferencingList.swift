import Foundation
import SignatureVerification
import WireFormat

/// The two kinds of referencing list the catalog reads.
public enum ListKind: String, Sendable, CaseIterable {
    /// A FIDO Metadata Service v3 BLOB.
    case mds = "fido-mds3"
    /// The ANS referencing list (our signed JSON format).
    case ans = "ans-list"

    public var title: String {
        switch self {
        case .mds: "FIDO MDS"
        case .ans: "ANS list"
        }
    }

    /// The kind of a document from its first bytes: a JSON object is an ANS list, a compact
    /// JWS an MDS BLOB.
    public static func detect(_ bytes: [UInt8]) -> ListKind? {
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else { return nil }
        if first == UInt8(ascii: "{") { return .ans }
        if first == UInt8(ascii: "e") { return .mds }  // base64url of `{"` starts with "ey"
        return nil
    }
}

/// Receives the stages of a long import (for a terminal's progress line).
public typealias ImportProgress = @Sendable (String) -> Void

/// What an import trusts: MDS roots with the CRLs supplied beside them, and the ANS list keys.
public struct ReferencingTrust: Sendable {
    public var mdsRoots: [Certificate]
    public var crls: [CertificateRevocationList]
    public var ansKeys: [PublicKey]

    public init(mdsRoots: [Certificate] = [], crls: [CertificateRevocationList] = [], ansKeys: [PublicKey] = []) {
        self.mdsRoots = mdsRoots
        self.crls = crls
        self.ansKeys = ansKeys
    }
}

/// One version of a list as stored and shown: which source, which number, how fresh.
public struct ListVersion: Sendable, Equatable {
    public let kind: ListKind
    /// The source numbers increase within: SHA-256 of the MDS root, the ANS list's issuer.
    public let source: String
    public let number: Int64
    public let nextUpdate: String?
    public let nextUpdateDate: Date?
    /// SHA-256 of the document as imported (hex).
    public let sha256: String
    public let signer: String
    public let entryCount: Int
    public let demo: Bool
    /// Set once stored.
    public var id: Int64?
    public var importedAt: String?

    public init(
        kind: ListKind, source: String, number: Int64, nextUpdate: String?, nextUpdateDate: Date?, sha256: String, signer: String,
        entryCount: Int, demo: Bool, id: Int64? = nil, importedAt: String? = nil
    ) {
        self.kind = kind
        self.source = source
        self.number = number
        self.nextUpdate = nextUpdate
        self.nextUpdateDate = nextUpdateDate
        self.sha256 = sha256
        self.signer = signer
        self.entryCount = entryCount
        self.demo = demo
        self.id = id
        self.importedAt = importedAt
    }

    /// `FIDO MDS no 9`, `ANS list no 3`.
    public var label: String { source.hasPrefix("candidate:") ? "the vendor's candidate statement" : "\(kind.title) no \(number)" }

    /// A list is stale once its `nextUpdate` day has passed: its publisher promised a newer one
    /// by then, so a status change may be missing.
    public func isStale(at time: Date) -> Bool {
        guard let nextUpdateDate else { return false }
        return time >= nextUpdateDate.addingTimeInterval(86_400)
    }
}

/// A list whose signature and signer were verified (or that was read back from the store,
/// where only verified lists are kept).
public enum VerifiedList: Sendable {
    case mds(MetadataBLOB)
    case ans(ANSList)

    /// Verifies a document of either kind. An ANS list needs its detached signature.
    public static func verify(
        _ document: [UInt8], signature: [UInt8]?, trust: ReferencingTrust, at time: Date, progress: ImportProgress? = nil
    ) throws(ImportFailure) -> VerifiedList {
        guard document.count <= maximumListSize else { throw ImportFailure(.tooLarge, "the document is larger than \(maximumListSize) bytes") }
        switch ListKind.detect(document) {
        case .mds:
            return .mds(try MetadataBLOB.verify(document, roots: trust.mdsRoots, crls: trust.crls, at: time, progress: progress))
        case .ans:
            guard let signature else {
                throw ImportFailure(.signatureInvalid, "an ANS list needs its detached signature (--signature, or FILE.jws beside it)")
            }
            progress?("verifying the ANS list's signature")
            return .ans(try ANSList.verify(document, signature: signature, keys: trust.ansKeys))
        case nil:
            throw ImportFailure(.unknownKind, "neither an MDS3 BLOB (compact JWS) nor an ANS list (JSON object)")
        }
    }

    /// Reads a stored document again (no signature check: only verified documents are stored).
    public static func load(kind: ListKind, document: [UInt8], signer: String, source: String) throws(ImportFailure) -> VerifiedList {
        switch kind {
        case .mds: .mds(try MetadataBLOB.load(document, signer: signer, source: source))
        case .ans: .ans(try ANSList.load(document, signer: signer))
        }
    }

    public var kind: ListKind {
        switch self {
        case .mds: .mds
        case .ans: .ans
        }
    }

    /// The version record of this list for `document` (its bytes as imported).
    public func version(document: [UInt8]) -> ListVersion {
        let digest = Hex.string(Digest.sha256(document))
        switch self {
        case .mds(let blob):
            return ListVersion(
                kind: .mds, source: blob.source, number: blob.number, nextUpdate: blob.nextUpdate, nextUpdateDate: blob.nextUpdateDate,
                sha256: digest, signer: blob.signer, entryCount: blob.entries.count, demo: false)
        case .ans(let list):
            return ListVersion(
                kind: .ans, source: list.issuer, number: list.number, nextUpdate: list.nextUpdate, nextUpdateDate: list.nextUpdateDate,
                sha256: digest, signer: list.signer, entryCount: list.authenticators.count + list.cardFamilies.count, demo: list.demo)
        }
    }
}
