import Foundation
import Testing

@testable import HardwareProbe

/// A card that answers from a transcript. Every step names the command it expects, exactly
/// (hex, spaces ignored) or by a stated prefix when the rest is random (a fresh challenge):
/// a command that differs, or one past the end of the script, fails the test where it is sent.
final class ScriptedTransport: CardTransport {
    enum Expected {
        case exactly([UInt8])
        case prefix([UInt8])

        func matches(_ command: [UInt8]) -> Bool {
            switch self {
            case .exactly(let bytes): bytes == command
            case .prefix(let bytes): command.starts(with: bytes)
            }
        }
    }

    private var script: [(command: Expected, response: [UInt8])]
    private(set) var sent: [[UInt8]] = []

    /// Steps of (exact command, response).
    convenience init(_ script: [(String, String)]) {
        self.init(steps: script.map { (.exactly(Self.bytes($0.0)), Self.bytes($0.1)) })
    }

    init(steps: [(Expected, [UInt8])]) {
        self.script = steps.map { (command: $0.0, response: $0.1) }
    }

    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.filter { !$0.isWhitespace })
        return stride(from: 0, to: digits.count - 1, by: 2).compactMap { UInt8(String(digits[$0...$0 + 1]), radix: 16) }
    }

    func transmit(_ command: [UInt8]) throws -> [UInt8] {
        sent.append(command)
        guard !script.isEmpty else {
            Issue.record("command sent past the end of the script: \(hex(command, separator: " "))")
            return [0x6D, 0x00]
        }
        let next = script.removeFirst()
        guard next.command.matches(command) else {
            Issue.record("unexpected command \(hex(command, separator: " ")), the script expected \(next.command)")
            return [0x6D, 0x00]
        }
        return next.response
    }

    var exhausted: Bool { script.isEmpty }
}
