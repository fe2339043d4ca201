import Foundation
import SignatureVerification

/// Everything `mie-probe card` reports about a CPS/CPx card, ready to print or encode.
package struct CardReport: Encodable, Sendable {
    package struct CertificateSummary: Encodable, Sendable {
        package let label: String
        package let subject: String
        package let issuer: String
        package let notBefore: Date?
        package let notAfter: Date?
        package let role: String
    }

    package struct Authentication: Encodable, Sendable {
        package let trusted: Bool
        package let untrustedReason: String?
        package let environment: String?
        package let revocation: String
        package let clientAuth: Bool
        package let identity: CPSIdentity
    }

    package struct PSCView: Encodable, Sendable {
        package let compatible: Bool
        package let reasons: [String]
        /// AMR values the card can support (RFC 8176): what a login with it may report.
        package let amr: [String]
    }

    package let atr: String
    package let generation: String
    package let issuedByANS: Bool
    package let serialNumber: String?
    package let certificates: [CertificateSummary]
    /// PKCS#15 data objects readable without a PIN.
    package let publicData: [CardDataObject]
    package let authentication: Authentication?
    package let pinTriesLeft: Int?
    package let pinVerified: Bool?
    package let possessionProven: Bool?
    package let psc: PSCView
}

/// Reads and judges a card: identification, certificates, chain to IGC-Santé, identity, PIN
/// and possession proof, and the PSC verdict.
package struct CardInspector {
    package struct Options {
        package var anchors: IGCSanteAnchors?
        package var crls: [CertificateRevocationList] = []
        package var time = Date()
        package var pin: String?
        package var forceLastPINTry = false

        package init() {}
    }

    static let clientAuth = "1.3.6.1.5.5.7.3.2"

    package static func inspect(_ transport: any CardTransport, atr: [UInt8], options: Options) throws -> CardReport {
        let reader = CPSCardReader(transport)
        let identification = try reader.identify(atr: atr)
        var reasons: [String] = []
        var found: [CardCertificate] = []
        do {
            found = try reader.certificates()
        } catch {
            reasons.append("reading the PKCS#15 certificates failed: \(error)")
        }
        let authentication = found.first { $0.certificate.extendedKeyUsages.contains(clientAuth) }
        let publicData = (try? reader.publicDataObjects()) ?? []
        var authenticationReport: CardReport.Authentication? = nil
        var trusted = false
        if let authentication {
            let certificate = authentication.certificate
            let others = found.map(\.certificate).filter { $0.der != certificate.der }
            var outcome = CertificateChainVerifier.Outcome(path: [], failure: "no IGC-Santé anchors configured (--anchors)")
            if let anchors = options.anchors {
                outcome = CertificateChainVerifier.verify(
                    leaf: certificate, intermediates: others, anchors: anchors.certificates, at: options.time, crls: options.crls)
            }
            trusted = outcome.isTrusted
            let identity = CPSIdentity(certificate: certificate)
            authenticationReport = CardReport.Authentication(
                trusted: outcome.isTrusted, untrustedReason: outcome.failure, environment: options.anchors?.environment.rawValue,
                revocation: outcome.isRevoked ? "revoked" : outcome.revocation.rawValue, clientAuth: true,
                identity: identity)
            if !outcome.isTrusted { reasons.append("authentication certificate not trusted: \(outcome.failure ?? "unknown")") }
            if identity.luhnValid == false { reasons.append("RPPS number fails its Luhn check") }
        } else if !found.isEmpty {
            reasons.append("no authentication certificate (EKU clientAuth) among the card's certificates")
        }
        if identification.generation == .unknown { reasons.append("ATR is not a known CPS/CPx card") }
        if !identification.issuedByANS { reasons.append("EF.SN.ICC does not carry the ANS issuer number") }

        let tries = (try? reader.pinTriesLeft()) ?? nil
        var pinVerified: Bool? = nil
        var proven: Bool? = nil
        if let pin = options.pin {
            try reader.verifyPIN(pin, force: options.forceLastPINTry)
            pinVerified = true
            if let authentication {
                proven = try reader.proveKeyPossession(certificate: authentication.certificate, generation: identification.generation)
                if proven == false { reasons.append("the card's signature does not verify with its authentication certificate") }
            }
        }
        let compatible = reasons.isEmpty && trusted
        // A CPx login is card (something held, hardware key) plus PIN (something known).
        let amr = ["hwk", "mfa", "pin", "sc"]
        return CardReport(
            atr: hex(atr, separator: " "), generation: identification.generation.rawValue, issuedByANS: identification.issuedByANS,
            serialNumber: identification.serialNumber.map { hex($0) },
            certificates: found.map { entry in
                CardReport.CertificateSummary(
                    label: entry.label, subject: entry.certificate.subjectDescription, issuer: entry.certificate.issuerDescription,
                    notBefore: entry.certificate.notBefore, notAfter: entry.certificate.notAfter,
                    role: entry.certificate.isCertificateAuthority
                        ? "CA" : entry.certificate.extendedKeyUsages.contains(clientAuth) ? "authentication" : "signature")
            },
            publicData: publicData, authentication: authenticationReport, pinTriesLeft: tries, pinVerified: pinVerified,
            possessionProven: proven,
            psc: CardReport.PSCView(compatible: compatible, reasons: reasons, amr: compatible ? amr : []))
    }
}
