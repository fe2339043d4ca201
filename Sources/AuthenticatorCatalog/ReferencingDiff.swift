import AuthenticatorVerification
import Foundation
import WireFormat

/// What changed between two versions of one list: the FI 46 alert feed. An alert is a change
/// that can turn an accepted means into a refused one (a negative MDS status, an ANS decision
/// leaving `referenced`, a card CA taken off the list).
public struct ReferencingDiff: Sendable {
    public struct Change: Sendable, Equatable {
        /// Stable code: `authenticator.added`, `authenticator.removed`, `mds.status`,
        /// `ans.decision`, `card.added`, `card.removed`, `card.decision`, `card.issuer-added`,
        /// `card.issuer-removed`, `card.atr`.
        public let code: String
        /// The AAGUID, key identifier or card family.
        public let subject: String
        public let description: String
        public let from: String?
        public let to: String?
        public let alert: Bool
    }

    public let old: ListVersion
    public let new: ListVersion
    public let changes: [Change]

    public var alerts: [Change] { changes.filter(\.alert) }

    public enum Failure: Error, Sendable, Equatable {
        case differentKinds
    }

    public init(old: (ListVersion, VerifiedList), new: (ListVersion, VerifiedList)) throws(Failure) {
        self.old = old.0
        self.new = new.0
        switch (old.1, new.1) {
        case (.mds(let a), .mds(let b)): changes = Self.compare(a, b)
        case (.ans(let a), .ans(let b)): changes = Self.compare(a, b)
        default: throw .differentKinds
        }
    }

    private static func key(aaguid: [UInt8]?, keyIdentifiers: [[UInt8]], aaid: String?) -> String {
        if let aaguid { return AAGUIDText.string(aaguid) }
        if let first = keyIdentifiers.first { return Hex.string(first) }
        return aaid ?? "?"
    }

    /// The latest report by effective date, whatever the time: what the list says now.
    private static func latestStatus(_ entry: MetadataEntry) -> String? {
        entry.status(at: .distantFuture)?.status.description
    }

    static func compare(_ a: MetadataBLOB, _ b: MetadataBLOB) -> [Change] {
        func index(_ blob: MetadataBLOB) -> [(String, MetadataEntry)] {
            blob.entries.map { (key(aaguid: $0.aaguid, keyIdentifiers: $0.attestationCertificateKeyIdentifiers, aaid: $0.aaid), $0) }
        }
        let before = Dictionary(index(a), uniquingKeysWith: { first, _ in first })
        var changes: [Change] = []
        var seen = Set<String>()
        for (subject, entry) in index(b) where seen.insert(subject).inserted {
            guard let previous = before[subject] else {
                changes.append(Change(code: "authenticator.added", subject: subject, description: entry.description, from: nil, to: latestStatus(entry), alert: false))
                continue
            }
            let from = latestStatus(previous)
            let to = latestStatus(entry)
            if from != to {
                let negative = to.map { AuthenticatorStatus($0).isNegative } ?? false
                changes.append(Change(code: "mds.status", subject: subject, description: entry.description, from: from, to: to, alert: negative))
            }
        }
        for (subject, entry) in index(a) where !seen.contains(subject) {
            seen.insert(subject)
            changes.append(Change(code: "authenticator.removed", subject: subject, description: entry.description, from: latestStatus(entry), to: nil, alert: true))
        }
        return changes
    }

    private static func decisionText(_ decision: ReferencingDecision) -> String {
        var text = "\(decision.status.rawValue) since \(decision.since) (\(decision.reference))"
        if let until = decision.until { text += " until \(until)" }
        if let firmware = decision.acceptedFirmware { text += ", firmware \(firmware.map(String.init).joined(separator: "/"))" }
        return text
    }

    static func compare(_ a: ANSList, _ b: ANSList) -> [Change] {
        func index(_ list: ANSList) -> [(String, ANSAuthenticator)] {
            list.authenticators.map { (key(aaguid: $0.aaguid, keyIdentifiers: $0.attestationCertificateKeyIdentifiers, aaid: nil), $0) }
        }
        let before = Dictionary(index(a), uniquingKeysWith: { first, _ in first })
        var changes: [Change] = []
        var seen = Set<String>()
        for (subject, item) in index(b) where seen.insert(subject).inserted {
            guard let previous = before[subject] else {
                changes.append(Change(code: "authenticator.added", subject: subject, description: item.description, from: nil, to: decisionText(item.decision), alert: false))
                continue
            }
            if previous.decision != item.decision {
                changes.append(
                    Change(
                        code: "ans.decision", subject: subject, description: item.description, from: decisionText(previous.decision),
                        to: decisionText(item.decision), alert: item.decision.status != .referenced && previous.decision.status == .referenced))
            }
        }
        for (subject, item) in index(a) where !seen.contains(subject) {
            seen.insert(subject)
            changes.append(Change(code: "authenticator.removed", subject: subject, description: item.description, from: decisionText(item.decision), to: nil, alert: true))
        }
        let families = Dictionary(a.cardFamilies.map { ($0.family, $0) }, uniquingKeysWith: { first, _ in first })
        var seenFamilies = Set<String>()
        for family in b.cardFamilies where seenFamilies.insert(family.family).inserted {
            guard let previous = families[family.family] else {
                changes.append(Change(code: "card.added", subject: family.family, description: family.description, from: nil, to: decisionText(family.decision), alert: false))
                continue
            }
            if previous.decision != family.decision {
                changes.append(
                    Change(
                        code: "card.decision", subject: family.family, description: family.description, from: decisionText(previous.decision),
                        to: decisionText(family.decision), alert: family.decision.status != .referenced && previous.decision.status == .referenced))
            }
            let oldCAs = Set(previous.issuerCAs.map { Hex.string($0.sha256) })
            let newCAs = Set(family.issuerCAs.map { Hex.string($0.sha256) })
            for ca in previous.issuerCAs where !newCAs.contains(Hex.string(ca.sha256)) {
                changes.append(Change(code: "card.issuer-removed", subject: family.family, description: ca.name, from: Hex.string(ca.sha256), to: nil, alert: true))
            }
            for ca in family.issuerCAs where !oldCAs.contains(Hex.string(ca.sha256)) {
                changes.append(Change(code: "card.issuer-added", subject: family.family, description: ca.name, from: nil, to: Hex.string(ca.sha256), alert: false))
            }
            if previous.atrPatterns != family.atrPatterns {
                changes.append(
                    Change(
                        code: "card.atr", subject: family.family, description: family.description,
                        from: previous.atrPatterns.map { Hex.string($0.atr) }.joined(separator: ","),
                        to: family.atrPatterns.map { Hex.string($0.atr) }.joined(separator: ","), alert: false))
            }
        }
        for family in a.cardFamilies where !seenFamilies.contains(family.family) {
            seenFamilies.insert(family.family)
            changes.append(Change(code: "card.removed", subject: family.family, description: family.description, from: decisionText(family.decision), to: nil, alert: true))
        }
        return changes
    }
}
