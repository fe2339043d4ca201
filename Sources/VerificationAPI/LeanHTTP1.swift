import Foundation
import Hummingbird
import Storage
import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// A request head as the lean path reads it: only the plain form of HTTP/1.1 (RFC 9112), where
/// where a request ends can be told without doubt. Anything else (another version, a
/// `Transfer-Encoding`, an `Upgrade`, `CONNECT`, a length given twice or not in digits, a
/// folded or malformed line, a bare CR or LF, a head over 16 KiB) is `unframeable`: from there
/// on the connection's bytes all go to NIO's HTTP/1 decoder, which alone decides what they
/// mean, so the two parsers never frame the same bytes differently.
struct LeanRequestHead: Equatable {
    enum Reading: Equatable {
        /// More bytes are needed to read the head.
        case incomplete
        /// Not the plain form: the HTTP/1 decoder's to read, from this request on.
        case unframeable
        case framed(LeanRequestHead)
    }

    /// Bytes of the head, its empty line included.
    var size: Int
    /// The body's length (0 without `Content-Length`).
    var contentLength: Int
    /// The hot route, when the request is a POST to one.
    var route: HotPathHandler.Route?
    /// Where the bearer token lies in the head, when `Authorization: Bearer` is there once.
    var token: Range<Int>?
    /// Nothing in the head asks for the router: a JSON `Content-Type` given once, no `Expect`,
    /// `Connection` absent or `keep-alive`, one `Authorization`.
    var plain: Bool

    static let maximumSize = 16 * 1024

    /// Reads the head at the start of `bytes`.
    static func read(_ bytes: UnsafeRawBufferPointer) -> Reading {
        var reader = HeadReader(bytes: bytes)
        return reader.read()
    }
}

private struct HeadReader {
    let bytes: UnsafeRawBufferPointer
    var at = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Out of bytes: wait for more, unless the head is already too long to be plain.
    private var more: LeanRequestHead.Reading { bytes.count >= LeanRequestHead.maximumSize ? .unframeable : .incomplete }

    mutating func read() -> LeanRequestHead.Reading {
        // The request line: method SP target SP HTTP/1.1 CRLF.
        while at < bytes.count, Self.isToken(bytes[at]) { at += 1 }
        guard at < bytes.count else { return more }
        guard at > 0, bytes[at] == .space else { return .unframeable }
        let method = 0..<at
        if equals(method, "CONNECT") { return .unframeable }
        at += 1
        let targetStart = at
        while at < bytes.count, bytes[at] > 0x20, bytes[at] < 0x7F { at += 1 }
        guard at < bytes.count else { return more }
        guard at > targetStart, bytes[at] == .space else { return .unframeable }
        let target = targetStart..<at
        at += 1
        for expected in "HTTP/1.1\r\n".utf8 {
            guard at < bytes.count else { return more }
            guard bytes[at] == expected else { return .unframeable }
            at += 1
        }
        var contentLength: Int?
        var token: Range<Int>?
        var authorizations = 0
        var contentTypes = 0
        var json = false
        var routerOnly = false
        // Field lines: name ":" OWS value OWS CRLF, until an empty line.
        while true {
            guard at < bytes.count else { return more }
            if bytes[at] == .cr {
                guard at + 1 < bytes.count else { return more }
                guard bytes[at + 1] == .lf else { return .unframeable }
                at += 2
                break
            }
            let nameStart = at
            while at < bytes.count, Self.isToken(bytes[at]) { at += 1 }
            guard at < bytes.count else { return more }
            // Also refuses a line folded onto the one before (it starts with a space).
            guard at > nameStart, bytes[at] == .colon else { return .unframeable }
            let name = nameStart..<at
            at += 1
            while at < bytes.count, bytes[at] == .space || bytes[at] == .tab { at += 1 }
            let valueStart = at
            while at < bytes.count, bytes[at] != .cr {
                let byte = bytes[at]
                guard byte == .tab || (byte >= 0x20 && byte != 0x7F) else { return .unframeable }
                at += 1
            }
            guard at + 1 < bytes.count else { return more }
            guard bytes[at + 1] == .lf else { return .unframeable }
            var valueEnd = at
            while valueEnd > valueStart, bytes[valueEnd - 1] == .space || bytes[valueEnd - 1] == .tab { valueEnd -= 1 }
            let value = valueStart..<valueEnd
            at += 2
            switch name.count {
            case 14 where equals(name, "content-length"):
                guard contentLength == nil, let length = digits(value) else { return .unframeable }
                contentLength = length
            case 17 where equals(name, "transfer-encoding"), 7 where equals(name, "upgrade"):
                return .unframeable
            case 10 where equals(name, "connection"):
                if contains(value, "upgrade") { return .unframeable }
                if !equals(value, "keep-alive") { routerOnly = true }
            case 6 where equals(name, "expect"):
                routerOnly = true
            case 12 where equals(name, "content-type"):
                contentTypes += 1
                json = Request.isJSON(bytes[value])
            case 13 where equals(name, "authorization"):
                authorizations += 1
                let scheme = "Bearer ".utf8
                if value.count > scheme.count, zip(bytes[value], scheme).allSatisfy({ $0 == $1 }) {
                    token = (value.lowerBound + scheme.count)..<value.upperBound
                }
            default:
                break
            }
        }
        let route = equals(method, "POST") ? HotPathHandler.Route(target: bytes[target]) : nil
        let plain = !routerOnly && json && contentTypes == 1 && authorizations == 1 && token != nil
        return .framed(
            LeanRequestHead(size: at, contentLength: contentLength ?? 0, route: route, token: authorizations == 1 ? token : nil, plain: plain))
    }

    /// Whether the bytes in `range` are `text`, ASCII letters in any case (`text` is lower case).
    private func equals(_ range: Range<Int>, _ text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        var index = 0
        for byte in bytes[range] {
            guard Self.lower(byte) == Self.lower(expected[index]) else { return false }
            index += 1
        }
        return true
    }

    /// Whether `text` (lower case) appears in the bytes in `range`, in any case.
    private func contains(_ range: Range<Int>, _ text: StaticString) -> Bool {
        let length = text.utf8CodeUnitCount
        guard range.count >= length else { return false }
        return (range.lowerBound...(range.upperBound - length)).contains { equals($0..<($0 + length), text) }
    }

    /// A length in decimal digits, at most 15 of them (so it fits without overflow).
    private func digits(_ range: Range<Int>) -> Int? {
        guard (1...15).contains(range.count) else { return nil }
        var value = 0
        for byte in bytes[range] {
            guard (0x30...0x39).contains(byte) else { return nil }
            value = value * 10 + Int(truncatingIfNeeded: byte &- 0x30)
        }
        return value
    }

    private static func lower(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }

    /// RFC 9110 `tchar`.
    private static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }
}

extension UInt8 {
    fileprivate static let space = UInt8(ascii: " ")
    fileprivate static let tab = UInt8(ascii: "\t")
    fileprivate static let cr = UInt8(ascii: "\r")
    fileprivate static let lf = UInt8(ascii: "\n")
    fileprivate static let colon = UInt8(ascii: ":")
}

extension HotPathHandler.Route {
    /// The route a request target names, exactly (a query or any other form is the router's).
    init?(target: Slice<UnsafeRawBufferPointer>) {
        let route: Self
        switch target.count {
        case 21: route = .assertion
        case 24: route = .registration
        case 14: route = .signIn
        default: return nil
        }
        guard target.elementsEqual(route.path.utf8) else { return nil }
        self = route
    }
}

/// The front of every HTTP/1 connection, on the bytes (after TLS, when configured).
///
/// It answers `POST /v1/assertions/verify` and `POST /v1/registrations/verify` itself when
/// their head is plain (`LeanRequestHead`), their caller is in the client cache and nothing
/// passed on before them is still unanswered: the body read from the bytes as they arrived, the
/// answer written as one buffer, with no HTTP/1 decoder, no HTTPTypes parts and no typed
/// handlers in between. Every other request is framed from its head and passed on, its body as
/// it arrives, to NIO's HTTP/1 decoder and what follows it (`HotPathHandler`, the router); one
/// that cannot be framed sends the connection there for good. Answers keep their order: while a
/// passed request is unanswered, the requests behind it are passed too.
///
/// It keeps the connection's clocks for both paths (it sees every byte; `PassedRequests`
/// tells it when a passed head was read and an answer ended): a connection with nothing under
/// way, or a request stalled in its body, is closed `idleTimeoutSeconds` after its last
/// activity; a request head not whole `headerTimeoutSeconds` after its first byte closes it
/// (a slow sender); a graceful shutdown closes it once what is under way is answered.
final class LeanHTTP1Handler: ChannelDuplexHandler, TickFlushed {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let state: ServiceState
    private let logger: Logger
    private let takes: Bool
    private let idleTimeout: TimeAmount
    private let headTimeout: TimeAmount

    private var context: ChannelHandlerContext?
    /// Bytes read and not handled yet: the start of a request whose head or body is incomplete.
    private var pending: ByteBuffer?
    /// Once a request could not be framed, every byte goes to the HTTP/1 decoder.
    private var passingForGood = false
    /// Body bytes of the request passed on that are still to come.
    private var passRemaining = 0
    /// A request head read here whose body is awaited to answer it.
    private var bodyAwaited = false
    /// Requests passed on whose answer has not ended (their heads counted as the decoder reads them).
    private var unanswered = 0
    private var headsPassed = 0
    /// A passed request whose body the decoder is still reading.
    private var passedBeingRead = false
    /// Passing for good: the bytes that arrive next start a request whose head is awaited.
    private var waitingForHead = true
    /// When the first byte of a head not whole yet arrived.
    private var headStarted: NIODeadline?
    private var lastActivity = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private var timerDeadline = NIODeadline.distantFuture
    private var quiescing = false
    // `TickFlushed` (the context is `flushContext`).
    var unflushed = false
    var batched = false
    let flushHold: TimeAmount
    private var readHeld = false
    private var date = HTTPDate()

    init(state: ServiceState, logger: Logger) {
        self.state = state
        self.logger = logger
        flushHold = .microseconds(state.configuration.flushHoldMicroseconds)
        takes = state.configuration.hotPath && state.configuration.leanPath
        idleTimeout = .seconds(state.configuration.idleTimeoutSeconds)
        headTimeout = .seconds(state.configuration.headerTimeoutSeconds)
        // Without the lean path, the decoder reads every byte (and this handler keeps the clocks).
        passingForGood = !takes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { started() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        started()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    private func started() {
        lastActivity = .now()
        schedule(at: lastActivity + idleTimeout)
    }

    // MARK: Bytes in

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        if passingForGood {
            if waitingForHead, headStarted == nil { startHeadClock(at: lastActivity) }
            return context.fireChannelRead(data)
        }
        var bytes = unwrapInboundIn(data)
        if pending == nil {
            pending = bytes
        } else {
            pending?.writeBuffer(&bytes)
        }
        handlePending(context: context)
        // A graceful stop waits for what is under way, a passed request's body included: its
        // last bytes may be what ends the wait (the router can answer before reading them).
        if quiescing { closeIfQuiet(context: context) }
    }

    /// Handles what `pending` holds, request after request, until it runs out or waits.
    private func handlePending(context: ChannelHandlerContext) {
        bodyAwaited = false
        while var buffer = pending, buffer.readableBytes > 0 {
            if passRemaining > 0 {
                let count = min(passRemaining, buffer.readableBytes)
                passRemaining -= count
                pass(pending?.readSlice(length: count), context: context)
                continue
            }
            let reading = buffer.withUnsafeReadableBytes { LeanRequestHead.read($0) }
            switch reading {
            case .incomplete:
                if headStarted == nil { startHeadClock(at: lastActivity) }
                return
            case .unframeable:
                passForGood(context: context)
                return
            case .framed(let head):
                headStarted = nil
                if let route = head.route, route != .signIn, head.plain, unanswered == 0, takes,
                    head.contentLength <= state.configuration.maximumBodySize,
                    let token = head.token,
                    let client = buffer.withUnsafeReadableBytes({ bytes in
                        HotPathHandler.cachedClient(key: Array(bytes[token]), context: context, state: state)
                    })
                {
                    guard buffer.readableBytes >= head.size + head.contentLength else {
                        bodyAwaited = true
                        return
                    }
                    let start = ContinuousClock.now
                    buffer.moveReaderIndex(forwardBy: head.size)
                    let body = buffer.readBytes(length: head.contentLength) ?? []
                    pending = buffer
                    answer(route, body, for: client, since: start, context: context)
                    continue
                }
                // Passed on: the head, and what has arrived of the body.
                let count = min(head.size + head.contentLength, buffer.readableBytes)
                passRemaining = head.size + head.contentLength - count
                let heads = headsPassed
                pass(pending?.readSlice(length: count), context: context)
                if headsPassed == heads {
                    // The decoder did not read it as a request (it failed, or the connection
                    // ends): nothing more is framed here.
                    passForGood(context: context)
                    return
                }
            }
        }
        pending = nil
    }

    private func pass(_ slice: ByteBuffer?, context: ChannelHandlerContext) {
        guard let slice else { return }
        context.fireChannelRead(wrapInboundOut(slice))
    }

    /// From here on every byte is the HTTP/1 decoder's.
    private func passForGood(context: ChannelHandlerContext) {
        passingForGood = true
        waitingForHead = true
        if headStarted == nil { startHeadClock(at: lastActivity) }
        let rest = pending
        pending = nil
        if let rest, rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // The answers written here go out with those of the other connections read in the same
        // tick of the loop (`FlushBatch`), not one flush as each connection's read ends.
        flushAtTickEnd(context: context)
        context.fireChannelReadComplete()
    }

    var flushContext: ChannelHandlerContext? { context }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            closeIfQuiet(context: context)
            return
        }
        // Answers written here go out before anything the event leads to (a half-close ends the
        // router's side of the connection).
        flushNow(context: context)
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Answers out

    private func answer(_ route: HotPathHandler.Route, _ body: [UInt8], for client: APIClient, since start: ContinuousClock.Instant, context: ChannelHandlerContext) {
        let outcome = HotPathHandler.stateless(route, body, for: client, state: state)
        let (status, fields, bytes) = HotPathHandler.response(outcome, route: route, client: client, date: &date, logger: logger)
        var out = context.channel.allocator.buffer(capacity: bytes.count + 192)
        if status == .ok {
            out.writeStaticString("HTTP/1.1 200 OK\r\n")
        } else {
            out.writeStaticString("HTTP/1.1 ")
            out.writeString(String(status.code))
            out.writeStaticString(" ")
            out.writeString(status.reasonPhrase)
            out.writeStaticString("\r\n")
        }
        for field in fields {
            out.writeString(field.name.rawName)
            out.writeStaticString(": ")
            out.writeString(field.value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        out.writeBytes(bytes)
        context.write(wrapOutboundOut(.byteBuffer(out)), promise: nil)
        unflushed = true
        lastActivity = .now()
        state.metrics.answered(route, status: status, since: start, lean: true)
        closeIfQuiet(context: context)
    }

    func read(context: ChannelHandlerContext) {
        // A client that sends requests and reads no answers fills no buffer of ours.
        guard context.channel.isWritable else {
            readHeld = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if readHeld, context.channel.isWritable {
            readHeld = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: What PassedRequests reports

    fileprivate func passedHeadRead() {
        headsPassed += 1
        unanswered += 1
        passedBeingRead = true
        if passingForGood {
            waitingForHead = false
            headStarted = nil
        }
    }

    fileprivate func passedRequestRead() {
        passedBeingRead = false
    }

    /// A passed request's answer has ended (it is written, not yet flushed).
    fileprivate func passedAnswerEnded() {
        // Never below zero: the router also answers a request the decoder could not read (400).
        unanswered = max(0, unanswered - 1)
        lastActivity = .now()
        if passingForGood { waitingForHead = true }
        if let context { closeIfQuiet(context: context) }
    }

    // MARK: Clocks

    /// After a graceful shutdown began: closes the connection once nothing is under way (answers
    /// written are flushed first).
    private func closeIfQuiet(context: ChannelHandlerContext) {
        guard quiescing, unanswered == 0, passRemaining == 0, !bodyAwaited else { return }
        if passingForGood, !waitingForHead { return }
        // What else was read is not answered: the connection ends with the answers written.
        pending = nil
        unflushed = false
        context.flush()
        context.close(promise: nil)
    }

    private func startHeadClock(at instant: NIODeadline) {
        headStarted = instant
        schedule(at: instant + headTimeout)
    }

    /// One timer at a time, moved earlier when a deadline comes before it, never cancelled per
    /// request: on a busy connection it fires once an idle timeout and finds activity.
    private func schedule(at deadline: NIODeadline) {
        guard let context, timer == nil || deadline < timerDeadline else { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.scheduleTask(deadline: deadline) { [self] in expired() }
    }

    private func expired() {
        timer = nil
        timerDeadline = .distantFuture
        guard let context, context.channel.isActive else { return }
        let now = NIODeadline.now()
        if let started = headStarted, started + headTimeout <= now {
            context.close(promise: nil)
            return
        }
        // A request read whole and being answered is not idle.
        let answering = unanswered > 0 && !passedBeingRead && passRemaining == 0
        if !answering, lastActivity + idleTimeout <= now {
            context.close(promise: nil)
            return
        }
        var next = max(lastActivity + idleTimeout, now + .milliseconds(100))
        if let started = headStarted { next = min(next, started + headTimeout) }
        schedule(at: next)
    }
}

/// Between the HTTPTypes codec and the typed handlers: tells `LeanHTTP1Handler` when a passed
/// request's head and end were read and when its answer ended, whoever answered it. It holds its
/// owner (which does not hold it): both go with the pipeline.
final class PassedRequests: ChannelDuplexHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let owner: LeanHTTP1Handler

    init(owner: LeanHTTP1Handler) {
        self.owner = owner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: owner.passedHeadRead()
        case .end: owner.passedRequestRead()
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var ended = false
        if case .end = unwrapOutboundIn(data) { ended = true }
        context.write(data, promise: promise)
        if ended { owner.passedAnswerEnded() }
    }
}
