internal import CPCSCLite
import Foundation

/// A PC/SC failure with the daemon's code and a sentence a support person can act on.
package struct PCSCError: Error, Sendable, Equatable, CustomStringConvertible {
    package let code: UInt32
    package let operation: String

    init(_ status: LONG, _ operation: String) {
        self.code = UInt32(truncatingIfNeeded: status)
        self.operation = operation
    }

    package static let noService: UInt32 = 0x8010_001D
    package static let noReaders: UInt32 = 0x8010_002E
    package static let timeout: UInt32 = 0x8010_000A
    package static let removedCard: UInt32 = 0x8010_0069
    package static let noSmartcard: UInt32 = 0x8010_000C
    package static let sharingViolation: UInt32 = 0x8010_000B
    package static let protocolMismatch: UInt32 = 0x8010_000F
    package static let unpoweredCard: UInt32 = 0x8010_0067
    package static let resetCard: UInt32 = 0x8010_0068

    package var message: String { PCSCErrorMessages.message(code) }

    /// The daemon powered the card down or reset it during our session (SCARD_E_PROTO_MISMATCH,
    /// SCARD_W_UNPOWERED_CARD, SCARD_W_RESET_CARD): what was selected or verified is gone.
    package var endsTheSession: Bool { [Self.protocolMismatch, Self.unpoweredCard, Self.resetCard].contains(code) }

    package var description: String { "\(operation): \(message)" }
}

/// One sentence per PC/SC error code, for support staff.
package enum PCSCErrorMessages {
    package static func message(_ code: UInt32) -> String {
        switch code {
        case PCSCError.noService: "the PC/SC daemon (pcscd) is not running"
        case PCSCError.noReaders: "no smart card reader is connected"
        case PCSCError.timeout: "timed out waiting for the reader"
        case PCSCError.removedCard: "the card was removed"
        case PCSCError.noSmartcard: "there is no card in the reader"
        case PCSCError.sharingViolation: "another program is using the card exclusively"
        case 0x8010_0009: "unknown reader"
        case 0x8010_0017: "the reader is unavailable"
        case 0x8010_0066: "the card does not answer (unresponsive)"
        case PCSCError.resetCard: "the card was reset by another program"
        case PCSCError.unpoweredCard: "the card is not powered"
        case 0x8010_0002: "the operation was cancelled"
        case PCSCError.protocolMismatch: "the card does not support the requested protocol"
        default: "PC/SC error 0x\(String(code, radix: 16, uppercase: true))"
        }
    }
}

/// A PC/SC context: the connection to pcscd. Released when the value goes away.
package final class PCSCContext {
    let handle: SCARDCONTEXT

    package init() throws {
        var context: SCARDCONTEXT = 0
        let status = SCardEstablishContext(DWORD(SCARD_SCOPE_SYSTEM), nil, nil, &context)
        guard status == SCARD_S_SUCCESS else { throw PCSCError(status, "connecting to pcscd") }
        handle = context
    }

    deinit {
        SCardReleaseContext(handle)
    }

    /// Names of the readers pcscd knows; empty when there are none.
    package func readers() throws -> [String] {
        var length: DWORD = 0
        var status = SCardListReaders(handle, nil, nil, &length)
        if UInt32(truncatingIfNeeded: status) == PCSCError.noReaders { return [] }
        guard status == SCARD_S_SUCCESS else { throw PCSCError(status, "listing readers") }
        var buffer = [CChar](repeating: 0, count: Int(length))
        status = SCardListReaders(handle, nil, &buffer, &length)
        if UInt32(truncatingIfNeeded: status) == PCSCError.noReaders { return [] }
        guard status == SCARD_S_SUCCESS else { throw PCSCError(status, "listing readers") }
        // A multi-string: names separated by NUL, ended by an empty one.
        return buffer.split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    }

    package struct ReaderState: Sendable, Equatable {
        package let reader: String
        package let cardPresent: Bool
        package let atr: [UInt8]
    }

    /// The state of each reader now, or after it changes (waiting up to `timeout` seconds).
    package func states(of readers: [String], waitingForChangeFrom previous: [ReaderState]? = nil, timeout: Double = 0)
        throws -> [ReaderState]
    {
        var names = readers.map { strdup($0) }
        defer { names.forEach { free($0) } }
        var states = names.enumerated().map { index, name in
            var state = SCARD_READERSTATE()
            state.szReader = UnsafePointer(name)
            if let previous, index < previous.count {
                state.dwCurrentState = DWORD(previous[index].cardPresent ? SCARD_STATE_PRESENT : SCARD_STATE_EMPTY)
            } else {
                state.dwCurrentState = DWORD(SCARD_STATE_UNAWARE)
            }
            return state
        }
        let milliseconds = DWORD(Milliseconds.int32(timeout))
        let status = SCardGetStatusChange(handle, milliseconds, &states, DWORD(states.count))
        guard status == SCARD_S_SUCCESS else { throw PCSCError(status, "watching readers") }
        return zip(readers, states).map { name, state in
            let atr = withUnsafeBytes(of: state.rgbAtr) { Array($0.prefix(Int(state.cbAtr))) }
            return ReaderState(reader: name, cardPresent: state.dwEventState & DWORD(SCARD_STATE_PRESENT) != 0, atr: atr)
        }
    }

    package enum ShareMode: Sendable {
        case shared, exclusive
    }

    package func connect(_ reader: String, mode: ShareMode = .shared) throws -> PCSCCard {
        var card: SCARDHANDLE = 0
        var activeProtocol: DWORD = 0
        let share = DWORD(mode == .shared ? SCARD_SHARE_SHARED : SCARD_SHARE_EXCLUSIVE)
        let status = SCardConnect(handle, reader, share, DWORD(SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1), &card, &activeProtocol)
        guard status == SCARD_S_SUCCESS else { throw PCSCError(status, "connecting to the card in \(reader)") }
        return PCSCCard(handle: card, protocolT1: activeProtocol == DWORD(SCARD_PROTOCOL_T1), context: self)
    }

    /// Runs `body` on the card in `reader` inside one transaction, from a fresh connection,
    /// again (at most `retries` times) when pcscd ends the session under it. With
    /// `resetOnClose` the transaction ends by resetting the card, so that no other program
    /// finds a verified PIN between our last APDU and our disconnection.
    ///
    /// pcscd (1.9.9, and upstream still) marks a card in use in SCardConnect before it counts
    /// the new connection: another program disconnecting in between starts the power-off grace
    /// period of a card that is ours, and the daemon powers it down mid-transaction. Nothing
    /// the card said is lost (each APDU after that fails with SCARD_E_PROTO_MISMATCH), so the
    /// session starts over; a PIN is re-presented only if the card accepted it (a VERIFY the
    /// daemon refused never reached the card; a wrong PIN is the card's answer, never retried).
    /// Shared, not exclusive: beside a program that connects every few milliseconds, an
    /// exclusive connection lost one session in two (its connection always follows the other's
    /// disconnection), a shared one about one in thirteen.
    package func withCardSession<T>(
        _ reader: String, resetOnClose: Bool, retries: Int = 2, _ body: (PCSCCard) throws -> T
    ) throws -> T {
        var attempt = 0
        while true {
            let card = try connect(reader)
            card.resetOnClose = resetOnClose
            let outcome = Result { try card.transaction { try body(card) } }
            // Also when `body` read an optional file with `try?`: a lost session is never
            // mistaken for a file the card does not have.
            if let lost = card.sessionLost {
                guard attempt < retries else { throw lost }
                attempt += 1
                continue
            }
            return try outcome.get()
        }
    }
}

/// A connected card. Disconnects (leaving the card powered) when it goes away.
package final class PCSCCard: CardTransport {
    let handle: SCARDHANDLE
    package let usesT1: Bool
    // Keeps the context alive while the card is in use.
    private let context: PCSCContext
    /// Reset the card when closing, so a PIN verified here does not stay open for the next
    /// program that talks to the card.
    package var resetOnClose = false
    /// The first failure by which pcscd ended the session (see `PCSCError.endsTheSession`).
    package private(set) var sessionLost: PCSCError?

    init(handle: SCARDHANDLE, protocolT1: Bool, context: PCSCContext) {
        self.handle = handle
        self.usesT1 = protocolT1
        self.context = context
    }

    deinit {
        SCardDisconnect(handle, DWORD(resetOnClose ? SCARD_RESET_CARD : SCARD_LEAVE_CARD))
    }

    /// The card's answer to reset.
    package func atr() throws -> [UInt8] {
        var readerLength: DWORD = 0
        var state: DWORD = 0
        var cardProtocol: DWORD = 0
        var atr = [UInt8](repeating: 0, count: Int(MAX_ATR_SIZE))
        var atrLength = DWORD(atr.count)
        let status = SCardStatus(handle, nil, &readerLength, &state, &cardProtocol, &atr, &atrLength)
        guard status == SCARD_S_SUCCESS else { throw PCSCError(status, "reading the ATR") }
        return Array(atr.prefix(Int(atrLength)))
    }

    package func transmit(_ command: [UInt8]) throws -> [UInt8] {
        var request = usesT1 ? mie_scard_pci_t1().pointee : mie_scard_pci_t0().pointee
        var response = [UInt8](repeating: 0, count: 65_538)
        var length = DWORD(response.count)
        let status = command.withUnsafeBufferPointer { bytes in
            SCardTransmit(handle, &request, bytes.baseAddress, DWORD(bytes.count), nil, &response, &length)
        }
        guard status == SCARD_S_SUCCESS else {
            let error = PCSCError(status, "sending an APDU")
            if error.endsTheSession, sessionLost == nil { sessionLost = error }
            throw error
        }
        return Array(response.prefix(Int(length)))
    }

    /// Runs `body` inside a PC/SC transaction, so no other program interleaves APDUs.
    /// With `resetOnClose`, the transaction ends by resetting the card.
    package func transaction<T>(_ body: () throws -> T) throws -> T {
        let status = SCardBeginTransaction(handle)
        guard status == SCARD_S_SUCCESS else { throw PCSCError(status, "starting a transaction") }
        defer { SCardEndTransaction(handle, DWORD(resetOnClose ? SCARD_RESET_CARD : SCARD_LEAVE_CARD)) }
        return try body()
    }
}

/// Seconds given on the command line as milliseconds for poll(2) and PC/SC: clamped to
/// 0...Int32.max (about 24 days), never a trap for a huge, negative or NaN value.
enum Milliseconds {
    static func int32(_ seconds: Double) -> Int32 {
        let milliseconds = (seconds * 1000).rounded(.down)
        guard milliseconds.isFinite, milliseconds > 0 else { return 0 }
        return milliseconds >= Double(Int32.max) ? Int32.max : Int32(milliseconds)
    }
}
