internal import CCBOR

/// Decodes untrusted CBOR with libcbor's streaming decoder, one header at a time.
///
/// libcbor's `cbor_load` trusts declared lengths and reserves memory for them (five bytes can
/// cost gigabytes), so it is never used. Instead each header reported by `cbor_stream_decode`
/// is checked against `limits` and against the bytes that remain before anything is built.
public struct CBORDecoder: Sendable {
    public let limits: CBORLimits

    public init(limits: CBORLimits = .webAuthn) {
        self.limits = limits
    }

    /// Decodes exactly one item that fills `bytes`; trailing bytes are an error.
    public func decode(_ bytes: ArraySlice<UInt8>) throws(CBORDecodingError) -> CBORValue {
        let (value, end) = try decodePrefix(bytes)
        guard end == bytes.endIndex else {
            throw CBORDecodingError(.trailingBytes, at: end - bytes.startIndex)
        }
        return value
    }

    public func decode(_ bytes: [UInt8]) throws(CBORDecodingError) -> CBORValue {
        try decode(bytes[...])
    }

    /// Decodes the first item of `bytes` and returns it with the index just past it, for items
    /// embedded in a larger structure (the COSE key inside authenticatorData).
    public func decodePrefix(_ bytes: ArraySlice<UInt8>) throws(CBORDecodingError) -> (CBORValue, end: Int) {
        guard !bytes.isEmpty else { throw CBORDecodingError(.empty, at: 0) }
        var builder = ItemBuilder(input: bytes, limits: limits)
        let result: Result<(CBORValue, Int), CBORDecodingError> = bytes.withUnsafeBufferPointer { buffer in
            do throws(CBORDecodingError) {
                return .success(try builder.run(buffer))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

/// What one call of `cbor_stream_decode` reported. Pointers are only valid during the call
/// that decodes them.
enum HeaderEvent {
    case none
    case unsigned(UInt64)
    case negative(UInt64)
    case bytes(UnsafePointer<UInt8>?, Int)
    case text(UnsafePointer<UInt8>?, Int)
    case indefiniteBytesStart
    case indefiniteTextStart
    case arrayStart(Int)
    case mapStart(Int)
    case indefiniteArrayStart
    case indefiniteMapStart
    case tag(UInt64)
    case float(Double)
    case bool(Bool)
    case null
    case undefined
    case breakMark
}

private struct Frame {
    enum Kind {
        case array
        case map
        case tag(UInt64)
        case indefiniteBytes
        case indefiniteText
    }

    var kind: Kind
    /// Items still expected, or nil for an indefinite-length container.
    var remaining: Int?
    var items: [CBORValue] = []
    var chunks: [UInt8] = []
    var headerOffset: Int
}

private struct ItemBuilder {
    let input: ArraySlice<UInt8>
    let limits: CBORLimits
    var stack: [Frame] = []
    var root: CBORValue?
    var itemCount = 0

    init(input: ArraySlice<UInt8>, limits: CBORLimits) {
        self.input = input
        self.limits = limits
    }

    mutating func run(_ buffer: UnsafeBufferPointer<UInt8>) throws(CBORDecodingError) -> (CBORValue, Int) {
        guard let base = buffer.baseAddress else { throw CBORDecodingError(.empty, at: 0) }
        var position = 0
        var callbacks = streamCallbacks
        while root == nil {
            guard position < buffer.count else { throw CBORDecodingError(.truncated, at: position) }
            var event = HeaderEvent.none
            let read: Int
            let initial = base[position]
            if initial >= 0xC6, initial <= 0xD4 {
                // Tags 6 to 20 in the initial byte: well-formed (RFC 8949 §3.4), but libcbor
                // 0.8's stream decoder reports them as errors.
                event = .tag(UInt64(initial & 0x1F))
                read = 1
            } else {
                let result = withUnsafeMutablePointer(to: &event) { eventPointer in
                    cbor_stream_decode(base + position, buffer.count - position, &callbacks, eventPointer)
                }
                switch result.status {
                case CBOR_DECODER_FINISHED: break
                case CBOR_DECODER_NEDATA: throw CBORDecodingError(.truncated, at: position)
                default: throw CBORDecodingError(.malformed, at: position)
                }
                read = result.read
            }
            let end = position + read
            try accept(event, at: position, remaining: buffer.count - end, base: base)
            position = end
        }
        // The loop only ends once `root` is set.
        guard let value = root else { throw CBORDecodingError(.truncated, at: position) }
        return (value, input.startIndex + position)
    }

    private mutating func countItem(at offset: Int) throws(CBORDecodingError) {
        itemCount += 1
        if itemCount > limits.maximumItems { throw CBORDecodingError(.tooManyItems, at: offset) }
    }

    private mutating func open(_ kind: Frame.Kind, remaining: Int?, at offset: Int) throws(CBORDecodingError) {
        if remaining == nil, !limits.allowsIndefiniteLength {
            throw CBORDecodingError(.indefiniteLengthNotAllowed, at: offset)
        }
        if stack.count + 1 > limits.maximumDepth { throw CBORDecodingError(.depthExceeded, at: offset) }
        if let remaining, remaining == 0 {
            // Empty definite containers complete at once.
            switch kind {
            case .array: try complete(.array([]), at: offset)
            case .map: try complete(.map(CBORMap(entries: [])), at: offset)
            default: break
            }
            return
        }
        stack.append(Frame(kind: kind, remaining: remaining, headerOffset: offset))
    }

    /// The input bytes a string callback pointed at. libcbor only reports a definite string
    /// once all of it is in the buffer; the bounds are checked again all the same.
    private func slice(_ pointer: UnsafePointer<UInt8>?, _ length: Int, base: UnsafePointer<UInt8>) throws(CBORDecodingError) -> ArraySlice<
        UInt8
    > {
        guard let pointer, length > 0 else { return input[input.startIndex..<input.startIndex] }
        let offset = pointer - base
        guard offset >= 0, offset <= input.count, length <= input.count - offset else {
            throw CBORDecodingError(.lengthExceedsInput, at: max(0, offset))
        }
        let start = input.startIndex + offset
        return input[start..<(start + length)]
    }

    private mutating func accept(
        _ event: HeaderEvent, at offset: Int, remaining bytesLeft: Int, base: UnsafePointer<UInt8>
    ) throws(CBORDecodingError) {
        // Inside an indefinite string only definite chunks of the same type and a break may come.
        if let top = stack.last {
            switch (top.kind, event) {
            case (.indefiniteBytes, .bytes(let p, let n)):
                try countItem(at: offset)
                stack[stack.count - 1].chunks.append(contentsOf: try slice(p, n, base: base))
                return
            case (.indefiniteText, .text(let p, let n)):
                try countItem(at: offset)
                stack[stack.count - 1].chunks.append(contentsOf: try slice(p, n, base: base))
                return
            case (.indefiniteBytes, .breakMark), (.indefiniteText, .breakMark):
                break
            case (.indefiniteBytes, _), (.indefiniteText, _):
                throw CBORDecodingError(.invalidIndefiniteChunk, at: offset)
            default:
                break
            }
        }

        switch event {
        case .none:
            throw CBORDecodingError(.malformed, at: offset)
        case .unsigned(let n):
            try countItem(at: offset)
            try complete(.unsigned(n), at: offset)
        case .negative(let n):
            try countItem(at: offset)
            try complete(.negative(n), at: offset)
        case .bytes(let p, let n):
            try countItem(at: offset)
            try complete(.bytes(try slice(p, n, base: base)), at: offset)
        case .text(let p, let n):
            try countItem(at: offset)
            guard let string = String(validating: try slice(p, n, base: base), as: UTF8.self) else {
                throw CBORDecodingError(.invalidUTF8, at: offset)
            }
            try complete(.text(string), at: offset)
        case .indefiniteBytesStart:
            try countItem(at: offset)
            try open(.indefiniteBytes, remaining: nil, at: offset)
        case .indefiniteTextStart:
            try countItem(at: offset)
            try open(.indefiniteText, remaining: nil, at: offset)
        case .arrayStart(let count):
            try countItem(at: offset)
            // Every item takes at least one byte. Counts arrive as size_t, imported as Int: a
            // count above Int.max shows up negative.
            guard count >= 0, count <= bytesLeft else { throw CBORDecodingError(.lengthExceedsInput, at: offset) }
            try open(.array, remaining: count, at: offset)
        case .mapStart(let count):
            try countItem(at: offset)
            guard count >= 0, count <= bytesLeft / 2 else { throw CBORDecodingError(.lengthExceedsInput, at: offset) }
            try open(.map, remaining: count * 2, at: offset)
        case .indefiniteArrayStart:
            try countItem(at: offset)
            try open(.array, remaining: nil, at: offset)
        case .indefiniteMapStart:
            try countItem(at: offset)
            try open(.map, remaining: nil, at: offset)
        case .tag(let tag):
            try countItem(at: offset)
            try open(.tag(tag), remaining: 1, at: offset)
        case .float(let value):
            try countItem(at: offset)
            try complete(.float(value), at: offset)
        case .bool(let value):
            try countItem(at: offset)
            try complete(.bool(value), at: offset)
        case .null:
            try countItem(at: offset)
            try complete(.null, at: offset)
        case .undefined:
            try countItem(at: offset)
            try complete(.undefined, at: offset)
        case .breakMark:
            try closeIndefinite(at: offset)
        }
    }

    private mutating func closeIndefinite(at offset: Int) throws(CBORDecodingError) {
        guard let frame = stack.popLast(), frame.remaining == nil else {
            throw CBORDecodingError(.unexpectedBreak, at: offset)
        }
        switch frame.kind {
        case .array:
            try complete(.array(frame.items), at: offset)
        case .map:
            guard frame.items.count % 2 == 0 else { throw CBORDecodingError(.malformed, at: offset) }
            try complete(.map(try makeMap(frame.items, at: frame.headerOffset)), at: offset)
        case .indefiniteBytes:
            try complete(.bytes(frame.chunks[...]), at: offset)
        case .indefiniteText:
            guard let string = String(validating: frame.chunks, as: UTF8.self) else {
                throw CBORDecodingError(.invalidUTF8, at: frame.headerOffset)
            }
            try complete(.text(string), at: offset)
        case .tag:
            throw CBORDecodingError(.unexpectedBreak, at: offset)
        }
    }

    /// Adds a finished item to the innermost open container, closing every definite container
    /// it completes.
    private mutating func complete(_ value: CBORValue, at offset: Int) throws(CBORDecodingError) {
        var value = value
        while true {
            guard !stack.isEmpty else {
                root = value
                return
            }
            let top = stack.count - 1
            stack[top].items.append(value)
            guard let remaining = stack[top].remaining else { return }
            if remaining > 1 {
                stack[top].remaining = remaining - 1
                return
            }
            let frame = stack.removeLast()
            switch frame.kind {
            case .array: value = .array(frame.items)
            case .map: value = .map(try makeMap(frame.items, at: frame.headerOffset))
            case .tag(let tag): value = .tagged(tag, frame.items[0])
            case .indefiniteBytes, .indefiniteText:
                throw CBORDecodingError(.malformed, at: offset)
            }
        }
    }

    private func makeMap(_ items: [CBORValue], at offset: Int) throws(CBORDecodingError) -> CBORMap {
        var entries: [CBORMap.Entry] = []
        entries.reserveCapacity(items.count / 2)
        var index = 0
        while index < items.count {
            entries.append(CBORMap.Entry(key: items[index], value: items[index + 1]))
            index += 2
        }
        if entries.count <= 16 {
            for i in entries.indices {
                for j in entries.indices where j > i && entries[i].key == entries[j].key {
                    throw CBORDecodingError(.duplicateMapKey, at: offset)
                }
            }
        } else {
            var seen = Set<CBORValue>(minimumCapacity: entries.count)
            for entry in entries where !seen.insert(entry.key).inserted {
                throw CBORDecodingError(.duplicateMapKey, at: offset)
            }
        }
        return CBORMap(entries: entries)
    }
}

private func record(_ context: UnsafeMutableRawPointer?, _ event: HeaderEvent) {
    context?.assumingMemoryBound(to: HeaderEvent.self).pointee = event
}

/// Callbacks that only record what the header said; all decisions are taken in Swift afterwards.
/// Field names follow libcbor 0.8, whose comments on the string fields are swapped: `byte_string`
/// and `string` receive definite strings, the `_start` ones open indefinite strings.
private let streamCallbacks: cbor_callbacks = {
    var c = cbor_callbacks()
    c.uint8 = { record($0, .unsigned(UInt64($1))) }
    c.uint16 = { record($0, .unsigned(UInt64($1))) }
    c.uint32 = { record($0, .unsigned(UInt64($1))) }
    c.uint64 = { record($0, .unsigned($1)) }
    c.negint8 = { record($0, .negative(UInt64($1))) }
    c.negint16 = { record($0, .negative(UInt64($1))) }
    c.negint32 = { record($0, .negative(UInt64($1))) }
    c.negint64 = { record($0, .negative($1)) }
    c.byte_string = { record($0, .bytes($1, $2)) }
    c.byte_string_start = { record($0, .indefiniteBytesStart) }
    c.string = { record($0, .text($1, $2)) }
    c.string_start = { record($0, .indefiniteTextStart) }
    c.array_start = { record($0, .arrayStart($1)) }
    c.indef_array_start = { record($0, .indefiniteArrayStart) }
    c.map_start = { record($0, .mapStart($1)) }
    c.indef_map_start = { record($0, .indefiniteMapStart) }
    c.tag = { record($0, .tag($1)) }
    c.float2 = { record($0, .float(Double($1))) }
    c.float4 = { record($0, .float(Double($1))) }
    c.float8 = { record($0, .float($1)) }
    c.undefined = { record($0, .undefined) }
    c.null = { record($0, .null) }
    c.boolean = { record($0, .bool($1)) }
    c.indef_break = { record($0, .breakMark) }
    return c
}()
