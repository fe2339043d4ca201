import Foundation
import SignatureVerification
import Testing

@testable import HardwareProbe

/// Possession proof over scripted transcripts made by Tools/virtualcard/make_card.py with the
/// virtual card's key, for both card generations.
@Suite struct PossessionTests {
    static let folder = IGCSantePKI.root.appendingPathComponent("TestVectors/cards/cps-test")

    static func transcript() throws -> [String: String] {
        let data = try Data(contentsOf: folder.appendingPathComponent("possession-transcripts.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: String])
    }

    static func certificate() throws -> Certificate {
        try Certificate(der: Data(contentsOf: folder.appendingPathComponent("auth.der")))
    }

    @Test func cps3InternalAuthenticate() throws {
        let t = try Self.transcript()
        let challenge = ScriptedTransport.bytes(try #require(t["challenge"]))
        let transport = ScriptedTransport([
            ("00 22 41 A4 03 84 01 81", "90 00"),
            ("00 88 00 00 20" + (t["challenge"] ?? "") + "00", "61 00"),
            ("00 C0 00 00 00", (t["cps3_internal_authenticate"] ?? "") + "90 00"),
        ])
        #expect(
            try CPSCardReader(transport).proveKeyPossession(certificate: Self.certificate(), generation: .cps3Contact, challenge: challenge)
        )
        #expect(transport.exhausted)
    }

    @Test func cps4RawRSA() throws {
        let t = try Self.transcript()
        let challenge = ScriptedTransport.bytes(try #require(t["challenge"]))
        let pso = ScriptedTransport(steps: [
            (.exactly(ScriptedTransport.bytes("00 22 41 B8 03 83 01 20")), ScriptedTransport.bytes("90 00")),
            // PSO DECIPHER: extended Lc 00 01 01, a padding indicator 00, then the 256-byte block.
            (
                .prefix(ScriptedTransport.bytes("00 2A 80 86 00 01 01 00 00 01 FF")),
                ScriptedTransport.bytes((t["cps4_pso_decipher"] ?? "") + "90 00")
            ),
        ])
        #expect(try CPSCardReader(pso).proveKeyPossession(certificate: Self.certificate(), generation: .cps4, challenge: challenge))
        // The block ends with the challenge itself (PKCS#1 type 1 over the raw challenge), then Le.
        let sent = try #require(pso.sent.last)
        #expect(Array(sent.suffix(2 + challenge.count).prefix(challenge.count)) == challenge)
        #expect(pso.exhausted)
    }

    /// A genuine signature of the same challenge by another key of the card (its signature
    /// key) is not proof of the authentication key.
    @Test func aSignatureByAnotherKeyIsNotProof() throws {
        let t = try Self.transcript()
        let other = try #require(t["cps3_internal_authenticate_other_key"])
        #expect(other != t["cps3_internal_authenticate"])
        let transport = ScriptedTransport([
            ("00 22 41 A4 03 84 01 81", "90 00"),
            ("00 88 00 00 20" + (t["challenge"] ?? "") + "00", other + "90 00"),
        ])
        #expect(
            !(try CPSCardReader(transport).proveKeyPossession(
                certificate: Self.certificate(), generation: .cps3Contact, challenge: ScriptedTransport.bytes(t["challenge"] ?? ""))))
        #expect(transport.exhausted)
    }

    @Test func securityStatusErrorsSurface() throws {
        let transport = ScriptedTransport(steps: [
            (.exactly(ScriptedTransport.bytes("00 22 41 A4 03 84 01 81")), ScriptedTransport.bytes("90 00")),
            (.prefix(ScriptedTransport.bytes("00 88 00 00 20")), ScriptedTransport.bytes("69 82")),
        ])
        #expect(throws: CardError.status(command: "INTERNAL AUTHENTICATE", statusWord: 0x6982)) {
            try CPSCardReader(transport).proveKeyPossession(certificate: Self.certificate(), generation: .cps3Contact)
        }
    }
}

@Suite struct PCSCErrorTests {
    @Test func everyCommonCodeHasASentence() {
        #expect(PCSCErrorMessages.message(0x8010_001D) == "the PC/SC daemon (pcscd) is not running")
        #expect(PCSCErrorMessages.message(0x8010_0069) == "the card was removed")
        #expect(PCSCErrorMessages.message(0x8010_000B).contains("exclusively"))
        #expect(PCSCErrorMessages.message(0x8010_000A).contains("timed out"))
        #expect(PCSCErrorMessages.message(0x8010_002E).contains("no smart card reader"))
        #expect(PCSCErrorMessages.message(0x8010_0099).contains("0x80100099"))
    }

    @Test(
        RequiredMode.needs(
            FileManager.default.isExecutableFile(atPath: IGCSantePKI.root.appendingPathComponent(".build/debug/mie-probe").path),
            "build mie-probe first"))
    func probeExplainsAMissingDaemon() throws {
        let process = Process()
        process.executableURL = IGCSantePKI.root.appendingPathComponent(".build/debug/mie-probe")
        process.arguments = ["readers"]
        var environment = ProcessInfo.processInfo.environment
        environment["PCSCLITE_CSOCK_NAME"] = "/nonexistent/pcscd.comm"
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
        #expect(text.contains("pcscd) is not running"))
    }
}
