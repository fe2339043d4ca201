import AuthenticatorVerification
import Foundation
import SignatureVerification
import Synchronization
import WireFormat

/// What the active lists say about one authenticator model. A class: an evaluation hands it
/// from check to check, and each copy of a struct this size would retain every array in it.
public final class CatalogEntry: Sendable {
    public final class MDSRecord: Sendable {
        public let entry: MetadataEntry
        public let list: ListVersion

        init(entry: MetadataEntry, list: ListVersion) {
            self.entry = entry
            self.list = list
        }
    }

    public final class ANSRecord: Sendable {
        public let authenticator: ANSAuthenticator
        public let list: ListVersion

        init(authenticator: ANSAuthenticator, list: ListVersion) {
            self.authenticator = authenticator
            self.list = list
        }
    }

    /// The AAGUID or attestation key identifier; nil for a UAF entry known by AAID only.
    public let identifier: AuthenticatorIdentifier?
    public let aaid: String?
    /// Entries of the active MDS BLOBs (one per MDS source).
    public let mds: [MDSRecord]
    public let ans: ANSRecord?
    /// The attestation roots the statements list: the only anchors that vouch for this model.
    public let roots: [Certificate]
    /// The statement to judge the model by: the ANS list's own when it publishes one, else
    /// FIDO MDS's.
    public let statement: MetadataStatement?
    public let description: String
    /// Every user verification method the statement names (`passcode_internal`, …), once.
    public let userVerificationMethods: Set<String>
    /// The methods that verify someone: all of them but presence tests and `none`.
    public let verifyingMethods: Set<String>

    /// The ANS lists and the MDS lists of this entry's records (see `CatalogSnapshot.listsReliedOn`).
    let reliedOn: [ListVersion]

    init(identifier: AuthenticatorIdentifier?, aaid: String?, mds: [MDSRecord], ans: ANSRecord?, roots: [Certificate], ansLists: [ListVersion]) {
        self.reliedOn = ansLists + mds.map(\.list)
        self.identifier = identifier
        self.aaid = aaid
        self.mds = mds
        self.ans = ans
        self.roots = roots
        let statement = ans?.authenticator.statement ?? mds.lazy.compactMap(\.entry.statement).first
        self.statement = statement
        self.userVerificationMethods = statement?.userVerificationMethods ?? []
        self.verifyingMethods = userVerificationMethods.subtracting(["presence_internal", "none"])
        self.description =
            ans?.authenticator.description ?? statement?.description ?? mds.first?.entry.description ?? identifier?.description ?? aaid ?? "unnamed"
    }

    /// The MDS status report in force at `time` in each MDS source.
    public func statusReports(at time: Date) -> [(report: StatusReport?, list: ListVersion)] {
        mds.map { ($0.entry.status(at: time), $0.list) }
    }
}

/// The active referencing lists, indexed for lookups in memory. Immutable: a reload builds a
/// new snapshot and `LiveCatalog` swaps it in, so one verification sees one consistent set of
/// lists from start to finish.
public final class CatalogSnapshot: Sendable, AttestationTrustSource {
    public let lists: [ListVersion]
    private let mdsLists: [ListVersion]
    private let ansLists: [ListVersion]
    /// The ANS lists and every MDS list: what a model no MDS list describes relies on.
    private let allLists: [ListVersion]
    private let entries: [AuthenticatorIdentifier: CatalogEntry]
    /// Every entry with an AAID (UAF), by it.
    private let byAAID: [String: CatalogEntry]
    public let cardFamilies: [(family: ANSCardFamily, list: ListVersion)]
    /// Statement roots that did not decode (the entry is listed but no root vouches for it).
    public let unusableRoots: [(entry: String, reason: String)]

    public static let empty = CatalogSnapshot(lists: [])

    /// Builds the snapshot of these verified lists (one per kind and source, as stored).
    public init(lists: [(version: ListVersion, list: VerifiedList)]) {
        var mdsByID: [AuthenticatorIdentifier: [CatalogEntry.MDSRecord]] = [:]
        var ansByID: [AuthenticatorIdentifier: CatalogEntry.ANSRecord] = [:]
        var uaf: [String: [CatalogEntry.MDSRecord]] = [:]
        var families: [(ANSCardFamily, ListVersion)] = []
        var order: [AuthenticatorIdentifier] = []
        for (version, list) in lists {
            switch list {
            case .mds(let blob):
                for entry in blob.entries {
                    let record = CatalogEntry.MDSRecord(entry: entry, list: version)
                    for id in Self.identifiers(aaguid: entry.aaguid, keyIdentifiers: entry.attestationCertificateKeyIdentifiers) {
                        if mdsByID[id] == nil && ansByID[id] == nil { order.append(id) }
                        mdsByID[id, default: []].append(record)
                    }
                    if let aaid = entry.aaid { uaf[aaid, default: []].append(record) }
                }
            case .ans(let ans):
                for authenticator in ans.authenticators {
                    for id in Self.identifiers(aaguid: authenticator.aaguid, keyIdentifiers: authenticator.attestationCertificateKeyIdentifiers) {
                        if mdsByID[id] == nil && ansByID[id] == nil { order.append(id) }
                        ansByID[id] = CatalogEntry.ANSRecord(authenticator: authenticator, list: version)
                    }
                }
                families += ans.cardFamilies.map { ($0, version) }
            }
        }
        let ansLists = lists.map(\.version).filter { $0.kind == .ans }
        var roots = RootDecoder()
        var built: [AuthenticatorIdentifier: CatalogEntry] = [:]
        built.reserveCapacity(order.count)
        for id in order {
            let mds = mdsByID[id] ?? []
            let ans = ansByID[id]
            let statements = [ans?.authenticator.statement].compactMap { $0 } + mds.compactMap(\.entry.statement)
            built[id] = CatalogEntry(
                identifier: id, aaid: mds.lazy.compactMap(\.entry.aaid).first, mds: mds, ans: ans,
                roots: roots.decode(statements, for: id.description), ansLists: ansLists)
        }
        var byAAID: [String: CatalogEntry] = [:]
        for (aaid, records) in uaf {
            byAAID[aaid] = CatalogEntry(
                identifier: nil, aaid: aaid, mds: records, ans: nil,
                roots: roots.decode(records.compactMap(\.entry.statement), for: "aaid \(aaid)"), ansLists: ansLists)
        }
        self.lists = lists.map(\.version)
        self.mdsLists = self.lists.filter { $0.kind == .mds }
        self.ansLists = ansLists
        self.allLists = ansLists + mdsLists
        self.entries = built
        self.byAAID = byAAID
        self.cardFamilies = families.map { (family: $0.0, list: $0.1) }
        self.unusableRoots = roots.unusable
    }

    /// Decodes statement roots once each (models of one vendor share roots).
    private struct RootDecoder {
        var decoded: [[UInt8]: Certificate] = [:]
        var unusable: [(entry: String, reason: String)] = []

        mutating func decode(_ statements: [MetadataStatement], for entry: String) -> [Certificate] {
            var roots: [Certificate] = []
            for der in statements.flatMap(\.attestationRootCertificates) {
                let certificate: Certificate
                if let known = decoded[der] {
                    certificate = known
                } else {
                    do {
                        certificate = try Certificate(der: der)
                    } catch {
                        unusable.append((entry, error.message))
                        continue
                    }
                    decoded[der] = certificate
                }
                if !roots.contains(where: { $0 === certificate }) { roots.append(certificate) }
            }
            return roots
        }
    }

    private static func identifiers(aaguid: [UInt8]?, keyIdentifiers: [[UInt8]]) -> [AuthenticatorIdentifier] {
        (aaguid.map { [AuthenticatorIdentifier.aaguid($0)] } ?? []) + keyIdentifiers.map { .certificateKeyIdentifier($0) }
    }

    // MARK: Lookups

    public func entry(for identifier: AuthenticatorIdentifier) -> CatalogEntry? { entries[identifier] }

    public func entry(aaid: String) -> CatalogEntry? { byAAID[aaid] }

    /// Every entry known by AAGUID or key identifier, then UAF entries, in a stable order.
    public var allEntries: [CatalogEntry] {
        entries.values.sorted { ($0.identifier?.description ?? "") < ($1.identifier?.description ?? "") }
            + byAAID.values.filter { entry in entry.mds.allSatisfy { $0.entry.aaguid == nil && $0.entry.attestationCertificateKeyIdentifiers.isEmpty } }
            .sorted { ($0.aaid ?? "") < ($1.aaid ?? "") }
    }

    public var entryCount: Int { entries.count }

    /// The card families whose ATR patterns match `atr`.
    public func cardFamilies(matchingATR atr: [UInt8]) -> [(family: ANSCardFamily, list: ListVersion)] {
        cardFamilies.filter { $0.family.atrPatterns.contains { $0.matches(atr) } }
    }

    /// The card families that list the CA certificate with this SHA-256 as an issuer.
    public func cardFamilies(issuerSHA256 digest: [UInt8]) -> [(family: ANSCardFamily, list: ListVersion)] {
        cardFamilies.filter { $0.family.issuerCAs.contains { $0.sha256 == digest } }
    }

    /// The active versions of one kind.
    public func lists(of kind: ListKind) -> [ListVersion] { kind == .mds ? mdsLists : ansLists }

    /// The lists an evaluation of this model relies on: the ANS list, and the MDS sources that
    /// describe the model (all MDS sources when none does, since a missing entry is then their
    /// answer).
    public func listsReliedOn(for entry: CatalogEntry?) -> [ListVersion] {
        guard let entry, !entry.mds.isEmpty else { return allLists }
        return entry.reliedOn
    }

    // MARK: AttestationTrustSource

    /// The statement roots of this authenticator only: a root listed for one model never
    /// vouches for another (trust is a (root, AAGUID) pair).
    public func trustAnchors(for authenticator: AuthenticatorIdentifier, format: String) -> [Certificate] {
        entries[authenticator]?.roots ?? []
    }

    public func match(for authenticator: AuthenticatorIdentifier, format: String, at time: Date) -> TrustMatch {
        guard let entry = entries[authenticator] else { return TrustMatch(anchors: [], crls: [], entry: nil) }
        let lists = (entry.ans.map { [$0.list.label] } ?? []) + entry.mds.map(\.list.label)
        let status = entry.mds.lazy.compactMap { $0.entry.status(at: time) }.first.map(\.status.description)
        return TrustMatch(
            anchors: entry.roots, crls: [],
            entry: TrustMatch.Entry(list: lists.joined(separator: ", "), description: entry.description, status: status))
    }
}

/// The catalog a long-lived process reads: a snapshot swapped whole when lists are imported.
public final class LiveCatalog: Sendable {
    private let snapshot: Mutex<CatalogSnapshot>

    public init(_ initial: CatalogSnapshot = .empty) {
        snapshot = Mutex(initial)
    }

    /// The snapshot in force now; keep it for the whole of one verification.
    public var current: CatalogSnapshot { snapshot.withLock { $0 } }

    public func replace(with new: CatalogSnapshot) {
        snapshot.withLock { $0 = new }
    }
}
