// The floors the service is measured against (Benchmarks/http_load.py): an HTTP/1 server
// that reads a POST's body and answers a fixed JSON body, once as a bare Hummingbird 2 app
// (the framework's own ceiling) and once as raw SwiftNIO (the transport's). One event loop.
//
//   mie-http-floor hummingbird|nio PORT
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix

let answer = Array(#"{"verification":{"verified":true},"amr":["hwk"]}"#.utf8)
let arguments = CommandLine.arguments
guard arguments.count == 3, let port = Int(arguments[2]), ["hummingbird", "nio"].contains(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: mie-http-floor hummingbird|nio PORT\n".utf8))
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
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer)))
    }
    let application = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "floor"),
        eventLoopGroupProvider: .shared(group))
    try await application.runService()
} else {
    /// Reads the request's body and answers the fixed body when it has ended.
    final class FloorHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        private var received = 0
        private var keepAlive = true

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                received = 0
                keepAlive = head.isKeepAlive
            case .body(let buffer):
                received += buffer.readableBytes
            case .end:
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: String(answer.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: received > 0 ? .ok : .badRequest, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: answer)))), promise: nil)
                context.write(wrapOutboundOut(.end(nil)), promise: nil)
                if !keepAlive { context.close(promise: nil) }
            }
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.flush()
        }
    }
    let channel = try await ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 256)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                try channel.pipeline.syncOperations.addHandler(FloorHandler())
            }
        }
        .bind(host: "127.0.0.1", port: port).get()
    try await channel.closeFuture.get()
}
