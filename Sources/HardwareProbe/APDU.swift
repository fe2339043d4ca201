/// An ISO 7816-4 command APDU. Short encoding when it fits, extended otherwise.
package struct CommandAPDU: Sendable, Equatable, CustomStringConvertible {
    package var cla: UInt8
    package var ins: UInt8
    package var p1: UInt8
    package var p2: UInt8
    package var data: [UInt8]
    /// Expected response length; nil for none, 0 for "as much as possible" (256 or 65536).
    package var le: Int?

    package init(cla: UInt8 = 0x00, ins: UInt8, p1: UInt8, p2: UInt8, data: [UInt8] = [], le: Int? = nil) {
        self.cla = cla
        self.ins = ins
        self.p1 = p1
        self.p2 = p2
        self.data = data
        self.le = le
    }

    /// Longest data field an extended APDU carries.
    package static let maximumDataLength = 65_535

    package var isExtended: Bool { data.count > 255 || (le ?? 0) > 256 }

    /// Whether the data and Le fit even an extended APDU.
    package func checkLengths() throws(CardError) {
        guard data.count <= Self.maximumDataLength, (0...65_536).contains(le ?? 0) else {
            throw CardError.malformed("a command of \(data.count) bytes (Le \(le ?? 0)) does not fit an APDU")
        }
    }

    package var bytes: [UInt8] {
        var out: [UInt8] = [cla, ins, p1, p2]
        if isExtended {
            // Lengths above 65 535 cannot be written; `checkLengths()` refuses them first.
            if !data.isEmpty {
                out += [0x00, UInt8(truncatingIfNeeded: data.count >> 8), UInt8(truncatingIfNeeded: data.count)] + data
            }
            if let le {
                let value = le == 65_536 ? 0 : le
                out +=
                    data.isEmpty
                    ? [0x00, UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
                    : [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
            }
        } else {
            if !data.isEmpty { out += [UInt8(truncatingIfNeeded: data.count)] + data }
            if let le { out.append(UInt8(truncatingIfNeeded: le)) }
        }
        return out
    }

    package var description: String {
        let head = [cla, ins, p1, p2].map { hex($0) }.joined(separator: " ")
        return data.isEmpty ? head : "\(head) [\(data.count) bytes]"
    }

    // MARK: ISO 7816-4 commands

    package static func select(fileID: [UInt8]) -> CommandAPDU {
        CommandAPDU(ins: 0xA4, p1: 0x00, p2: 0x0C, data: fileID)
    }

    package static func selectPath(_ path: [UInt8]) -> CommandAPDU {
        CommandAPDU(ins: 0xA4, p1: 0x08, p2: 0x0C, data: path)
    }

    package static func select(aid: [UInt8], returnFCI: Bool = false) -> CommandAPDU {
        CommandAPDU(ins: 0xA4, p1: 0x04, p2: returnFCI ? 0x00 : 0x0C, data: aid, le: returnFCI ? 0 : nil)
    }

    package static func readBinary(offset: Int, length: Int) -> CommandAPDU {
        CommandAPDU(ins: 0xB0, p1: UInt8(truncatingIfNeeded: offset >> 8) & 0x7F, p2: UInt8(truncatingIfNeeded: offset), le: length)
    }

    package static func getResponse(_ length: UInt8) -> CommandAPDU {
        CommandAPDU(ins: 0xC0, p1: 0x00, p2: 0x00, le: Int(length))
    }

    /// VERIFY; without data it asks for the tries counter.
    package static func verify(reference: UInt8, pin: [UInt8]? = nil) -> CommandAPDU {
        CommandAPDU(ins: 0x20, p1: 0x00, p2: reference, data: pin ?? [])
    }
}

/// An ISO 7816-4 response: data and status word.
package struct ResponseAPDU: Sendable, Equatable {
    package let data: [UInt8]
    package let sw1: UInt8
    package let sw2: UInt8

    package init(data: [UInt8], sw1: UInt8, sw2: UInt8) {
        self.data = data
        self.sw1 = sw1
        self.sw2 = sw2
    }

    /// Splits raw response bytes; fewer than two bytes is a transport fault.
    package init(_ bytes: [UInt8]) throws(CardError) {
        guard bytes.count >= 2 else { throw CardError.truncatedResponse(bytes.count) }
        data = Array(bytes.dropLast(2))
        sw1 = bytes[bytes.count - 2]
        sw2 = bytes[bytes.count - 1]
    }

    package var statusWord: UInt16 { UInt16(sw1) << 8 | UInt16(sw2) }
    package var isSuccess: Bool { statusWord == 0x9000 }
}

func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}

/// Uppercase hex of `bytes`, as card tools print APDUs and ATRs.
package func hex(_ bytes: some Sequence<UInt8>, separator: String = "") -> String {
    bytes.map { hex($0) }.joined(separator: separator)
}
