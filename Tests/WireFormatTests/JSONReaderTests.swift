import Testing
import WireFormat

/// The strict JSON reader refuses every loose reading, wherever in the document it occurs.
@Suite struct JSONReaderTests {
    /// Reads `{"a": …}`-shaped documents generically: every value is skipped (and checked).
    func check(_ text: String) throws(JSONError) {
        try JSONReader.read(Array(text.utf8), document: "the request") { (reader: inout JSONReader) throws(JSONError) in
            try reader.skipValue()
        }
    }

    func error(_ text: String) -> JSONError? {
        do {
            try check(text)
            return nil
        } catch {
            return error
        }
    }

    static let valid = [
        #"{}"#, #"[]"#, #"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#, #" {"a" : -0.5e+3 } "#,
        #"{"\u00e9":"\ud83d\ude00"}"#, #""plain""#, #"{"a":"é"}"#, #"{"a":{"a":{"a":1}}}"#,
    ]

    @Test(arguments: valid)
    func validDocumentsAreRead(_ text: String) {
        #expect(error(text) == nil, "\(text)")
    }

    /// (document, kind, path named in the error)
    static let refused: [(String, JSONError.Kind, String)] = [
        (#"{"a":1,"a":2}"#, .duplicateMember, ""),
        (#"{"p":{"attestation":"any","attestation":"trusted"}}"#, .duplicateMember, "p"),
        (#"{"a":[{"x":1,"x":1}]}"#, .duplicateMember, "a[0]"),
        (#"{"a":1,"\u0061":2}"#, .duplicateMember, ""),
        (#"{"a":1,}"#, .syntax, ""),
        (#"[1,2,]"#, .syntax, ""),
        (#"{"a":1}{"#, .syntax, ""),
        (#"{"a":01}"#, .syntax, "a"),
        (#"{"a":.5}"#, .syntax, "a"),
        (#"{"a":1.}"#, .syntax, "a"),
        (#"{"a":+1}"#, .syntax, "a"),
        (#"{"a":NaN}"#, .syntax, "a"),
        (#"{"a":"\x"}"#, .syntax, "a"),
        (#"{"a":"\ud800"}"#, .syntax, "a"),
        (#"{"a":"\udc00x"}"#, .syntax, "a"),
        (#"{'a':1}"#, .syntax, ""),
        (#"{"a":tru}"#, .syntax, "a"),
        ("{\"a\":\"\u{01}\"}", .syntax, "a"),
        ("", .syntax, ""),
        ("   ", .syntax, ""),
    ]

    @Test(arguments: refused)
    func looseDocumentsAreRefused(_ text: String, _ kind: JSONError.Kind, _ path: String) {
        let found = error(text)
        #expect(found?.kind == kind, "\(text): \(String(describing: found))")
        #expect(found?.path == path, "\(text): \(String(describing: found))")
    }

    @Test func utf16AndUTF32AndByteOrderMarksAreRefused() throws {
        let utf16 = Array(#"{"a":1}"#.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let utf32 = Array(#"{"a":1}"#.unicodeScalars).flatMap { [UInt8($0.value & 0xFF), 0, 0, 0] }
        for bytes in [utf16, [0xFF, 0xFE] + utf16, utf32, [0xEF, 0xBB, 0xBF] + Array(#"{"a":1}"#.utf8)] {
            #expect(throws: JSONError.self) {
                try JSONReader.read(bytes, document: "the request") { (r: inout JSONReader) throws(JSONError) in try r.skipValue() }
            }
        }
    }

    @Test func invalidUTF8IsRefusedInKeysValuesAndSkippedValues() {
        for bytes: [UInt8] in [
            [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D],  // {"\xC3(":1}
            [0x5B, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x5D],  // ["<surrogate>"]
            [0x5B, 0x22, 0xC0, 0xAF, 0x22, 0x5D],  // overlong "/"
            [0x5B, 0x22, 0xF4, 0x90, 0x80, 0x80, 0x22, 0x5D],  // above U+10FFFF
        ] {
            #expect(throws: JSONError.self) {
                try JSONReader.read(bytes, document: "d") { (r: inout JSONReader) throws(JSONError) in try r.skipValue() }
            }
        }
    }

    @Test func depthIsBounded() {
        let deep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(error(deep)?.kind == .tooDeep)
        let fine = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(error(fine) == nil)
    }

    @Test func manyMembersStayLinearAndDuplicatesAreStillFound() {
        var members = (0..<50_000).map { "\"k\($0)\":0" }
        #expect(error("{" + members.joined(separator: ",") + "}") == nil)
        members.append("\"k49999\":1")
        #expect(error("{" + members.joined(separator: ",") + "}")?.kind == .duplicateMember)
    }

    struct Small: Equatable {
        var count: UInt32 = 0
        var name = ""
        var flag = false
        var bytes: [UInt8] = []
        var ratio = 0.0
    }

    func readSmall(_ text: String) throws(JSONError) -> Small {
        try JSONReader.read(Array(text.utf8), document: "the request") { (r: inout JSONReader) throws(JSONError) in
            var value = Small()
            try r.readObject { (r: inout JSONReader, key: JSONKey) throws(JSONError) in
                switch key {
                case "count": value.count = try r.readInteger()
                case "name": value.name = try r.readString()
                case "flag": value.flag = try r.readBool()
                case "bytes": value.bytes = try r.readBase64URL()
                case "ratio": value.ratio = try r.readDouble()
                default: throw r.unknownMember(key)
                }
            }
            return value
        }
    }

    @Test func typedMembersAreReadAndWrongTypesNamed() throws {
        let small = try readSmall(#"{"count":7,"name":"a\"b","flag":true,"bytes":"AQID","ratio":1.5e1}"#)
        #expect(small == Small(count: 7, name: "a\"b", flag: true, bytes: [1, 2, 3], ratio: 15))
        let cases: [(String, JSONError.Kind, String)] = [
            (#"{"count":null}"#, .wrongType, "count must be a number, not null"),
            (#"{"count":"7"}"#, .wrongType, "count must be a number, not a string"),
            (#"{"count":7.0}"#, .invalidValue, "count must be an integer"),
            (#"{"count":1e2}"#, .invalidValue, "count must be an integer"),
            (#"{"count":-1}"#, .invalidValue, "count is out of range"),
            (#"{"count":4294967296}"#, .invalidValue, "count is out of range"),
            (#"{"flag":1}"#, .wrongType, "flag must be a boolean, not a number"),
            (#"{"name":null}"#, .wrongType, "name must be a string, not null"),
            (#"{"bytes":"a+b/"}"#, .invalidValue, "bytes is not base64url"),
            (#"{"ratio":1e999}"#, .invalidValue, "ratio is out of range"),
            (#"{"other":1}"#, .unknownMember, #"has an unknown member "other""#),
        ]
        for (text, kind, message) in cases {
            do {
                _ = try readSmall(text)
                Issue.record("\(text) was accepted")
            } catch {
                #expect(error.kind == kind, "\(text)")
                #expect(error.message.contains(message), "\(text): \(error.message)")
            }
        }
    }

    @Test func escapedStringsAndKeysAreUnescaped() throws {
        let small = try readSmall(#"{"n\u0061me":"\u00e9\n\/","bytes":"\u0041QID"}"#)
        #expect(small.name == "é\n/")
        #expect(small.bytes == [1, 2, 3])
    }
}

@Suite struct Base64URLTests {
    @Test func roundTripsEveryLength() {
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("="))
            #expect(Base64URL.decode(text) == bytes)
        }
    }

    /// (text, accepted?)
    static let cases: [(String, Bool)] = [
        ("", true), ("AQ", true), ("AQ==", true), ("AQI", true), ("AQI=", true), ("AQID", true),
        ("AQ=", false), ("AQ===", false), ("AQ====", false), ("AQID=", false), ("AQID====", false), ("=", false),
        ("A", false), ("AR", false), ("AQJ", false), ("a+b/", false), ("AQ\n", false), ("A Q", false), ("AQ=I", false),
    ]

    @Test(arguments: cases)
    func decodingIsStrict(_ text: String, _ accepted: Bool) {
        #expect((Base64URL.decode(text) != nil) == accepted, "\(text)")
    }

    @Test func standardBase64IsStrictToo() {
        #expect(Base64.decode("AQ==") == [1])
        #expect(Base64.decode("+/8=") == [0xFB, 0xFF])
        #expect(Base64.decode("AQ") == [1])
        #expect(Base64.decode("-_8") == nil)
        #expect(Base64.encode([0xFB, 0xFF]) == "+/8=")
    }
}

@Suite struct JSONWriterTests {
    @Test func writesCompactEscapedJSONThatReadsBack() throws {
        var w = JSONWriter()
        w.object { w in
            w.key("a")
            w.string("q\"\\\n\u{01}é")
            w.key("b")
            w.array { w in
                w.integer(-3)
                w.bool(true)
                w.null()
                w.base64URL([0xFB, 0xFF])
            }
            w.key("c")
            w.object { _ in }
            w.key("dynamic \"key\"")
            w.integer(UInt32.max)
        }
        let text = String(decoding: w.bytes, as: UTF8.self)
        #expect(text == #"{"a":"q\"\\\n\u0001é","b":[-3,true,null,"-_8"],"c":{},"dynamic \"key\"":4294967295}"#)
        var a = ""
        try JSONReader.read(w.bytes, document: "d") { (r: inout JSONReader) throws(JSONError) in
            try r.readObject { (r: inout JSONReader, key: JSONKey) throws(JSONError) in
                if case "a" = key { a = try r.readString() }
            }
        }
        #expect(a == "q\"\\\n\u{01}é")
    }
}

@Suite struct ByteCursorTests {
    struct Failure: Error, Equatable { let text: String }

    @Test func readsBigEndianFieldsAndNamesWhereItStopped() throws {
        var cursor = ByteCursor([0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0xAA, 0xBB, 0xCC], structure: "thing") {
            Failure(text: $0.description)
        }
        #expect(try cursor.readUInt16("a") == 1)
        #expect(try cursor.readUInt32("b") == 2)
        #expect(try cursor.readSized16("c") == [0xAA, 0xBB])
        #expect(throws: Failure(text: "thing: 1 unexpected trailing bytes at byte 10")) { try cursor.expectEnd() }
        #expect(throws: Failure(text: "thing: d needs 2 bytes, 1 left at byte 10")) { try cursor.readUInt16("d") }
        #expect(cursor.offset == 10)
        var short = ByteCursor([0x00, 0x05, 0x01], structure: "tpm")
        #expect(throws: ByteReadError(structure: "tpm", message: "x needs 5 bytes, 1 left", offset: 2)) { try short.readSized16("x") }
    }
}

@Suite struct RFC3339Tests {
    @Test func instantsAreExact() {
        #expect(RFC3339.secondsSince1970("1970-01-01T00:00:00Z") == 0)
        #expect(RFC3339.secondsSince1970("2026-11-29T00:00:00Z") == 1_795_910_400)
        #expect(RFC3339.secondsSince1970("2026-11-29T01:00:00+01:00") == 1_795_910_400)
        #expect(RFC3339.secondsSince1970("2026-11-28T19:30:00-04:30") == 1_795_910_400)
        #expect(RFC3339.secondsSince1970("2024-02-29t12:00:00.250z") == 1_709_208_000.25)
        #expect(RFC3339.secondsSince1970("1969-12-31T23:59:59Z") == -1)
        #expect(RFC3339.secondsSince1970("2000-03-01T00:00:00Z") == 951_868_800)
    }

    @Test(arguments: [
        "2026-11-29", "2026-11-29T00:00:00", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-11-29T24:00:00Z", "2026-11-29T00:60:00Z", "2026-11-29T23:59:60Z",
        "2026-11-29 00:00:00Z", "2026-11-29T00:00:00.Z", "2026-11-29T00:00:00+0100", "2026-11-29T00:00:00Z ",
        "26-11-29T00:00:00Z", "yesterday", "", "2026-11-29T00:00:00.1234567891Z",
    ])
    func malformedInstantsAreRefused(_ text: String) {
        #expect(RFC3339.secondsSince1970(text) == nil, "\(text)")
    }
}
