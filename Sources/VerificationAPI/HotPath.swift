import Ceremonies
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOSSL
import SignatureVerification
import Storage
import VerificationRequests

/// The service's HTTP/1 connections: the lean path first (`LeanHTTP1Handler`: it answers the
/// stateless verify routes from the bytes, frames every other request and passes it on, and
/// keeps the connection's clocks: idle timeout, head timeout, graceful shutdown), then the
/// pipeline Hummingbird's `HTTP1Channel` builds (HTTP/1 codec, HTTPTypes parts), the passed
/// requests' counter (`PassedRequests`), the typed hot path (`HotPathHandler`: the sign-in's
/// finish, and the stateless routes when they come behind a passed request), then the router.
struct ServiceHTTP1Channel: HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>
    let responder: HTTPChannelHandler.Responder
    let state: ServiceState

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Hummingbird's limits for the head.
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = 80 * 1024
            limits.maxHeaderListSize = 80 * 1024
            limits.maxHeaderFieldCount = 1000
            let pipeline = channel.pipeline.syncOperations
            let lean = LeanHTTP1Handler(state: state, logger: logger)
            try pipeline.addHandler(lean)
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(PassedRequests(owner: lean))
            if state.configuration.hotPath { try pipeline.addHandler(HotPathHandler(state: state, logger: logger)) }
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}

/// Answers `POST /v1/assertions/verify`, `POST /v1/registrations/verify` and the sign-in's
/// finish `POST /v1/assertions` without the router, as the bytes arrive: no task, no router, no
/// body stream. The two stateless routes are answered on the event loop; a sign-in's ceremony
/// work is queued for the database's writer (`ServiceState.write(on:)`) and its answer written
/// when that commit is durable. It takes a request only when its head shows everything the
/// answer needs: a JSON body of a declared length within the limit, no `Expect` or
/// `Connection: close`, and a caller whose API key (and client certificate, with mutual TLS)
/// the client cache already knows. Anything else, and any request behind one the router still
/// answers (answers keep their order), goes on to the router unchanged, which also gives every
/// refusal of an unknown or uncached caller its usual path (lookups, the failed-authentication
/// limit). While a sign-in's answer is awaited, what arrives behind it on the connection waits
/// too (its reads are held), and is handled in order once the answer is written.
///
/// What it does is what the router does for these routes, in the same order: load shedding,
/// the client's rate limit, the role, the body read strictly, the operation (verification and
/// judgement with its audit event queued, or the sign-in's transaction), the same JSON or
/// problem document, `Date` and `Server`, and the request counted by route, status and latency.
final class HotPathHandler: ChannelDuplexHandler, RemovableChannelHandler, TickFlushed {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    enum Route {
        case assertion, registration, signIn

        init?(_ path: String) {
            switch path {
            case "/v1/assertions/verify": self = .assertion
            case "/v1/registrations/verify": self = .registration
            case "/v1/assertions": self = .signIn
            default: return nil
            }
        }

        var path: String {
            switch self {
            case .assertion: "/v1/assertions/verify"
            case .registration: "/v1/registrations/verify"
            case .signIn: "/v1/assertions"
            }
        }

        /// The roles the router's route requires.
        var roles: [ClientRole] { self == .signIn ? [.enrolment] : [.verifier, .enrolment] }
    }

    private struct Taken {
        let route: Route
        let client: APIClient
        let start: ContinuousClock.Instant
        var body: ByteBuffer?
    }

    private enum Mode {
        case idle
        /// The request under way goes to the router.
        case passing
        /// The request under way is this handler's.
        case taking(Taken)
    }

    /// What arrived while a sign-in's answer was awaited, to handle after it in order.
    private enum Held {
        case part(HTTPRequestPart)
        case event(Any)
    }

    private let state: ServiceState
    private let logger: Logger
    private var mode = Mode.idle
    /// Requests given to the router whose answer has not ended.
    private var routerAnswering = 0
    /// A sign-in whose answer is awaited from the writer.
    private var awaiting = false
    private var held: [Held] = []
    // `TickFlushed`.
    var unflushed = false
    var batched = false
    let flushHold: TimeAmount
    private(set) var flushContext: ChannelHandlerContext?
    /// A read held back while a sign-in's answer is awaited (`LeanHTTP1Handler`, at the front,
    /// holds reads while the connection cannot take more writes).
    private var readHeld = false
    private var date = HTTPDate()

    init(state: ServiceState, logger: Logger) {
        self.state = state
        self.logger = logger
        flushHold = .microseconds(state.configuration.flushHoldMicroseconds)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        flushContext = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        flushContext = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if awaiting { return held.append(.part(part)) }
        handle(part, context: context)
    }

    private func handle(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            if case .idle = mode, routerAnswering == 0, let taken = take(head, context: context) {
                mode = .taking(taken)
                return
            }
            mode = .passing
            routerAnswering += 1
            context.fireChannelRead(wrapInboundOut(part))
        case .body(let bytes):
            guard case .taking(var taken) = mode else { return context.fireChannelRead(wrapInboundOut(part)) }
            mode = .idle
            if var body = taken.body {
                body.writeImmutableBuffer(bytes)
                taken.body = body
            } else {
                taken.body = bytes
            }
            mode = .taking(taken)
        case .end:
            guard case .taking(let taken) = mode else {
                mode = .idle
                return context.fireChannelRead(wrapInboundOut(part))
            }
            mode = .idle
            if taken.route == .signIn {
                signIn(taken, context: context)
            } else {
                answer(taken, context: context)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client's half-close behind a sign-in waits for its answer (the router would
        // otherwise end the connection before it is written).
        if awaiting { return held.append(.event(event)) }
        flushNow(context: context)
        context.fireUserInboundEventTriggered(event)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushAtTickEnd(context: context)
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The router's answers pass here on their way out.
        if case .end = unwrapOutboundIn(data) { routerAnswering -= 1 }
        context.write(data, promise: promise)
    }

    func read(context: ChannelHandlerContext) {
        guard !awaiting else {
            readHeld = true
            return
        }
        context.read()
    }

    /// The request, if this handler answers it: its route, and the client the cache knows.
    private func take(_ head: HTTPRequest, context: ChannelHandlerContext) -> Taken? {
        guard head.method == .post, let path = head.path, let route = Route(path) else { return nil }
        let fields = head.headerFields
        guard fields[.expect] == nil, fields[.transferEncoding] == nil,
            fields[.connection].map({ !$0.lowercased().contains("close") }) ?? true,
            let length = fields[.contentLength].flatMap({ Int($0) }), length >= 0, length <= state.configuration.maximumBodySize,
            fields[.contentType].map(Request.isJSON) == true,
            let authorization = fields[.authorization], authorization.hasPrefix("Bearer "),
            let client = Self.cachedClient(key: Array(authorization.utf8.dropFirst(7)), context: context, state: state)
        else { return nil }
        return Taken(route: route, client: client, start: .now)
    }

    /// The client the cache knows for this API key and, with mutual TLS, for the connection's
    /// certificate too; nil sends the request to the router (lookups, refusals, the
    /// failed-authentication limit).
    static func cachedClient(key: [UInt8], context: ChannelHandlerContext, state: ServiceState) -> APIClient? {
        let cache = state.guards.clientCache
        guard case .client(let byKey) = cache.entry(Digest.sha256(key)) else { return nil }
        if state.configuration.tls != nil,
            let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self).peerCertificate
        {
            // Keyed as `ClientAuthentication` keys them.
            guard case .client(let byCertificate) = cache.entry([0x01] + Digest.sha256((try? certificate.toDERBytes()) ?? [])),
                byCertificate.id == byKey.id
            else { return nil }
        }
        return byKey
    }

    /// A stateless verification, answered now.
    private func answer(_ taken: Taken, context: ChannelHandlerContext) {
        let body = taken.body.map { Array($0.readableBytesView) } ?? []
        write(Self.stateless(taken.route, body, for: taken.client, state: state), for: taken, context: context)
    }

    /// A stateless verification's answer, as the router's middleware and route give it: load
    /// shedding, the client's rate limit, the role, then the verification and judgement.
    static func stateless(_ route: Route, _ body: [UInt8], for client: APIClient, state: ServiceState) -> Result<[UInt8], any Error> {
        Result {
            try state.guards.enter(maximum: state.configuration.maximumInFlight)
            defer { state.guards.leave() }
            let admitted = try admit(route, client, state: state)
            return try VerificationRoutes.answer(route == .assertion ? .assertion : .registration, body, for: admitted, state: state)
        }
    }

    /// A sign-in's finish: read here, its transaction queued for the writer, the answer written
    /// once it is durable. Refusals before the store (shedding, rate, role, a malformed body)
    /// are answered now.
    private func signIn(_ taken: Taken, context: ChannelHandlerContext) {
        do {
            try state.guards.enter(maximum: state.configuration.maximumInFlight)
        } catch {
            return write(.failure(error), for: taken, context: context)
        }
        let queued: EventLoopFuture<[UInt8]>
        do {
            let caller = state.caller(try Self.admit(taken.route, taken.client, state: state))
            let (ceremonyID, response, _) = try CeremonyRoutes.readCeremonyResponse(
                taken.body.map { Array($0.readableBytesView) } ?? [], .assertion)
            // The answer is written out here, not on the writer's thread.
            queued = state.finishSignIn(on: context.eventLoop, ceremonyID, response, by: caller).map(CeremonyRoutes.signInAnswer)
        } catch {
            state.guards.leave()
            return write(.failure(error), for: taken, context: context)
        }
        awaiting = true
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        queued.whenComplete { outcome in
            let (handler, context) = bound.value
            handler.state.guards.leave()
            handler.awaiting = false
            handler.write(outcome, for: taken, context: context)
            // With the other answers of the same commit, resumed in the same tick.
            handler.flushAtTickEnd(context: context)
            handler.resume(context: context)
        }
    }

    /// What arrived during a sign-in, handled in order (until another sign-in waits), then
    /// reading again.
    private func resume(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return held.removeAll() }
        var handled = 0
        while !awaiting, handled < held.count {
            switch held[handled] {
            case .part(let part): handle(part, context: context)
            case .event(let event):
                flushNow(context: context)
                context.fireUserInboundEventTriggered(event)
            }
            handled += 1
        }
        held.removeFirst(handled)
        if handled > 0 { channelReadComplete(context: context) }
        if !awaiting, readHeld {
            readHeld = false
            context.read()
        }
    }

    /// The router's middleware for this request, in its order after shedding: the client's rate
    /// limit, then the route's role.
    static func admit(_ route: Route, _ client: APIClient, state: ServiceState) throws -> APIClient {
        try state.guards.admit(client)
        return try APIRequestContext.require(route.roles, of: client)
    }

    private func write(_ outcome: Result<[UInt8], any Error>, for taken: Taken, context: ChannelHandlerContext) {
        let (status, fields, bytes) = Self.response(outcome, route: taken.route, client: taken.client, date: &date, logger: logger)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(buffer)), promise: nil)
        context.write(wrapOutboundOut(.end(nil)), promise: nil)
        unflushed = true
        state.metrics.answered(taken.route, status: status, since: taken.start)
    }

    /// The answer as the router gives it: the JSON, or the problem document with its fields,
    /// then `Content-Length`, `Date` and `Server`.
    static func response(
        _ outcome: Result<[UInt8], any Error>, route: Route, client: APIClient, date: inout HTTPDate, logger: Logger
    ) -> (HTTPResponse.Status, HTTPFields, [UInt8]) {
        var status = HTTPResponse.Status.ok
        var fields = HTTPFields()
        var bytes: [UInt8]
        switch outcome {
        case .success(let answer):
            bytes = answer
            fields[.contentType] = "application/json"
        case .failure(let error):
            var logger = logger
            logger[metadataKey: "client"] = .string(client.name)
            let problem = APIError.answering(error, on: "POST \(route.path)", logger: logger)
            status = problem.status
            fields = problem.headers
            bytes = problem.body
        }
        fields[.contentLength] = String(bytes.count)
        fields[.date] = date.now()
        fields[.server] = "mie-verifier"
        return (status, fields, bytes)
    }
}

extension ServiceMetrics {
    /// A hot route's answer (typed or lean path), counted as the router counts its own.
    func answered(_ route: HotPathHandler.Route, status: HTTPResponse.Status, since start: ContinuousClock.Instant, lean: Bool = false) {
        request(route: route.path, method: "POST", status: Int(status.code), seconds: (ContinuousClock.now - start).seconds, hotPath: true, lean: lean)
    }
}

/// The `Date` header's value (RFC 9110 IMF-fixdate), formatted once a second.
struct HTTPDate {
    private var second = 0
    private var text = ""
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    mutating func now() -> String {
        var seconds = time(nil)
        guard seconds != second else { return text }
        second = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        text = "\(Self.days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(Self.months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        return text
    }
}
