import Foundation
import Testing

@testable import HardwareProbe

@Suite struct CardChannelTests {
    @Test func commandEncodings() {
        #expect(CommandAPDU.select(aid: [0xA0, 0x00]).bytes == [0x00, 0xA4, 0x04, 0x0C, 0x02, 0xA0, 0x00])
        #expect(CommandAPDU.readBinary(offset: 0x123, length: 0xE7).bytes == [0x00, 0xB0, 0x01, 0x23, 0xE7])
        let extended = CommandAPDU(cla: 0x80, ins: 0x10, p1: 0, p2: 0, data: [UInt8](repeating: 1, count: 300), le: 0)
        #expect(extended.bytes.prefix(7) == [0x80, 0x10, 0x00, 0x00, 0x00, 0x01, 0x2C])
        #expect(extended.bytes.count == 4 + 3 + 300 + 2)
        #expect(CommandAPDU(ins: 0xCA, p1: 0, p2: 0, le: 65_536).bytes == [0x00, 0xCA, 0x00, 0x00, 0x00, 0x00, 0x00])
    }

    @Test func getResponseChainingGathersEveryPart() throws {
        let transport = ScriptedTransport([
            ("00 88 00 00 02 AA BB 00", "61 04"),
            ("00 C0 00 00 04", "01 02 03 04 61 02"),
            ("00 C0 00 00 02", "05 06 90 00"),
        ])
        let response = try CardChannel(transport).send(CommandAPDU(ins: 0x88, p1: 0, p2: 0, data: [0xAA, 0xBB], le: 0))
        #expect(response.isSuccess)
        #expect(response.data == [1, 2, 3, 4, 5, 6])
        #expect(transport.exhausted)
    }

    @Test func wrongLengthIsResentWithTheCardsLe() throws {
        let transport = ScriptedTransport([("00 B0 00 00 10", "6C 05"), ("00 B0 00 00 05", "0A 0B 0C 0D 0E 90 00")])
        let response = try CardChannel(transport).send(.readBinary(offset: 0, length: 0x10))
        #expect(response.data == [0x0A, 0x0B, 0x0C, 0x0D, 0x0E])
    }

    @Test func endlessChainingIsCut() {
        let transport = ScriptedTransport(
            [("00 B0 00 00 00", "61 FF")] + Array(repeating: ("00 C0 00 00 FF", String(repeating: "00 ", count: 255) + "61 FF"), count: 400))
        #expect(throws: CardError.responseTooLong) { try CardChannel(transport).send(CommandAPDU(ins: 0xB0, p1: 0, p2: 0, le: 0)) }
    }

    @Test func truncatedResponsesAreErrors() {
        #expect(throws: CardError.truncatedResponse(1)) { try CardChannel(ScriptedTransport([("00 C0 00 00 00", "90")])).send(.getResponse(0)) }
        #expect(throws: CardError.truncatedResponse(0)) { try CardChannel(ScriptedTransport([("00 C0 00 00 00", "")])).send(.getResponse(0)) }
    }

    @Test func readingAFileStopsAtItsEnd() throws {
        let chunk = String(repeating: "11 ", count: 0xE7)
        let transport = ScriptedTransport([
            ("00 B0 00 00 E7", chunk + "90 00"),
            ("00 B0 00 E7 E7", "22 33 62 82"),
        ])
        let content = try CardChannel(transport).readSelectedFile()
        #expect(content.count == 0xE7 + 2)
        #expect(content.suffix(2) == [0x22, 0x33])
    }

    @Test func statusWordsAreExplained() {
        #expect(CardError.status(command: "SELECT", statusWord: 0x6A82).description.contains("not found"))
        #expect(CardError.meaning(0x63C2).contains("2 tries left"))
    }
}

@Suite struct PINTests {
    @Test func lastTryIsNotSpentWithoutForce() {
        let transport = ScriptedTransport([("00 20 00 81", "63 C1")])
        #expect(throws: CardError.lastPINTry) { try CPSCardReader(transport).verifyPIN("1234") }
        #expect(transport.sent.count == 1)
    }

    @Test func forceSpendsTheLastTry() throws {
        let transport = ScriptedTransport([("00 20 00 81", "63 C1"), ("00 20 00 81 08 31 32 33 34 00 00 00 00", "90 00")])
        try CPSCardReader(transport).verifyPIN("1234", force: true)
        #expect(transport.exhausted)
    }

    @Test func blockedAndWrongPINs() {
        let blocked = ScriptedTransport([("00 20 00 81", "69 83")])
        #expect(throws: CardError.pinBlocked) { try CPSCardReader(blocked).verifyPIN("1234") }
        #expect(blocked.exhausted)
        let wrong = ScriptedTransport([("00 20 00 81", "63 C3"), ("00 20 00 81 08 39 39 39 39 00 00 00 00", "63 C2")])
        #expect(throws: CardError.wrongPIN(triesLeft: 2)) { try CPSCardReader(wrong).verifyPIN("9999") }
        #expect(wrong.exhausted)
        // A PIN of the wrong length is refused before it is sent: no try is spent on it.
        let short = ScriptedTransport([("00 20 00 81", "63 C3")])
        #expect(throws: CardError.malformed("a CPS PIN has 4 to 8 digits")) { try CPSCardReader(short).verifyPIN("12") }
        #expect(short.sent.count == 1)
    }

    @Test func counterIsReadWithAnEmptyVerify() throws {
        #expect(try CPSCardReader(ScriptedTransport([("00 20 00 81", "63 C3")])).pinTriesLeft() == 3)
        #expect(try CPSCardReader(ScriptedTransport([("00 20 00 81", "69 83")])).pinTriesLeft() == 0)
    }
}

@Suite struct PKCS15Tests {
    @Test func parsesODFAndCDFWithPadding() throws {
        let odf = ScriptedTransport.bytes("A4 06 30 04 04 02 C0 00 00 00 00 FF")
        #expect(try PKCS15.certificateDirectoryPaths(odf) == [[0xC0, 0x00]])
        // 30 { 30 { 0C "auth" } 30 { 04 01 } A1 { 30 { 30 { 04 02 C0 01 } } } }
        let cdf = ScriptedTransport.bytes("30 17 30 06 0C 04 61 75 74 68 30 03 04 01 01 A1 08 30 06 30 04 04 02 C0 01 00 00")
        let entries = try PKCS15.certificateEntries(cdf)
        #expect(entries.count == 1)
        #expect(entries.first?.label == "auth")
        #expect(entries.first?.path == [0xC0, 0x01])
    }

    @Test func publicAndPrivateDataObjects() throws {
        // opaqueDO { { 0C "ID" 03 02 07 00 } { 0C "CPS" } A1 { 30 { 04 02 D0 01 } } }, then a private
        // one (flags bit 0 and an authId).
        let dodf = ScriptedTransport.bytes(
            "30 19 30 08 0C 02 49 44 03 02 07 00 30 05 0C 03 43 50 53 A1 06 30 04 04 02 D0 01"
                + "30 1D 30 0C 0C 03 50 52 56 03 02 07 80 04 01 01 30 05 0C 03 43 50 53 A1 06 30 04 04 02 D0 03")
        let entries = try PKCS15.dataObjectEntries(dodf)
        #expect(entries.map(\.label) == ["ID", "PRV"])
        #expect(entries.map(\.isPrivate) == [false, true])
        #expect(entries.first?.application == "CPS")
        #expect(try PKCS15.dataObjectDirectoryPaths(ScriptedTransport.bytes("A7 06 30 04 04 02 D0 00")) == [[0xD0, 0x00]])
    }

    @Test func hostileLengthsAreRefusedOrIgnored() {
        // A SEQUENCE claiming 0x7FFF bytes in a 6-byte file.
        #expect(throws: CardError.self) { try PKCS15.certificateEntries(ScriptedTransport.bytes("30 82 7F FF 30 00")) }
        #expect(throws: CardError.self) { try PKCS15.certificateDirectoryPaths([0xA4]) }
        #expect(PKCS15.applicationIdentifiers(ScriptedTransport.bytes("61 FF 4F 02 01")).isEmpty)
        #expect(PKCS15.applicationIdentifiers(ScriptedTransport.bytes("61 06 4F 04 E8 28 BD 08")) == [[0xE8, 0x28, 0xBD, 0x08]])
    }
}

@Suite struct IdentificationTests {
    @Test func atrPatterns() {
        let cps3 = CardIdentification.bytes("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00")
        #expect(CardIdentification.generation(of: cps3) == .cps3Contact)
        var masked = cps3
        masked[1] = 0x00  // masked byte
        #expect(CardIdentification.generation(of: masked) == .cps3Contact)
        var other = cps3
        other[6] = 0x13
        #expect(CardIdentification.generation(of: other) == .unknown)
        #expect(CardIdentification.generation(of: CardIdentification.bytes("3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44")) == .cps4)
    }

    @Test func serialNumberCarriesTheANSIssuer() throws {
        let atr = CardIdentification.bytes("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00")
        let ans = ScriptedTransport([("00 A4 08 0C 02 D0 03", "90 00"), ("00 B0 00 00 40", "00 80 25 00 00 01 12 34 56 62 82")])
        #expect(try CPSCardReader(ans).identify(atr: atr).issuedByANS)
        let other = ScriptedTransport([("00 A4 08 0C 02 D0 03", "90 00"), ("00 B0 00 00 40", "00 80 25 00 00 02 12 34 56 62 82")])
        #expect(!(try CPSCardReader(other).identify(atr: atr).issuedByANS))
        let none = ScriptedTransport([("00 A4 08 0C 02 D0 03", "6A 82")])
        #expect(!(try CPSCardReader(none).identify(atr: atr).issuedByANS))
    }

    @Test func luhn() {
        #expect(CPSIdentity.luhn("10003456786"))
        #expect(!CPSIdentity.luhn("10003456787"))
        #expect(!CPSIdentity.luhn("1000345678x"))
    }
}
