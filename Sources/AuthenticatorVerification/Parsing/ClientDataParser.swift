/// A strict, allocation-light reader for clientDataJSON (WebAuthn L3 §5.8.1).
///
/// The document is checked to be one JSON object of valid JSON (RFC 8259); the members the
/// ceremonies use are extracted, unknown members of any type are skipped, and duplicate
/// member names are refused so two parsers can never read different challenges.
struct ClientDataParser {
    static let maximumSize = 16 * 1024
    static let maximumDepth = 16

    private let bytes: [UInt8]
    private var index = 0

    private init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    static func parse(_ bytes: [UInt8]) throws(VerificationFailure) -> CollectedClientData {
        guard bytes.count <= maximumSize else {
            throw VerificationFailure(.malformedClientData, "clientDataJSON is larger than \(maximumSize) bytes")
        }
        var parser = ClientDataParser(bytes)
        return try parser.parseDocument()
    }

    private func fail(_ what: String) -> VerificationFailure {
        VerificationFailure(.malformedClientData, "clientDataJSON: \(what) at byte \(index)")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func expect(_ byte: UInt8) throws(VerificationFailure) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else {
            throw fail("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        index += 1
    }

    private mutating func parseDocument() throws(VerificationFailure) -> CollectedClientData {
        // A UTF-8 byte order mark is not part of the JSON text the client produced.
        var members = CollectedClientData.Members()
        // A handful of members: a linear scan beats hashing every name.
        var seen: [String] = []
        seen.reserveCapacity(8)
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipWhitespace()
                let name = try parseString()
                guard !seen.contains(name) else { throw fail("duplicate member \"\(name)\"") }
                seen.append(name)
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                switch name {
                case "type": members.type = try parseStringMember(name)
                case "challenge": members.challenge = try parseStringMember(name)
                case "origin": members.origin = try parseStringMember(name)
                case "topOrigin": members.topOrigin = try parseStringMember(name)
                case "crossOrigin": members.crossOrigin = try parseBoolMember(name)
                case "tokenBinding":
                    // Level 1/2 member, gone from Level 3: checked when it is an object, as
                    // Level 2 defined it, and otherwise ignored like any unknown member.
                    if index < bytes.count, bytes[index] == UInt8(ascii: "{") {
                        members.tokenBindingStatus = try parseTokenBinding()
                    } else {
                        try skipValue(depth: 1)
                    }
                default: try skipValue(depth: 1)
                }
                skipWhitespace()
                guard index < bytes.count else { throw fail("unterminated object") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; break }
                throw fail("expected ',' or '}'")
            }
        }
        skipWhitespace()
        guard index == bytes.count else { throw fail("trailing data after the object") }
        return try CollectedClientData(members)
    }

    private mutating func parseStringMember(_ name: String) throws(VerificationFailure) -> String {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("\"\(name)\" must be a string") }
        return try parseString()
    }

    private mutating func parseBoolMember(_ name: String) throws(VerificationFailure) -> Bool {
        if matchLiteral("true") { return true }
        if matchLiteral("false") { return false }
        throw fail("\"\(name)\" must be a boolean")
    }

    /// Legacy member: `{"status": "present" | "supported" | "not-supported", "id"?: ...}`.
    private mutating func parseTokenBinding() throws(VerificationFailure) -> String? {
        index += 1
        var status: String?
        var seen = Set<String>()
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return nil }
        while true {
            skipWhitespace()
            let name = try parseString()
            guard seen.insert(name).inserted else { throw fail("duplicate member \"\(name)\"") }
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            if name == "status" { status = try parseStringMember(name) } else { try skipValue(depth: 2) }
            skipWhitespace()
            guard index < bytes.count else { throw fail("unterminated object") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return status ?? "" }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func matchLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let matches = literal.withUTF8Buffer { lit in
            for i in 0..<count where bytes[index + i] != lit[i] { return false }
            return true
        }
        if matches { index += count }
        return matches
    }

    private mutating func skipValue(depth: Int) throws(VerificationFailure) {
        guard depth <= ClientDataParser.maximumDepth else { throw fail("nesting deeper than \(ClientDataParser.maximumDepth)") }
        skipWhitespace()
        guard index < bytes.count else { throw fail("missing value") }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            _ = try parseString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let object = bytes[index] == UInt8(ascii: "{")
            let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == close { index += 1; return }
            while true {
                if object {
                    skipWhitespace()
                    _ = try parseString()
                    try expect(UInt8(ascii: ":"))
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard index < bytes.count else { throw fail("unterminated container") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == close { index += 1; return }
                throw fail("expected ',' or a closing bracket")
            }
        case UInt8(ascii: "t"):
            guard matchLiteral("true") else { throw fail("bad literal") }
        case UInt8(ascii: "f"):
            guard matchLiteral("false") else { throw fail("bad literal") }
        case UInt8(ascii: "n"):
            guard matchLiteral("null") else { throw fail("bad literal") }
        default:
            try skipNumber()
        }
    }

    private mutating func skipNumber() throws(VerificationFailure) {
        let start = index
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw fail("bad value") }
        if bytes[index] == 0x30 { index += 1 } else { while index < bytes.count, isDigit(bytes[index]) { index += 1 } }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("bad number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("bad number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index == start { throw fail("bad value") }
    }

    private mutating func parseHex4() throws(VerificationFailure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt32
            switch c {
            case 0x30...0x39: digit = UInt32(c - 0x30)
            case 0x41...0x46: digit = UInt32(c - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(c - 0x61 + 10)
            default: throw fail("bad \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// A JSON string at `index` (which must be a quote). The fast path copies unescaped UTF-8.
    private mutating func parseString() throws(VerificationFailure) -> String {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string") }
        index += 1
        let start = index
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                defer { index += 1 }
                guard let text = String(validating: bytes[start..<index], as: UTF8.self) else { throw fail("invalid UTF-8") }
                return text
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw fail("control character in string") }
            index += 1
        }
        // Slow path: escapes.
        var scalars: [UInt8] = Array(bytes[start..<index])
        while index < bytes.count {
            let c = bytes[index]
            if c == UInt8(ascii: "\"") {
                index += 1
                guard let text = String(validating: scalars, as: UTF8.self) else { throw fail("invalid UTF-8") }
                return text
            }
            if c < 0x20 { throw fail("control character in string") }
            if c != UInt8(ascii: "\\") {
                scalars.append(c)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
            case UInt8(ascii: "b"): scalars.append(0x08)
            case UInt8(ascii: "f"): scalars.append(0x0C)
            case UInt8(ascii: "n"): scalars.append(0x0A)
            case UInt8(ascii: "r"): scalars.append(0x0D)
            case UInt8(ascii: "t"): scalars.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if (0xD800...0xDBFF).contains(code) {
                    guard matchLiteral("\\u") else { throw fail("unpaired surrogate") }
                    let low = try parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(code) {
                    throw fail("unpaired surrogate")
                }
                guard let scalar = Unicode.Scalar(code) else { throw fail("bad \\u escape") }
                scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw fail("bad escape")
            }
        }
        throw fail("unterminated string")
    }
}
