import AuthenticatorCatalog
import Foundation
import Testing

@testable import HardwareProbe

/// The referencing battery over CTAPHID with the in-process candidate key (the NFC one through
/// pcscd is Tools/virtualcard/candidate_test.py).
@Suite struct CandidateBatteryTests {
    static func battery(_ key: SoftwareCTAP2Key) throws -> CandidateBattery {
        let document = Array(try Data(contentsOf: SoftwareCTAP2Key.folder.appendingPathComponent("statement.json")))
        let statement = try MetadataStatement.parse(document)
        let device = SoftwareHIDAuthenticator(info: key.info)
        device.engine = { command, parameters in key.handle(command, parameters) }
        let authenticator = try CTAPHIDAuthenticator(device: device, timeout: 1)
        return CandidateBattery(statement: statement, catalog: .candidate(statement, document: document), device: RecordingAuthenticator(authenticator))
    }

    static func failed(_ battery: CandidateBattery) -> Set<String> { Set(battery.checks.filter { $0.status == .failed }.map(\.id)) }

    @Test func anHonestKeyPassesOverUSB() throws {
        var battery = try Self.battery(try SoftwareCTAP2Key())
        try battery.run(pin: { "123456" }, assertions: 3, minimumTries: 3)
        #expect(Self.failed(battery).isEmpty, "\(battery.checks.filter { $0.status == .failed }.map { "\($0.id): \($0.detail)" })")
        let ran = Set(battery.checks.map(\.id))
        for id in ["pin.protocol-1", "pin.protocol-2", "registration.chain", "registration.aaguid", "assertion.counter", "assertion.discoverable", "extensions.hmac-secret"] {
            #expect(ran.contains(id), "\(id)")
        }
        #expect(battery.registration?.flags.userVerified == true)
    }

    @Test func faultsAreNamed() throws {
        var stuck = try Self.battery(try SoftwareCTAP2Key(fault: .counterStuck))
        try stuck.run(pin: { "123456" }, assertions: 3, minimumTries: 3)
        #expect(Self.failed(stuck) == ["assertion.counter"])
        var liar = try Self.battery(try SoftwareCTAP2Key(fault: .uvNever))
        try liar.run(pin: { "123456" }, assertions: 3, minimumTries: 3)
        #expect(Self.failed(liar).isSuperset(of: ["claims.uv", "registration.uv", "assertion.uv"]), "\(Self.failed(liar))")
    }

    @Test func aWrongPINStopsWithTheTriesLeftAndFewTriesAreNotRisked() throws {
        let key = try SoftwareCTAP2Key()
        var battery = try Self.battery(key)
        #expect { try battery.run(pin: { "000000" }, assertions: 3, minimumTries: 3) } throws: { error in
            (error as? BatteryStop)?.description.hasPrefix("wrong PIN, 7 tries left") == true
        }
        #expect(key.retries == 7, "one try spent, no more")
        key.retries = 2
        var careful = try Self.battery(key)
        #expect { try careful.run(pin: { "123456" }, assertions: 3, minimumTries: 3) } throws: { error in
            (error as? BatteryStop)?.description.hasPrefix("only 2 PIN tries left") == true
        }
        #expect(key.retries == 2)
    }
}
