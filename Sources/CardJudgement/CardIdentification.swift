import Foundation

/// What kind of card an ATR and EF.SN.ICC say this is (docs: DOMAIN §4; ATRs from ANS's
/// middleware). Data, not logic: extend `knownATRs`.
package struct CardIdentification: Sendable, Equatable {
    package enum Generation: String, Sendable {
        case cps3Contact = "CPS3 (contact)"
        case cps3Contactless = "CPS3 (contactless)"
        case cps4 = "CPS4"
        case cps4T0 = "CPS4 (T=0)"
        case unknown
    }

    package let atr: [UInt8]
    package let generation: Generation
    /// EF.SN.ICC carries the ANS issuer number: the strongest "issued by ANS" signal.
    package let issuedByANS: Bool
    package let serialNumber: [UInt8]?

    package init(atr: [UInt8], generation: Generation, issuedByANS: Bool, serialNumber: [UInt8]?) {
        self.atr = atr
        self.generation = generation
        self.issuedByANS = issuedByANS
        self.serialNumber = serialNumber
    }

    struct ATRPattern {
        let value: [UInt8]
        let mask: [UInt8]
        let generation: Generation

        func matches(_ atr: [UInt8]) -> Bool {
            guard atr.count == value.count else { return false }
            return zip(zip(atr, value), mask).allSatisfy { pair, mask in pair.0 & mask == pair.1 & mask }
        }
    }

    package static func bytes(_ text: String) -> [UInt8] {
        text.split(separator: " ").compactMap { UInt8($0, radix: 16) }
    }

    static let knownATRs: [ATRPattern] = [
        ATRPattern(
            value: bytes("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00"),
            mask: bytes("FF 00 00 00 00 FF FF FF FF FF FF 00 00 00 FF FF FF"), generation: .cps3Contact),
        ATRPattern(
            value: bytes("3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E"),
            mask: [UInt8](repeating: 0xFF, count: 20), generation: .cps3Contactless),
        ATRPattern(
            value: bytes("3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44"),
            mask: [UInt8](repeating: 0xFF, count: 17), generation: .cps4),
        ATRPattern(
            value: bytes("3B DC 18 FF 00 00 12 25 00 64 80 00 04 01 00 90 00"),
            mask: [UInt8](repeating: 0xFF, count: 17), generation: .cps4T0),
    ]

    /// The ANS issuer number in EF.SN.ICC (bytes 2 to 6).
    package static let ansIssuer: [UInt8] = [0x80, 0x25, 0x00, 0x00, 0x01]

    /// EF.SN.ICC's bytes 2 to 6 are the ANS issuer number.
    package static func carriesANSIssuer(_ serial: [UInt8]) -> Bool {
        serial.count >= 6 && Array(serial[1...5]) == ansIssuer
    }

    package static func generation(of atr: [UInt8]) -> Generation {
        knownATRs.first { $0.matches(atr) }?.generation ?? .unknown
    }
}
