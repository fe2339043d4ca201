import NIOCore
import NIOPosix

/// Runs the service's tasks on SwiftNIO's event loops instead of the global cooperative pool.
/// A job enqueued from an event loop thread (a request head or body arriving, a write done)
/// runs on that same loop, so a request goes from the socket through the handler and back
/// without a thread hop; a job enqueued from elsewhere goes to the next loop. Blocking work
/// never runs here: SQLite goes to NIO's thread pool (`ServiceState.io`).
///
/// Measured with Benchmarks/http_load.py: the hops between the loops and the cooperative
/// pool, not the handler, bounded a verified request on one core.
package final class EventLoopTaskExecutor: TaskExecutor {
    private let group: MultiThreadedEventLoopGroup

    package init(group: MultiThreadedEventLoopGroup) {
        self.group = group
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? group.next()
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
