#if canImport(Glibc)
import Glibc
#endif

/// A strict, single-pass JSON (RFC 8259) pull reader for untrusted documents: requests, client
/// data, JWS headers and payloads, referencing lists.
///
/// What it refuses, wherever it occurs: invalid UTF-8 (so UTF-16 and UTF-32 input), a byte
/// order mark, duplicate member names at any depth (compared after unescaping), trailing
/// commas, control characters in strings, lone surrogates, numbers outside the JSON grammar,
/// nesting deeper than the limit and anything after the top-level value. Callers read values
/// straight into their own types; nothing builds an intermediate tree, and base64url members
/// are decoded from the input bytes in one step.
///
/// Use it through `JSONReader.read(_:document:_:)`; the reader points into the caller's bytes
/// and must not outlive the closure.
public struct JSONReader {
    public static let defaultMaximumDepth = 32

    private let input: UnsafeBufferPointer<UInt8>
    private let document: String
    private let maximumDepth: Int
    /// Byte offset of the next unread byte.
    public private(set) var index = 0
    private var depth = 0
    /// The members and elements from the top to the value being read, for messages.
    private var path: [PathElement] = []
    /// Member names of every open object, innermost last; `frames` marks where each begins.
    private var seen: [JSONKey] = []
    private var frames: [Int] = []
    /// Storage of member names that had escapes (rare); created on first need.
    private var unescapedKeys: UnescapedKeys?

    enum PathElement {
        case member(JSONKey)
        case element(Int)
    }

    private init(_ input: UnsafeBufferPointer<UInt8>, document: String, maximumDepth: Int) {
        self.input = input
        self.document = document
        self.maximumDepth = maximumDepth
        path.reserveCapacity(8)
        seen.reserveCapacity(32)
        frames.reserveCapacity(8)
    }

    /// Reads one JSON document: `body` reads the top-level value, then only whitespace may
    /// follow. `document` names the whole in messages ("the request", "clientDataJSON").
    public static func read<T>(
        _ bytes: UnsafeRawBufferPointer, document: String, maximumDepth: Int = defaultMaximumDepth,
        _ body: (inout JSONReader) throws(JSONError) -> T
    ) throws(JSONError) -> T {
        var reader = JSONReader(bytes.assumingMemoryBound(to: UInt8.self), document: document, maximumDepth: maximumDepth)
        if bytes.count >= 3, reader.input[0] == 0xEF, reader.input[1] == 0xBB, reader.input[2] == 0xBF {
            throw reader.error(.syntax, "\(document) starts with a byte order mark; send plain UTF-8")
        }
        reader.skipWhitespace()
        guard reader.index < reader.input.count else { throw reader.error(.syntax, "\(document) is empty") }
        let value = try body(&reader)
        reader.skipWhitespace()
        guard reader.index == reader.input.count else {
            throw reader.error(.syntax, "\(document) has data after its JSON value at byte \(reader.index)")
        }
        return value
    }

    public static func read<T>(
        _ bytes: [UInt8], document: String, maximumDepth: Int = defaultMaximumDepth,
        _ body: (inout JSONReader) throws(JSONError) -> T
    ) throws(JSONError) -> T {
        let result: Result<T, JSONError> = bytes.withUnsafeBytes { raw in
            do throws(JSONError) {
                return .success(try read(raw, document: document, maximumDepth: maximumDepth, body))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    // MARK: Messages

    /// The member being read, as `a.b[2].c`, or the document's name at the top.
    public var pathDescription: String {
        if path.isEmpty { return document }
        var text = ""
        for element in path {
            switch element {
            case .member(let key):
                if !text.isEmpty { text += "." }
                text += key.string
            case .element(let i):
                text += "[\(i)]"
            }
        }
        return text
    }

    public func error(_ kind: JSONError.Kind, _ message: String) -> JSONError {
        JSONError(kind, path: path.isEmpty ? "" : pathDescription, message: message, offset: index)
    }

    /// "<member> <what>", for a value the caller finds unacceptable.
    public func invalid(_ what: String) -> JSONError {
        error(.invalidValue, "\(pathDescription) \(what)")
    }

    /// "<object> has an unknown member "<key>"", called while reading that member.
    public func unknownMember(_ key: JSONKey) -> JSONError {
        var parent = self
        if case .member = parent.path.last { parent.path.removeLast() }
        return error(.unknownMember, "\(parent.pathDescription) has an unknown member \"\(key.string.prefix(64))\"")
    }

    /// "<member>.<name> is required".
    public func missing(_ name: String) -> JSONError {
        let parent = path.isEmpty ? "" : pathDescription + "."
        return error(.missingMember, "\(parent)\(name) is required")
    }

    private func syntax(_ what: String) -> JSONError {
        error(.syntax, "\(document) is not valid JSON: \(what) at byte \(index)")
    }

    private func wrongType(_ expected: String) -> JSONError {
        let found: String
        switch index < input.count ? input[index] : 0 {
        case UInt8(ascii: "n"): found = "null"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): found = "a boolean"
        case UInt8(ascii: "\""): found = "a string"
        case UInt8(ascii: "{"): found = "an object"
        case UInt8(ascii: "["): found = "an array"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): found = "a number"
        default: return syntax("unexpected character")
        }
        return error(.wrongType, "\(pathDescription) must be \(expected), not \(found)")
    }

    // MARK: Structure

    /// The kind of the next value, without reading it.
    public enum ValueKind: Sendable { case object, array, string, number, bool, null }

    public mutating func peekKind() throws(JSONError) -> ValueKind {
        skipWhitespace()
        guard index < input.count else { throw syntax("missing value") }
        switch input[index] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw syntax("unexpected character")
        }
    }

    /// Reads an object, calling `body` once per member with the reader positioned on its
    /// value. A value `body` leaves unread is skipped (still fully checked). Duplicate names are
    /// refused before `body` sees the second one.
    public mutating func readObject(_ body: (inout JSONReader, JSONKey) throws(JSONError) -> Void) throws(JSONError) {
        skipWhitespace()
        guard index < input.count, input[index] == UInt8(ascii: "{") else { throw wrongType("an object") }
        try enter()
        index += 1
        frames.append(seen.count)
        var overflow: Set<[UInt8]>? = nil
        skipWhitespace()
        if index < input.count, input[index] == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipWhitespace()
                guard index < input.count, input[index] == UInt8(ascii: "\"") else { throw syntax("expected a member name") }
                let key = try readKey()
                try remember(key, overflow: &overflow)
                skipWhitespace()
                guard index < input.count, input[index] == UInt8(ascii: ":") else { throw syntax("expected ':'") }
                index += 1
                skipWhitespace()
                path.append(.member(key))
                let start = index
                try body(&self, key)
                if index == start { try skipValue() }
                path.removeLast()
                skipWhitespace()
                guard index < input.count else { throw syntax("unterminated object") }
                if input[index] == UInt8(ascii: ",") {
                    index += 1
                    skipWhitespace()
                    if index < input.count, input[index] == UInt8(ascii: "}") { throw syntax("trailing comma") }
                    continue
                }
                if input[index] == UInt8(ascii: "}") {
                    index += 1
                    break
                }
                throw syntax("expected ',' or '}'")
            }
        }
        seen.removeSubrange(frames.removeLast()...)
        depth -= 1
    }

    /// Refuses a name already seen in the innermost object. Small objects compare linearly;
    /// beyond 32 members a set keeps hostile objects linear.
    private mutating func remember(_ key: JSONKey, overflow: inout Set<[UInt8]>?) throws(JSONError) {
        let start = frames[frames.count - 1]
        if overflow != nil {
            guard overflow?.insert(key.bytes).inserted == true else { throw duplicate(key) }
            return
        }
        for i in start..<seen.count where seen[i] == key { throw duplicate(key) }
        seen.append(key)
        if seen.count - start > 32 {
            overflow = Set(seen[start...].map(\.bytes))
        }
    }

    private func duplicate(_ key: JSONKey) -> JSONError {
        let parent = path.isEmpty ? "" : pathDescription + "."
        return error(.duplicateMember, "\(parent)\(key.string.prefix(64)) appears more than once")
    }

    /// Reads an array, calling `body` once per element with its index. An element `body`
    /// leaves unread is skipped.
    public mutating func readArray(_ body: (inout JSONReader, Int) throws(JSONError) -> Void) throws(JSONError) {
        skipWhitespace()
        guard index < input.count, input[index] == UInt8(ascii: "[") else { throw wrongType("an array") }
        try enter()
        index += 1
        skipWhitespace()
        if index < input.count, input[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return
        }
        var count = 0
        while true {
            path.append(.element(count))
            skipWhitespace()
            let start = index
            try body(&self, count)
            if index == start { try skipValue() }
            path.removeLast()
            count += 1
            skipWhitespace()
            guard index < input.count else { throw syntax("unterminated array") }
            if input[index] == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                if index < input.count, input[index] == UInt8(ascii: "]") { throw syntax("trailing comma") }
                continue
            }
            if input[index] == UInt8(ascii: "]") {
                index += 1
                break
            }
            throw syntax("expected ',' or ']'")
        }
        depth -= 1
    }

    /// Reads an array of values of one kind.
    @inlinable
    public mutating func readList<T>(_ element: (inout JSONReader) throws(JSONError) -> T) throws(JSONError) -> [T] {
        var values: [T] = []
        try readArray { (reader: inout JSONReader, _: Int) throws(JSONError) in values.append(try element(&reader)) }
        return values
    }

    private mutating func enter() throws(JSONError) {
        depth += 1
        guard depth <= maximumDepth else {
            throw error(.tooDeep, "\(document) nests deeper than \(maximumDepth) levels at byte \(index)")
        }
    }

    /// Reads and checks any value, discarding it.
    public mutating func skipValue() throws(JSONError) {
        switch try peekKind() {
        case .object: try readObject { (_: inout JSONReader, _: JSONKey) throws(JSONError) in }
        case .array: try readArray { (_: inout JSONReader, _: Int) throws(JSONError) in }
        case .string:
            let (start, end, escaped) = try stringBounds()
            // Escapes are checked (bad letters, lone surrogates) even in values nobody reads.
            if escaped { _ = try unescape(UnsafeBufferPointer(rebasing: input[start..<end])) }
        case .number: _ = try numberBounds()
        case .bool: _ = try readBool()
        case .null: index += 4
        }
    }

    // MARK: Scalars

    /// Consumes `null` and returns true when the next value is null.
    public mutating func readNullIfPresent() throws(JSONError) -> Bool {
        skipWhitespace()
        guard index < input.count, input[index] == UInt8(ascii: "n") else { return false }
        guard matchLiteral("null") else { throw syntax("bad literal") }
        return true
    }

    public mutating func readBool() throws(JSONError) -> Bool {
        skipWhitespace()
        if index < input.count, input[index] == UInt8(ascii: "t") {
            guard matchLiteral("true") else { throw syntax("bad literal") }
            return true
        }
        if index < input.count, input[index] == UInt8(ascii: "f") {
            guard matchLiteral("false") else { throw syntax("bad literal") }
            return false
        }
        throw wrongType("a boolean")
    }

    public mutating func readString() throws(JSONError) -> String {
        let (start, end, escaped) = try stringBounds()
        let contents = UnsafeBufferPointer(rebasing: input[start..<end])
        if !escaped { return String(decoding: contents, as: UTF8.self) }
        return String(decoding: try unescape(contents), as: UTF8.self)
    }

    /// The string's UTF-8 bytes (unescaped), without building a `String`.
    public mutating func readStringBytes() throws(JSONError) -> [UInt8] {
        let (start, end, escaped) = try stringBounds()
        let contents = UnsafeBufferPointer(rebasing: input[start..<end])
        return escaped ? try unescape(contents) : Array(contents)
    }

    /// A base64url string member decoded into bytes (strict: see `Base64URL`).
    public mutating func readBase64URL() throws(JSONError) -> [UInt8] {
        let (start, end, escaped) = try stringBounds()
        let contents = UnsafeBufferPointer(rebasing: input[start..<end])
        let decoded = escaped ? Base64URL.decode(try unescape(contents)) : Base64URL.decode(UnsafeRawBufferPointer(contents))
        guard let decoded else { throw invalid("is not base64url") }
        return decoded
    }

    /// An integer written as one (no fraction, no exponent) that fits `T`.
    @inlinable
    public mutating func readInteger<T: FixedWidthInteger>(_: T.Type = T.self) throws(JSONError) -> T {
        let (negative, magnitude) = try readIntegerMagnitude()
        let largest = UInt64(truncatingIfNeeded: T.max)
        if negative {
            guard magnitude == 0 || (T.isSigned && magnitude <= largest + 1) else { throw invalid("is out of range (\(T.min)...\(T.max))") }
            // Two's complement: 0 - magnitude, cut to T's width, is -magnitude.
            return T(truncatingIfNeeded: 0 &- magnitude)
        }
        guard magnitude <= largest else { throw invalid("is out of range (\(T.min)...\(T.max))") }
        return T(truncatingIfNeeded: magnitude)
    }

    /// The sign and magnitude of an integer literal of at most 64 bits (the magnitude of a
    /// negative one may be 2^63).
    @usableFromInline
    mutating func readIntegerMagnitude() throws(JSONError) -> (negative: Bool, magnitude: UInt64) {
        let (start, end, isInteger) = try numberBounds()
        guard isInteger else { throw invalid("must be an integer") }
        var i = start
        let negative = input[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var value: UInt64 = 0
        while i < end {
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = shifted.addingReportingOverflow(UInt64(input[i] &- UInt8(ascii: "0")))
            guard !o1, !o2 else { throw invalid("is out of range") }
            value = next
            i += 1
        }
        if negative, value > UInt64(Int64.max) + 1 { throw invalid("is out of range") }
        return (negative, value)
    }

    /// A finite number.
    public mutating func readDouble() throws(JSONError) -> Double {
        let (start, end, _) = try numberBounds()
        let text = String(decoding: UnsafeBufferPointer(rebasing: input[start..<end]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw invalid("is out of range") }
        return value
    }

    /// The exact text of a number (for lossless reporting).
    public mutating func readNumberText() throws(JSONError) -> String {
        let (start, end, _) = try numberBounds()
        return String(decoding: UnsafeBufferPointer(rebasing: input[start..<end]), as: UTF8.self)
    }

    // MARK: Lexing

    private mutating func skipWhitespace() {
        while index < input.count {
            switch input[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private mutating func matchLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= input.count else { return false }
        let base = literal.utf8Start
        for i in 0..<count where input[index + i] != base[i] { return false }
        index += count
        return true
    }

    private mutating func readKey() throws(JSONError) -> JSONKey {
        let (start, end, escaped) = try stringBounds()
        let contents = UnsafeBufferPointer(rebasing: input[start..<end])
        guard escaped else { return JSONKey(raw: contents) }
        let storage = unescapedKeys ?? UnescapedKeys()
        unescapedKeys = storage
        return JSONKey(raw: storage.store(try unescape(contents)))
    }

    /// Scans the string at `index` (which must open with a quote), checking UTF-8, control
    /// characters and escapes; returns the bounds of its contents and whether it has escapes.
    private mutating func stringBounds() throws(JSONError) -> (Int, Int, Bool) {
        skipWhitespace()
        guard index < input.count, input[index] == UInt8(ascii: "\"") else { throw wrongType("a string") }
        index += 1
        let start = index
        // Fast path: find the closing quote with memchr, then check the run in one pass for
        // what would need the careful loop (escapes, control characters, non-ASCII).
        if let base = input.baseAddress, let found = memchr(base + start, 0x22, input.count - start) {
            let end = UnsafeRawPointer(found).assumingMemoryBound(to: UInt8.self) - base
            var plain = true
            for i in start..<end {
                let c = input[i]
                if c < 0x20 || c >= 0x80 || c == 0x5C {
                    plain = false
                    break
                }
            }
            if plain {
                index = end + 1
                return (start, end, false)
            }
        }
        var escaped = false
        var ascii = true
        while index < input.count {
            let c = input[index]
            if c == UInt8(ascii: "\"") {
                let end = index
                index += 1
                if !ascii, !UTF8Validation.isValid(UnsafeBufferPointer(rebasing: input[start..<end])) {
                    throw error(.syntax, "\(pathDescription) is not valid UTF-8")
                }
                return (start, end, escaped)
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                index += 2
                continue
            }
            if c < 0x20 { throw syntax("control character in a string") }
            if c >= 0x80 { ascii = false }
            index += 1
        }
        throw syntax("unterminated string")
    }

    /// The unescaped UTF-8 of string contents known to hold escapes.
    private func unescape(_ contents: UnsafeBufferPointer<UInt8>) throws(JSONError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(contents.count)
        var i = 0
        func hex4() throws(JSONError) -> UInt32 {
            guard i + 4 <= contents.count else { throw syntax("truncated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let c = contents[i]
                let digit: UInt32
                switch c {
                case 0x30...0x39: digit = UInt32(c - 0x30)
                case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
                default: throw syntax("bad \\u escape")
                }
                value = value << 4 | digit
                i += 1
            }
            return value
        }
        while i < contents.count {
            let c = contents[i]
            i += 1
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                continue
            }
            guard i < contents.count else { throw syntax("truncated escape") }
            let e = contents[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800...0xDBFF).contains(code) {
                    guard i + 2 <= contents.count, contents[i] == UInt8(ascii: "\\"), contents[i + 1] == UInt8(ascii: "u") else {
                        throw syntax("unpaired surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw syntax("unpaired surrogate") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(code) {
                    throw syntax("unpaired surrogate")
                }
                guard let scalar = Unicode.Scalar(code) else { throw syntax("bad \\u escape") }
                out.append(contentsOf: UTF8.encode(scalar).map { Array($0) } ?? [])
            default:
                throw syntax("bad escape")
            }
        }
        return out
    }

    /// Scans a number per the JSON grammar; returns its bounds and whether it is an integer.
    private mutating func numberBounds() throws(JSONError) -> (Int, Int, Bool) {
        skipWhitespace()
        let start = index
        func isDigit(_ i: Int) -> Bool { i < input.count && input[i] >= 0x30 && input[i] <= 0x39 }
        if index < input.count, input[index] == UInt8(ascii: "-") { index += 1 }
        guard isDigit(index) else {
            index = start
            throw wrongType("a number")
        }
        if input[index] == 0x30 {
            index += 1
            if isDigit(index) { throw syntax("leading zero in a number") }
        } else {
            while isDigit(index) { index += 1 }
        }
        var isInteger = true
        if index < input.count, input[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard isDigit(index) else { throw syntax("bad number") }
            while isDigit(index) { index += 1 }
        }
        if index < input.count, input[index] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            index += 1
            if index < input.count, input[index] == UInt8(ascii: "+") || input[index] == UInt8(ascii: "-") { index += 1 }
            guard isDigit(index) else { throw syntax("bad number") }
            while isDigit(index) { index += 1 }
        }
        return (start, index, isInteger)
    }
}

/// A member name as read: its unescaped UTF-8 bytes, a view of the input (or, for a name with
/// escapes, of memory the reader owns). Valid while the reader reads; compare it with string
/// literals in a `switch`.
public struct JSONKey: Equatable {
    let raw: UnsafeBufferPointer<UInt8>

    init(raw: UnsafeBufferPointer<UInt8>) {
        self.raw = raw
    }

    public var bytes: [UInt8] { Array(raw) }
    public var string: String { String(decoding: raw, as: UTF8.self) }

    public static func == (a: JSONKey, b: JSONKey) -> Bool {
        equal(a.raw, b.raw.baseAddress, b.raw.count)
    }

    public static func ~= (pattern: StaticString, key: JSONKey) -> Bool {
        equal(key.raw, pattern.utf8Start, pattern.utf8CodeUnitCount)
    }

    private static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafePointer<UInt8>?, _ count: Int) -> Bool {
        guard a.count == count else { return false }
        guard count > 0, let x = a.baseAddress, let y = b else { return true }
        return memcmp(x, y, count) == 0
    }
}

/// Memory for member names that had escapes, freed with the reader.
final class UnescapedKeys {
    private var buffers: [UnsafeMutableBufferPointer<UInt8>] = []

    func store(_ bytes: [UInt8]) -> UnsafeBufferPointer<UInt8> {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        _ = buffer.initialize(from: bytes)
        buffers.append(buffer)
        return UnsafeBufferPointer(rebasing: buffer[..<bytes.count])
    }

    deinit {
        for buffer in buffers { buffer.deallocate() }
    }
}
