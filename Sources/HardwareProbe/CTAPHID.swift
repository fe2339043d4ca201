import Foundation
import WireFormat

/// A HID device exchanging fixed-size reports (64 bytes for FIDO): /dev/hidraw* on a real
/// machine, an in-process software authenticator in tests.
package protocol HIDReportDevice: AnyObject {
    func write(_ report: [UInt8]) throws
    /// The next input report, or nil when `timeout` seconds pass first.
    func read(timeout: Double) throws -> [UInt8]?
}

/// CTAPHID framing (CTAP 2.2 §11.2): INIT to get a channel, then CBOR messages split into an
/// initialization packet and continuation packets; KEEPALIVE while the user is asked to touch.
package final class CTAPHIDAuthenticator: CTAPAuthenticator {
    package static let reportSize = 64
    static let broadcast: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF]
    static let maximumPayload = 57 + 128 * 59

    enum Command: UInt8 {
        case ping = 0x81, msg = 0x83, initialize = 0x86, wink = 0x88, cbor = 0x90, cancel = 0x91
        case keepalive = 0xBB, error = 0xBF
    }

    let device: any HIDReportDevice
    package private(set) var channel: [UInt8] = broadcast
    package private(set) var capabilities: UInt8 = 0
    package private(set) var deviceVersion: (major: UInt8, minor: UInt8, build: UInt8) = (0, 0, 0)
    /// Seconds to wait for the user's touch (KEEPALIVE packets extend nothing beyond this).
    package var timeout: Double

    package init(device: any HIDReportDevice, timeout: Double = 30) throws {
        self.device = device
        self.timeout = timeout
        var nonce = [UInt8](repeating: 0, count: 8)
        for index in nonce.indices { nonce[index] = UInt8.random(in: 0...255) }
        let answer = try transact(.initialize, nonce)
        guard answer.count >= 17, Array(answer.prefix(8)) == nonce else {
            throw CardError.malformed("CTAPHID_INIT answer does not echo the nonce")
        }
        channel = Array(answer[8..<12])
        deviceVersion = (answer[13], answer[14], answer[15])
        capabilities = answer[16]
    }

    /// Whether the device speaks CTAP2 (CAPABILITY_CBOR).
    package var supportsCBOR: Bool { capabilities & 0x04 != 0 }

    package func send(_ command: CTAPCommand, _ parameters: [UInt8]) throws -> [UInt8] {
        try Self.payload(try transact(.cbor, [command.rawValue] + parameters))
    }

    /// Frames `data` into packets on the current channel and gathers the answer.
    func transact(_ command: Command, _ data: [UInt8]) throws -> [UInt8] {
        guard data.count <= Self.maximumPayload else {
            throw CardError.malformed("CTAPHID message longer than \(Self.maximumPayload) bytes")
        }
        for packet in Self.packets(channel: channel, command: command.rawValue, data: data) { try device.write(packet) }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            guard let first = try device.read(timeout: max(0.01, deadline.timeIntervalSinceNow)) else {
                throw CardError.malformed("the authenticator did not answer within \(timeout.formatted(.number.precision(.fractionLength(0...1)))) s")
            }
            guard first.count == Self.reportSize, Array(first.prefix(4)) == channel else { continue }
            let kind = first[4]
            if kind == Command.keepalive.rawValue { continue }
            let length = Int(first[5]) << 8 | Int(first[6])
            if kind == Command.error.rawValue { throw CTAPError(status: first[7]) }
            guard kind == command.rawValue else { throw CardError.malformed("CTAPHID answered command 0x\(String(kind, radix: 16))") }
            guard length <= Self.maximumPayload else { throw CardError.malformed("CTAPHID length \(length) is too large") }
            var payload = Array(first[7...].prefix(length))
            var sequence: UInt8 = 0
            while payload.count < length {
                guard let next = try device.read(timeout: max(0.01, deadline.timeIntervalSinceNow)) else {
                    throw CardError.malformed("CTAPHID message cut after \(payload.count) of \(length) bytes")
                }
                guard next.count == Self.reportSize, Array(next.prefix(4)) == channel else { continue }
                guard next[4] == sequence else { throw CardError.malformed("CTAPHID continuation out of sequence") }
                payload += next[5...].prefix(length - payload.count)
                sequence &+= 1
            }
            return payload
        }
    }

    /// The packets of one message: an initialization packet then continuations, zero-padded.
    /// `data` is at most `maximumPayload` bytes (checked by `transact`), so its length fits the
    /// two length bytes and the continuations fit the 0...127 sequence numbers.
    static func packets(channel: [UInt8], command: UInt8, data: [UInt8]) -> [[UInt8]] {
        func padded(_ bytes: [UInt8]) -> [UInt8] { bytes + [UInt8](repeating: 0, count: reportSize - bytes.count) }
        let length = [UInt8(truncatingIfNeeded: data.count >> 8), UInt8(truncatingIfNeeded: data.count)]
        var packets = [padded(channel + [command] + length + data.prefix(57))]
        var rest = data.dropFirst(57)
        var sequence: UInt8 = 0
        while !rest.isEmpty {
            packets.append(padded(channel + [sequence] + rest.prefix(59)))
            rest = rest.dropFirst(59)
            sequence &+= 1
        }
        return packets
    }
}

/// A FIDO key on Linux: /dev/hidrawN whose report descriptor declares usage page 0xF1D0.
package final class HIDRawDevice: HIDReportDevice {
    package let path: String
    let descriptor: Int32

    package init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDWR)
        guard descriptor >= 0 else { throw CardError.malformed("cannot open \(path): \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(descriptor)
    }

    package func write(_ report: [UInt8]) throws {
        let framed = [0x00] + report  // report ID 0
        let written = framed.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard written == framed.count else { throw CardError.malformed("writing to \(path) failed") }
    }

    package func read(timeout: Double) throws -> [UInt8]? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, Milliseconds.int32(timeout))
        guard ready > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: CTAPHIDAuthenticator.reportSize)
        let count = buffer.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { throw CardError.malformed("reading from \(path) failed") }
        return Array(buffer.prefix(count))
    }

    /// FIDO devices among /dev/hidraw*, found by their report descriptor's usage page.
    package static func fidoDevices(sysfs: String = "/sys/class/hidraw") -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: sysfs) else { return [] }
        return names.sorted().filter { name in
            guard let descriptor = FileManager.default.contents(atPath: "\(sysfs)/\(name)/device/report_descriptor") else { return false }
            return declaresFIDOUsagePage(Array(descriptor))
        }.map { "/dev/\($0)" }
    }

    /// Walks HID report descriptor items looking for Usage Page (global item 0x04) = 0xF1D0.
    static func declaresFIDOUsagePage(_ bytes: [UInt8]) -> Bool {
        var items = ByteCursor(bytes, structure: "HID report descriptor")
        while let prefix = try? items.readUInt8("item prefix") {
            if prefix == 0xFE {
                // Long item: data size, long tag, data.
                guard let size = try? items.readUInt8("long item size"), (try? items.read(1 + Int(size), "long item")) != nil else {
                    return false
                }
                continue
            }
            let size = [0, 1, 2, 4][Int(prefix & 0x03)]
            guard let data = try? items.read(size, "item data") else { return false }
            if prefix & 0xFC == 0x04, data.elementsEqual([0xD0, 0xF1]) { return true }
        }
        return false
    }
}
