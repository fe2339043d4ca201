@_spi(Internals) import AuthenticatorVerification
import Foundation
import SignatureVerification
import WireFormat

/// Why a referencing list was refused. The codes are stable (docs/referencing.md); the
/// previous list stays active whatever the refusal.
public struct ImportFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// Not a compact JWS, not JSON, a member missing or of the wrong type.
        case malformed = "import.malformed"
        /// An ANS list whose `schema`/`version` this build does not read.
        case schemaVersion = "import.schema-version"
        case tooLarge = "import.too-large"
        /// Neither an MDS3 BLOB nor an ANS list.
        case unknownKind = "import.unknown-kind"
        /// The signature does not verify with the signer's key.
        case signatureInvalid = "import.signature-invalid"
        /// The signer's chain does not reach a configured root at the import time (or no root,
        /// or no ANS key, is configured).
        case untrustedSigner = "import.untrusted-signer"
        /// A certificate of the signer's chain is revoked by a supplied CRL.
        case signerRevoked = "import.signer-revoked"
        /// A supplied CRL is not current at the import time.
        case crlNotCurrent = "import.crl-not-current"
        /// The list number does not exceed the one stored for this source.
        case rollback = "import.rollback"
        /// The database could not store it.
        case store = "import.store"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The largest document an import reads (the 2021 production BLOB is 1 MiB; later ones ~4 MiB).
public let maximumListSize = 32 * 1024 * 1024

/// A FIDO MDS3 metadata BLOB (MDS3 §3.1.6): a compact JWS whose `x5c` chains to a configured
/// root, verified at an explicit time against the CRLs supplied beside it.
public struct MetadataBLOB: Sendable {
    public let number: Int64
    public let nextUpdate: String
    public let nextUpdateDate: Date?
    public let legalHeader: String?
    public let entries: [MetadataEntry]
    /// The signer's certificate subject.
    public let signer: String
    /// SHA-256 of the root the chain reached: this source's identity (hex).
    public let source: String

    /// Reads and verifies a BLOB: signature, chain to one of `roots` at `time`, `crls`.
    public static func verify(
        _ bytes: [UInt8], roots: [Certificate], crls: [CertificateRevocationList], at time: Date, progress: ImportProgress? = nil
    ) throws(ImportFailure) -> MetadataBLOB {
        guard bytes.count <= maximumListSize else { throw ImportFailure(.tooLarge, "the BLOB is larger than \(maximumListSize) bytes") }
        var text = bytes
        while let last = text.last, last == 0x0A || last == 0x0D || last == 0x20 { text.removeLast() }
        let jws: CompactJWS
        do {
            jws = try CompactJWS(text, maximumCertificates: 8)
        } catch {
            guard case .malformed(let why) = error else { throw ImportFailure(.malformed, "not a compact JWS") }
            throw ImportFailure(.malformed, "the BLOB \(why)")
        }
        var chain: [Certificate] = []
        for (index, der) in jws.certificateChain.enumerated() {
            do {
                chain.append(try Certificate(der: der))
            } catch {
                throw ImportFailure(.malformed, "x5c[\(index)] is not a DER certificate: \(error.message)")
            }
        }
        progress?("verifying the BLOB's \(jws.algorithm) signature")
        let signerKey: PublicKey
        do {
            signerKey = try chain[0].publicKey()
        } catch {
            throw ImportFailure(.malformed, "the signer's key: \(error.message)")
        }
        guard jws.isSignatureValid(with: signerKey) else {
            throw ImportFailure(
                .signatureInvalid, "the \(jws.algorithm) signature does not verify with the signer's key (JWS ECDSA signatures are r ‖ s)")
        }
        guard !roots.isEmpty else { throw ImportFailure(.untrustedSigner, "no MDS root is configured (--root)") }
        progress?("checking the signer's chain at \(time.formatted(.iso8601))")
        let outcome = CertificateChainVerifier.verify(
            leaf: chain[0], intermediates: Array(chain.dropFirst()), anchors: roots, at: time, crls: crls)
        if outcome.isRevoked { throw ImportFailure(.signerRevoked, "a certificate of the signer's chain is revoked") }
        if outcome.isCRLNotCurrent {
            throw ImportFailure(.crlNotCurrent, "a supplied CRL is not current at \(time.formatted(.iso8601)): \(outcome.failure ?? "")")
        }
        guard outcome.isTrusted, let root = outcome.path.last else {
            throw ImportFailure(
                .untrustedSigner, "the signer's chain does not reach a configured root at \(time.formatted(.iso8601)): \(outcome.failure ?? "")")
        }
        progress?("reading \(jws.payload.count / 1024) KiB of metadata")
        let payload: JSONValue
        do {
            payload = try JSONValue.parse(jws.payload, document: "the BLOB payload", maximumDepth: 64)
        } catch {
            throw ImportFailure(.malformed, error.message)
        }
        do {
            return try read(payload, signer: chain[0].subjectDescription, source: Hex.string(root.sha256Fingerprint))
        } catch {
            throw ImportFailure(.malformed, "the BLOB payload: \(error.path) \(error.message)")
        }
    }

    static func read(_ payload: JSONValue, signer: String, source: String) throws(MetadataReader.Failure) -> MetadataBLOB {
        guard let number = payload["no"]?.integer else { throw MetadataReader.fail("no", "is required (an integer)") }
        guard let nextUpdate = try MetadataReader.string(payload["nextUpdate"], "nextUpdate", required: true) else {
            throw MetadataReader.fail("nextUpdate", "is required")
        }
        guard let list = payload["entries"]?.array else { throw MetadataReader.fail("entries", "is required (an array)") }
        var entries: [MetadataEntry] = []
        entries.reserveCapacity(list.count)
        for (index, value) in list.enumerated() {
            entries.append(try MetadataReader.entry(value, "entries[\(index)]"))
        }
        return MetadataBLOB(
            number: number, nextUpdate: nextUpdate, nextUpdateDate: try MetadataReader.date(nextUpdate, "nextUpdate"),
            legalHeader: try MetadataReader.string(payload["legalHeader"], "legalHeader"), entries: entries, signer: signer,
            source: source)
    }

    /// Reads a BLOB already verified and stored (loading the catalog): the signature is not
    /// checked again.
    static func load(_ bytes: [UInt8], signer: String, source: String) throws(ImportFailure) -> MetadataBLOB {
        var text = bytes
        while let last = text.last, last == 0x0A || last == 0x0D || last == 0x20 { text.removeLast() }
        do {
            let jws = try CompactJWS(text, maximumCertificates: 8)
            let payload = try JSONValue.parse(jws.payload, document: "the BLOB payload", maximumDepth: 64)
            return try read(payload, signer: signer, source: source)
        } catch {
            throw ImportFailure(.malformed, "a stored BLOB no longer reads")
        }
    }
}
