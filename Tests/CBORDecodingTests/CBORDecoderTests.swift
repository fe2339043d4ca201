import CBORDecoding
import Foundation
import Testing

struct CBORCase: Sendable, CustomTestStringConvertible {
    let id: String
    let bytes: [UInt8]
    let expected: String
    var testDescription: String { id }

    /// Every line of TestVectors/generated/cbor.jsonl, or why one could not be read.
    static let loaded: Result<[CBORCase], CaseError> = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TestVectors/generated/cbor.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return .failure(CaseError("cannot read \(url.path)")) }
        var cases: [CBORCase] = []
        for (number, line) in text.split(separator: "\n").enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                let id = object["id"], let hex = object["hex"], let expected = object["expected"], hex.count % 2 == 0
            else { return .failure(CaseError("cbor.jsonl line \(number + 1) is not {id, hex, expected}")) }
            var bytes: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                guard let byte = UInt8(hex[index..<next], radix: 16) else {
                    return .failure(CaseError("cbor.jsonl line \(number + 1): bad hex"))
                }
                bytes.append(byte)
                index = next
            }
            cases.append(CBORCase(id: id, bytes: bytes, expected: expected))
        }
        return .success(cases)
    }()

    static let all: [CBORCase] = (try? loaded.get()) ?? []
}

struct CaseError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite struct CBORDecoderTests {
    let decoder = CBORDecoder()

    @Test func casesLoadWhole() throws {
        #expect(try CBORCase.loaded.get().count == 45)
    }

    @Test(arguments: CBORCase.all)
    func decodesOrRejectsWithTheExpectedReason(_ item: CBORCase) {
        do {
            _ = try decoder.decode(item.bytes)
            #expect(item.expected == "ok", "\(item.id) decoded but should fail with \(item.expected)")
        } catch {
            #expect(error.reason.rawValue == item.expected, "\(item.id): \(error)")
        }
    }

    @Test func decodesEveryMajorType() throws {
        // {1: -2, "a": h'0102', "l": [true, null, 1.5], 24(0)}
        let bytes: [UInt8] = [
            0xA4, 0x01, 0x21, 0x61, 0x61, 0x42, 0x01, 0x02, 0x61, 0x6C, 0x83, 0xF5, 0xF6, 0xF9, 0x3E, 0x00,
            0x18, 0x18, 0xD8, 0x18, 0x00,
        ]
        let value = try decoder.decode(bytes)
        let map = try #require(value.map)
        #expect(map[int: 1]?.integer == -2)
        #expect(map[text: "a"]?.bytes.map(Array.init) == [0x01, 0x02])
        #expect(map[text: "l"] == .array([.bool(true), .null, .float(1.5)]))
        #expect(map[int: 24] == .tagged(24, .unsigned(0)))
    }

    @Test func byteStringsAreSlicesOfTheInput() throws {
        let input: [UInt8] = [0x82, 0x43, 0xAA, 0xBB, 0xCC, 0x41, 0xDD]
        let value = try decoder.decode(input)
        let first = try #require(value.array?[0].bytes)
        #expect(first.startIndex == 2 && first.endIndex == 5)
        #expect(Array(first) == [0xAA, 0xBB, 0xCC])
    }

    @Test func decodePrefixReportsWhereTheItemEnds() throws {
        let input: [UInt8] = [0xFF, 0xA1, 0x01, 0x02, 0x99, 0x98]
        let (value, end) = try decoder.decodePrefix(input[1...])
        #expect(value.map?[int: 1]?.integer == 2)
        #expect(end == 4)
    }

    @Test func errorsCarryTheOffsetOfTheFailingHeader() {
        // [1, 2, {1: 1, 1: 2}] — the duplicate key is in the map that starts at byte 3.
        let input: [UInt8] = [0x83, 0x01, 0x02, 0xA2, 0x01, 0x01, 0x01, 0x02]
        #expect(throws: CBORDecodingError(.duplicateMapKey, at: 3)) { try decoder.decode(input) }
        #expect(throws: CBORDecodingError(.trailingBytes, at: 1)) { try decoder.decode([0x00, 0x00]) }
        #expect(throws: CBORDecodingError(.lengthExceedsInput, at: 0)) { try decoder.decode([0x9A, 0x10, 0x00, 0x00, 0x00]) }
    }

    @Test func indefiniteLengthCanBeRefused() {
        let strict = CBORDecoder(limits: CBORLimits(maximumDepth: 16, maximumItems: 100, allowsIndefiniteLength: false))
        #expect(throws: CBORDecodingError(.indefiniteLengthNotAllowed, at: 0)) { try strict.decode([0x9F, 0x01, 0xFF]) }
        #expect((try? decoder.decode([0x9F, 0x01, 0xFF])) == .array([.unsigned(1)]))
    }

    @Test func indefiniteStringsAreJoined() throws {
        #expect(try decoder.decode([0x5F, 0x42, 0x01, 0x02, 0x41, 0x03, 0xFF]).bytes.map(Array.init) == [1, 2, 3])
        #expect(try decoder.decode([0x7F, 0x61, 0x61, 0x61, 0x62, 0xFF]).text == "ab")
    }

    @Test func limitsAreConfigurable() {
        let shallow = CBORDecoder(limits: CBORLimits(maximumDepth: 2, maximumItems: 3, allowsIndefiniteLength: true))
        #expect(throws: CBORDecodingError(.depthExceeded, at: 2)) { try shallow.decode([0x81, 0x81, 0x81, 0x00]) }
        #expect(throws: CBORDecodingError(.tooManyItems, at: 3)) { try shallow.decode([0x83, 0x01, 0x02, 0x03]) }
    }

    /// Random well-formed items (every major type, nested, of every size class) decode to
    /// exactly the value that was encoded.
    @Test func randomItemsRoundTrip() throws {
        var generator = SeededGenerator(seed: 0x4D49_4521)
        for round in 0..<3000 {
            let value = RandomCBOR.value(depth: 0, using: &generator)
            let bytes = RandomCBOR.encode(value)
            let decoded = try #require(try? decoder.decode(bytes), "round \(round): \(value) as \(bytes.prefix(40))")
            #expect(decoded == value, "round \(round): \(bytes.prefix(40))")
        }
    }

    /// Every prefix of a well-formed item, and the item with one byte changed, either decodes
    /// or is refused with an offset inside the input: no crash, no hang, no other error.
    @Test func truncatedAndMutatedItemsFailWithinTheInput() {
        var generator = SeededGenerator(seed: 0x7A6B)
        var refused = 0
        for _ in 0..<1500 {
            let bytes = RandomCBOR.encode(RandomCBOR.value(depth: 0, using: &generator))
            var candidates = (0..<bytes.count).map { Array(bytes.prefix($0)) }
            var mutated = bytes
            mutated[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
            candidates.append(mutated)
            for input in candidates {
                do {
                    _ = try decoder.decode(input)
                } catch {
                    refused += 1
                    #expect(error.offset >= 0 && error.offset <= input.count, "\(error) for \(input.count) bytes")
                }
            }
        }
        // Every strict prefix of an item is incomplete.
        #expect(refused >= 1500)
    }

    /// Random bytes: decoded, or refused with an offset inside the input.
    @Test func randomBytesFailWithinTheInput() {
        var generator = SeededGenerator(seed: 0x1234)
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...48, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            do {
                _ = try decoder.decode(bytes)
            } catch {
                #expect(error.offset >= 0 && error.offset <= bytes.count)
            }
        }
    }
}

/// A reproducible random source for the decoder tests (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random CBOR values and a definite-length encoder for them (RFC 8949 §3), independent of
/// the decoder under test.
enum RandomCBOR {
    static func value(depth: Int, using generator: inout SeededGenerator) -> CBORValue {
        let leaf = depth >= 3
        switch Int.random(in: 0..<(leaf ? 7 : 10), using: &generator) {
        case 0: return .unsigned(integer(using: &generator))
        case 1: return .negative(integer(using: &generator))
        case 2: return .bytes((0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }[...])
        case 3: return .text(String(repeating: ["a", "é", "😀", "z"][Int.random(in: 0..<4, using: &generator)], count: Int.random(in: 0...12, using: &generator)))
        case 4: return .bool(Bool.random(using: &generator))
        case 5: return [.null, .undefined][Int.random(in: 0..<2, using: &generator)]
        case 6: return .float([0.0, 1.5, -2.25, 1e300, .infinity][Int.random(in: 0..<5, using: &generator)])
        case 7: return .array((0..<Int.random(in: 0...4, using: &generator)).map { _ in value(depth: depth + 1, using: &generator) })
        case 8:
            var entries: [CBORMap.Entry] = []
            for index in 0..<Int.random(in: 0...4, using: &generator) {
                // Distinct keys: the decoder refuses duplicates.
                entries.append(CBORMap.Entry(key: .text("k\(index)"), value: value(depth: depth + 1, using: &generator)))
            }
            return .map(CBORMap(entries: entries))
        default: return .tagged(UInt64.random(in: 0...300, using: &generator), value(depth: depth + 1, using: &generator))
        }
    }

    static func integer(using generator: inout SeededGenerator) -> UInt64 {
        [0, 23, 24, 255, 256, 65_535, 65_536, UInt64(UInt32.max), UInt64(UInt32.max) + 1, UInt64.max][Int.random(in: 0..<10, using: &generator)]
    }

    static func head(_ major: UInt8, _ n: UInt64) -> [UInt8] {
        switch n {
        case 0..<24: [major << 5 | UInt8(n)]
        case 24..<0x100: [major << 5 | 24, UInt8(n)]
        case 0x100..<0x10000: [major << 5 | 25] + withUnsafeBytes(of: UInt16(n).bigEndian, Array.init)
        case 0x10000..<0x1_0000_0000: [major << 5 | 26] + withUnsafeBytes(of: UInt32(n).bigEndian, Array.init)
        default: [major << 5 | 27] + withUnsafeBytes(of: n.bigEndian, Array.init)
        }
    }

    static func encode(_ value: CBORValue) -> [UInt8] {
        switch value {
        case .unsigned(let n): head(0, n)
        case .negative(let n): head(1, n)
        case .bytes(let b): head(2, UInt64(b.count)) + b
        case .text(let t): head(3, UInt64(t.utf8.count)) + Array(t.utf8)
        case .array(let items): head(4, UInt64(items.count)) + items.flatMap(encode)
        case .map(let map): head(5, UInt64(map.count)) + map.entries.flatMap { encode($0.key) + encode($0.value) }
        case .tagged(let tag, let inner): head(6, tag) + encode(inner)
        case .bool(let b): [b ? 0xF5 : 0xF4]
        case .null: [0xF6]
        case .undefined: [0xF7]
        case .float(let d): [0xFB] + withUnsafeBytes(of: d.bitPattern.bigEndian, Array.init)
        }
    }
}
