/// Something that carries raw APDUs to a card and back: a PC/SC card handle, a scripted
/// transcript in tests, a socket to a virtual card.
package protocol CardTransport: AnyObject {
    func transmit(_ command: [UInt8]) throws -> [UInt8]
}

/// ISO 7816-4 exchanges over a transport: `61 xx` answered with GET RESPONSE, `6C xx` with the
/// command again carrying the right Le, bounded so a hostile card cannot loop us.
package final class CardChannel {
    package let transport: any CardTransport
    /// Upper bound on the data one logical response may gather.
    package static let maximumResponseSize = 65_536
    static let maximumRounds = 300

    package init(_ transport: any CardTransport) {
        self.transport = transport
    }

    /// Sends `command` and returns the whole response, status word included.
    package func send(_ command: CommandAPDU) throws -> ResponseAPDU {
        try command.checkLengths()
        var response = try ResponseAPDU(transport.transmit(command.bytes))
        if response.sw1 == 0x6C {
            var again = command
            again.le = response.sw2 == 0 ? 256 : Int(response.sw2)
            response = try ResponseAPDU(transport.transmit(again.bytes))
        }
        var data = response.data
        var rounds = 0
        while response.sw1 == 0x61 {
            rounds += 1
            guard rounds <= Self.maximumRounds else { throw CardError.responseTooLong }
            response = try ResponseAPDU(transport.transmit(CommandAPDU.getResponse(response.sw2).bytes))
            data += response.data
            guard data.count <= Self.maximumResponseSize else { throw CardError.responseTooLong }
        }
        return ResponseAPDU(data: data, sw1: response.sw1, sw2: response.sw2)
    }

    /// Sends `command` and returns its data, throwing on any status but 90 00.
    package func expectSuccess(_ command: CommandAPDU, _ name: String) throws -> [UInt8] {
        let response = try send(command)
        guard response.isSuccess else { throw CardError.status(command: name, statusWord: response.statusWord) }
        return response.data
    }

    /// The whole of the currently selected transparent file, read in chunks.
    package func readSelectedFile(maximumSize: Int = 16 * 1024) throws -> [UInt8] {
        var content: [UInt8] = []
        while content.count < maximumSize {
            let response = try send(.readBinary(offset: content.count, length: min(0xE7, maximumSize - content.count)))
            if response.statusWord == 0x6B00 || (response.statusWord == 0x6282 && response.data.isEmpty) { break }
            guard response.isSuccess || response.statusWord == 0x6282 else {
                if !content.isEmpty, response.statusWord == 0x6A86 { break }
                throw CardError.status(command: "READ BINARY", statusWord: response.statusWord)
            }
            content += response.data
            if response.data.count < 0xE7 || response.statusWord == 0x6282 { break }
            guard content.count <= 0x7FFF else { break }
        }
        return content
    }
}
