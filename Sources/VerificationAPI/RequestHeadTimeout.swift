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
    private var deadline: Scheduled<Void>?
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
        deadline?.cancel()
        deadline = nil
        self.context = nil
    }

    /// A read arrived on the connection.
    fileprivate func bytesArrived() {
        guard waitingForHead, deadline == nil, let context else { return }
        deadline = context.eventLoop.scheduleTask(in: timeout) { [weak self] in
            guard let self, self.waitingForHead, let context = self.context else { return }
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            waitingForHead = false
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The response is complete: the next bytes start the next request's clock.
        if case .end = unwrapOutboundIn(data) { waitingForHead = true }
        context.write(data, promise: promise)
    }
}

/// Tells `RequestHeadTimeout` that bytes arrived; passes them on untouched.
private final class FirstByteObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private weak var owner: RequestHeadTimeout?

    init(owner: RequestHeadTimeout) {
        self.owner = owner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        owner?.bytesArrived()
        context.fireChannelRead(data)
    }
}
