import CBORDecoding
import Foundation
import Testing

struct CBORCase: Sendable, CustomTestStringConvertible {
    let id: String
    let bytes: [UInt8]
    let expected: String
    var testDescription: String { id }

    static let all: [CBORCase] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TestVectors/generated/cbor.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                let id = object["id"], let hex = object["hex"], let expected = object["expected"]
            else { return nil }
            var bytes: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                bytes.append(UInt8(hex[index..<next], radix: 16)!)
                index = next
            }
            return CBORCase(id: id, bytes: bytes, expected: expected)
        }
    }()
}

@Suite struct CBORDecoderTests {
    let decoder = CBORDecoder()

    @Test func casesArePresent() {
        #expect(CBORCase.all.count >= 40)
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

    /// Random bytes never crash, hang or escape as anything but CBORDecodingError.
    @Test func randomInputIsRejectedCleanly() {
        var generator = SystemRandomNumberGenerator()
        var accepted = 0
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...48, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if (try? decoder.decode(bytes)) != nil { accepted += 1 }
        }
        #expect(accepted < 20_000)
    }
}
