// The floors the service is measured against (Benchmarks/http_load.py): an HTTP/1 server
// that reads a POST's body and answers a fixed JSON body, once as a bare Hummingbird 2 app
// (the framework's own ceiling) and once as raw SwiftNIO (the transport's); and raw SwiftNIO
// answering each body, a request in the offline format (a line of `verify assertion --jsonl`),
// with the core's outcome as `--jsonl` writes it: each request answered as it is read
// (`nio-core`, SwiftNIO's idiom), or the requests of a loop's tick answered together and
// flushed back to back (`nio-core-batched`, the best arrangement measured). They are the
// ceiling of an HTTP/1 stack around the core on this machine, with nothing of the service's
// own (no caller, no audit event, no metrics, no problem documents). One event loop.
//
//   mie-http-floor hummingbird|nio|nio-core|nio-core-batched PORT
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix
import VerificationRequests

let fixedAnswer = Array(#"{"verification":{"verified":true},"amr":["hwk"]}"#.utf8)
let arguments = CommandLine.arguments
guard arguments.count == 3, let port = Int(arguments[2]), ["hummingbird", "nio", "nio-core", "nio-core-batched"].contains(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: mie-http-floor hummingbird|nio|nio-core|nio-core-batched PORT\n".utf8))
    exit(64)
}
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

if arguments[1] == "hummingbird" {
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
    /// Reads the request's body and, when it has ended, answers the fixed body or, with the core
    /// (`verifier`), the outcome of verifying the body as an assertion, as `--jsonl` writes it.
    /// Without a batch, each request is answered as it is read and flushed when its connection's
    /// read ends (SwiftNIO's idiom); with one, it is answered with the others of its tick.
    final class FloorHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        private let verifier: VerificationService?
        private let batch: TickBatch?
        private var body: ByteBuffer?
        private var keepAlive = true

        init(verifier: VerificationService?, batch: TickBatch?) {
            self.verifier = verifier
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
            var status = HTTPResponseStatus.ok
            var out = fixedAnswer
            if let verifier, let body {
                let outcome = body.withUnsafeReadableBytes { verifier.verify(.assertion, requestJSON: $0) }
                out = outcome.json()
                // Anything but a verified assertion is an error to the load generator: a ceiling
                // measured on cheap refusals would mean nothing.
                switch outcome.disposition {
                case .verified: break
                case .rejected: status = .unprocessableEntity
                case .badRequest: status = .badRequest
                }
            }
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

    /// `nio-core-batched`: the requests read in one tick of the loop, verified and answered once
    /// the loop has read them all (a task queued on the loop runs after its I/O), then flushed
    /// back to back. `@unchecked Sendable` only to be captured by the channel initializer: it is
    /// used on its one loop's thread alone.
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

    let verifier = arguments[1].hasPrefix("nio-core") ? VerificationService() : nil
    let batch = arguments[1] == "nio-core-batched" ? TickBatch(loop: group.next()) : nil
    let channel = try await ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 256)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                try channel.pipeline.syncOperations.addHandler(FloorHandler(verifier: verifier, batch: batch))
            }
        }
        .bind(host: "127.0.0.1", port: port).get()
    try await channel.closeFuture.get()
}
