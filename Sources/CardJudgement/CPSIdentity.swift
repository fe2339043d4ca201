import Foundation
import SignatureVerification
import SwiftASN1
import WireFormat

/// The professional identity an authentication certificate carries (DOMAIN §4).
package struct CPSIdentity: Sendable, Equatable, Encodable {
    package enum IdentifierType: String, Sendable, Encodable {
        case adeli = "ADELI"
        case finess = "FINESS"
        case siret = "SIRET"
        case rpps = "RPPS"
        case unknown
    }

    /// The national id as written: type digit followed by the number (CN before any "/").
    package let nationalID: String
    package let identifierType: IdentifierType
    package let number: String
    /// For RPPS numbers: whether the Luhn check digit holds.
    package let luhnValid: Bool?
    /// The profession (`title`).
    package let profession: String?
    package let givenName: String?
    package let surname: String?
    /// subjectAltName UPN (`<type>.<id>@carte-cps.fr`), when present.
    package let userPrincipalName: String?
    /// Card type inferred from the CN suffix (`/CPE…`, `/CPA…`); a reconstruction.
    package let cardType: String

    package init(certificate: Certificate) {
        let commonName = certificate.subject(.commonName).first ?? ""
        let parts = commonName.split(separator: "/", maxSplits: 1).map(String.init)
        nationalID = parts.first ?? ""
        let suffix = parts.count > 1 ? parts[1] : ""
        let typeDigit = nationalID.first
        number = String(nationalID.dropFirst())
        switch typeDigit {
        case "8": identifierType = .rpps
        case "0": identifierType = .adeli
        case "3": identifierType = .finess
        case "5": identifierType = .siret
        default: identifierType = .unknown
        }
        luhnValid = identifierType == .rpps ? Self.luhn(number) : nil
        profession = certificate.subjectAttribute(oid: "2.5.4.12")
        givenName = certificate.subjectAttribute(oid: "2.5.4.42")
        surname = certificate.subjectAttribute(oid: "2.5.4.4")
        userPrincipalName = Self.userPrincipalName(certificate)
        if suffix.hasPrefix("CPE") {
            cardType = "CPE"
        } else if suffix.hasPrefix("CPA") {
            cardType = "CPA"
        } else if suffix.hasPrefix("CPF") {
            cardType = "CPF"
        } else {
            cardType = "CPS"
        }
    }

    /// Luhn (mod 10) check over the digits, the last one being the check digit.
    package static func luhn(_ digits: String) -> Bool { CheckDigit.luhn(digits) }

    /// otherName UPN (1.3.6.1.4.1.311.20.2.3) in subjectAltName.
    static func userPrincipalName(_ certificate: Certificate) -> String? {
        guard let san = certificate.extensionValue(oid: "2.5.29.17"), let names = try? DER.parse(san.value),
            case .constructed(let entries) = names.content
        else { return nil }
        for entry in entries where entry.identifier.tagClass == .contextSpecific && entry.identifier.tagNumber == 0 {
            guard case .constructed(let parts) = entry.content else { continue }
            let items = Array(parts)
            guard items.count == 2, let oid = try? ASN1ObjectIdentifier(derEncoded: items[0]),
                oid.description == "1.3.6.1.4.1.311.20.2.3", case .constructed(let wrapped) = items[1].content,
                let value = Array(wrapped).first, case .primitive(let bytes) = value.content
            else { continue }
            return String(decoding: bytes, as: UTF8.self)
        }
        return nil
    }
}

/// IGC-Santé trust anchors: production and test never mixed (DOMAIN §4).
package struct IGCSanteAnchors: Sendable {
    package enum Environment: String, Sendable {
        case production, test
    }

    package let environment: Environment
    package let certificates: [Certificate]

    /// Loads a PEM bundle and refuses one that mixes production and test CAs.
    package init(pemFile: String) throws {
        let text = try String(contentsOfFile: pemFile, encoding: .utf8)
        let certificates = try Certificate.fromPEM(text)
        guard !certificates.isEmpty else { throw CardError.malformed("\(pemFile) holds no certificate") }
        let isTest = certificates.map { $0.subjectDescription.contains("IGC-SANTE TEST") || $0.subjectDescription.contains("TEST AC") }
        guard isTest.allSatisfy({ $0 }) || isTest.allSatisfy({ !$0 }) else {
            throw CardError.malformed("\(pemFile) mixes production and test IGC-Santé certificates")
        }
        self.environment = isTest[0] ? .test : .production
        self.certificates = certificates
    }
}
