import AuthenticatorCatalog
import CardJudgement
import Foundation
import PSCPolicy
import SignatureVerification
import Storage
import WireFormat

/// What a card showed, as a card reader read it: its certificates (DER), ATR and EF.SN.ICC, and
/// its signature over a challenge of the service when possession is to be proven.
package struct CardEvidence: Sendable {
    package var certificates: [[UInt8]] = []
    package var atr: [UInt8] = []
    package var serialNumber: [UInt8]?
    package var challengeID: String?
    package var signature: [UInt8]?

    package init() {}
}

/// A card judged: the facts read or received, the engine's evaluation, the chain, possession.
package struct CardJudgementResult: Sendable {
    package let facts: CardFacts
    package let evaluation: Evaluation
    package let authentication: CardAuthentication
    package let proven: Bool?
}

extension ServiceOperations {
    /// A single-use challenge for a card to sign (5 minutes by default).
    package func cardChallenge(by caller: Caller) throws -> CeremonyRecord {
        try credentials.open(
            .card, clientID: caller.client.id, holderID: nil, profile: nil, lifetime: settings.challengeLifetime, at: clock(), evidence: nil,
            operator: nil, rpID: caller.party.id)
    }

    /// Judges a card: its chain against the configured anchors and CRLs at the server's time,
    /// possession by its signature over the service's challenge (taken: single use), then the
    /// engine. `recorded`: the check is its own audit event (not when it opens a registration,
    /// whose event says it).
    package func checkCard(_ card: CardEvidence, by caller: Caller, recorded: Bool = true) throws -> CardJudgementResult {
        try requireAuditRoom()
        var certificates: [Certificate] = []
        for (index, der) in card.certificates.enumerated() {
            do {
                certificates.append(try lists.caches.certificate(der))
            } catch {
                throw OperationError(.malformed, "certificates[\(index)] is not a DER certificate: \(error.message)")
            }
        }
        guard let leaf = CardJudge.authenticationCertificate(certificates) else { throw OperationError(.malformed, "certificates is empty") }
        let now = clock()
        let trust = cards.current
        let authentication = CardJudge.authentication(
            leaf, intermediates: certificates.filter { $0.der != leaf.der }, anchors: trust.anchors, crls: trust.crls, at: now)
        var proven: Bool?
        if let id = card.challengeID, let signature = card.signature {
            let ceremony = try takeCeremony(id, .card, by: caller, at: now)
            proven = CardJudge.provesPossession(leaf, signature: signature, challenge: ceremony.challenge)
        }
        let generation = CardIdentification.generation(of: card.atr)
        let facts = CardFacts.card(
            generation: card.atr.isEmpty ? "unknown" : generation.rawValue, atr: card.atr,
            issuedByANS: card.serialNumber.map(CardIdentification.carriesANSIssuer) ?? false, authentication: authentication,
            anchorsConfigured: trust.anchors != nil, pinVerified: proven == true ? true : nil, possessionProven: proven)
        let evaluation = PolicyEngine.evaluate(.card(facts), catalog: lists.current.catalog, profile: profile, at: now)
        if recorded {
            auditQueue.record(
                AuditEvent(
                    action: "card.verify", client: caller.client.name, authenticator: authentication.identity.nationalID,
                    result: evaluation.verdict.rawValue, amr: evaluation.amr, lists: evaluation.lists.map(\.label), profile: profile.label))
            observer.verification("card", evaluation.verdict.rawValue)
        }
        return CardJudgementResult(facts: facts, evaluation: evaluation, authentication: authentication, proven: proven)
    }

    /// Card-bound enrolment: the holder is who the card proves, once the card is an accepted
    /// MIE and signed the service's challenge; refused (`card.refused`, the failing check in
    /// `reason`) otherwise.
    package func openCardRegistration(_ card: CardEvidence, profile name: String?, by caller: Caller) throws -> RegistrationOpened {
        guard card.challengeID != nil else {
            throw OperationError(.malformed, "needs challengeId and signature: the card signs a challenge of POST /v1/cards/challenges")
        }
        let judgement = try checkCard(card, by: caller, recorded: false)
        let identity = judgement.authentication.identity
        let event = AuditEvent(
            action: "enrolment.card", client: caller.client.name, holder: identity.nationalID, authenticator: judgement.authentication.issuer,
            result: judgement.evaluation.verdict.rawValue, amr: judgement.evaluation.amr, lists: judgement.evaluation.lists.map(\.label),
            profile: profile.label, detail: "card \(judgement.facts.generation), chain \(judgement.authentication.trusted ? "trusted" : "untrusted")")
        guard judgement.evaluation.verdict == .accepted, judgement.proven == true else {
            auditQueue.record(event)
            let failing = judgement.evaluation.criteria.flatMap(\.checks).first { $0.status == .notSatisfied || $0.status == .indeterminate }
            throw OperationError(
                .cardRefused, failing?.reason ?? "the card is not an accepted MIE (\(judgement.evaluation.verdict.rawValue))",
                reason: failing?.kind.rawValue ?? "card.refused")
        }
        let rpps = identity.identifierType == .rpps ? String(identity.nationalID.dropFirst()) : nil
        let names = [identity.givenName, identity.surname].compactMap { $0 }.joined(separator: " ")
        let claim = HolderClaim(
            id: identity.nationalID, name: String(identity.nationalID.prefix(64)),
            displayName: String((names.isEmpty ? identity.nationalID : names).prefix(64)), rpps: rpps.flatMap { CheckDigit.isRPPS($0) ? $0 : nil })
        return try openRegistration(claim, evidence: .provenByCard, profile: name, by: caller, proof: event)
    }
}
