import HummingbirdCore
import NIOHTTPTypes
import NIOCore

/// Closes a connection whose request head has not arrived `timeout` after its first byte:
/// a slow sender (one header byte now and then) holds no connection longer than that, while
/// the idle timeout, which only sees whole parts, would let it stay. The clock starts at the
/// first byte of each request, so a keep-alive connection waiting for its next request is the
/// idle timeout's alone.
final class RequestHeadTimeout: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    private var waitingForHead = true
    /// When the first byte of the request whose head is awaited arrived.
    private var headStarted: NIODeadline?
    /// One timer at a time, never cancelled per request: on a busy keep-alive connection it fires
    /// once per `timeout` at most and finds the heads arrived.
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Bytes are seen before the HTTP decoder turns them into parts.
        try? context.pipeline.syncOperations.addHandler(FirstByteObserver(owner: self), position: .first)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    /// A read arrived on the connection.
    fileprivate func bytesArrived() {
        guard waitingForHead, headStarted == nil else { return }
        let now = NIODeadline.now()
        headStarted = now
        if timer == nil { schedule(at: now + timeout) }
    }

    private func schedule(at deadline: NIODeadline) {
        guard let context else { return }
        timer = context.eventLoop.scheduleTask(deadline: deadline) { [self] in expired() }
    }

    /// The timer: closes the connection if the head it waits for started too long ago, or waits
    /// for the one under way now.
    private func expired() {
        timer = nil
        guard waitingForHead, let started = headStarted else { return }
        let deadline = started + timeout
        if deadline <= .now() {
            context?.close(promise: nil)
        } else {
            schedule(at: deadline)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            waitingForHead = false
            headStarted = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The response is complete: the next bytes start the next request's clock.
        if case .end = unwrapOutboundIn(data) { waitingForHead = true }
        context.write(data, promise: promise)
    }
}

/// Tells `RequestHeadTimeout` that bytes arrived; passes them on untouched. It holds its owner
/// (which does not hold it): both go with the pipeline.
private final class FirstByteObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let owner: RequestHeadTimeout

    init(owner: RequestHeadTimeout) {
        self.owner = owner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner.bytesArrived()
        context.fireChannelRead(data)
    }
}
