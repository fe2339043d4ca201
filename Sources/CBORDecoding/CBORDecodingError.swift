/// Why a byte sequence is not an acceptable CBOR item. `offset` is the byte offset of the item
/// header at which decoding stopped.
public struct CBORDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        case empty
        case truncated
        case malformed
        case trailingBytes = "trailing-bytes"
        case depthExceeded = "depth-exceeded"
        case tooManyItems = "too-many-items"
        case lengthExceedsInput = "length-exceeds-input"
        case duplicateMapKey = "duplicate-map-key"
        case invalidUTF8 = "invalid-utf8"
        case unexpectedBreak = "unexpected-break"
        case invalidIndefiniteChunk = "invalid-indefinite-chunk"
        case indefiniteLengthNotAllowed = "indefinite-length-not-allowed"
    }

    public let reason: Reason
    public let offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "CBOR \(reason.rawValue) at byte \(offset)" }
}
