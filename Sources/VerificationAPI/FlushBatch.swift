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
}

extension TickFlushed {
    /// Answers written go out with the other connections' of the loop's tick.
    func flushAtTickEnd(context: ChannelHandlerContext) {
        guard unflushed, !batched else { return }
        batched = true
        FlushBatch.current(on: context.eventLoop).add(self)
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
/// on the loop, which runs after them, or as soon as the first has waited `hold`. Each flush is
/// a `write` to a socket. Written back to back, rather than one after each connection's
/// computation, the first wakes the client and the others find it awake: on loopback the
/// writer pays for waking its reader (about a tenth of a verified assertion's CPU, `perf`).
///
/// `@unchecked Sendable` only to sit in a thread-specific variable: each batch is made, read
/// and changed on its own loop's thread alone.
final class FlushBatch: @unchecked Sendable {
    private static let perThread = ThreadSpecificVariable<FlushBatch>()

    private let loop: any EventLoop
    private var waiting: [any TickFlushed] = []
    /// When the first of `waiting` was added.
    private var since = NIODeadline.distantPast
    private var scheduled = false
    /// The longest an answer waits for the others: about one verified assertion's CPU. Measured
    /// against flushing each at once and against waiting for the tick's end (a tick of bursty
    /// arrivals is milliseconds long): most of the gain in throughput, the same paced latency.
    static let hold = TimeAmount.microseconds(100)

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
    /// before then: the handler keeps that count), or sooner, with the others waiting, once the
    /// first of them has waited `hold`.
    func add(_ handler: any TickFlushed) {
        let now = NIODeadline.now()
        if waiting.isEmpty { since = now }
        waiting.append(handler)
        if now - since >= Self.hold { return flush() }
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
        for handler in handlers { handler.flushBatched() }
    }
}
