import Foundation
import PSCPolicy
import SignatureVerification
import WireFormat

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

    package typealias Authentication = CardAuthentication

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
    /// What stood out while reading the card (no decision: that is the PSC engine's).
    package let notes: [String]
}

/// Reads a card and reports facts: identification, certificates, chain to IGC-Santé,
/// identity, PIN and possession proof. Whether PSC accepts the card is decided by the PSC
/// engine (PSCPolicy) from these facts.
package struct CardInspector {
    package struct Options {
        package var anchors: IGCSanteAnchors?
        package var crls: [CertificateRevocationList] = []
        package var time = Date()
        package var pin: String?
        package var forceLastPINTry = false

        package init() {}
    }

    package static let clientAuth = CardJudge.clientAuth

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
        if let authentication {
            let certificate = authentication.certificate
            let others = found.map(\.certificate).filter { $0.der != certificate.der }
            let report = CardJudge.authentication(certificate, intermediates: others, anchors: options.anchors, crls: options.crls, at: options.time)
            authenticationReport = report
            if !report.trusted { reasons.append("authentication certificate not trusted: \(report.untrustedReason ?? "unknown")") }
            if report.identity.luhnValid == false { reasons.append("RPPS number fails its Luhn check") }
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
            possessionProven: proven, notes: reasons)
    }
}
