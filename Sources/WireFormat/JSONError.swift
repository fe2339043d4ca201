/// Why a JSON document was refused. `path` names the member (`policy.attestation`,
/// `trustAnchors[2]`); `message` is a sentence that starts with it.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Not JSON at all: a syntax error, invalid UTF-8, a byte order mark, trailing data.
        case syntax
        case duplicateMember = "duplicate-member"
        case unknownMember = "unknown-member"
        case missingMember = "missing-member"
        case wrongType = "wrong-type"
        /// Well-typed but unacceptable (bad base64url, out of range, not one of the choices).
        case invalidValue = "invalid-value"
        case tooDeep = "too-deep"
    }

    public let kind: Kind
    public let path: String
    public let message: String
    public let offset: Int

    public init(_ kind: Kind, path: String, message: String, offset: Int) {
        self.kind = kind
        self.path = path
        self.message = message
        self.offset = offset
    }

    public var description: String { message }
}
