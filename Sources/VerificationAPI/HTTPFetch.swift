import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The service's own outbound HTTP (the FIDO MDS and its CRLs, the verdict-change webhook):
/// one request, a deadline for the whole exchange, a cap on the body, no cookies, no cache.
package enum HTTPFetch {
    package struct Failure: Error, CustomStringConvertible, Sendable {
        /// `http.status`, `http.timeout`, `http.too-large`, `http.unreachable`, `http.url`.
        package let code: String
        package let message: String
        package var description: String { "\(code): \(message)" }
    }

    package struct Reply: Sendable {
        package let status: Int
        package let body: [UInt8]
    }

    /// GETs `address`; anything but 200 is a failure.
    package static func get(_ address: String, timeout: TimeInterval, limit: Int) async throws(Failure) -> [UInt8] {
        let reply = try await send(address, method: "GET", body: nil, headers: [], timeout: timeout, limit: limit)
        guard reply.status == 200 else { throw Failure(code: "http.status", message: "\(address) answered HTTP \(reply.status)") }
        return reply.body
    }

    /// Sends one request and returns the status and body, whatever the status.
    package static func send(
        _ address: String, method: String, body: [UInt8]?, headers: [(String, String)], timeout: TimeInterval, limit: Int
    ) async throws(Failure) -> Reply {
        guard let url = URL(string: address), url.scheme == "https" || url.scheme == "http", url.host != nil else {
            throw Failure(code: "http.url", message: "\(address) is not an http(s) URL")
        }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalAndRemoteCacheData, timeoutInterval: timeout)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body { request.httpBody = Data(body) }
        let outcome: Result<Reply, Failure> = await withCheckedContinuation { continuation in
            let exchange = Exchange(address: address, limit: limit, continuation: continuation)
            let configuration = URLSessionConfiguration.ephemeral
            configuration.httpCookieAcceptPolicy = .never
            configuration.httpShouldSetCookies = false
            configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
            configuration.urlCache = nil
            // One session per exchange: it holds its delegate until invalidated at the end.
            let session = URLSession(configuration: configuration, delegate: exchange, delegateQueue: nil)
            let task = session.dataTask(with: request)
            task.resume()
            // The request's own timeout is an idle one: a server trickling bytes would outlive
            // it. The whole exchange has this deadline.
            let held = TaskBox(task)
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                exchange.expire()
                held.task.cancel()
            }
        }
        return try outcome.get()
    }
}

/// One exchange's body, read as it arrives and cut off past the limit (a hostile server cannot
/// make the service hold more than `limit` bytes), and its outcome, given once.
private final class Exchange: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let address: String
    private let limit: Int
    private let lock = NSLock()
    private var body = Data()
    private var tooLarge = false
    private var expired = false
    private var continuation: CheckedContinuation<Result<HTTPFetch.Reply, HTTPFetch.Failure>, Never>?

    init(address: String, limit: Int, continuation: CheckedContinuation<Result<HTTPFetch.Reply, HTTPFetch.Failure>, Never>) {
        self.address = address
        self.limit = limit
        self.continuation = continuation
    }

    func expire() { lock.withLock { expired = true } }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        if response.expectedContentLength > Int64(limit) {
            lock.withLock { tooLarge = true }
            completionHandler(.cancel)
            return
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over = lock.withLock { () -> Bool in
            guard !tooLarge else { return true }
            guard body.count + data.count <= limit else {
                tooLarge = true
                body = Data()
                return true
            }
            body.append(data)
            return false
        }
        if over { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        session.finishTasksAndInvalidate()
        let (continuation, result) = lock.withLock { () -> (CheckedContinuation<Result<HTTPFetch.Reply, HTTPFetch.Failure>, Never>?, Result<HTTPFetch.Reply, HTTPFetch.Failure>) in
            defer { self.continuation = nil }
            if tooLarge {
                return (self.continuation, .failure(HTTPFetch.Failure(code: "http.too-large", message: "\(address) sent more than \(limit) bytes")))
            }
            if let error {
                let timedOut = expired || (error as? URLError)?.code == .timedOut
                return (
                    self.continuation,
                    .failure(HTTPFetch.Failure(code: timedOut ? "http.timeout" : "http.unreachable", message: "\(address): \(error.localizedDescription)"))
                )
            }
            let status = (task.response as? HTTPURLResponse)?.statusCode ?? 0
            return (self.continuation, .success(HTTPFetch.Reply(status: status, body: Array(body))))
        }
        continuation?.resume(returning: result)
    }
}

/// A data task handed to the deadline's closure (URLSessionTask is thread-safe to cancel).
private final class TaskBox: @unchecked Sendable {
    let task: URLSessionDataTask
    init(_ task: URLSessionDataTask) { self.task = task }
}
