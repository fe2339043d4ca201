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

/// Audit events of stateless verifications, committed together (one transaction, one fsync)
/// every `auditFlushInterval`: a verification changes no state, and one fsync per request
/// would bound the service by the disk. State changes append their event in their own
/// transaction instead.
///
/// Bounded: while the store keeps failing the events wait, up to `limit`; past it the service
/// stops acknowledging verifications (503 `unavailable`, `accepting` false) rather than grow
/// without end or drop events.
package final class AuditBuffer: AuditRecording, Sendable {
    private struct Queue {
        var pending: [AuditEvent] = []
        /// Events taken by the flush under way (still not written).
        var flushing = 0
    }

    private let queue = Mutex(Queue())
    private let log: any AuditStoring
    private let logger: Logger
    private let limit: Int

    /// The thread pool its commits block (the service's `auditPool`: one thread, at a lower
    /// priority than the event loops).
    private let pool: NIOThreadPool

    init(log: any AuditStoring, logger: Logger, limit: Int, pool: NIOThreadPool = .singleton) {
        self.log = log
        self.pool = pool
        self.logger = logger
        self.limit = limit
    }

    /// Queues an event (no suspension: the request does not wait for the disk).
    package func record(_ event: AuditEvent) {
        queue.withLock { $0.pending.append(event) }
    }

    /// Whether there is room for another event.
    package var accepting: Bool { count < limit }

    /// Events not written yet.
    package var count: Int { queue.withLock { $0.pending.count + $0.flushing } }

    /// Commits what is pending, on `pool` (the commit waits for the disk); on
    /// failure the events go back in front of the queue. One flush at a time: events keep
    /// their order.
    ///
    /// At most `eventsPerTransaction` events per transaction: a backlog (after a store failure,
    /// or a burst) goes in several short transactions, so a state change waiting for the audit
    /// chain's end never waits behind one long one.
    package func flush() async {
        while true {
            let events: [AuditEvent] = queue.withLock { queue in
                guard queue.flushing == 0 else { return [] }
                let taken = Array(queue.pending.prefix(Self.eventsPerTransaction))
                queue.pending.removeFirst(taken.count)
                queue.flushing = taken.count
                return taken
            }
            guard !events.isEmpty else { return }
            do {
                try await pool.runIfActive { [log] in try log.appendChained(events, at: Date()) }
                queue.withLock { $0.flushing = 0 }
            } catch {
                logger.error("audit events could not be written: \(error)")
                queue.withLock { queue in
                    queue.pending = events + queue.pending
                    queue.flushing = 0
                }
                return
            }
            if events.count < Self.eventsPerTransaction { return }
        }
    }

    static let eventsPerTransaction = 1_000

    /// Chains the events queued by every node's transactions (PostgreSQL: `AuditLog.link`,
    /// until nothing waits), on `pool`: those queued lately, and every `wholeQueueEvery` the
    /// whole queue (a row whose commit came late), and when `whole` says so (the service
    /// stopping). A failure is logged when it starts and when it ends, not at every tick; the
    /// events stay queued for the next call.
    package func link(whole: Bool = false) async {
        let now = ContinuousClock.now
        let whole = lastWholeLink.withLock { last in
            guard whole || last.map({ now - $0 >= Self.wholeQueueEvery }) ?? true else { return false }
            last = now
            return true
        }
        do {
            try await pool.runIfActive { [log] in _ = try log.settle(recent: !whole) }
            if linkFailing.exchange(false, ordering: .relaxed) { logger.notice("queued audit events are linked again") }
        } catch {
            if !linkFailing.exchange(true, ordering: .relaxed) { logger.error("queued audit events could not be linked: \(error)") }
        }
    }

    private let linkFailing = Atomic<Bool>(false)
    private let lastWholeLink = Mutex<ContinuousClock.Instant?>(nil)
    static let wholeQueueEvery: Duration = .seconds(5)
}

/// The calling thread's scheduling priority lowered to nice 10. On Linux `PRIO_PROCESS` with
/// id 0 names the calling thread, not the process. An unprivileged process cannot raise it
/// again, so only threads that keep it call this.
enum LowPriority {
    static func enter() {
        #if os(Linux)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        #endif
    }
}
