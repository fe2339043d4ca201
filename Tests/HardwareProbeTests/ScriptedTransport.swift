import Foundation

@testable import HardwareProbe

/// A card that answers from a transcript: each expected command (hex, spaces ignored) with
/// its response. Records what was sent; an unexpected command answers 6D 00.
final class ScriptedTransport: CardTransport {
    private var script: [(command: [UInt8]?, response: [UInt8])]
    private(set) var sent: [[UInt8]] = []

    init(_ script: [(String?, String)]) {
        self.script = script.map { ($0.0.map(Self.bytes), Self.bytes($0.1)) }
    }

    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.filter { !$0.isWhitespace })
        return stride(from: 0, to: digits.count - 1, by: 2).compactMap { UInt8(String(digits[$0...$0 + 1]), radix: 16) }
    }

    func transmit(_ command: [UInt8]) throws -> [UInt8] {
        sent.append(command)
        guard !script.isEmpty else { return [0x6D, 0x00] }
        let next = script.removeFirst()
        if let expected = next.command, expected != command { return [0x6D, 0x00] }
        return next.response
    }

    var exhausted: Bool { script.isEmpty }
}
