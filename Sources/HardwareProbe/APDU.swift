/// An ISO 7816-4 command APDU. Short encoding when it fits, extended otherwise.
public struct CommandAPDU: Sendable, Equatable, CustomStringConvertible {
    public var cla: UInt8
    public var ins: UInt8
    public var p1: UInt8
    public var p2: UInt8
    public var data: [UInt8]
    /// Expected response length; nil for none, 0 for "as much as possible" (256 or 65536).
    public var le: Int?

    public init(cla: UInt8 = 0x00, ins: UInt8, p1: UInt8, p2: UInt8, data: [UInt8] = [], le: Int? = nil) {
        self.cla = cla
        self.ins = ins
        self.p1 = p1
        self.p2 = p2
        self.data = data
        self.le = le
    }

    /// Longest data field an extended APDU carries.
    public static let maximumDataLength = 65_535

    public var isExtended: Bool { data.count > 255 || (le ?? 0) > 256 }

    /// Whether the data and Le fit even an extended APDU.
    public func checkLengths() throws(CardError) {
        guard data.count <= Self.maximumDataLength, (0...65_536).contains(le ?? 0) else {
            throw CardError.malformed("a command of \(data.count) bytes (Le \(le ?? 0)) does not fit an APDU")
        }
    }

    public var bytes: [UInt8] {
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

    public var description: String {
        let head = [cla, ins, p1, p2].map { hex($0) }.joined(separator: " ")
        return data.isEmpty ? head : "\(head) [\(data.count) bytes]"
    }

    // MARK: ISO 7816-4 commands

    public static func select(fileID: [UInt8]) -> CommandAPDU {
        CommandAPDU(ins: 0xA4, p1: 0x00, p2: 0x0C, data: fileID)
    }

    public static func selectPath(_ path: [UInt8]) -> CommandAPDU {
        CommandAPDU(ins: 0xA4, p1: 0x08, p2: 0x0C, data: path)
    }

    public static func select(aid: [UInt8], returnFCI: Bool = false) -> CommandAPDU {
        CommandAPDU(ins: 0xA4, p1: 0x04, p2: returnFCI ? 0x00 : 0x0C, data: aid, le: returnFCI ? 0 : nil)
    }

    public static func readBinary(offset: Int, length: Int) -> CommandAPDU {
        CommandAPDU(ins: 0xB0, p1: UInt8(truncatingIfNeeded: offset >> 8) & 0x7F, p2: UInt8(truncatingIfNeeded: offset), le: length)
    }

    public static func getResponse(_ length: UInt8) -> CommandAPDU {
        CommandAPDU(ins: 0xC0, p1: 0x00, p2: 0x00, le: Int(length))
    }

    /// VERIFY; without data it asks for the tries counter.
    public static func verify(reference: UInt8, pin: [UInt8]? = nil) -> CommandAPDU {
        CommandAPDU(ins: 0x20, p1: 0x00, p2: reference, data: pin ?? [])
    }
}

/// An ISO 7816-4 response: data and status word.
public struct ResponseAPDU: Sendable, Equatable {
    public let data: [UInt8]
    public let sw1: UInt8
    public let sw2: UInt8

    public init(data: [UInt8], sw1: UInt8, sw2: UInt8) {
        self.data = data
        self.sw1 = sw1
        self.sw2 = sw2
    }

    /// Splits raw response bytes; fewer than two bytes is a transport fault.
    public init(_ bytes: [UInt8]) throws(CardError) {
        guard bytes.count >= 2 else { throw CardError.truncatedResponse(bytes.count) }
        data = Array(bytes.dropLast(2))
        sw1 = bytes[bytes.count - 2]
        sw2 = bytes[bytes.count - 1]
    }

    public var statusWord: UInt16 { UInt16(sw1) << 8 | UInt16(sw2) }
    public var isSuccess: Bool { statusWord == 0x9000 }
}

func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
}

/// Uppercase hex of `bytes`, as card tools print APDUs and ATRs.
public func hex(_ bytes: some Sequence<UInt8>, separator: String = "") -> String {
    bytes.map { hex($0) }.joined(separator: separator)
}
