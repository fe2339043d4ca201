import Foundation
import PSCPolicy
import SignatureVerification
import WireFormat

// Is this card an accepted MIE? The judgement of a CPS-family card from what was read from it
// or received by the service: its authentication certificate chained to the IGC-Santé anchors
// at a given time with the CRLs, the identity it carries, possession proven by its signature
// over a challenge. Pure: no PC/SC here (the probe reads cards, the service receives what a
// reader read), and the PSC decision stays the engine's.

/// The authentication certificate judged.
package struct CardAuthentication: Encodable, Sendable {
    package let trusted: Bool
    package let untrustedReason: String?
    package let environment: String?
    /// `not-checked`, `checked`, `partial` or `revoked`.
    package let revocation: String
    package let clientAuth: Bool
    package let identity: CPSIdentity
    /// The CA that issued the authentication certificate, when the chain was built.
    package let issuer: String?
    package let issuerSHA256: String?
    /// The authentication key (`RSA-2048`, `EC P-256`) and its size.
    package let keyType: String?
    package let keyBits: Int?
}

/// Judges what a card showed: the chain, possession, and the facts the PSC engine decides on.
package enum CardJudge {
    package static let clientAuth = "1.3.6.1.5.5.7.3.2"

    /// The authentication certificate judged: chained to the IGC-Santé anchors at `time` with
    /// revocation from `crls`, the identity it carries, its key. What a card reader and the
    /// service (`POST /v1/cards/verify`) both report.
    package static func authentication(
        _ certificate: Certificate, intermediates: [Certificate], anchors: IGCSanteAnchors?, crls: [CertificateRevocationList], at time: Date
    ) -> CardAuthentication {
        var outcome = CertificateChainVerifier.Outcome(path: [], failure: "no IGC-Santé anchors configured (--anchors)")
        if let anchors {
            outcome = CertificateChainVerifier.verify(leaf: certificate, intermediates: intermediates, anchors: anchors.certificates, at: time, crls: crls)
        }
        let issuer = outcome.path.count > 1 ? outcome.path[1] : nil
        let key = try? certificate.publicKey()
        let keyBits: Int? =
            switch key?.type {
            case .rsa(let bits): bits
            case .ec(let curve): curve.coordinateSize * 8
            default: nil
            }
        return CardAuthentication(
            trusted: outcome.isTrusted, untrustedReason: outcome.failure, environment: anchors?.environment.rawValue,
            revocation: outcome.isRevoked ? "revoked" : outcome.revocation.rawValue, clientAuth: certificate.extendedKeyUsages.contains(clientAuth),
            identity: CPSIdentity(certificate: certificate), issuer: issuer?.subjectDescription, issuerSHA256: issuer.map { Hex.string($0.sha256Fingerprint, uppercase: true) },
            keyType: key.map { "\($0.type)" }, keyBits: keyBits)
    }

    /// The card's proof of possession: its authentication key's raw RSA operation over a PKCS #1
    /// type 1 block holding `challenge` (CPS3 INTERNAL AUTHENTICATE, CPS4 PSO DECIPHER; the card
    /// computes it only once its PIN is verified).
    package static func provesPossession(_ certificate: Certificate, signature: [UInt8], challenge: [UInt8]) -> Bool {
        (try? certificate.publicKey())?.recoverPKCS1(signature) == challenge
    }

    /// The authentication certificate among what a card presented: the one for TLS client
    /// authentication, else the first.
    package static func authenticationCertificate(_ certificates: [Certificate]) -> Certificate? {
        certificates.first { $0.extendedKeyUsages.contains(clientAuth) } ?? certificates.first
    }
}

extension CardFacts {
    /// The facts the PSC engine decides a card on, from what was read or received: the card's
    /// identification (ATR, EF.SN.ICC), its judged authentication certificate, PIN and
    /// possession.
    package static func card(
        generation: String, atr: [UInt8], issuedByANS: Bool, authentication auth: CardAuthentication?, anchorsConfigured: Bool,
        pinVerified: Bool?, possessionProven: Bool?
    ) -> CardFacts {
        let revocation: CardFacts.Revocation =
            switch auth?.revocation {
            case "revoked": .revoked
            case "checked": .good
            default: .notChecked
            }
        return CardFacts(
            generation: generation, atr: atr, issuedByANS: issuedByANS, anchorsConfigured: anchorsConfigured,
            chainTrusted: auth?.trusted ?? false, chainFailure: auth?.untrustedReason ?? "no authentication certificate",
            issuerName: auth?.issuer, issuerSHA256: auth?.issuerSHA256.flatMap(Hex.bytes), revocation: revocation,
            pinVerified: pinVerified, possessionProven: possessionProven, keyType: auth?.keyType, keyBits: auth?.keyBits,
            nationalID: auth?.identity.nationalID, identifierType: auth?.identity.identifierType.rawValue, luhnValid: auth?.identity.luhnValid)
    }
}
