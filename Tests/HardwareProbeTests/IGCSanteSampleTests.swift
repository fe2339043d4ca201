import Foundation
import SignatureVerification
import Testing

@testable import HardwareProbe

/// ANS's public IGC-Santé certificates, read in place from `../shared/pki/igc-sante` (or
/// `MIE_IGC_SANTE_PKI`); never copied into the repository.
enum IGCSantePKI {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let location: URL? = {
        if let path = ProcessInfo.processInfo.environment["MIE_IGC_SANTE_PKI"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let sibling = root.deletingLastPathComponent().appendingPathComponent("shared/pki/igc-sante")
        return FileManager.default.fileExists(atPath: sibling.path) ? sibling : nil
    }()

    static func certificate(_ name: String) throws -> Certificate {
        let url = try #require(location).appendingPathComponent(name)
        return try #require(try Certificate.fromPEM(String(contentsOf: url, encoding: .utf8)).first)
    }
}

@Suite(RequiredMode.needs(IGCSantePKI.location != nil, "the shared IGC-Santé folder is not beside the checkout"))
struct IGCSanteSampleTests {
    @Test func realTestCardCertificateChainsToTheTestPKI() throws {
        let folder = try #require(IGCSantePKI.location)
        let anchors = try IGCSanteAnchors(pemFile: folder.appendingPathComponent("bundle-test-igc-sante-ca.pem").path)
        #expect(anchors.environment == .test)
        let cpe = try IGCSantePKI.certificate("sample-cpe-test-auth-st-pp-30B0057881-CPET0002.pem")
        let inValidity = Date(timeIntervalSince1970: 1_577_836_800)  // 2020-01-01
        #expect(CertificateChainVerifier.verify(leaf: cpe, intermediates: [], anchors: anchors.certificates, at: inValidity).isTrusted)
        // Expired today; tampered signature never verifies.
        #expect(!CertificateChainVerifier.verify(leaf: cpe, intermediates: [], anchors: anchors.certificates, at: Date()).isTrusted)
        let tampered = try IGCSantePKI.certificate("sample-cpe-test-auth-st-pp-30B0057881-CPET0002-BADSIG.pem")
        #expect(
            !CertificateChainVerifier.verify(leaf: tampered, intermediates: [], anchors: anchors.certificates, at: inValidity).isTrusted)
        // Production anchors never accept a test card.
        let production = try IGCSanteAnchors(pemFile: folder.appendingPathComponent("bundle-prod-igc-sante-ca.pem").path)
        #expect(production.environment == .production)
        #expect(!CertificateChainVerifier.verify(leaf: cpe, intermediates: [], anchors: production.certificates, at: inValidity).isTrusted)
    }

    @Test func identityOfRealTestCards() throws {
        let cpe = CPSIdentity(certificate: try IGCSantePKI.certificate("sample-cpe-test-auth-st-pp-30B0057881-CPET0002.pem"))
        #expect(cpe.nationalID == "30B0057881")
        #expect(cpe.identifierType == .finess)
        #expect(cpe.cardType == "CPE")
        #expect(cpe.profession == "Personnel santé ou social")
        let cpa = CPSIdentity(certificate: try IGCSantePKI.certificate("sample-cpa-test-auth-st-pp-500000000087098-CPAT0001.pem"))
        #expect(cpa.identifierType == .siret)
        #expect(cpa.cardType == "CPA")
        let cps = CPSIdentity(certificate: try IGCSantePKI.certificate("sample-cps-test-sign-fo-pp-infirmier-00B6077602.pem"))
        #expect(cps.identifierType == .adeli)
        #expect(cps.profession == "Infirmier")
    }

    @Test func aBundleMixingProductionAndTestIsRefused() throws {
        let folder = try #require(IGCSantePKI.location)
        let mixed =
            try String(contentsOf: folder.appendingPathComponent("bundle-prod-igc-sante-ca.pem"), encoding: .utf8)
            + String(contentsOf: folder.appendingPathComponent("bundle-test-igc-sante-ca.pem"), encoding: .utf8)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mixed-\(UUID().uuidString).pem")
        try mixed.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(throws: CardError.self) { try IGCSanteAnchors(pemFile: file.path) }
    }

    @Test func testCRLOf2019Parses() throws {
        let folder = try #require(IGCSantePKI.location)
        let text = try String(contentsOf: folder.appendingPathComponent("test-crl-acr-el-2019-06-01.pem"), encoding: .utf8)
        let body = text.components(separatedBy: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let crl = try CertificateRevocationList(der: try #require(Data(base64Encoded: body)))
        #expect(crl.nextUpdate == Date(timeIntervalSince1970: 1_563_235_200))
    }
}
