import Foundation
import Glibc
import Hummingbird
import HummingbirdTesting
import Testing
import VerificationAPI

/// `HotPathHandler` answers the stateless verify routes on the event loop once a caller is in
/// the client cache. These suites run the service on a real socket and hold it to the router's
/// answers: the same requests, from two clients of different relying parties, with the hot path
/// on and off, must get the same answers; answers on one connection keep their order.
@Suite struct HotPathTests {
    /// What a client can tell apart in an answer.
    struct Seen: Equatable, Sendable, CustomStringConvertible {
        let status: Int
        let code: String?
        let verdict: String?
        let verified: Bool?
        let failure: String?
        let amr: [String]?
        let keys: [String]

        init(_ reply: Reply) {
            status = Int(reply.status.code)
            code = reply.code
            verdict = reply.json["verdict"] as? String
            let verification = reply.json["verification"] as? [String: Any]
            verified = verification?["verified"] as? Bool
            failure = (verification?["error"] as? [String: Any])?["code"] as? String
            amr = reply.json["amr"] as? [String]
            keys = reply.json.keys.sorted()
        }

        var description: String {
            "\(status) \(code ?? "-") verdict=\(verdict ?? "-") verified=\(verified.map(String.init) ?? "-") failure=\(failure ?? "-") amr=\(amr ?? [])"
        }
    }

    static let challenge = [UInt8](repeating: 7, count: 32)

    /// The requests of `sameAnswersWithAndWithoutTheHotPath`, each sent twice in a row (the
    /// first may go to the router as it fills the cache, the second is the hot path's).
    static func scenario(hotPath: Bool, leanPath: Bool = true) async throws -> (seen: [Seen], hotAnswers: Int, audited: Int) {
        let harness = try ServiceHarness {
            $0.port = 0
            $0.hotPath = hotPath
            $0.leanPath = leanPath
            $0.maximumBodySize = 16 * 1024
        }
        let mine = try #require(harness.keys["verifier"])
        let operatorOnly = try #require(harness.keys["operator"])
        let other = try harness.state.clients.add(name: "other-rp", roles: [.verifier], rpID: "desk.example", origins: ["https://desk.example"], at: Date()).key
        let app = try buildApplication(state: harness.state, logger: harness.state.logger)
        let (seen, hotAnswers) = try await app.test(.live) { client in
            var seen: [Seen] = []
            func twice(_ key: String, _ path: String, json: Any? = nil, raw: [UInt8]? = nil, type: String = "application/json") async throws {
                for _ in 0..<2 {
                    seen.append(Seen(try await client.call(.post, path, key: key, json: json, raw: raw, contentType: type)))
                }
            }
            let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
            let registration = try authenticator.create(StatelessVerificationTests.creationOptions(challenge))
            let encodedChallenge = SoftwareAuthenticator.encode(challenge)
            let registering: [String: Any] = ["response": registration, "challenge": encodedChallenge]
            try await twice(mine, "/v1/registrations/verify", json: registering)
            let accepted = try await client.call(.post, "/v1/registrations/verify", key: mine, json: registering)
            let credential = try #require((accepted.json["verification"] as? [String: Any])?["credential"] as? [String: Any])
            let assertion = try authenticator.get(["rpId": "mie.example", "challenge": encodedChallenge])
            let signingIn: [String: Any] = [
                "response": assertion, "challenge": encodedChallenge,
                "credential": ["publicKey": credential["publicKey"]!, "signCount": 0, "id": registration["id"]!],
            ]
            try await twice(mine, "/v1/assertions/verify", json: signingIn)
            // Another relying party's client sends the first one's ceremonies: refused by the core.
            try await twice(other, "/v1/registrations/verify", json: registering)
            try await twice(other, "/v1/assertions/verify", json: signingIn)
            // A key without the role, a body that is not JSON, not JSON at all, too large.
            try await twice(operatorOnly, "/v1/assertions/verify", json: signingIn)
            try await twice(mine, "/v1/assertions/verify", raw: Array(#"{"response":"#.utf8))
            try await twice(mine, "/v1/assertions/verify", raw: Array("{}".utf8), type: "text/plain")
            try await twice(mine, "/v1/assertions/verify", raw: [UInt8](repeating: 0x20, count: 16 * 1024 + 1))
            // A revoked client is refused once its cache entry has lived its two seconds,
            // whichever path its request would have taken.
            _ = try harness.state.clients.revoke(name: "other-rp", at: Date())
            try await Task.sleep(for: .milliseconds(2_100))
            try await twice(other, "/v1/assertions/verify", json: signingIn)
            return (seen, try await Self.hotAnswers(client))
        }
        await harness.state.auditBuffer.flush()
        try harness.state.audit.settle()
        let audited = try harness.state.database.query("SELECT count(*) FROM audit_events WHERE event LIKE '%.verify%'") { $0.int(0) }.first ?? -1
        return (seen, hotAnswers, Int(audited))
    }

    /// `mie_http_hot_path_answers_total`, read from `/metrics`.
    static func hotAnswers(_ client: some TestClientProtocol) async throws -> Int {
        let metrics = try await client.call(.get, "/metrics", key: nil).text
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("mie_http_hot_path_answers_total ") }
        return Int(line?.split(separator: " ").last ?? "") ?? -1
    }

    @Test func sameAnswersWithAndWithoutTheHotPath() async throws {
        let hot = try await Self.scenario(hotPath: true)
        let typed = try await Self.scenario(hotPath: true, leanPath: false)
        let routed = try await Self.scenario(hotPath: false)
        #expect(hot.seen == routed.seen, "hot path:\n\(hot.seen.map(\.description).joined(separator: "\n"))\nrouter:\n\(routed.seen.map(\.description).joined(separator: "\n"))")
        #expect(typed.seen == routed.seen, "typed hot path:\n\(typed.seen.map(\.description).joined(separator: "\n"))")
        #expect(hot.audited == routed.audited && typed.audited == routed.audited && hot.audited > 0)
        #expect(routed.hotAnswers == 0)
        // Ten of the requests are the hot path's when each caller's cache entry (two seconds)
        // outlives its requests; a loaded machine may send a few more to the router.
        #expect(hot.hotAnswers >= 1 && hot.hotAnswers <= 10, "\(hot.hotAnswers) answers on the hot path")
        #expect(typed.hotAnswers >= 1 && typed.hotAnswers <= 10, "\(typed.hotAnswers) answers on the typed hot path")

        let seen = hot.seen
        // Each request answered the same way twice.
        for pair in stride(from: 0, to: seen.count, by: 2) { #expect(seen[pair] == seen[pair + 1], "\(seen[pair]) then \(seen[pair + 1])") }
        #expect(seen[0].status == 200 && seen[0].verified == true && seen[0].verdict == "accepted", "\(seen[0])")
        #expect(seen[2].status == 200 && seen[2].verified == true && seen[2].amr?.isEmpty == false, "\(seen[2])")
        #expect(seen[4].status == 200 && seen[4].verified == false && seen[4].failure != nil, "\(seen[4])")
        #expect(seen[6].status == 200 && seen[6].verified == false && seen[6].amr == [], "\(seen[6])")
        #expect(seen[8].status == 403 && seen[8].code == "auth.forbidden", "\(seen[8])")
        #expect(seen[10].status == 400 && seen[10].code == "request.malformed", "\(seen[10])")
        #expect(seen[12].status == 415 && seen[12].code == "request.unsupported-media-type", "\(seen[12])")
        #expect(seen[14].status == 413 && seen[14].code == "request.too-large", "\(seen[14])")
        #expect(seen[16].status == 401 && seen[16].code == "auth.invalid", "\(seen[16])")
        #expect(seen.count == 18)
    }

    @Test func answersOnOneConnectionKeepTheirOrder() async throws {
        let harness = try ServiceHarness { $0.port = 0 }
        let key = try #require(harness.keys["verifier"])
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        let registration = try JSONSerialization.data(withJSONObject: [
            "response": try authenticator.create(StatelessVerificationTests.creationOptions(Self.challenge)),
            "challenge": SoftwareAuthenticator.encode(Self.challenge),
        ])
        func post(close: Bool = false) -> [UInt8] {
            let head = "POST /v1/registrations/verify HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(registration.count)\r\n\(close ? "Connection: close\r\n" : "")\r\n"
            return Array(head.utf8) + Array(registration)
        }
        let verify = post()
        let verifyAndClose = post(close: true)
        let get = Array("GET /v1/referencing HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key)\r\n\r\n".utf8)
        let app = try buildApplication(state: harness.state, logger: harness.state.logger)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // The key into the cache, so the verify requests below are the hot path's to take.
            #expect(try await client.call(.get, "/v1/referencing", key: key).status == .ok)
            let before = try await Self.hotAnswers(client)
            // In one write: two requests the hot path takes, one for the router, one behind it
            // (the hot path's only if the router has answered by the time it arrives).
            let answers = try await RawHTTP.exchange(port: port, verify + verify + get + verify, answers: 4)
            #expect(answers.map(\.status) == [200, 200, 200, 200])
            #expect(answers.map { $0.json["lists"] != nil } == [false, false, true, false], "\(answers.map(\.text))")
            #expect(answers.map { $0.json["verdict"] as? String } == ["accepted", "accepted", nil, "accepted"])
            let taken = try await Self.hotAnswers(client) - before
            #expect(taken == 2 || taken == 3, "\(taken) answers on the hot path")
            // A router answer first: the requests behind it wait for it, whoever answers them.
            let routedFirst = try await RawHTTP.exchange(port: port, get + verify + get + verify, answers: 4)
            #expect(routedFirst.map { $0.json["lists"] != nil } == [true, false, true, false], "\(routedFirst.map(\.text))")
            #expect(routedFirst.map { $0.json["verdict"] as? String } == [nil, "accepted", nil, "accepted"])
            // `Connection: close` is the router's: it answers, then closes the connection.
            let closing = try await RawHTTP.exchange(port: port, verify + verifyAndClose, answers: 2, untilClosed: true)
            #expect(closing.map { $0.json["verdict"] as? String } == ["accepted", "accepted"])
        }
    }
}

/// The sign-in's finish (`POST /v1/assertions`) on the hot path: its answer waits for the
/// writer's commit, and what the client sent behind it on the connection waits for that answer.
@Suite struct HotPathSignInTests {
    @Test func signInsOnOneConnectionKeepTheirOrderAndAHalfCloseWaitsForTheAnswer() async throws {
        let harness = try ServiceHarness {
            $0.port = 0
            // The key stays cached from the first call to the last, on a loaded machine too.
            $0.clientCacheLifetime = .seconds(120)
        }
        let key = try #require(harness.keys["enrolment"])
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        let app = try buildApplication(state: harness.state, logger: harness.state.logger)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            #expect(try await CeremonyTests.enrol(client, key: key, authenticator: authenticator).json["registered"] as? Bool == true)
            /// A sign-in ceremony opened and answered: the request that finishes it.
            func answered() async throws -> [UInt8] {
                let options = try await client.call(.post, "/v1/assertions/options", key: key, json: ["holder": "holder-1"])
                let response = try authenticator.get(try #require(options.json["publicKey"] as? [String: Any]))
                let body = try JSONSerialization.data(withJSONObject: ["ceremonyId": options.json["ceremonyId"]!, "response": response])
                let head = "POST /v1/assertions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
                return Array(head.utf8) + Array(body)
            }
            let first = try await answered()
            let second = try await answered()
            let third = try await answered()
            let get = Array("GET /v1/referencing HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(key)\r\n\r\n".utf8)
            let before = try await HotPathTests.hotAnswers(client)
            // In one write: a sign-in (the hot path's: the key is cached), a request for the
            // router behind it, another sign-in, and the first again.
            let answers = try await RawHTTP.exchange(port: port, first + get + second + first, answers: 4)
            #expect(answers.map(\.status) == [200, 200, 200, 409], "\(answers.map(\.text))")
            #expect(answers.map { $0.json["verified"] as? Bool } == [true, nil, true, nil], "\(answers.map(\.text))")
            #expect(answers[1].json["lists"] != nil)
            #expect(answers.map { $0.json["signCount"] as? Int } == [1, nil, 2, nil])
            #expect(answers[3].json["code"] as? String == "ceremony.replayed", "\(answers[3].text)")
            let taken = try await HotPathTests.hotAnswers(client) - before
            #expect(taken >= 1 && taken <= 3, "\(taken) answers on the hot path")
            // The client ends its side right after a sign-in: the answer still comes, then the
            // connection ends.
            let hot = try await HotPathTests.hotAnswers(client)
            let closing = try await RawHTTP.exchange(port: port, third, answers: 1, untilClosed: true, halfClose: true)
            #expect(closing.first?.json["verified"] as? Bool == true, "\(closing.map(\.text))")
            #expect(try await HotPathTests.hotAnswers(client) == hot + 1)
            #expect(try harness.state.credentials.credentials(holder: "holder-1").first?.signCount == 3)
        }
    }
}

/// HTTP/1.1 over a blocking socket, on a thread of its own: bytes written as given (several
/// requests in one write, as a pipelining client sends them), answers read back by
/// `Content-Length`.
enum RawHTTP {
    struct Answer {
        let status: Int
        let headers: [String: String]
        let body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `halfClose`: the client ends its side once the bytes are sent (and still reads).
    static func exchange(port: Int, _ bytes: [UInt8], answers count: Int, untilClosed: Bool = false, halfClose: Bool = false) async throws -> [Answer] {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    try blockingExchange(port: port, bytes, answers: count, untilClosed: untilClosed, halfClose: halfClose)
                })
            }
        }
    }

    private static func blockingExchange(port: Int, _ bytes: [UInt8], answers count: Int, untilClosed: Bool, halfClose: Bool) throws -> [Answer] {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket: \(errno)") }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect: \(errno)") }
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw Failure(description: "send: \(errno)") }
            sent += written
        }
        if halfClose { shutdown(socket, Int32(SHUT_WR)) }
        var received: [UInt8] = []
        var answers: [Answer] = []
        var closed = false
        var chunk = [UInt8](repeating: 0, count: 65536)
        while answers.count < count || (untilClosed && !closed) {
            while let (answer, used) = parse(received) {
                answers.append(answer)
                received.removeFirst(used)
            }
            if answers.count >= count && !untilClosed { break }
            let read = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if read == 0 {
                closed = true
                break
            }
            guard read > 0 else { throw Failure(description: "recv: errno \(errno) after \(answers.count) answers") }
            received += chunk[..<read]
        }
        while let (answer, used) = parse(received) {
            answers.append(answer)
            received.removeFirst(used)
        }
        guard answers.count == count else { throw Failure(description: "\(answers.count) answers, \(count) expected") }
        if untilClosed && !closed { throw Failure(description: "the connection stayed open") }
        return answers
    }

    /// One whole answer at the start of `bytes`, and how many bytes it took.
    static func parse(_ bytes: [UInt8]) -> (Answer, Int)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: { Array(bytes[$0..<($0 + 4)]) == separator }) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let bodyStart = end + 4
        guard bytes.count >= bodyStart + length else { return nil }
        return (Answer(status: status, headers: headers, body: Array(bytes[bodyStart..<(bodyStart + length)])), bodyStart + length)
    }
}
