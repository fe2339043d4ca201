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

/// The service's HTTP/1 connections: the pipeline Hummingbird's `HTTP1Channel` builds (HTTP/1
/// codec, HTTPTypes parts, the slow-sender guard, the connection state with its idle timeout),
/// then the hot path (`HotPathHandler`), then the router. Built here because the hot path
/// must sit after the connection state handler, which counts every request and answer for the
/// idle timeout and a graceful shutdown; Hummingbird's extra handlers go before it.
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
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(RequestHeadTimeout(timeout: .seconds(state.configuration.headerTimeoutSeconds)))
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: .seconds(state.configuration.idleTimeoutSeconds), logger: logger))
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
final class HotPathHandler: ChannelDuplexHandler, RemovableChannelHandler {
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
    /// Answers written since the last flush.
    private var unflushed = false
    /// A read held back while the connection cannot take more writes (a client that sends
    /// requests and reads no answers fills no buffer of ours), or while a sign-in's answer is
    /// awaited.
    private var readHeld = false
    private var date = HTTPDate()

    init(state: ServiceState, logger: Logger) {
        self.state = state
        self.logger = logger
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
        context.fireUserInboundEventTriggered(event)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if unflushed {
            unflushed = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The router's answers pass here on their way out.
        if case .end = unwrapOutboundIn(data) { routerAnswering -= 1 }
        context.write(data, promise: promise)
    }

    func read(context: ChannelHandlerContext) {
        guard context.channel.isWritable, !awaiting else {
            readHeld = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if readHeld, context.channel.isWritable, !awaiting {
            readHeld = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    /// The request, if this handler answers it: its route, and the client the cache knows.
    private func take(_ head: HTTPRequest, context: ChannelHandlerContext) -> Taken? {
        guard head.method == .post, let path = head.path, let route = Route(path) else { return nil }
        let fields = head.headerFields
        guard fields[.expect] == nil, fields[.transferEncoding] == nil,
            fields[.connection].map({ !$0.lowercased().contains("close") }) ?? true,
            let length = fields[.contentLength].flatMap({ Int($0) }), length >= 0, length <= state.configuration.maximumBodySize,
            fields[.contentType].map(Request.isJSON) == true,
            let authorization = fields[.authorization], authorization.hasPrefix("Bearer ")
        else { return nil }
        let cache = state.guards.clientCache
        guard case .client(let byKey) = cache.entry(Digest.sha256(Array(authorization.utf8.dropFirst(7)))) else { return nil }
        if state.configuration.tls != nil,
            let certificate = try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self).peerCertificate
        {
            // Keyed as `ClientAuthentication` keys them.
            guard case .client(let byCertificate) = cache.entry([0x01] + Digest.sha256((try? certificate.toDERBytes()) ?? [])),
                byCertificate.id == byKey.id
            else { return nil }
        }
        return Taken(route: route, client: byKey, start: .now)
    }

    /// A stateless verification, answered now.
    private func answer(_ taken: Taken, context: ChannelHandlerContext) {
        let outcome = Result { () throws -> [UInt8] in
            try state.guards.enter(maximum: state.configuration.maximumInFlight)
            defer { state.guards.leave() }
            let client = try admit(taken)
            let body = taken.body.map { Array($0.readableBytesView) } ?? []
            let ceremony: Ceremony = taken.route == .assertion ? .assertion : .registration
            return try VerificationRoutes.answer(ceremony, body, for: client, state: state)
        }
        write(outcome, for: taken, context: context)
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
            let caller = state.caller(try admit(taken))
            let (ceremonyID, response, _) = try CeremonyRoutes.readCeremonyResponse(
                taken.body.map { Array($0.readableBytesView) } ?? [], .assertion)
            let operations = state.operations
            // The answer is written out here, not on the writer's thread.
            queued = state.write(on: context.eventLoop) { try operations.finishSignIn(ceremonyID, response, by: caller) }
                .map(CeremonyRoutes.signInAnswer)
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
            handler.unflushed = false
            context.flush()
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
            case .event(let event): context.fireUserInboundEventTriggered(event)
            }
            handled += 1
        }
        held.removeFirst(handled)
        if handled > 0 { channelReadComplete(context: context) }
        if !awaiting, readHeld, context.channel.isWritable {
            readHeld = false
            context.read()
        }
    }

    /// The router's middleware for this request, in its order after shedding: the client's rate
    /// limit, then the route's role.
    private func admit(_ taken: Taken) throws -> APIClient {
        try state.guards.admit(taken.client)
        return try APIRequestContext.require(taken.route.roles, of: taken.client)
    }

    private func write(_ outcome: Result<[UInt8], any Error>, for taken: Taken, context: ChannelHandlerContext) {
        var status = HTTPResponse.Status.ok
        var fields = HTTPFields()
        var bytes: [UInt8]
        switch outcome {
        case .success(let answer):
            bytes = answer
            fields[.contentType] = "application/json"
        case .failure(let error):
            var logger = logger
            logger[metadataKey: "client"] = .string(taken.client.name)
            let problem = APIError.answering(error, on: "POST \(taken.route.path)", logger: logger)
            status = problem.status
            fields = problem.headers
            bytes = problem.body
        }
        fields[.contentLength] = String(bytes.count)
        fields[.date] = date.now()
        fields[.server] = "mie-verifier"
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(buffer)), promise: nil)
        context.write(wrapOutboundOut(.end(nil)), promise: nil)
        unflushed = true
        let seconds = (ContinuousClock.now - taken.start).seconds
        state.metrics.request(route: taken.route.path, method: "POST", status: Int(status.code), seconds: seconds, hotPath: true)
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
