import Foundation
import SignatureVerification
import SwiftASN1
import WireFormat

/// A certificate found through the card's PKCS#15 structure.
package struct CardCertificate: Sendable {
    package let label: String
    package let identifier: [UInt8]
    package let path: [UInt8]
    package let certificate: Certificate
}

/// A PKCS#15 data object readable without a PIN.
package struct CardDataObject: Sendable, Encodable {
    package let label: String
    package let application: String?
    /// UTF-8 text when the content is printable, else nil (see `hex`).
    package let text: String?
    package let hex: String
}

/// Reads CPS/CPx cards: identification, PKCS#15 certificate directory, PIN counter, and
/// possession proof. ISO 7816-4 over any `CardTransport`.
package struct CPSCardReader {
    package static let pkcs15AID: [UInt8] = [0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10]
    package static let pinReference: UInt8 = 0x81
    let channel: CardChannel

    package init(_ transport: any CardTransport) {
        self.channel = CardChannel(transport)
    }

    /// ATR pattern plus EF.SN.ICC (3F00/D003).
    package func identify(atr: [UInt8]) throws -> CardIdentification {
        var serial: [UInt8]? = nil
        if (try? channel.expectSuccess(.selectPath([0xD0, 0x03]), "SELECT EF.SN.ICC")) != nil {
            serial = try? channel.readSelectedFile(maximumSize: 64)
        }
        let issued = serial.map(CardIdentification.carriesANSIssuer) ?? false
        return CardIdentification(
            atr: atr, generation: CardIdentification.generation(of: atr), issuedByANS: issued, serialNumber: serial)
    }

    /// Every certificate listed in the PKCS#15 application's certificate directories.
    package func certificates() throws -> [CardCertificate] {
        let (aid, odf) = try openPKCS15()
        var result: [CardCertificate] = []
        for path in try PKCS15.certificateDirectoryPaths(odf) {
            try select(path, aid: aid)
            let cdf = try channel.readSelectedFile()
            for entry in try PKCS15.certificateEntries(cdf) {
                try select(entry.path, aid: aid)
                let der = try channel.readSelectedFile(maximumSize: Certificate.maximumSize)
                guard let certificate = try? Certificate(der: PKCS15.trimmed(der)) else {
                    throw CardError.malformed("the file at \(hex(entry.path)) is not an X.509 certificate")
                }
                result.append(CardCertificate(label: entry.label, identifier: entry.identifier, path: entry.path, certificate: certificate))
            }
        }
        return result
    }

    /// The public data objects (ISO 7816-15 DODF entries without an authentication object):
    /// the holder data a card shows before any PIN. Private ones are listed by nobody.
    package func publicDataObjects() throws -> [CardDataObject] {
        let (aid, odf) = try openPKCS15()
        var result: [CardDataObject] = []
        for path in try PKCS15.dataObjectDirectoryPaths(odf) {
            try select(path, aid: aid)
            for entry in try PKCS15.dataObjectEntries(channel.readSelectedFile()) where !entry.isPrivate {
                try select(entry.path, aid: aid)
                let content = try channel.readSelectedFile(maximumSize: 4096)
                let printable = content.allSatisfy { $0 >= 0x20 && $0 < 0x7F || $0 >= 0x80 || $0 == 0x0A }
                result.append(
                    CardDataObject(
                        label: entry.label, application: entry.application,
                        text: printable ? String(validating: content, as: UTF8.self) : nil, hex: hex(content)))
            }
        }
        return result
    }

    /// Selects the PKCS#15 application and reads its object directory (EF.ODF, 5031).
    private func openPKCS15() throws -> (aid: [UInt8], odf: [UInt8]) {
        let aid = try applicationIdentifier()
        _ = try channel.expectSuccess(.select(aid: aid), "SELECT PKCS#15 application")
        _ = try channel.expectSuccess(.select(fileID: [0x50, 0x31]), "SELECT EF.ODF")
        return (aid, try channel.readSelectedFile())
    }

    /// The PKCS#15 AID from EF.DIR, or the CPS3 one when EF.DIR has none.
    func applicationIdentifier() throws -> [UInt8] {
        guard (try? channel.expectSuccess(.selectPath([0x2F, 0x00]), "SELECT EF.DIR")) != nil,
            let dir = try? channel.readSelectedFile(maximumSize: 1024)
        else { return Self.pkcs15AID }
        return PKCS15.applicationIdentifiers(dir).first ?? Self.pkcs15AID
    }

    private func select(_ path: [UInt8], aid: [UInt8]) throws {
        if path.count >= 2, path[0] == 0x3F, path[1] == 0x00 {
            _ = try channel.expectSuccess(.selectPath(Array(path.dropFirst(2))), "SELECT path \(hex(path))")
        } else {
            _ = try channel.expectSuccess(.select(fileID: Array(path.suffix(2))), "SELECT \(hex(path))")
        }
    }

    /// Tries left for the PIN, read with an empty VERIFY (spends nothing); nil when the PIN is
    /// already verified in this card session.
    package func pinTriesLeft() throws -> Int? {
        let response = try channel.send(.verify(reference: Self.pinReference))
        switch response.statusWord {
        case 0x63C0...0x63CF: return Int(response.sw2 & 0x0F)
        case 0x6983: return 0
        case 0x9000: return nil
        default: throw CardError.status(command: "VERIFY (counter)", statusWord: response.statusWord)
        }
    }

    /// Presents the PIN, refusing when it would spend the last try unless `force`.
    package func verifyPIN(_ pin: String, force: Bool = false) throws {
        guard let tries = try pinTriesLeft() else { return }
        if tries == 0 { throw CardError.pinBlocked }
        if tries == 1, !force { throw CardError.lastPINTry }
        var block = Array(pin.utf8)
        guard (4...8).contains(block.count) else { throw CardError.malformed("a CPS PIN has 4 to 8 digits") }
        block += [UInt8](repeating: 0x00, count: 8 - block.count)
        let response = try channel.send(.verify(reference: Self.pinReference, pin: block))
        switch response.statusWord {
        case 0x9000: return
        case 0x63C0...0x63CF: throw CardError.wrongPIN(triesLeft: Int(response.sw2 & 0x0F))
        case 0x6983: throw CardError.pinBlocked
        default: throw CardError.status(command: "VERIFY", statusWord: response.statusWord)
        }
    }

    /// Possession proof: the card signs a fresh challenge with its authentication key, checked
    /// with the certificate's key. CPS3: MSE then INTERNAL AUTHENTICATE; CPS4: raw RSA with key
    /// reference 0x20.
    package func proveKeyPossession(
        certificate: Certificate, generation: CardIdentification.Generation, challenge fixed: [UInt8]? = nil
    ) throws -> Bool {
        var challenge = fixed ?? [UInt8](repeating: 0, count: 32)
        if fixed == nil {
            for index in challenge.indices { challenge[index] = UInt8.random(in: 0...255) }
        }
        let signature = try sign(challenge, certificate: certificate, generation: generation)
        return try certificate.publicKey().recoverPKCS1(signature) == challenge
    }

    /// The card's authentication key over `challenge` (the PIN verified first): the raw RSA
    /// operation over a PKCS #1 type 1 block, which anyone checks with the certificate's key.
    /// CPS3: MSE then INTERNAL AUTHENTICATE; CPS4: MSE with key reference 0x20, then PSO DECIPHER.
    package func sign(_ challenge: [UInt8], certificate: Certificate, generation: CardIdentification.Generation) throws -> [UInt8] {
        let key = try certificate.publicKey()
        guard case .rsa(let bits) = key.type else { throw CardError.malformed("the authentication key is not RSA") }
        switch generation {
        case .cps4, .cps4T0:
            _ = try channel.expectSuccess(CommandAPDU(ins: 0x22, p1: 0x41, p2: 0xB8, data: [0x83, 0x01, 0x20]), "MSE SET")
            let block = PKCS1.type1Block(challenge, modulusBytes: bits / 8)
            return try channel.expectSuccess(CommandAPDU(ins: 0x2A, p1: 0x80, p2: 0x86, data: [0x00] + block, le: 0), "PSO DECIPHER (raw RSA)")
        default:
            _ = try channel.expectSuccess(CommandAPDU(ins: 0x22, p1: 0x41, p2: 0xA4, data: [0x84, 0x01, 0x81]), "MSE SET")
            return try channel.expectSuccess(CommandAPDU(ins: 0x88, p1: 0x00, p2: 0x00, data: challenge, le: 0), "INTERNAL AUTHENTICATE")
        }
    }
}

/// PKCS#1 v1.5 block type 1 (private-key operation) padding.
enum PKCS1 {
    static func type1Block(_ data: [UInt8], modulusBytes: Int) -> [UInt8] {
        let padding = max(8, modulusBytes - 3 - data.count)
        return [0x00, 0x01] + [UInt8](repeating: 0xFF, count: padding) + [0x00] + data
    }
}

/// The PKCS#15 structures a CPS card uses (ISO 7816-15), read with swift-asn1.
enum PKCS15 {
    struct Entry {
        let label: String
        let identifier: [UInt8]
        let path: [UInt8]
    }

    /// The first TLV of `bytes` (files are often padded with 00 or FF after the last object),
    /// or all of `bytes` when its header is not one this reads (high tag numbers, lengths of
    /// more than three bytes, a length past the end). PKCS#15 files use low tag numbers.
    static func trimmed(_ bytes: [UInt8]) -> [UInt8] {
        var cursor = ByteCursor(bytes, structure: "PKCS#15 object")
        guard let tag = try? cursor.readUInt8("tag"), tag & 0x1F != 0x1F, let first = try? cursor.readUInt8("length") else { return bytes }
        var length = Int(first)
        if first >= 0x80 {
            guard first & 0x7F <= 3, let long = try? cursor.read(Int(first & 0x7F), "length") else { return bytes }
            length = long.reduce(0) { $0 << 8 | Int($1) }
        }
        guard (try? cursor.read(length, "value")) != nil else { return bytes }
        return Array(bytes.prefix(cursor.offset))
    }

    /// Top-level DER items of a file, stopping at padding.
    static func items(_ bytes: [UInt8]) throws -> [ASN1Node] {
        var nodes: [ASN1Node] = []
        var rest = bytes[...]
        while let first = rest.first, first != 0x00, first != 0xFF {
            let item = trimmed(Array(rest))
            guard item.count <= rest.count, !item.isEmpty else { break }
            do {
                nodes.append(try DER.parse(item))
            } catch {
                throw CardError.malformed("PKCS#15 object is not DER")
            }
            rest = rest.dropFirst(item.count)
        }
        return nodes
    }

    static func children(_ node: ASN1Node) -> [ASN1Node] {
        if case .constructed(let nodes) = node.content { return Array(nodes) }
        return []
    }

    static func octets(_ node: ASN1Node) -> [UInt8]? {
        if node.identifier == .octetString, case .primitive(let bytes) = node.content { return Array(bytes) }
        return nil
    }

    /// The first OCTET STRING inside `node` (a Path: SEQUENCE { path OCTET STRING, ... }).
    static func path(in node: ASN1Node) -> [UInt8]? {
        if let bytes = octets(node) { return bytes }
        for child in children(node) {
            if let found = path(in: child) { return found }
        }
        return nil
    }

    /// ODF entries [4] (certificates) and [5] (trusted certificates) point to CDFs.
    static func certificateDirectoryPaths(_ odf: [UInt8]) throws -> [[UInt8]] {
        try items(odf).filter {
            $0.identifier.tagClass == .contextSpecific && ($0.identifier.tagNumber == 4 || $0.identifier.tagNumber == 5)
        }
        .compactMap { path(in: $0) }
    }

    /// CDF entries: x509Certificate ::= SEQUENCE { CommonObjectAttributes, CommonCertificateAttributes,
    /// [1] { X509CertificateAttributes ::= SEQUENCE { value Path, ... } } }.
    static func certificateEntries(_ cdf: [UInt8]) throws -> [Entry] {
        try items(cdf).compactMap { object -> Entry? in
            let parts = children(object)
            guard parts.count >= 3 else { return nil }
            let common = children(parts[0])
            let label =
                common.first.flatMap { node -> String? in
                    guard case .primitive(let bytes) = node.content else { return nil }
                    return String(decoding: bytes, as: UTF8.self)
                } ?? ""
            let identifier = children(parts[1]).first.flatMap(octets) ?? []
            guard let typed = parts.last, typed.identifier.tagClass == .contextSpecific, let path = path(in: typed) else { return nil }
            return Entry(label: label, identifier: identifier, path: path)
        }
    }

    struct DataEntry {
        let label: String
        let application: String?
        let path: [UInt8]
        let isPrivate: Bool
    }

    /// ODF entries [7] point to data object directories.
    static func dataObjectDirectoryPaths(_ odf: [UInt8]) throws -> [[UInt8]] {
        try items(odf).filter { $0.identifier.tagClass == .contextSpecific && $0.identifier.tagNumber == 7 }.compactMap { path(in: $0) }
    }

    /// opaqueDO ::= SEQUENCE { CommonObjectAttributes { label, flags?, authId? },
    /// CommonDataObjectAttributes { applicationName? }, [1] { Path } }. An object with an authId
    /// (or the private flag) needs a PIN and is skipped.
    static func dataObjectEntries(_ dodf: [UInt8]) throws -> [DataEntry] {
        try items(dodf).compactMap { object -> DataEntry? in
            let parts = children(object)
            guard parts.count >= 3 else { return nil }
            let common = children(parts[0])
            var label = ""
            var isPrivate = false
            for node in common {
                switch node.identifier {
                case .utf8String:
                    if case .primitive(let bytes) = node.content { label = String(decoding: bytes, as: UTF8.self) }
                case .bitString:
                    if case .primitive(let bytes) = node.content, bytes.count >= 2 { isPrivate = bytes[bytes.startIndex + 1] & 0x80 != 0 }
                case .octetString:
                    isPrivate = true  // authId
                default: break
                }
            }
            let application = children(parts[1]).first.flatMap { node -> String? in
                guard case .primitive(let bytes) = node.content else { return nil }
                return String(decoding: bytes, as: UTF8.self)
            }
            guard let typed = parts.last, typed.identifier.tagClass == .contextSpecific, let path = path(in: typed) else { return nil }
            return DataEntry(label: label, application: application, path: path, isPrivate: isPrivate)
        }
    }

    /// AIDs of the application templates (61 { 4F aid ... }) in EF.DIR; reading stops at the
    /// first record that is not a template or does not fit.
    static func applicationIdentifiers(_ dir: [UInt8]) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var records = ByteCursor(dir, structure: "EF.DIR")
        while records.peek() == 0x61 {
            _ = try? records.readUInt8("tag")
            guard let length = try? records.readUInt8("length"), let template = try? records.read(Int(length), "template") else { break }
            var fields = ByteCursor(template, structure: "application template")
            while let tag = try? fields.readUInt8("tag"), let size = try? fields.readUInt8("length"),
                let value = try? fields.read(Int(size), "value")
            {
                if tag == 0x4F { result.append(Array(value)) }
            }
        }
        return result
    }
}
