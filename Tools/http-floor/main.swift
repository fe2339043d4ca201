// The floors the service is measured against (Benchmarks/http_load.py): an HTTP/1 server
// that reads a POST's body and answers a fixed JSON body, once as a bare Hummingbird 2 app
// (the framework's own ceiling) and once as raw SwiftNIO (the transport's).
//
// And the ceilings: raw SwiftNIO answering each body, a request in the offline format (a line
// of the `--jsonl` input), as the offline path answers it: an assertion verified by the core
// (`nio-core`, as `verify assertion --jsonl`), or a registration verified and judged with the
// referencing lists of DATABASE and the bundled profile (`nio-evaluate`, as `evaluate --jsonl`).
// Each request is answered as it is read (SwiftNIO's idiom), or, with `-batched`, the requests
// of a loop's tick are answered together once it has read them all, then flushed back to back
// (the best arrangement measured). They are what an HTTP/1 stack around the core reaches on
// this machine with nothing of the service's own (no caller, no audit event, no metrics, no
// problem documents). Anything but a verified assertion or an accepted registration is
// answered with a non-2xx status, which the load generator counts as an error. One event loop.
//
//   mie-http-floor hummingbird|nio|nio-core|nio-core-batched PORT
//   mie-http-floor nio-evaluate|nio-evaluate-batched PORT DATABASE
import AuthenticatorCatalog
import Ceremonies
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix
import PSCPolicy
import Storage
import VerificationRequests
import WireFormat

let fixedAnswer = Array(#"{"verification":{"verified":true},"amr":["hwk"]}"#.utf8)
let arguments = CommandLine.arguments
let kinds = ["hummingbird", "nio", "nio-core", "nio-core-batched", "nio-evaluate", "nio-evaluate-batched"]
guard arguments.count >= 3, let port = Int(arguments[2]), kinds.contains(arguments[1]),
    arguments.count == (arguments[1].hasPrefix("nio-evaluate") ? 4 : 3)
else {
    FileHandle.standardError.write(
        Data("usage: mie-http-floor hummingbird|nio|nio-core|nio-core-batched PORT\n       mie-http-floor nio-evaluate|nio-evaluate-batched PORT DATABASE\n".utf8))
    exit(64)
}
let kind = arguments[1]
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

/// A request's body answered: the status (2xx only for what the offline path counts as a
/// success) and the body.
typealias Answering = @Sendable (UnsafeRawBufferPointer) -> (HTTPResponseStatus, [UInt8])

extension HTTPResponseStatus {
    init(_ disposition: VerificationOutcome.Disposition) {
        switch disposition {
        case .verified: self = .ok
        case .rejected: self = .unprocessableEntity
        case .badRequest: self = .badRequest
        }
    }
}

/// The offline path's answer to one request line, for the `nio-core` and `nio-evaluate` kinds.
func offlineAnswering() throws -> Answering? {
    if kind.hasPrefix("nio-core") {
        let verifier = VerificationService()
        return { body in
            let outcome = verifier.verify(.assertion, requestJSON: body)
            return (HTTPResponseStatus(outcome.disposition), outcome.json())
        }
    }
    guard kind.hasPrefix("nio-evaluate") else { return nil }
    let catalog = try ReferencingStore(database: try SQLiteDatabase(path: arguments[3], migrations: StorageSchema.migrations)).snapshot()
    let profile = try Profile.bundled()
    let verifier = VerificationService(trust: catalog)
    return { body in
        let judged = OfflineEvaluation.evaluate(body, service: verifier, catalog: catalog, profile: profile, at: nil, otherwise: Date())
        var writer = JSONWriter()
        switch judged {
        case .rejected(let outcome): OfflineEvaluation.writeRejected(outcome, to: &writer)
        case .evaluated(let outcome, let evaluation): OfflineEvaluation.writeReport(outcome, evaluation, to: &writer)
        }
        return (HTTPResponseStatus(judged.disposition), writer.bytes)
    }
}

if kind == "hummingbird" {
    let router = Router()
    router.post("/floor") { request, _ -> Response in
        let body = try await request.body.collect(upTo: 256 * 1024)
        guard body.readableBytes > 0 else { throw HTTPError(.badRequest) }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: fixedAnswer)))
    }
    let application = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "floor"),
        eventLoopGroupProvider: .shared(group))
    try await application.runService()
} else {
    /// Reads the request's body and, when it has ended, answers the fixed body or, with
    /// `answering`, the offline path's answer to it. Without a batch, each request is answered
    /// as it is read and flushed when its connection's read ends; with one, it is answered with
    /// the others of its tick.
    final class FloorHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        private let answering: Answering?
        private let batch: TickBatch?
        private var body: ByteBuffer?
        private var keepAlive = true

        init(answering: Answering?, batch: TickBatch?) {
            self.answering = answering
            self.batch = batch
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                body = nil
                keepAlive = head.isKeepAlive
            case .body(var buffer):
                if body == nil { body = buffer } else { body?.writeBuffer(&buffer) }
            case .end:
                if let batch { batch.add(self, context) } else { answer(context: context) }
            }
        }

        func answer(context: ChannelHandlerContext) {
            var (status, out) = (HTTPResponseStatus.ok, fixedAnswer)
            if let answering, let body { (status, out) = body.withUnsafeReadableBytes(answering) }
            if (body?.readableBytes ?? 0) == 0 { status = .badRequest }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(out.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: out)))), promise: nil)
            context.write(wrapOutboundOut(.end(nil)), promise: nil)
            if !keepAlive { context.close(promise: nil) }
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            if batch == nil { context.flush() }
        }
    }

    /// `-batched`: the requests read in one tick of the loop, answered once the loop has read
    /// them all (a task queued on the loop runs after its I/O), then flushed back to back.
    /// `@unchecked Sendable` only to be captured by the channel initializer: it is used on its
    /// one loop's thread alone.
    final class TickBatch: @unchecked Sendable {
        private let loop: any EventLoop
        private var waiting: [(FloorHandler, ChannelHandlerContext)] = []

        init(loop: any EventLoop) {
            self.loop = loop
        }

        func add(_ handler: FloorHandler, _ context: ChannelHandlerContext) {
            waiting.append((handler, context))
            guard waiting.count == 1 else { return }
            loop.assumeIsolated().execute {
                let answered = self.waiting
                self.waiting.removeAll(keepingCapacity: true)
                for (handler, context) in answered { handler.answer(context: context) }
                for (_, context) in answered { context.flush() }
            }
        }
    }

    let answering = try offlineAnswering()
    let batch = kind.hasSuffix("-batched") ? TickBatch(loop: group.next()) : nil
    let channel = try await ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 256)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                try channel.pipeline.syncOperations.addHandler(FloorHandler(answering: answering, batch: batch))
            }
        }
        .bind(host: "127.0.0.1", port: port).get()
    try await channel.closeFuture.get()
}
