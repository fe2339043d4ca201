/// A decoded CBOR data item (RFC 8949).
///
/// Byte strings are slices of the buffer that was decoded, so a decoded value keeps the exact
/// received bytes without copying them.
///
/// Every case is boxed (`indirect`), at one allocation per item. Unboxing all but `tagged`
/// saved a third of the allocations of a COSE key decode, but with Swift 6.3.1 an optional
/// holding an unboxed CBORValue was destroyed as if it held a payload (release of a bad
/// pointer in VerificationServiceTests, reproducible); kept boxed until that is understood.
public indirect enum CBORValue: Hashable, Sendable {
    case unsigned(UInt64)
    /// A negative integer whose value is `-1 - n`.
    case negative(UInt64)
    case bytes(ArraySlice<UInt8>)
    case text(String)
    case array([CBORValue])
    case map(CBORMap)
    case tagged(UInt64, CBORValue)
    case bool(Bool)
    case null
    case undefined
    case float(Double)
}

extension CBORValue {
    /// The value as a signed integer, when it is an integer that fits in `Int64`.
    public var integer: Int64? {
        switch self {
        case .unsigned(let n): return n <= UInt64(Int64.max) ? Int64(n) : nil
        case .negative(let n): return n <= UInt64(Int64.max) ? -1 - Int64(n) : nil
        default: return nil
        }
    }

    public var bytes: ArraySlice<UInt8>? {
        if case .bytes(let b) = self { return b }
        return nil
    }

    public var text: String? {
        if case .text(let t) = self { return t }
        return nil
    }

    public var array: [CBORValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var map: CBORMap? {
        if case .map(let m) = self { return m }
        return nil
    }

    /// A short name of the item's kind, for error messages.
    public var kindName: String {
        switch self {
        case .unsigned, .negative: return "integer"
        case .bytes: return "byte string"
        case .text: return "text string"
        case .array: return "array"
        case .map: return "map"
        case .tagged: return "tagged item"
        case .bool: return "boolean"
        case .null: return "null"
        case .undefined: return "undefined"
        case .float: return "float"
        }
    }

    public init(_ integer: Int64) {
        self = integer >= 0 ? .unsigned(UInt64(integer)) : .negative(UInt64(-1 - integer))
    }
}

/// A CBOR map in the order its entries were received. Keys are unique (the decoder rejects
/// duplicates); lookups are linear, which is fastest for the handful of keys WebAuthn maps hold.
public struct CBORMap: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public let key: CBORValue
        public let value: CBORValue

        public init(key: CBORValue, value: CBORValue) {
            self.key = key
            self.value = value
        }
    }

    public let entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    public var count: Int { entries.count }

    public subscript(key: CBORValue) -> CBORValue? {
        for entry in entries where entry.key == key {
            return entry.value
        }
        return nil
    }

    public subscript(text key: String) -> CBORValue? {
        for entry in entries {
            if case .text(let k) = entry.key, k == key { return entry.value }
        }
        return nil
    }

    public subscript(int key: Int64) -> CBORValue? {
        for entry in entries where entry.key.integer == key {
            return entry.value
        }
        return nil
    }
}
