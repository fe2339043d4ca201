import Ceremonies
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOSSL
import SignatureVerification
import Storage
import Synchronization

/// The request context: Hummingbird's, plus the authenticated client.
package struct APIRequestContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    /// Set by `ClientAuthentication` on /v1 routes.
    package var client: APIClient?
    /// The connection, for its TLS client certificate.
    let channel: any Channel

    package init(source: Source) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Where the request comes from: the peer's address, or, when the peer is a trusted proxy,
    /// the last address it appended to X-Forwarded-For.
    func sourceAddress(_ request: Request, trustedProxies: Set<String>) -> String {
        let peer = channel.remoteAddress?.ipAddress ?? "local"
        guard trustedProxies.contains(peer), let forwarded = request.headers[.xForwardedFor],
            let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty, last.utf8.count <= 64
        else { return peer }
        return last
    }

    /// The authenticated client holding one of `roles`.
    func require(_ roles: ClientRole...) throws(APIError) -> APIClient {
        try Self.require(roles, of: client)
    }

    /// `client`, if it holds one of `roles` (the hot path's check too).
    static func require(_ roles: [ClientRole], of client: APIClient?) throws(APIError) -> APIClient {
        guard let client else { throw APIError(.missingCredentials, "send Authorization: Bearer <API key>") }
        guard !client.roles.isDisjoint(with: roles) else {
            throw APIError(.forbidden, "this endpoint needs the role \(roles.map(\.rawValue).joined(separator: " or "))")
        }
        return client
    }
}

/// Outermost: every error becomes a problem document with a stable code. A thrown error that
/// is not ours is an internal error, logged with its detail and answered without it.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let mapped: APIError =
                switch error.status {
                case .contentTooLarge: APIError(.tooLarge, "the body is over the limit")
                case .notFound:
                    if let allowed = routes.methods(for: request.uri.path) {
                        APIError(.methodNotAllowed, "\(request.method) is not allowed here", allow: allowed)
                    } else {
                        APIError(.notFound, "no route for \(request.method) \(request.uri.path)")
                    }
                case .methodNotAllowed: APIError(.methodNotAllowed, "\(request.method) is not allowed here")
                case .badRequest: APIError(.malformedRequest, "the request could not be read")
                default:
                    error.status.code < 500
                        ? APIError(.malformedRequest, error.body ?? error.status.reasonPhrase) : APIError(.internalError, "unexpected error")
                }
            return try mapped.response(from: request, context: context)
        } catch {
            return try APIError.answering(error, on: "\(request.method) \(request.uri.path)", logger: context.logger)
                .response(from: request, context: context)
        }
    }
}

/// Sheds load instead of queueing without bound: over `maximumInFlight` requests at once, 503.
struct LoadShedding: RouterMiddleware {
    typealias Context = APIRequestContext
    let state: ServiceState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try state.guards.enter(maximum: state.configuration.maximumInFlight)
        defer { state.guards.leave() }
        return try await next(request, context)
    }
}

/// Who is calling, on /v1 routes: the API key (`Authorization: Bearer mie_…`) and, with mutual
/// TLS, the client certificate, whose SHA-256 must be registered for a client (the allow-list).
/// Both given, they must name the same client. Then a per-client rate limit.
struct ClientAuthentication: RouterMiddleware {
    typealias Context = APIRequestContext
    let state: ServiceState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1/"), request.uri.path != "/v1/openapi.json" else { return try await next(request, context) }
        // The source address is worked out only when a lookup is needed (not on the hot path).
        let source = { context.sourceAddress(request, trustedProxies: state.guards.trustedProxies) }
        var byKey: APIClient?
        if let header = request.headers[.authorization] {
            let key = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : ""
            let found = try await lookUp(Digest.sha256(Array(key.utf8)), source: source) { [state] in try state.clients.authenticate(key: key) }
            guard let client = found else { throw APIError(.invalidCredentials, "the API key is not valid or was revoked") }
            byKey = client
        }
        var byCertificate: APIClient?
        if state.configuration.tls != nil, let certificate = try? await context.channel.nioSSL_peerCertificate().get() {
            let digest = Digest.sha256((try? certificate.toDERBytes()) ?? [])
            // Keyed apart from API keys: a certificate's digest is not a key's.
            let found = try await lookUp([0x01] + digest, source: source) { [state] in try state.clients.authenticate(certificateSHA256: digest) }
            guard let client = found else { throw APIError(.invalidCredentials, "this client certificate is not on the allow-list") }
            byCertificate = client
        }
        if let byKey, let byCertificate, byKey.id != byCertificate.id {
            throw APIError(.invalidCredentials, "the API key and the client certificate name different clients")
        }
        guard let client = byCertificate ?? byKey else {
            throw APIError(.missingCredentials, "send Authorization: Bearer <API key>")
        }
        try state.guards.admit(client)
        var context = context
        context.client = client
        context.logger[metadataKey: "client"] = .string(client.name)
        return try await next(request, context)
    }

    /// The client for this digest: from the cache, else from the store (off the cooperative
    /// pool), then cached; a digest that is nobody's is cached as such for as long (a key just
    /// created was never looked up, so it is admitted at once). A source whose authentications
    /// keep failing is refused before any lookup.
    func lookUp(_ digest: [UInt8], source address: () -> String, _ find: @escaping @Sendable () throws -> APIClient?) async throws -> APIClient? {
        let guards = state.guards
        switch guards.clientCache.entry(digest) {
        case .client(let client): return client
        case .unknown:
            _ = guards.failedAuthentications.allow(address())
            return nil
        case nil: break
        }
        let source = address()
        guard guards.failedAuthentications.hasToken(source) else {
            throw APIError(.rateLimited, "too many failed authentications from this address; retry later")
        }
        guard let client = try await state.io(find) else {
            _ = guards.failedAuthentications.allow(source)
            guards.clientCache.store(.unknown, digest)
            return nil
        }
        guards.clientCache.store(.client(client), digest)
        return client
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}

extension Request {
    /// `application/json` in any case, parameters aside and optional whitespace (space, tab)
    /// around it (RFC 9110, 8.3): the router's and the hot path's check, on the bytes (no
    /// Foundation string work on every request).
    static func isJSON(_ type: String) -> Bool {
        isJSON(type.utf8[...])
    }

    /// The same check on the field's bytes (the lean path reads them from the head).
    static func isJSON<Bytes: BidirectionalCollection<UInt8>>(_ bytes: Bytes) -> Bool where Bytes.SubSequence == Bytes {
        var value = bytes
        if let parameters = value.firstIndex(of: UInt8(ascii: ";")) { value = value[..<parameters] }
        while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
        while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
        let expected = "application/json".utf8
        guard value.count == expected.count else { return false }
        return zip(value, expected).allSatisfy { byte, wanted in (0x41...0x5A).contains(byte) ? byte + 0x20 == wanted : byte == wanted }
    }

    /// The JSON body, at most `limit` bytes, with the right media type.
    mutating func jsonBody(limit: Int) async throws -> [UInt8] {
        guard let type = headers[.contentType], Self.isJSON(type) else {
            throw APIError(.unsupportedMediaType, "send Content-Type: application/json")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await collectBody(upTo: limit)
        } catch {
            throw APIError(.tooLarge, "the body is over \(limit) bytes")
        }
        return Array(buffer.readableBytesView)
    }
}

/// A JSON response from bytes written by our writer.
func jsonResponse(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, type: String = "application/json") -> Response {
    var headers = HTTPFields()
    headers[.contentType] = type
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}

/// The routes served, filled once the router is built: which methods a path has, so a known
/// path asked with another method is answered 405 with `Allow` rather than 404.
package final class RouteTable: Sendable {
    private let patterns = Mutex<[(segments: [Substring], methods: [String])]>([])

    func fill(_ routes: [(path: String, method: String)]) {
        var table: [String: [String]] = [:]
        for route in routes { table[route.path, default: []].append(route.method) }
        patterns.withLock { patterns in
            patterns = table.map { (segments: $0.key.split(separator: "/"), methods: $0.value.sorted()) }
        }
    }

    /// The methods of the route this path matches (a capture, `:name` or `{name}`, matches any one
    /// segment); nil: none.
    func methods(for path: String) -> [String]? {
        let segments = path.split(separator: "/")
        return patterns.withLock { patterns in
            patterns.first { pattern in
                pattern.segments.count == segments.count
                    && zip(pattern.segments, segments).allSatisfy { $0.hasPrefix(":") || $0.hasPrefix("{") || $0 == $1 }
            }?.methods
        }
    }
}
