import AuthenticatorCatalog
import AuthenticatorVerification
import CardJudgement
import Ceremonies
import Foundation
import Logging
import NIOCore
import NIOPosix
import PSCPolicy
import SignatureVerification
import Storage
import Synchronization
import VerificationRequests
import WireFormat

/// A configuration the service cannot start with, with its stable code (docs/failure-codes.md).
package struct ConfigurationError: CodedError, Sendable {
    package enum Code: String, Sendable, CaseIterable {
        case profile = "config.profile"
        case cardAnchors = "config.card-anchors"
        case cardCrl = "config.card-crl"
        case mdsRoot = "config.mds-root"
        case ansKey = "config.ans-key"
        case listSigners = "config.list-signers"
        case tls = "config.tls"
        case auditFilesUnnamed = "config.audit-files"
        case mdsRefresh = "config.mds-refresh"
        case webhook = "config.webhook"
    }

    package let code: Code
    package let message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var stableCode: String { code.rawValue }
}

/// What the configuration's files say, read and checked once at start (outside the state that
/// serves requests): the PSC profile, the card anchors and CRLs, the signers of imported lists.
package struct ServiceResources: Sendable {
    package let profile: Profile
    package let cards: CardTrust
    /// Signers configured for imports (`mdsRoots`, `ansKeys`); nil: none.
    package let importTrust: ReferencingTrust?
    /// The DEMO lists' own root and key, when a DEMO lists directory is configured and holds them.
    package let demoTrust: ReferencingTrust?
    /// The roots a refreshed FIDO MDS BLOB must chain to (`mdsRefresh.roots`).
    package let mdsRefreshRoots: [Certificate]
    /// The webhook's HMAC secret (`webhook.secretFile`).
    package let webhookSecret: [UInt8]?

    /// The CRLs of `files`, and the SHA-256 of what was read (to see a file change).
    package static func cardCRLs(_ files: [String]) throws(ConfigurationError) -> (crls: [CertificateRevocationList], digest: [UInt8]) {
        var crls: [CertificateRevocationList] = []
        var read: [UInt8] = []
        for path in files {
            guard let bytes = FileManager.default.contents(atPath: path) else { throw ConfigurationError(.cardCrl, "cannot read \(path)") }
            do {
                crls += try CertificateRevocationList.load(file: Array(bytes))
            } catch {
                throw ConfigurationError(.cardCrl, "\(path) is not a CRL: \(error)")
            }
            read += Digest.sha256(Array(bytes))
        }
        return (crls, Digest.sha256(read))
    }

    package static func load(_ configuration: ServiceConfiguration) throws(ConfigurationError) -> ServiceResources {
        let cards: CardTrust
        do {
            cards = CardTrust(
                anchors: try configuration.cardAnchorsFile.map { try IGCSanteAnchors(pemFile: $0) }, crls: try cardCRLs(configuration.cardCRLFiles).crls)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(.cardAnchors, "the card anchors or CRLs cannot be read: \(error)")
        }
        let profile: Profile
        do {
            if let path = configuration.profilePath {
                guard let data = FileManager.default.contents(atPath: path) else { throw ConfigurationError(.profile, "cannot read \(path)") }
                profile = try Profile.parse(Array(data))
            } else {
                profile = try Profile.bundled()
            }
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(.profile, "the profile cannot be read: \(error)")
        }
        var mdsRefreshRoots: [Certificate] = []
        if let refresh = configuration.mdsRefresh {
            guard !refresh.rootFiles.isEmpty else { throw ConfigurationError(.mdsRefresh, "mdsRefresh needs the roots its BLOB must chain to") }
            for path in refresh.rootFiles {
                guard let bytes = FileManager.default.contents(atPath: path), let roots = try? Certificate.load(file: Array(bytes)), !roots.isEmpty else {
                    throw ConfigurationError(.mdsRefresh, "mdsRefresh.roots: cannot read a certificate in \(path)")
                }
                mdsRefreshRoots += roots
            }
        }
        var webhookSecret: [UInt8]?
        if let webhook = configuration.webhook {
            guard var bytes = FileManager.default.contents(atPath: webhook.secretFile).map(Array.init) else {
                throw ConfigurationError(.webhook, "the webhook secret file \(webhook.secretFile) cannot be read")
            }
            while bytes.last == 0x0A || bytes.last == 0x0D { bytes.removeLast() }
            guard bytes.count >= 16 else { throw ConfigurationError(.webhook, "the webhook secret in \(webhook.secretFile) is shorter than 16 bytes") }
            webhookSecret = bytes
        }
        do {
            return ServiceResources(
                profile: profile, cards: cards, importTrust: try configuredTrust(configuration),
                demoTrust: try configuration.demoListsDirectory.flatMap(demoTrust), mdsRefreshRoots: mdsRefreshRoots, webhookSecret: webhookSecret)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(.listSigners, "the list signers cannot be read: \(error)")
        }
    }

    static func configuredTrust(_ configuration: ServiceConfiguration) throws -> ReferencingTrust? {
        guard !configuration.mdsRootFiles.isEmpty || !configuration.ansKeyFiles.isEmpty else { return nil }
        var trust = ReferencingTrust()
        for path in configuration.mdsRootFiles {
            guard let bytes = FileManager.default.contents(atPath: path) else { throw ConfigurationError(.mdsRoot, "cannot read \(path)") }
            trust.mdsRoots += try Certificate.load(file: Array(bytes))
        }
        for path in configuration.ansKeyFiles {
            guard let bytes = FileManager.default.contents(atPath: path),
                let der = PEM.blocks(String(decoding: bytes, as: UTF8.self), label: "PUBLIC KEY")?.first
            else { throw ConfigurationError(.ansKey, "cannot read a PEM public key in \(path)") }
            trust.ansKeys.append(try PublicKey.subjectPublicKeyInfo(der))
        }
        return trust
    }

    /// The demo lists' root and key (`demo-mds-root.pem`, `demo-ans-key.pem`), if present.
    static func demoTrust(_ directory: String) throws -> ReferencingTrust? {
        let url = URL(fileURLWithPath: directory)
        guard let root = FileManager.default.contents(atPath: url.appendingPathComponent("demo-mds-root.pem").path),
            let key = FileManager.default.contents(atPath: url.appendingPathComponent("demo-ans-key.pem").path),
            let der = PEM.blocks(String(decoding: key, as: UTF8.self), label: "PUBLIC KEY")?.first
        else { return nil }
        return ReferencingTrust(mdsRoots: try Certificate.load(file: Array(root)), ansKeys: [try PublicKey.subjectPublicKeyInfo(der)])
    }
}
