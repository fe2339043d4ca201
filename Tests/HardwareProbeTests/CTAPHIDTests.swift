import Foundation
import Testing

@testable import HardwareProbe

/// A CTAP2 authenticator behind CTAPHID framing, in process: answers INIT and CBOR commands,
/// optionally with KEEPALIVE packets first, and records what it received.
final class SoftwareHIDAuthenticator: HIDReportDevice {
    var outbox: [[UInt8]] = []
    var keepalives = 0
    var corruptSequence = false
    /// CBOR commands other than getInfo: (command, parameters) → status ‖ answer.
    var engine: ((UInt8, [UInt8]) -> [UInt8])?
    let channel: [UInt8] = [0x01, 0x02, 0x03, 0x04]
    let info: [UInt8]
    private var incoming: [UInt8] = []
    private var expected = 0
    private var command: UInt8 = 0
    private var cid: [UInt8] = []

    init(info: [UInt8]) {
        self.info = info
    }

    func write(_ report: [UInt8]) throws {
        #expect(report.count == CTAPHIDAuthenticator.reportSize)
        if report[4] & 0x80 != 0 {
            cid = Array(report.prefix(4))
            command = report[4]
            expected = Int(report[5]) << 8 | Int(report[6])
            incoming = Array(report[7...].prefix(expected))
        } else {
            incoming += report[5...].prefix(expected - incoming.count)
        }
        guard incoming.count == expected else { return }
        switch command {
        case 0x86:
            answer(to: cid, 0x86, incoming + channel + [2, 5, 1, 0, 0x05])
        case 0x90 where cid == channel:
            for _ in 0..<keepalives { answer(to: channel, 0xBB, [0x02]) }
            switch incoming.first {
            case 0x04: answer(to: channel, 0x90, [0x00] + info)
            case let command? where engine != nil: answer(to: channel, 0x90, engine?(command, Array(incoming.dropFirst())) ?? [0x01])
            default: answer(to: channel, 0xBF, [0x01])
            }
        default:
            answer(to: cid, 0xBF, [0x0B])
        }
    }

    private func answer(to cid: [UInt8], _ command: UInt8, _ data: [UInt8]) {
        var packets = CTAPHIDAuthenticator.packets(channel: cid, command: command, data: data)
        if corruptSequence, packets.count > 1 { packets[1][4] = 7 }
        outbox += packets
    }

    func read(timeout: Double) throws -> [UInt8]? {
        outbox.isEmpty ? nil : outbox.removeFirst()
    }
}

@Suite struct CTAPHIDTests {
    /// getInfo of a key with two versions, options and algorithms: 100+ bytes, so it spans
    /// an initialization packet and continuations.
    static let info = CTAPEncoding.encode(
        .map([
            (1, .array([.text("FIDO_2_0"), .text("FIDO_2_1")])),
            (2, .array([.text("credProtect")])),
            (3, .bytes([UInt8](repeating: 0xAB, count: 16))),
            (4, .textMap([("rk", .bool(true)), ("up", .bool(true)), ("clientPin", .bool(false))])),
            (6, .array([.int(2)])),
            (10, .array([.textMap([("alg", .int(-7)), ("type", .text("public-key"))])])),
            (13, .int(4)),
        ]))

    @Test func initAndGetInfoAcrossContinuationPackets() throws {
        #expect(Self.info.count > 57)
        let device = SoftwareHIDAuthenticator(info: Self.info)
        device.keepalives = 3
        let authenticator = try CTAPHIDAuthenticator(device: device, timeout: 1)
        #expect(authenticator.channel == [0x01, 0x02, 0x03, 0x04])
        #expect(authenticator.supportsCBOR)
        let info = try authenticator.info()
        #expect(info.versions == ["FIDO_2_0", "FIDO_2_1"])
        #expect(info.aaguid == "abababab-abab-abab-abab-abababababab")
        #expect(info.options == ["rk": true, "up": true, "clientPin": false])
        #expect(info.algorithms == [-7])
        #expect(info.minPINLength == 4)
        #expect(info.supportsUserVerification)
    }

    @Test func ctapErrorsAndBrokenFraming() throws {
        let device = SoftwareHIDAuthenticator(info: Self.info)
        let authenticator = try CTAPHIDAuthenticator(device: device, timeout: 1)
        #expect(throws: CTAPError(status: 0x01)) { try authenticator.send(.reset, []) }
        device.corruptSequence = true
        #expect(throws: CardError.self) { try authenticator.info() }
    }

    @Test func silenceTimesOut() throws {
        let device = SoftwareHIDAuthenticator(info: Self.info)
        let authenticator = try CTAPHIDAuthenticator(device: device, timeout: 0.05)
        device.outbox = []
        // A device that reads nothing back.
        final class Mute: HIDReportDevice {
            func write(_ report: [UInt8]) throws {}
            func read(timeout: Double) throws -> [UInt8]? { nil }
        }
        #expect(throws: CardError.self) { try CTAPHIDAuthenticator(device: Mute(), timeout: 0.05) }
        _ = authenticator
    }

    @Test func framingSplitsAndPads() {
        let packets = CTAPHIDAuthenticator.packets(channel: [9, 9, 9, 9], command: 0x90, data: [UInt8](repeating: 7, count: 200))
        #expect(packets.count == 4)  // 57 + 59 + 59 + 25
        #expect(packets.allSatisfy { $0.count == 64 })
        #expect(packets[0][4] == 0x90 && packets[0][5] == 0 && packets[0][6] == 200)
        #expect(packets[1][4] == 0 && packets[3][4] == 2)
    }

    @Test func hidDescriptorUsagePage() {
        // Usage Page (FIDO Alliance) 06 D0 F1, Usage (CTAPHID) 09 01, Collection 0xA1 01 …
        #expect(HIDRawDevice.declaresFIDOUsagePage([0x06, 0xD0, 0xF1, 0x09, 0x01, 0xA1, 0x01, 0xC0]))
        #expect(!HIDRawDevice.declaresFIDOUsagePage([0x05, 0x01, 0x09, 0x06, 0xA1, 0x01, 0xC0]))
        #expect(!HIDRawDevice.declaresFIDOUsagePage([0x06, 0xD0]))
        #expect(HIDRawDevice.fidoDevices(sysfs: "/nonexistent").isEmpty)
    }

    @Test func getInfoWithoutVersionsOrAAGUIDIsRefused() {
        #expect(throws: CardError.self) { try AuthenticatorInfo(cbor: CTAPEncoding.encode(.map([(3, .bytes([1, 2]))]))) }
        #expect(throws: CardError.self) { try AuthenticatorInfo(cbor: [0x9A, 0x10, 0x00, 0x00, 0x00]) }
    }
}
