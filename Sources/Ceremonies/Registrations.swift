import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import PSCPolicy
import Storage
import VerificationRequests
import WireFormat

extension ServiceOperations {
    /// A registration ceremony opened: what the WebAuthn client needs.
    package struct RegistrationOpened: Sendable {
        package let ceremony: CeremonyRecord
        package let holder: Holder
        package let evidence: DeploymentFacts.IdentityEvidence
        /// PublicKeyCredentialCreationOptions.
        package let options: JSONValue
        /// The origins a client that is not a browser (`mie-probe enrol`) may claim.
        package let origins: [String]
    }

    /// What a registration came to.
    package enum RegistrationCompletion: Sendable {
        /// The core refused the response.
        case refused(VerificationOutcome)
        /// Verified and judged; stored when acceptable or the service allows unacceptable keys.
        case verified(Holder, VerifiedRegistration, Evaluation, stored: Bool, VerificationOutcome)
    }

    /// The options' `timeout`: the ceremony's lifetime, a hint to the browser.
    var timeoutMilliseconds: Int { Int(settings.challengeLifetime * 1000) }

    /// Opens a registration for `claim` in the caller's relying party, the holder created or
    /// updated under the identity rule (evidence only strengthens), recording how the identity
    /// was established and, for the desk, by which operator. `proof` is the event of what
    /// proved it (a card), written with the ceremony.
    package func openRegistration(
        _ claim: HolderClaim, evidence: DeploymentFacts.IdentityEvidence, profile name: String?, by caller: Caller, proof: AuditEvent? = nil
    ) throws -> RegistrationOpened {
        let profile = try profile(named: name)
        let now = clock()
        let holder = try settleHolder(claim, evidence: evidence, by: caller, at: now)
        let existing = try credentials.credentials(holder: holder.id, rpID: caller.party.id).map(\.id)
        let ceremony = try credentials.open(
            .registration, clientID: caller.client.id, holderID: holder.id, profile: profile.id, lifetime: settings.challengeLifetime, at: now,
            evidence: evidence.rawValue, operator: caller.deskOperator, rpID: caller.party.id)
        if let proof { try audit.append([proof], at: now) }
        let options = WebAuthnOptions.creation(
            party: caller.party, userHandle: holder.userHandle, name: holder.name, displayName: holder.displayName, challenge: ceremony.challenge,
            exclude: existing,
            // The attestation is what the PSC engine judges the model by (FI 19, 22).
            attestation: "direct", timeoutMilliseconds: timeoutMilliseconds)
        return RegistrationOpened(ceremony: ceremony, holder: holder, evidence: evidence, options: options, origins: caller.party.origins)
    }

    /// Takes the ceremony, verifies the response, judges the key (with how the holder's identity
    /// was established, FI 25) and stores it with its audit event.
    package func finishRegistration(_ ceremonyID: String, _ response: CredentialResponse, by caller: Caller) throws -> RegistrationCompletion {
        let now = clock()
        let ceremony = try takeCeremony(ceremonyID, .registration, by: caller, at: now)
        let profile = try profile(named: ceremony.profile)
        guard let holderID = ceremony.holderID, let holder = try credentials.find(holder: holderID, rpID: caller.party.id) else {
            throw OperationError(.ceremonyUnknown, "the ceremony's holder no longer exists")
        }
        let live = lists.current
        let outcome = live.service.verify(
            .registration, request: Self.coreRequest(response, challenge: ceremony.challenge, party: caller.party, credential: nil, at: now), now: now)
        let evidence = ceremony.evidence.flatMap(DeploymentFacts.IdentityEvidence.init(rawValue:)) ?? .assertedByClient
        var event = AuditEvent(
            action: "registration", client: ceremony.operator.map { "desk:\($0)" } ?? caller.client.name, holder: holder.id,
            credentialID: Base64URL.encode(response.id), result: outcome.result.failureCode ?? "verified", profile: profile.label,
            detail: "identity \(evidence.rawValue)")
        guard case .registration(let registration) = outcome.result else {
            observer.verification("registration", event.result)
            try audit.append([event], at: now)
            return .refused(outcome)
        }
        let evaluation = judge(registration, holder: holder, evidence: evidence, profile: profile, catalog: live.catalog, at: now)
        let aaguid = AAGUIDText.string(registration.aaguid)
        event.authenticator = aaguid
        event.result = evaluation.verdict.rawValue
        event.amr = evaluation.amr
        event.lists = evaluation.lists.map(\.label)
        observer.verification("registration", event.result)
        let storable = evaluation.verdict == .accepted || settings.enrolsUnacceptableKeys
        if storable {
            let record = StoredCredentialRecord(
                id: registration.credentialID, holderID: holder.id, identityEvidence: evidence.rawValue, publicKey: registration.publicKey.encoded,
                algorithm: registration.publicKey.algorithm.name, signCount: registration.signCount, backupEligible: registration.flags.backupEligible,
                aaguid: aaguid, authenticator: evaluation.authenticator.description, verdict: evaluation.verdict.rawValue, amr: evaluation.amr,
                clientID: caller.client.id, rpID: caller.party.id, createdAt: now.formatted(.iso8601), enrolledBy: ceremony.operator,
                lists: evaluation.lists.map(\.label), profile: profile.label, attestationObject: response.attestationObject,
                clientDataJSON: response.clientDataJSON, judgedUnder: JudgementKey.of(live.catalog, profile: profile))
            try insert(record, event: event, at: now)
        } else {
            event.detail = "identity \(evidence.rawValue); not stored: the key is not PSC-acceptable"
            try audit.append([event], at: now)
        }
        return .verified(holder, registration, evaluation, stored: storable, outcome)
    }

    /// The engine's verdict on a verified registration for a holder: the model's facts with
    /// the deployment's (the holder's national id, how it was established, whether the
    /// credential ID is new).
    func judge(
        _ registration: VerifiedRegistration, holder: Holder, evidence: DeploymentFacts.IdentityEvidence, profile: Profile, catalog: CatalogSnapshot,
        at now: Date
    ) -> Evaluation {
        let deployment = DeploymentFacts(
            holderNationalID: holder.rpps.map { "8" + $0 } ?? holder.id, holderLuhnValid: holder.rpps.map(CheckDigit.isRPPS), identityEvidence: evidence,
            credentialIDUnique: (try? credentials.find(credential: registration.credentialID)) == nil)
        return PolicyEngine.evaluate(.fido(FIDOFacts(registration: registration)), catalog: catalog, profile: profile, at: now, deployment: deployment)
    }
}
