import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A real HTTP server on a free loopback port, for what the service fetches (the FIDO MDS, its
/// CRLs) and where it posts (the webhook). Each request is answered by `respond`, which sees
/// the method, path, headers and body; every request is kept for the test to read.
final class LocalHTTPServer: Sendable {
    struct Received: Sendable {
        let method: String
        let path: String
        /// By lower-case name.
        let headers: [String: String]
        let body: [UInt8]
    }

    struct Answer: Sendable {
        var status: HTTPResponse.Status = .ok
        var body: [UInt8] = []
        /// The server waits this long before answering (a timeout test).
        var delay: Duration = .zero
    }

    final class Log: Sendable {
        let entries = Mutex<[Received]>([])
    }

    private let log: Log
    private let task: Task<Void, any Error>
    let port: Int

    var requests: [Received] { log.entries.withLock { $0 } }

    init(_ respond: @escaping @Sendable (Received) async -> Answer) async throws {
        let log = Log()
        self.log = log
        let router = Router()
        router.on("**", method: .get) { request, context in try await Self.answer(request, context, respond, log) }
        router.on("**", method: .post) { request, context in try await Self.answer(request, context, respond, log) }
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "local-http")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        task = Task { try await app.run() }
        var port = 0
        for await value in stream {
            port = value
            break
        }
        self.port = port
    }

    private static func answer(
        _ request: Request, _ context: some RequestContext, _ respond: @Sendable (Received) async -> Answer, _ log: Log
    ) async throws -> Response {
        let body = try await request.body.collect(upTo: 64 * 1024 * 1024)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
        let seen = Received(method: request.method.rawValue, path: request.uri.path, headers: headers, body: Array(body.readableBytesView))
        log.entries.withLock { $0.append(seen) }
        let answer = await respond(seen)
        if answer.delay > .zero { try? await Task.sleep(for: answer.delay) }
        return Response(status: answer.status, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func stop() { task.cancel() }

    deinit { task.cancel() }
}
