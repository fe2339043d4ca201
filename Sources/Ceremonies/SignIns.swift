import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import PSCPolicy
import Storage
import VerificationRequests
import WireFormat

extension ServiceOperations {
    /// A sign-in ceremony opened.
    package struct SignInOpened: Sendable {
        package let ceremony: CeremonyRecord
        /// PublicKeyCredentialRequestOptions.
        package let options: JSONValue
    }

    /// What a sign-in came to.
    package enum SignInCompletion: Sendable {
        /// Refused, with the code and message the client is answered.
        case refused(code: String, message: String)
        /// Verified, the counter moved: the holder, the stored credential (as it was before the
        /// sign-in), its PSC standing and the AMR the sign-in carries.
        case verified(Holder, StoredCredentialRecord, VerifiedAssertion, acceptable: Bool, amr: [String])
    }

    /// Opens a sign-in: for a holder of the caller's relying party (their keys allowed), or for
    /// a discoverable credential (none named). A holder unknown there is answered as one that
    /// has no key: the same 404, whatever exists in another party.
    package func openSignIn(holder holderID: String?, by caller: Caller) throws -> SignInOpened {
        var allowed: [[UInt8]] = []
        if let holderID {
            allowed = try credentials.credentials(holder: holderID, rpID: caller.party.id).map(\.id)
            guard !allowed.isEmpty else { throw OperationError(.notFound, "no holder \(holderID) with a key for \(caller.party.id)") }
        }
        let now = clock()
        let ceremony = try credentials.open(
            .assertion, clientID: caller.client.id, holderID: holderID, profile: nil, lifetime: settings.challengeLifetime, at: now, evidence: nil,
            operator: nil, rpID: caller.party.id)
        let options = WebAuthnOptions.request(party: caller.party, challenge: ceremony.challenge, allow: allowed, timeoutMilliseconds: timeoutMilliseconds)
        return SignInOpened(ceremony: ceremony, options: options)
    }

    /// Takes the ceremony, verifies the assertion against the stored key (live, this relying
    /// party's, the ceremony holder's when it named one) and moves the counter by compare and
    /// set with the sign-in's audit event. The AMR comes from the lists in force now: a model
    /// that turned negative signs in without AMR.
    ///
    /// All of it is one transaction: the ceremony taken, a verdict judged on the way, the counter
    /// and the audit event (or the refusal's event) commit together, so a sign-in waits for one
    /// durable commit, not two, and a crash leaves either all of it or none (the ceremony then
    /// still open, and nothing was acknowledged). A refusal keeps the ceremony taken.
    package func finishSignIn(_ ceremonyID: String, _ response: CredentialResponse, by caller: Caller) throws -> SignInCompletion {
        let now = clock()
        return try credentials.inOneTransaction { try finishSignIn(ceremonyID, response, by: caller, at: now) }
    }

    private func finishSignIn(_ ceremonyID: String, _ response: CredentialResponse, by caller: Caller, at now: Date) throws -> SignInCompletion {
        // The ceremony taken with the credential and its holder read beside it.
        let records = try taken(
            try credentials.takeForSignIn(ceremonyID, clientID: caller.client.id, credential: response.id, rpID: caller.party.id, at: now),
            ceremonyID, .assertion, by: caller
        ) { $0.ceremony }
        let ceremony = records.ceremony
        var event = AuditEvent(
            action: "assertion", client: caller.auditName, holder: ceremony.holderID, credentialID: Base64URL.encode(response.id), result: "")
        guard let stored = records.credential, stored.deletedAt == nil, stored.rpID == caller.party.id,
            ceremony.holderID == nil || ceremony.holderID == stored.holderID,
            let holder = records.holder
        else {
            event.result = "credential.unknown"
            try audit.append([event], at: now)
            return .refused(code: "credential.unknown", message: "no such credential is registered for this relying party")
        }
        event.holder = holder.id
        event.authenticator = stored.aaguid
        let credential = VerificationRequest.StoredCredentialJSON(
            id: stored.id, publicKey: stored.publicKey, signCount: stored.signCount, backupEligible: stored.backupEligible, userHandle: holder.userHandle)
        let live = lists.current
        let outcome = live.service.verify(
            .assertion, request: Self.coreRequest(response, challenge: ceremony.challenge, party: caller.party, credential: credential, at: now),
            now: now)
        guard case .assertion(let assertion) = outcome.result else {
            guard outcome.disposition != .badRequest else {
                throw OperationError(.malformed, outcome.result.failureMessage ?? "the response could not be read")
            }
            event.result = outcome.result.failureCode ?? "rejected"
            observer.verification("assertion", event.result)
            try audit.append([event], at: now)
            return .refused(code: event.result, message: outcome.result.failureMessage ?? "")
        }
        // Judged under the lists in force, from the moment they are: a credential the batch
        // has not reached yet is judged here (FI 46).
        let verdict = try currentVerdict(of: stored, live: live, at: now)
        let acceptable = verdict == Verdict.accepted.rawValue
        let entry = live.catalog.entry(for: .aaguid(AAGUIDText.bytes(stored.aaguid) ?? []))
        let amr = acceptable ? PolicyEngine.assertionAMR(flags: assertion.flags, entry: entry, profile: profile) : []
        event.result = "verified"
        event.amr = amr
        observer.verification("assertion", event.result)
        guard try credentials.recordUse(stored.id, expectedCount: stored.signCount, newCount: assertion.signCount, event: event, at: now) else {
            throw OperationError(.conflict, "the credential was used by another sign-in at the same time; sign in again")
        }
        var judged = stored
        judged.verdict = verdict
        return .verified(holder, judged, assertion, acceptable: acceptable, amr: amr)
    }
}
