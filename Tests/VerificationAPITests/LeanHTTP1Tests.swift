import Foundation
import Glibc
import Hummingbird
import HummingbirdTesting
import Testing
@testable import VerificationAPI

/// The lean path's head reader: the plain form of HTTP/1.1 framed exactly, everything else left
/// to NIO's decoder (`unframeable`), never framed differently from it.
@Suite struct LeanRequestHeadTests {
    static let body = #"{"response":{}}"#
    static func head(_ lines: [String], requestLine: String = "POST /v1/assertions/verify HTTP/1.1") -> [UInt8] {
        Array(([requestLine] + lines).joined(separator: "\r\n").utf8) + Array("\r\n\r\n".utf8)
    }

    static let plainLines = ["Host: mie.example", "Authorization: Bearer key-123", "Content-Type: application/json", "Content-Length: 15"]

    static func read(_ bytes: [UInt8]) -> LeanRequestHead.Reading {
        bytes.withUnsafeBytes { LeanRequestHead.read($0) }
    }

    @Test func aPlainVerifyHeadIsFramedWithItsRouteAndToken() throws {
        let bytes = Self.head(Self.plainLines) + Array(Self.body.utf8)
        guard case .framed(let head) = Self.read(bytes) else { Issue.record("not framed: \(Self.read(bytes))"); return }
        #expect(head.route == .assertion)
        #expect(head.plain)
        #expect(head.contentLength == 15)
        #expect(head.size == Self.head(Self.plainLines).count)
        let token = try #require(head.token)
        #expect(String(decoding: bytes[token], as: UTF8.self) == "key-123")
    }

    @Test func everyPrefixOfAHeadIsIncomplete() {
        let bytes = Self.head(Self.plainLines)
        for end in 0..<bytes.count {
            #expect(Self.read(Array(bytes[..<end])) == .incomplete, "prefix of \(end) bytes")
        }
    }

    @Test func namesInAnyCaseAndWhitespaceAroundValues() throws {
        let lines = ["host: x", "AUTHORIZATION:Bearer k", "content-type: \tApplication/JSON; charset=utf-8 ", "content-LENGTH:  15\t"]
        guard case .framed(let head) = Self.read(Self.head(lines)) else { Issue.record("not framed"); return }
        #expect(head.plain && head.contentLength == 15 && head.route == .assertion)
        for (path, route) in [("/v1/registrations/verify", HotPathHandler.Route.registration), ("/v1/assertions", .signIn)] {
            guard case .framed(let other) = Self.read(Self.head(lines, requestLine: "POST \(path) HTTP/1.1")) else { Issue.record("\(path) not framed"); continue }
            #expect(other.route == route)
        }
    }

    @Test func otherRequestsAreFramedForTheRouter() {
        // No body: a GET, and a POST to a route of the router's, a query, another form of target.
        for (line, length) in [("GET /health/live HTTP/1.1", 0), ("POST /v1/assertions/options HTTP/1.1", 15),
                               ("POST /v1/assertions/verify?x=1 HTTP/1.1", 15), ("POST http://x/v1/assertions/verify HTTP/1.1", 15),
                               ("GET /v1/assertions/verify HTTP/1.1", 15)] {
            let lines = length == 0 ? ["Host: x"] : Self.plainLines
            guard case .framed(let head) = Self.read(Self.head(lines, requestLine: line)) else { Issue.record("\(line) not framed"); continue }
            #expect(head.route == nil, "\(line)")
            #expect(head.contentLength == length, "\(line)")
        }
    }

    @Test func headsThatAskForTheRouterAreFramedButNotPlain() {
        let variants: [[String]] = [
            Self.plainLines + ["Expect: 100-continue"],
            Self.plainLines + ["Connection: close"],
            Self.plainLines + ["Authorization: Bearer other"],
            Self.plainLines + ["Content-Type: application/json"],
            ["Host: x", "Authorization: Basic a2V5", "Content-Type: application/json", "Content-Length: 15"],
            ["Host: x", "Authorization: Bearer k", "Content-Type: text/plain", "Content-Length: 15"],
            ["Host: x", "Content-Type: application/json", "Content-Length: 15"],
            ["Host: x", "Authorization: Bearer k", "Content-Length: 15"],
        ]
        for lines in variants {
            guard case .framed(let head) = Self.read(Self.head(lines)) else { Issue.record("\(lines) not framed"); continue }
            #expect(!head.plain, "\(lines)")
            #expect(head.contentLength == 15, "\(lines)")
        }
        guard case .framed(let keepAlive) = Self.read(Self.head(Self.plainLines + ["Connection: Keep-Alive"])) else { return }
        #expect(keepAlive.plain)
    }

    @Test func whatIsNotThePlainFormIsLeftToTheDecoder() {
        let cases: [(String, [UInt8])] = [
            ("chunked", Self.head(["Host: x", "Transfer-Encoding: chunked"])),
            ("length and chunked", Self.head(Self.plainLines + ["Transfer-Encoding: chunked"])),
            ("length twice", Self.head(Self.plainLines + ["Content-Length: 15"])),
            ("length twice, different", Self.head(Self.plainLines + ["Content-Length: 0"])),
            ("length with a sign", Self.head(["Host: x", "Content-Length: +15"])),
            ("length not digits", Self.head(["Host: x", "Content-Length: 1 5"])),
            ("length empty", Self.head(["Host: x", "Content-Length:"])),
            ("length too long", Self.head(["Host: x", "Content-Length: 1234567890123456"])),
            ("HTTP/1.0", Self.head(Self.plainLines, requestLine: "POST /v1/assertions/verify HTTP/1.0")),
            ("HTTP/2 preface", Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)),
            ("CONNECT", Self.head(["Host: x"], requestLine: "CONNECT x:443 HTTP/1.1")),
            ("upgrade", Self.head(["Host: x", "Upgrade: websocket", "Connection: Upgrade"])),
            ("connection upgrade", Self.head(["Host: x", "Connection: keep-alive, Upgrade"])),
            ("folded line", Self.head(["Host: x", "X-A: a", " folded", "Content-Length: 15"])),
            ("space before the colon", Self.head(["Host: x", "Content-Length : 15"])),
            ("bare LF ending a field", Array("POST /v1/assertions/verify HTTP/1.1\r\nHost: x\nContent-Length: 15\r\n\r\n".utf8)),
            ("bare LF ending the head", Array("POST /v1/assertions/verify HTTP/1.1\r\nHost: x\r\n\n".utf8)),
            ("bare CR in a value", Array("POST /v1/assertions/verify HTTP/1.1\r\nHost: x\ry\r\n\r\n".utf8)),
            ("NUL in a value", Array("POST /v1/assertions/verify HTTP/1.1\r\nHost: x\u{0}y\r\n\r\n".utf8)),
            ("no name", Self.head(["Host: x", ": 15"])),
            ("two spaces in the request line", Self.head(["Host: x"], requestLine: "POST  /v1/assertions/verify HTTP/1.1")),
            ("a method that is not a token", Self.head(["Host: x"], requestLine: "PO(ST /v1/assertions/verify HTTP/1.1")),
            ("a control byte in the target", Self.head(["Host: x"], requestLine: "POST /v1/\u{7F} HTTP/1.1")),
        ]
        for (name, bytes) in cases {
            #expect(Self.read(bytes) == .unframeable, "\(name)")
        }
    }

    @Test func aHeadOverSixteenKiBIsLeftToTheDecoder() {
        let long = Array("POST /v1/assertions/verify HTTP/1.1\r\nX-Padding: ".utf8) + [UInt8](repeating: 0x61, count: LeanRequestHead.maximumSize)
        #expect(Self.read(long) == .unframeable)
        #expect(Self.read(Array(long[..<(LeanRequestHead.maximumSize - 1)])) == .incomplete)
    }
}

/// The lean path on a real socket: what it answers, what it passes on, the connection's clocks.
@Suite struct LeanHTTP1Tests {
    static func metric(_ client: some TestClientProtocol, _ name: String) async throws -> Int {
        let metrics = try await client.call(.get, "/metrics", key: nil).text
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("\(name) ") }
        return Int(line?.split(separator: " ").last ?? "") ?? -1
    }

    static func leanAnswers(_ client: some TestClientProtocol) async throws -> Int {
        try await metric(client, "mie_http_lean_path_answers_total")
    }

    /// A registration to verify, as one request's bytes.
    static func registration(key: String, extraHead: String = "") throws -> (head: [UInt8], body: [UInt8]) {
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        let body = try JSONSerialization.data(withJSONObject: [
            "response": try authenticator.create(StatelessVerificationTests.creationOptions(HotPathTests.challenge)),
            "challenge": SoftwareAuthenticator.encode(HotPathTests.challenge),
        ])
        let head = "POST /v1/registrations/verify HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\(extraHead)\r\n"
        return (Array(head.utf8), Array(body))
    }

    /// A service on a real socket, a verifier's key in its client cache (one call made), and a
    /// registration to verify as one request's bytes for that key.
    static func live(
        _ configure: @escaping (inout ServiceConfiguration) -> Void = { _ in },
        _ test: @escaping @Sendable (_ client: any TestClientProtocol, _ port: Int, _ key: String, _ head: [UInt8], _ body: [UInt8]) async throws -> Void
    ) async throws {
        let harness = try ServiceHarness {
            $0.port = 0
            $0.clientCacheLifetime = .seconds(120)
            configure(&$0)
        }
        let key = try #require(harness.keys["verifier"])
        let (head, body) = try Self.registration(key: key)
        let app = try buildApplication(state: harness.state, logger: harness.state.logger)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // On a connection of its own: the test client's may outlive a short idle timeout.
            let warm = try await RawSocket.exchange(
                port: port, pieces: [Array("GET /v1/referencing HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(key)\r\n\r\n".utf8)], answers: 1)
            #expect(warm.first?.status == 200)
            try await test(client, port, key, head, body)
        }
    }

    @Test func aRequestInPiecesIsAnsweredFromTheBytes() async throws {
        try await Self.live { client, port, key, head, body in
            let request = head + body
            let before = try await Self.leanAnswers(client)
            // Cut in the request line, in a field, between head and body, in the body.
            let cuts = [5, head.count - 30, head.count, head.count + body.count / 2]
            let answers = try await RawSocket.exchange(port: port, pieces: RawSocket.split(request, at: cuts), answers: 1)
            #expect(answers.first?.json["verdict"] as? String == "accepted", "\(answers.map(\.text))")
            // Byte by byte, then two requests in one write.
            let trickled = try await RawSocket.exchange(port: port, pieces: request.map { [$0] } + [request + request], answers: 3)
            #expect(trickled.map { $0.json["verdict"] as? String } == ["accepted", "accepted", "accepted"], "\(trickled.map(\.text))")
            #expect(try await Self.leanAnswers(client) == before + 4)
        }
    }

    @Test func aBusyConnectionOutlivesTheIdleTimeoutAndAnIdleOneDoesNot() async throws {
        try await Self.live({ $0.idleTimeoutSeconds = 1 }) { _, port, key, head, body in
            // Each read of the metrics on a new connection (the test client's would go idle).
            func leanAnswers() async throws -> Int? {
                let metrics = try await RawSocket.exchange(port: port, pieces: [Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8)], answers: 1)
                let line = metrics.first?.text.split(separator: "\n").first { $0.hasPrefix("mie_http_lean_path_answers_total ") }
                return Int(line?.split(separator: " ").last ?? "")
            }
            let before = try #require(try await leanAnswers())
            // Eight answers 0.4 s apart: 2.8 s on one connection whose idle timeout is 1 s.
            let (answers, closedAfter) = try await RawSocket.paced(port: port, request: head + body, count: 8, every: 0.4)
            #expect(answers.count == 8 && answers.allSatisfy { $0.json["verdict"] as? String == "accepted" }, "\(answers.map(\.text))")
            #expect(try await leanAnswers() == before + 8)
            // Then quiet: closed after about the idle timeout.
            let closed = try #require(closedAfter)
            #expect(closed > 0.7 && closed < 3, "closed \(closed) s after the last answer")
        }
    }

    @Test func aTrickledHeadIsClosedByTheHeaderTimeoutAndAStalledBodyByTheIdleTimeout() async throws {
        try await Self.live({
            $0.idleTimeoutSeconds = 30
            $0.headerTimeoutSeconds = 1
        }) { _, port, _, head, _ in
            // One byte of a lean head every 0.2 s: the header timeout, not the idle one, ends it.
            let elapsed = try await RawSocket.trickle(port: port, head, every: 0.2, for: 6)
            #expect(elapsed > 0.8 && elapsed < 3, "closed after \(elapsed) s")
        }
        try await Self.live({ $0.idleTimeoutSeconds = 1 }) { _, port, _, head, _ in
            // The whole head and one byte of the body, then nothing.
            let elapsed = try await RawSocket.trickle(port: port, head + [UInt8(ascii: "{")], every: 0, for: 6)
            #expect(elapsed > 0.8 && elapsed < 3, "closed after \(elapsed) s")
        }
    }

    @Test func aRequestTheLeanPathCannotFrameSendsTheConnectionToTheDecoder() async throws {
        try await Self.live { client, port, key, head, body in
            let plain = head + body
            // The same request with a chunked body: NIO's decoder reads it and the router answers.
            let chunkedHead = "POST /v1/registrations/verify HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key)\r\n"
                + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            let chunked = Array(chunkedHead.utf8) + Array(String(body.count, radix: 16).utf8) + Array("\r\n".utf8) + body + Array("\r\n0\r\n\r\n".utf8)
            let lean = try await Self.leanAnswers(client)
            let answers = try await RawSocket.exchange(port: port, pieces: [plain + chunked + plain], answers: 3)
            #expect(answers.map { $0.json["verdict"] as? String } == ["accepted", "accepted", "accepted"], "\(answers.map(\.text))")
            // Only the first is the lean path's: from the chunked one on, the decoder reads all.
            #expect(try await Self.leanAnswers(client) == lean + 1)
        }
    }

    /// Answers wait for the others of the loop's tick to be flushed with them (`FlushBatch`);
    /// they still all go out: on many connections at once, and before the client's half-close
    /// that arrived with them, on the lean path and on the typed hot path alike.
    /// Whatever the hold (each at once, the default, the longest allowed), every answer goes out.
    /// One case at a time: the loops' batches are per thread, and another case's tick-end flush
    /// would flush this one's answers too.
    @Test(.serialized, arguments: [true, false], [0, 100, 5_000] as [Int64])
    func answersFlushedAtTheTicksEndAllGoOut(lean: Bool, hold: Int64) async throws {
        try await Self.live({
            $0.leanPath = lean
            $0.flushHoldMicroseconds = hold
        }) { client, port, key, head, body in
            let request = head + body
            let taken = try await Self.metric(client, lean ? "mie_http_lean_path_answers_total" : "mie_http_hot_path_answers_total")
            // Sixteen connections, three requests each in one write: the loop reads several
            // connections in a tick and flushes them together.
            let verdicts = try await withThrowingTaskGroup(of: [String?].self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        try await RawSocket.exchange(port: port, pieces: [request + request + request], answers: 3).map { $0.json["verdict"] as? String }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(verdicts.count == 48 && verdicts.allSatisfy { $0 == "accepted" }, "\(verdicts)")
            // Two requests and the half-close at once: both answers, then the end.
            let closing = try await RawHTTP.exchange(port: port, request + request, answers: 2, untilClosed: true, halfClose: true)
            #expect(closing.map { $0.json["verdict"] as? String } == ["accepted", "accepted"], "\(closing.map(\.text))")
            let after = try await Self.metric(client, lean ? "mie_http_lean_path_answers_total" : "mie_http_hot_path_answers_total")
            #expect(after == taken + 50, "\(after - taken) answers taken")
        }
    }

    @Test func aBodyThatHidesARequestIsNeverAnsweredAsOne() async throws {
        try await Self.live { client, port, key, head, body in
            let hidden = head + body
            let lean = try await Self.leanAnswers(client)
            let verified = try await Self.metric(client, "mie_http_hot_path_answers_total")
            // A length and a chunked encoding at once (the length would end the request before
            // the hidden one): the decoder's to judge, and no answer is the hidden request's.
            let smuggling = Array("POST /v1/registrations/verify HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key)\r\nContent-Type: application/json\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
                + Array(String(hidden.count, radix: 16).utf8) + Array("\r\n".utf8) + hidden + Array("\r\n0\r\n\r\n".utf8)
            let answers = try await RawSocket.exchange(port: port, pieces: [smuggling], answers: nil)
            #expect(answers.count <= 1, "\(answers.map(\.text))")
            #expect(answers.allSatisfy { $0.json["verdict"] == nil }, "\(answers.map(\.text))")
            #expect(try await Self.leanAnswers(client) == lean)
            #expect(try await Self.metric(client, "mie_http_hot_path_answers_total") == verified)
        }
    }
}

/// A client socket that writes its bytes in the pieces given (each its own `send`, a short
/// pause between them) and reads answers by `Content-Length`.
enum RawSocket {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func split(_ bytes: [UInt8], at cuts: [Int]) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var start = 0
        for cut in cuts + [bytes.count] where cut > start {
            pieces.append(Array(bytes[start..<cut]))
            start = cut
        }
        return pieces
    }

    private static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    private static func connect(_ port: Int, timeout: Int = 20) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket: \(errno)") }
        var time = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw Failure(description: "connect: \(errno)")
        }
        return socket
    }

    /// Sends `bytes` whole; false when the connection refuses them (closed).
    @discardableResult
    private static func send(_ socket: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return false }
            sent += written
        }
        return true
    }

    /// Reads until `count` answers are whole, or (nil) until the connection closes.
    private static func answers(_ socket: Int32, count: Int?, received: inout [UInt8]) throws -> [RawHTTP.Answer] {
        var answers: [RawHTTP.Answer] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            while let (answer, used) = RawHTTP.parse(received) {
                answers.append(answer)
                received.removeFirst(used)
            }
            if let count, answers.count >= count { return answers }
            let read = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if read == 0 || (read < 0 && count == nil && errno != EAGAIN) { return answers }
            guard read > 0 else { throw Failure(description: "recv: errno \(errno) after \(answers.count) answers") }
            received += chunk[..<read]
        }
    }

    static func exchange(port: Int, pieces: [[UInt8]], answers count: Int?) async throws -> [RawHTTP.Answer] {
        try await onThread {
            let socket = try connect(port, timeout: count == nil ? 5 : 20)
            defer { close(socket) }
            for (index, piece) in pieces.enumerated() {
                if index > 0 { usleep(2_000) }
                guard send(socket, piece) else { throw Failure(description: "send: \(errno)") }
            }
            var received: [UInt8] = []
            let found = try answers(socket, count: count, received: &received)
            if let count, found.count != count { throw Failure(description: "\(found.count) answers, \(count) expected") }
            return found
        }
    }

    /// `count` requests, one every `every` seconds, each answered before the next; then how long
    /// after the last answer the service closed the connection (nil: still open after 6 s).
    static func paced(port: Int, request: [UInt8], count: Int, every: Double) async throws -> ([RawHTTP.Answer], Double?) {
        try await onThread {
            let socket = try connect(port, timeout: 6)
            defer { close(socket) }
            var all: [RawHTTP.Answer] = []
            var received: [UInt8] = []
            for index in 0..<count {
                if index > 0 { usleep(useconds_t(every * 1_000_000)) }
                guard send(socket, request) else { throw Failure(description: "closed before request \(index + 1)") }
                all += try answers(socket, count: 1, received: &received)
            }
            let last = Date()
            var byte: UInt8 = 0
            let read = recv(socket, &byte, 1, 0)
            return (all, read == 0 ? Date().timeIntervalSince(last) : nil)
        }
    }

    /// Sends `bytes` one byte every `every` seconds (all at once when 0), for at most `limit`
    /// seconds; how long until the service closed the connection (`limit` if it did not).
    static func trickle(port: Int, _ bytes: [UInt8], every: Double, for limit: Double) async throws -> Double {
        try await onThread {
            let socket = try connect(port, timeout: 1)
            defer { close(socket) }
            let start = Date()
            var next = 0
            var byte: UInt8 = 0
            if every == 0 {
                send(socket, bytes)
                next = bytes.count
            }
            while Date().timeIntervalSince(start) < limit {
                if next < bytes.count {
                    guard send(socket, [bytes[next]]) else { return Date().timeIntervalSince(start) }
                    next += 1
                }
                var time = timeval(tv_sec: 0, tv_usec: Int(max(every, 0.2) * 1_000_000))
                setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
                let read = recv(socket, &byte, 1, 0)
                if read == 0 || (read < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return Date().timeIntervalSince(start) }
            }
            return limit
        }
    }
}
