/// Failures talking to a card, above the PC/SC layer.
package enum CardError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A response with fewer than the two status bytes.
    case truncatedResponse(Int)
    /// The card answered a command with an error status word.
    case status(command: String, statusWord: UInt16)
    /// More GET RESPONSE rounds or bytes than any real card needs.
    case responseTooLong
    /// A file or structure on the card is not what ISO 7816 / PKCS#15 says.
    case malformed(String)
    /// The PIN is blocked (69 83) or has no tries left.
    case pinBlocked
    /// Presenting the PIN now would spend the last try; `--force` allows it.
    case lastPINTry
    /// The card rejected the PIN; `triesLeft` remain.
    case wrongPIN(triesLeft: Int)

    package var description: String {
        switch self {
        case .truncatedResponse(let count): "the card answered \(count) byte(s), fewer than a status word"
        case .status(let command, let sw): "the card answered \(String(sw, radix: 16, uppercase: true)) to \(command) (\(Self.meaning(sw)))"
        case .responseTooLong: "the card's response is longer than 64 KiB"
        case .malformed(let what): "malformed card data: \(what)"
        case .pinBlocked: "the PIN is blocked"
        case .lastPINTry: "one PIN try is left: refusing to spend it without --force"
        case .wrongPIN(let tries): "wrong PIN, \(tries) tries left"
        }
    }

    /// The ISO 7816-4 meaning of common status words.
    package static func meaning(_ sw: UInt16) -> String {
        switch sw {
        case 0x6282: "end of file reached before Le bytes"
        case 0x6700: "wrong length"
        case 0x6982: "security status not satisfied"
        case 0x6983: "authentication method blocked"
        case 0x6985: "conditions of use not satisfied"
        case 0x6A82: "file or application not found"
        case 0x6A86: "incorrect P1-P2"
        case 0x6B00: "wrong parameters (offset outside the file)"
        case 0x6D00: "instruction not supported"
        case 0x6E00: "class not supported"
        default: (0x63C0...0x63CF).contains(sw) ? "verification failed, \(sw & 0x0F) tries left" : "see ISO 7816-4"
        }
    }
}
