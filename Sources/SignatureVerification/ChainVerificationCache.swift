import Foundation
import Synchronization

/// Verified certificate paths, so the chain of an attestation batch (the same x5c for every
/// authenticator of a model) is built and checked once.
///
/// Only successes are kept, with the window in which every certificate of the path is valid;
/// a lookup outside that window, or with other anchors, verifies afresh. Memoising a pure
/// function: the answer for (chain, anchors, time) is what `CertificateChainVerifier` would say.
public final class ChainVerificationCache: Sendable {
    struct Entry {
        let outcome: CertificateChainVerifier.Outcome
        let validFrom: Date
        let validUntil: Date
    }

    private struct State {
        var entries: [[UInt8]: Entry] = [:]
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    /// The cache key: a digest over every certificate involved, each length-prefixed.
    static func key(
        leaf: Certificate, intermediates: [Certificate], anchors: [Certificate], crls: [CertificateRevocationList]
    ) -> [UInt8] {
        var material: [UInt8] = []
        func add(_ certificate: Certificate) {
            let count = certificate.der.count
            material += [UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count)]
            material += certificate.sha256Fingerprint
        }
        add(leaf)
        material.append(0x01)
        intermediates.forEach(add)
        material.append(0x02)
        anchors.forEach(add)
        material.append(0x03)
        for crl in crls { material += crl.sha256Fingerprint }
        return Digest.sha256(material)
    }

    func lookup(_ key: [UInt8], at time: Date) -> CertificateChainVerifier.Outcome? {
        state.withLock { state in
            guard let entry = state.entries[key], entry.validFrom <= time, time <= entry.validUntil else { return nil }
            return entry.outcome
        }
    }

    /// Keeps a verified outcome for the window in which every certificate and CRL is current.
    func store(_ key: [UInt8], outcome: CertificateChainVerifier.Outcome, crls: [CertificateRevocationList]) {
        let path = outcome.path
        let from = (path.compactMap(\.notBefore) + crls.compactMap(\.thisUpdate)).max() ?? .distantFuture
        let until = (path.compactMap(\.notAfter) + crls.compactMap(\.nextUpdate)).min() ?? .distantPast
        guard from <= until else { return }
        state.withLock { state in
            if state.entries.count >= capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[key] = Entry(outcome: outcome, validFrom: from, validUntil: until)
        }
    }

    public var count: Int { state.withLock { $0.entries.count } }
}
