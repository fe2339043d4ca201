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

    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieAcceptPolicy = .never
        configuration.httpShouldSetCookies = false
        configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        configuration.urlCache = nil
        return URLSession(configuration: configuration)
    }()

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
            let task = session.dataTask(with: request) { data, response, error in
                if let error {
                    // Cancelled: the whole exchange outlived its deadline (below).
                    let timedOut = [.timedOut, .cancelled].contains((error as? URLError)?.code)
                    continuation.resume(
                        returning: .failure(
                            Failure(code: timedOut ? "http.timeout" : "http.unreachable", message: "\(address): \(error.localizedDescription)")))
                    return
                }
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                let bytes = data ?? Data()
                guard bytes.count <= limit else {
                    continuation.resume(returning: .failure(Failure(code: "http.too-large", message: "\(address) sent more than \(limit) bytes")))
                    return
                }
                continuation.resume(returning: .success(Reply(status: status, body: Array(bytes))))
            }
            task.resume()
            // The request's own timeout is an idle one: a server trickling bytes would outlive
            // it. The whole exchange has this deadline.
            let held = TaskBox(task)
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { held.task.cancel() }
        }
        return try outcome.get()
    }
}

/// A data task handed to the deadline's closure (URLSessionTask is thread-safe to cancel).
private final class TaskBox: @unchecked Sendable {
    let task: URLSessionDataTask
    init(_ task: URLSessionDataTask) { self.task = task }
}
