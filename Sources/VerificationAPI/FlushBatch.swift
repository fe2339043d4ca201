import NIOCore
import NIOPosix

/// A connection's handler whose answers wait in its loop's `FlushBatch`: it keeps whether it
/// wrote answers not flushed yet and whether it is in the batch; the flushing is shared here.
protocol TickFlushed: AnyObject {
    /// Answers written since the last flush.
    var unflushed: Bool { get set }
    /// The connection waits in its loop's batch.
    var batched: Bool { get set }
    /// The handler's context while it is in the pipeline.
    var flushContext: ChannelHandlerContext? { get }
    /// The longest its answers wait for the others (`flushHoldMicroseconds`).
    var flushHold: TimeAmount { get }
}

extension TickFlushed {
    /// Answers written go out with the other connections' of the loop's tick.
    func flushAtTickEnd(context: ChannelHandlerContext) {
        guard unflushed, !batched else { return }
        batched = true
        FlushBatch.current(on: context.eventLoop).add(self, hold: flushHold)
    }

    /// Answers written go out now, before what follows them (an event that may end the
    /// connection, a close).
    func flushNow(context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }

    /// The batch is flushed: what the connection wrote goes out (unless a close or an event
    /// flushed it already, or the handler is gone).
    func flushBatched() {
        batched = false
        if let flushContext { flushNow(context: flushContext) }
    }
}

/// The connections of one event loop with answers written and not flushed yet: they are flushed
/// together once the loop has handled every read (or every task) of its tick, by a task queued
/// on the loop, which runs after them, or as soon as one has waited its hold
/// (`flushHoldMicroseconds`, 100 µs unless configured; 0 flushes each answer at once). Each
/// flush is a `write` to a socket. Written back to back, rather than one after each
/// connection's computation, the first wakes the client and the others find it awake: on
/// loopback the writer pays for waking its reader (about a tenth of a verified assertion's CPU,
/// `perf`).
///
/// `@unchecked Sendable` only to sit in a thread-specific variable: each batch is made, read
/// and changed on its own loop's thread alone.
final class FlushBatch: @unchecked Sendable {
    private static let perThread = ThreadSpecificVariable<FlushBatch>()

    private let loop: any EventLoop
    private var waiting: [any TickFlushed] = []
    /// When the earliest hold of `waiting` ends.
    private var due = NIODeadline.distantFuture
    private var scheduled = false

    private init(loop: any EventLoop) {
        self.loop = loop
    }

    /// This loop's batch (a loop is one thread).
    static func current(on loop: any EventLoop) -> FlushBatch {
        if let batch = perThread.currentValue { return batch }
        let batch = FlushBatch(loop: loop)
        perThread.currentValue = batch
        return batch
    }

    /// `handler` is flushed at the end of this tick (once, however many times it is added
    /// before then: the handler keeps that count), or sooner, with the others waiting, once one
    /// of them has waited its hold.
    func add(_ handler: any TickFlushed, hold: TimeAmount) {
        let now = NIODeadline.now()
        due = min(due, now + hold)
        waiting.append(handler)
        if now >= due { return flush() }
        guard !scheduled else { return }
        scheduled = true
        loop.assumeIsolated().execute {
            self.scheduled = false
            self.flush()
        }
    }

    private func flush() {
        let handlers = waiting
        waiting.removeAll(keepingCapacity: true)
        due = .distantFuture
        for handler in handlers { handler.flushBatched() }
    }
}
