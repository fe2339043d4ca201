import AuthenticatorCatalog
import AuthenticatorVerification
import Storage
import Synchronization
import VerificationRequests

/// The lists, the engine and the core's caches as one value: a reload swaps it whole, and an
/// operation keeps the one it started with.
package struct LiveVerification: Sendable {
    package let catalog: CatalogSnapshot
    package let service: VerificationService
}

/// The referencing lists in force, swapped whole when a list is imported.
package final class VerificationLists: Sendable {
    package let caches: VerificationCaches
    private let live: Mutex<LiveVerification>

    package init(_ snapshot: CatalogSnapshot, caches: VerificationCaches = VerificationCaches()) {
        self.caches = caches
        live = Mutex(LiveVerification(catalog: snapshot, service: VerificationService(trust: snapshot, caches: caches)))
    }

    /// The lists and engine in force now.
    package var current: LiveVerification { live.withLock { $0 } }

    /// Puts `snapshot` in force for the operations that start from now on.
    package func swap(to snapshot: CatalogSnapshot) {
        let service = VerificationService(trust: snapshot, caches: caches)
        live.withLock { $0 = LiveVerification(catalog: snapshot, service: service) }
    }
}

/// Where an operation's audit event goes when it changes no state (a stateless verification,
/// a card check): committed in batches by the service, never waited for by the request.
package protocol AuditRecording: Sendable {
    func record(_ event: AuditEvent)
    /// False while the queue is full (the store keeps failing): operations that would queue
    /// an event are then refused, `unavailable`.
    var accepting: Bool { get }
}

/// What an operation tells the service's metrics: one verification and its result.
package protocol OperationObserver: Sendable {
    func verification(_ kind: String, _ result: String)
    /// Stored credentials judged again under new lists, and the changes among them.
    func rejudged(_ count: Int, changes: [VerdictChange])
}

extension OperationObserver {
    package func rejudged(_ count: Int, changes: [VerdictChange]) {}
}
