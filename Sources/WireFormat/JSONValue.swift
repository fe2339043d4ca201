/// A JSON document as a tree, for the documents that are kept, shown and exported whole
/// (metadata statements, referencing lists, profiles), read with the same strict reader as
/// requests. Objects keep their members in the order received; numbers keep their text, so a
/// value written back is the value read.
public enum JSONValue: Sendable, Equatable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    /// The number exactly as written.
    case number(String)
    case bool(Bool)
    case null

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let x), .array(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.bool(let x), .bool(let y)): x == y
        case (.null, .null): true
        default: false
        }
    }

    /// Parses a whole document.
    public static func parse(_ bytes: [UInt8], document: String, maximumDepth: Int = JSONReader.defaultMaximumDepth) throws(JSONError)
        -> JSONValue
    {
        try JSONReader.read(bytes, document: document, maximumDepth: maximumDepth) { (reader: inout JSONReader) throws(JSONError) in
            try JSONValue(reading: &reader)
        }
    }

    /// Reads the value at the reader's position.
    public init(reading reader: inout JSONReader) throws(JSONError) {
        switch try reader.peekKind() {
        case .object:
            var members: [(String, JSONValue)] = []
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                members.append((key.string, try JSONValue(reading: &reader)))
            }
            self = .object(members)
        case .array:
            self = .array(try reader.readList { (reader: inout JSONReader) throws(JSONError) in try JSONValue(reading: &reader) })
        case .string: self = .string(try reader.readString())
        case .number: self = .number(try reader.readNumberText())
        case .bool: self = .bool(try reader.readBool())
        case .null:
            _ = try reader.readNullIfPresent()
            self = .null
        }
    }

    public func write(to writer: inout JSONWriter) {
        switch self {
        case .object(let members):
            writer.object { w in
                for (key, value) in members {
                    w.key(key)
                    value.write(to: &w)
                }
            }
        case .array(let items):
            writer.array { w in
                for item in items { item.write(to: &w) }
            }
        case .string(let s): writer.string(s)
        case .number(let text): writer.raw(Array(text.utf8))
        case .bool(let b): writer.bool(b)
        case .null: writer.null()
        }
    }

    /// Compact JSON text.
    public var json: [UInt8] {
        var writer = JSONWriter()
        write(to: &writer)
        return writer.bytes
    }

    // MARK: Access

    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var members: [(String, JSONValue)]? {
        if case .object(let m) = self { return m }
        return nil
    }

    /// An integer written as one that fits Int64.
    public var integer: Int64? {
        guard case .number(let text) = self, !text.contains("."), !text.contains("e"), !text.contains("E") else { return nil }
        return Int64(text)
    }

    public var double: Double? {
        guard case .number(let text) = self else { return nil }
        return Double(text)
    }

    /// The strings of an array of strings (nil if any element is not one).
    public var strings: [String]? {
        guard let array else { return nil }
        let strings = array.compactMap(\.string)
        return strings.count == array.count ? strings : nil
    }
}

extension JSONValue {
    /// A number value from an integer.
    public static func integer(_ value: some BinaryInteger) -> JSONValue { .number(String(value)) }

    /// An array of strings.
    public static func strings(_ values: [String]) -> JSONValue { .array(values.map(JSONValue.string)) }

    /// A string, or null when absent.
    public static func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
}
