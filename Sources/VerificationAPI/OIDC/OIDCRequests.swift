import Foundation
import WireFormat

/// An OAuth 2.0 / OpenID Connect error for the IAM (`error`, `error_description`).
struct OIDCError: Error, Sendable, CustomStringConvertible {
    let code: String
    let message: String

    init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { "\(code): \(message)" }
}

/// `application/x-www-form-urlencoded` and query strings, strictly: a parameter named twice is
/// refused (OpenID Connect Core §3.1.2.1), as are malformed escapes and non-UTF-8 text.
enum FormEncoding {
    static let maximumParameters = 64

    static func parse(_ text: Substring) throws(OIDCError) -> [String: String] {
        var result: [String: String] = [:]
        guard !text.isEmpty else { return result }
        let pairs = text.split(separator: "&", omittingEmptySubsequences: true)
        guard pairs.count <= maximumParameters else { throw OIDCError("invalid_request", "more than \(maximumParameters) parameters") }
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count == 2 ? parts[1] : "") else {
                throw OIDCError("invalid_request", "a parameter is not form-encoded UTF-8")
            }
            guard result[name] == nil else { throw OIDCError("invalid_request", "\(name) is given more than once") }
            // An empty value is treated as absent (RFC 6749 §3.1).
            if !value.isEmpty { result[name] = value }
        }
        return result
    }

    static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default: out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func encode(_ parameters: [(String, String)]) -> String {
        parameters.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
    }
}

/// An authorization request once checked: what the sign-in must satisfy and where its answer
/// goes. Stored as JSON with the pending request.
struct AuthorizationRequest: Sendable, Equatable {
    enum ResponseType: String, Sendable {
        /// The authorization code flow (Keycloak, Okta, any RP).
        case code
        /// The id_token straight back by `form_post` (Entra ID's external authentication methods).
        case idToken = "id_token"
    }

    var clientID: String
    var redirectURI: String
    var responseType: ResponseType
    var responseMode: AuthorizationResponse.Mode
    var state: String?
    var nonce: String?
    var codeChallenge: String?
    /// The holder the sign-in is for (from the id_token_hint or the login_hint); nil: any
    /// discoverable credential of the relying party.
    var holderID: String?
    /// The id_token_hint's `sub`, `tid` and `oid`, sent back as they came (Entra requires its
    /// own subject in the answer).
    var hintSubject: String?
    var hintTenant: String?
    var hintObject: String?
    /// The acr values asked for (`acr_values` or `claims`), in order, and whether one is essential.
    var acrRequested: [String]
    var acrEssential: Bool
    var maxAge: Int?

    var json: JSONValue {
        .object([
            ("client_id", .string(clientID)), ("redirect_uri", .string(redirectURI)), ("response_type", .string(responseType.rawValue)),
            ("response_mode", .string(responseMode.rawValue)), ("state", .optional(state)), ("nonce", .optional(nonce)),
            ("code_challenge", .optional(codeChallenge)), ("holder", .optional(holderID)), ("hint_sub", .optional(hintSubject)),
            ("hint_tid", .optional(hintTenant)), ("hint_oid", .optional(hintObject)), ("acr", .strings(acrRequested)),
            ("acr_essential", .bool(acrEssential)), ("max_age", maxAge.map { .integer($0) } ?? .null),
        ])
    }

    init(
        clientID: String, redirectURI: String, responseType: ResponseType, responseMode: AuthorizationResponse.Mode, state: String? = nil,
        nonce: String? = nil, codeChallenge: String? = nil, holderID: String? = nil, hintSubject: String? = nil, hintTenant: String? = nil,
        hintObject: String? = nil, acrRequested: [String] = [], acrEssential: Bool = false, maxAge: Int? = nil
    ) {
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.responseType = responseType
        self.responseMode = responseMode
        self.state = state
        self.nonce = nonce
        self.codeChallenge = codeChallenge
        self.holderID = holderID
        self.hintSubject = hintSubject
        self.hintTenant = hintTenant
        self.hintObject = hintObject
        self.acrRequested = acrRequested
        self.acrEssential = acrEssential
        self.maxAge = maxAge
    }

    /// The request as stored (written by `json`; anything else is a store corruption).
    init?(stored text: String) {
        guard let value = try? JSONValue.parse(Array(text.utf8), document: "a stored authorization request"),
            let client = value["client_id"]?.string, let redirect = value["redirect_uri"]?.string,
            let type = value["response_type"]?.string.flatMap(ResponseType.init(rawValue:)),
            let mode = value["response_mode"]?.string.flatMap(AuthorizationResponse.Mode.init(rawValue:))
        else { return nil }
        self.init(
            clientID: client, redirectURI: redirect, responseType: type, responseMode: mode, state: value["state"]?.string,
            nonce: value["nonce"]?.string, codeChallenge: value["code_challenge"]?.string, holderID: value["holder"]?.string,
            hintSubject: value["hint_sub"]?.string, hintTenant: value["hint_tid"]?.string, hintObject: value["hint_oid"]?.string,
            acrRequested: value["acr"]?.strings ?? [], acrEssential: value["acr_essential"]?.bool ?? false,
            maxAge: value["max_age"]?.integer.map { Int($0) })
    }

    /// The answer to send back: `parameters` (an error or the result), with `state` and `iss`
    /// (RFC 9207) added.
    func response(_ parameters: [(String, String)], issuer: String) -> AuthorizationResponse {
        var all = parameters
        if let state { all.append(("state", state)) }
        all.append(("iss", issuer))
        return AuthorizationResponse(redirectURI: redirectURI, mode: responseMode, parameters: all)
    }

    func error(_ error: OIDCError, issuer: String) -> AuthorizationResponse {
        response([("error", error.code), ("error_description", error.message)], issuer: issuer)
    }
}

/// The answer to an authorization request, to the client's registered redirect URI.
struct AuthorizationResponse: Sendable, Equatable {
    enum Mode: String, Sendable {
        case query
        case fragment
        case formPost = "form_post"
    }

    let redirectURI: String
    let mode: Mode
    let parameters: [(String, String)]

    static func == (a: AuthorizationResponse, b: AuthorizationResponse) -> Bool {
        a.redirectURI == b.redirectURI && a.mode == b.mode && a.parameters.elementsEqual(b.parameters) { $0 == $1 }
    }

    /// Where the browser goes (query and fragment modes).
    var location: String {
        let encoded = FormEncoding.encode(parameters)
        switch mode {
        case .fragment: return redirectURI + "#" + encoded
        case .query, .formPost: return redirectURI + (redirectURI.contains("?") ? "&" : "?") + encoded
        }
    }

    /// What the sign-in page does with it: navigate, or post a form (its script builds it).
    var json: JSONValue {
        switch mode {
        case .query, .fragment: .object([("mode", .string("redirect")), ("location", .string(location))])
        case .formPost:
            .object([
                ("mode", .string("form_post")), ("action", .string(redirectURI)),
                ("fields", .array(parameters.map { .object([("name", .string($0.0)), ("value", .string($0.1))]) })),
            ])
        }
    }
}
