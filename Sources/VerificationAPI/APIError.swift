import Ceremonies
import Hummingbird
import Logging
import Storage
import WireFormat

/// A refusal of the API itself (not a verification verdict, which is a normal 200): an RFC 9457
/// problem document with a stable code. The detail is short and safe to show; what helps an
/// operator more goes to the log.
package struct APIError: Error, HTTPResponseError, Sendable {
    package enum Code: String, Sendable, CaseIterable {
        case malformedRequest = "request.malformed"
        case tooLarge = "request.too-large"
        case unsupportedMediaType = "request.unsupported-media-type"
        case missingCredentials = "auth.missing"
        case invalidCredentials = "auth.invalid"
        case forbidden = "auth.forbidden"
        case notFound = "not-found"
        case methodNotAllowed = "method-not-allowed"
        case ceremonyUnknown = "ceremony.unknown"
        case ceremonyReplayed = "ceremony.replayed"
        case ceremonyExpired = "ceremony.expired"
        case conflict = "conflict"
        case listRefused = "referencing.refused"
        case cardRefused = "card.refused"
        case evidenceWeaker = "holder.evidence-weaker"
        case sessionMissing = "session.missing"
        case sessionExpired = "session.expired"
        case csrfInvalid = "csrf.invalid"
        case operatorCodeInvalid = "operator.code-invalid"
        case rateLimited = "rate-limited"
        case overloaded = "overloaded"
        case unavailable = "unavailable"
        case internalError = "internal"

        package var status: HTTPResponse.Status {
            switch self {
            case .malformedRequest: .badRequest
            case .tooLarge: .contentTooLarge
            case .unsupportedMediaType: .unsupportedMediaType
            case .missingCredentials, .invalidCredentials, .sessionMissing, .sessionExpired: .unauthorized
            case .forbidden, .csrfInvalid, .operatorCodeInvalid: .forbidden
            case .notFound, .ceremonyUnknown: .notFound
            case .methodNotAllowed: .methodNotAllowed
            case .ceremonyReplayed, .conflict, .evidenceWeaker: .conflict
            case .listRefused, .cardRefused: .unprocessableContent
            case .ceremonyExpired: .gone
            case .rateLimited: .tooManyRequests
            case .overloaded, .unavailable: .serviceUnavailable
            case .internalError: .internalServerError
            }
        }

        var title: String {
            switch self {
            case .malformedRequest: "The request is not valid"
            case .tooLarge: "The request body is too large"
            case .unsupportedMediaType: "The request must be application/json"
            case .missingCredentials: "Authentication is required"
            case .invalidCredentials: "The credentials are not valid"
            case .forbidden: "This client may not do this"
            case .notFound: "Not found"
            case .methodNotAllowed: "Method not allowed"
            case .ceremonyUnknown: "No such ceremony"
            case .ceremonyReplayed: "This ceremony was already used"
            case .ceremonyExpired: "This ceremony has expired"
            case .conflict: "Conflict"
            case .listRefused: "The list was refused"
            case .cardRefused: "The card does not prove the holder's identity"
            case .evidenceWeaker: "Stronger evidence set this holder's identity"
            case .sessionMissing: "Sign in at the desk first"
            case .sessionExpired: "The desk session has expired"
            case .csrfInvalid: "The request's CSRF token is missing or wrong"
            case .operatorCodeInvalid: "The one-time code is not valid"
            case .rateLimited: "Too many requests"
            case .overloaded: "The service is overloaded"
            case .unavailable: "The service is not ready"
            case .internalError: "Internal error"
            }
        }
    }

    let code: Code
    let detail: String
    /// A finer stable code where one exists (the import failure of a refused list).
    let reason: String?
    /// For 405: the methods the path has.
    let allow: [String]

    init(_ code: Code, _ detail: String, reason: String? = nil, allow: [String] = []) {
        self.code = code
        self.detail = detail
        self.reason = reason
        self.allow = allow
    }

    /// An operation's refusal, under the same stable code.
    init(_ refusal: OperationError) {
        self.init(Code(rawValue: refusal.code.rawValue) ?? .internalError, refusal.message, reason: refusal.reason)
    }

    package var status: HTTPResponse.Status { code.status }

    /// `application/problem+json`: type, title, status, detail and our `code`.
    var body: [UInt8] {
        var w = JSONWriter()
        w.object { w in
            w.key("type")
            w.string("https://mie-verifier.invalid/problems/\(code.rawValue)")
            w.key("title")
            w.string(code.title)
            w.key("status")
            w.integer(Int(code.status.code))
            w.key("code")
            w.string(code.rawValue)
            w.key("detail")
            w.string(detail)
            if let reason {
                w.key("reason")
                w.string(reason)
            }
        }
        return w.bytes
    }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The problem document answering a thrown error (the router's and the hot path's): ours
    /// as it is, an operation's refusal under its code; a store that failed (the disk, the
    /// database busy past its timeout) is `unavailable`, not acknowledged and retryable; any
    /// other error is an internal one, logged with its detail and answered without it.
    static func answering(_ error: any Error, on request: @autoclosure () -> String, logger: Logger) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as OperationError: return APIError(error)
        case let error as StoreError:
            logger.error("store error on \(request()): \(error)")
            return APIError(.unavailable, "the service's store did not answer; retry")
        default:
            logger.error("internal error on \(request()): \(error)")
            return APIError(.internalError, "unexpected error; see the service log")
        }
    }

    /// The problem document's headers (the router's answers and the hot path's alike).
    var headers: HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        if code == .missingCredentials || code == .invalidCredentials { headers[.wwwAuthenticate] = #"Bearer realm="mie-verifier""# }
        if code == .rateLimited || code == .overloaded || code == .unavailable { headers[.retryAfter] = "1" }
        if !allow.isEmpty { headers[.allow] = allow.joined(separator: ", ") }
        return headers
    }
}
