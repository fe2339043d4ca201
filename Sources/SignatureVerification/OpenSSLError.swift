internal import COpenSSL

/// A failure inside OpenSSL or a key OpenSSL refused. The message comes from OpenSSL's error
/// queue and is meant for logs.
public struct OpenSSLError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case invalidKey = "invalid-key"
        case invalidCertificate = "invalid-certificate"
        case keyAlgorithmMismatch = "key-algorithm-mismatch"
        case unsupported
        case internalFailure = "internal"
    }

    public let kind: Kind
    public let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// Builds an error from OpenSSL's queue, which it empties.
    static func fromQueue(_ kind: Kind, _ context: String) -> OpenSSLError {
        var details: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            details.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return OpenSSLError(kind, details.isEmpty ? context : "\(context): \(details.joined(separator: "; "))")
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}
