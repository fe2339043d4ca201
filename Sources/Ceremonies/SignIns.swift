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
            guard !allowed.isEmpty else { throw Self.noKey(holderID, caller) }
        }
        let now = clock()
        let ceremony = try credentials.open(
            .assertion, clientID: caller.client.id, holderID: holderID, profile: nil, lifetime: settings.challengeLifetime, at: now, evidence: nil,
            operator: nil, rpID: caller.party.id)
        return opened(ceremony, allowed: allowed, by: caller)
    }

    /// `openSignIn` as one statement awaited on the caller's event loop (when `awaitsSignIns`),
    /// gathered with the other openings waiting on that loop.
    package func openSignIn(holder holderID: String?, by caller: Caller) async throws -> SignInOpened {
        let (store, database) = try awaited()
        let (lifetime, now) = (settings.challengeLifetime, clock())
        let found = try await store.openSignIn(holderID: holderID, clientID: caller.client.id, rpID: caller.party.id, lifetime: lifetime, at: now, on: database)
        guard let found else { throw Self.noKey(holderID ?? "", caller) }
        return opened(found.ceremony, allowed: found.allowed, by: caller)
    }

    private func opened(_ ceremony: CeremonyRecord, allowed: [[UInt8]], by caller: Caller) -> SignInOpened {
        let options = WebAuthnOptions.request(party: caller.party, challenge: ceremony.challenge, allow: allowed, timeoutMilliseconds: timeoutMilliseconds)
        return SignInOpened(ceremony: ceremony, options: options)
    }

    /// A holder unknown in the caller's party is answered as one that has no key there.
    private static func noKey(_ holderID: String, _ caller: Caller) -> OperationError {
        OperationError(.notFound, "no holder \(holderID) with a key for \(caller.party.id)")
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
        return try credentials.inOneTransaction { () throws -> SignInCompletion in
            let records = try credentials.takeForSignIn(ceremonyID, clientID: caller.client.id, credential: response.id, rpID: caller.party.id, at: now)
            switch try check(taken(records, ceremonyID, .assertion, by: caller) { $0.ceremony }, response, by: caller, at: now) {
            case .refused(let event, let code, let message):
                try audit.append([event], at: now)
                return .refused(code: code, message: message)
            case .verified(let verified):
                // Judged under the lists in force, before the batch reaches it (FI 46).
                let (event, completion) = verified.completed(verdict: try currentVerdict(of: verified.stored, live: verified.live, at: now), profile: profile)
                observer.verification("assertion", event.result)
                guard try credentials.recordUse(verified.stored.id, expectedCount: verified.stored.signCount, newCount: verified.assertion.signCount, event: event, at: now)
                else { throw Self.counterRace }
                return completion
            }
        }
    }

    /// Whether sign-ins are finished by `finishSignIn(_:_:by:offloading:)`, awaited on the
    /// event loop (PostgreSQL), rather than by the blocking call.
    package var awaitsSignIns: Bool { awaitedSignIns != nil }

    private func awaited() throws(OperationError) -> (store: any AwaitedSignInStoring, database: any AwaitedSQLDatabase) {
        guard let awaitedSignIns else { throw OperationError(.unavailable, "sign-ins cannot be awaited on this database") }
        return awaitedSignIns
    }

    /// `finishSignIn` awaited on the caller's event loop (when `awaitsSignIns`), in two
    /// statements that each commit on their own, prepared once per connection: the ceremony read
    /// with the credential and holder (a refusal writes nothing), the assertion verified and
    /// judged with no connection held, then one statement that takes the ceremony if it is still
    /// unused and unexpired and writes what the sign-in came to: the counter's compare-and-set
    /// and its event (verified), the refusal's event (refused), nothing more (unreadable). So a
    /// sign-in is one commit, all of it or none, as in the blocking call's one transaction; a
    /// second finish of the same ceremony, even at the same moment, finds it taken (a replay).
    /// Each of the two is gathered with those of the other sign-ins on the same event loop
    /// that came while its previous one ran: one statement, one round trip and one commit for
    /// them all.
    /// A credential whose verdict must be judged again under new lists (rare: once per list
    /// change, before the batch reaches it) is judged through `offloading`, on a thread that may
    /// block: a verdict recorded stays true whatever the sign-in comes to.
    package func finishSignIn(
        _ ceremonyID: String, _ response: CredentialResponse, by caller: Caller,
        offloading: @escaping @Sendable (@escaping @Sendable () throws -> String) async throws -> String
    ) async throws -> SignInCompletion {
        let (store, database) = try awaited()
        let now = clock()
        let clientID = caller.client.id
        let read = try await store.readForSignIn(ceremonyID, clientID: clientID, credential: response.id, rpID: caller.party.id, at: now, on: database)
        let records = try taken(read, ceremonyID, .assertion, by: caller) { $0.ceremony }
        /// The ceremony taken with `outcome` (refused when it was taken since it was read);
        /// whether a verified sign-in's counter moved.
        func write(_ outcome: SignInOutcome) async throws -> Bool {
            switch try await store.writeSignIn(ceremonyID, clientID: clientID, outcome, at: now, on: database) {
            case .notTaken(let refusal): throw Self.refused(refusal, ceremonyID, .assertion)
            case .taken(let moved): return moved
            }
        }
        let checked: SignInCheck
        do {
            checked = try check(records, response, by: caller, at: now)
        } catch {
            // Unreadable: the ceremony is used up all the same, as a refusal's is.
            _ = try await write(.unread)
            throw error
        }
        switch checked {
        case .refused(let event, let code, let message):
            _ = try await write(.refused(event))
            return .refused(code: code, message: message)
        case .verified(let verified):
            let stored = verified.stored
            let verdict = try await judged(stored, live: verified.live, at: now, offloading: offloading)
            let (event, completion) = verified.completed(verdict: verdict, profile: profile)
            let moved = try await write(.verified(credential: stored.id, expected: stored.signCount, new: verified.assertion.signCount, event: event))
            // Counted once the ceremony is taken (a replay found by the write is not a sign-in).
            observer.verification("assertion", event.result)
            guard moved else { throw Self.counterRace }
            return completion
        }
    }

    /// The stored verdict, or a new one when the lists in force changed since it was judged:
    /// judged under the lists in force from the moment they are, before the batch reaches it
    /// (FI 46).
    private func judged(
        _ stored: StoredCredentialRecord, live: LiveVerification, at now: Date,
        offloading: @escaping @Sendable (@escaping @Sendable () throws -> String) async throws -> String
    ) async throws -> String {
        guard stored.judgedUnder != CredentialJudge(live, profile: profile).key else { return stored.verdict }
        return try await offloading { [self] in try currentVerdict(of: stored, live: live, at: now) }
    }

    private static var counterRace: OperationError {
        OperationError(.conflict, "the credential was used by another sign-in at the same time; sign in again")
    }

    /// An assertion checked against what its take read: refused, with the event to record, or
    /// verified, waiting for its verdict and counter.
    private enum SignInCheck {
        case refused(AuditEvent, code: String, message: String)
        case verified(VerifiedSignIn)
    }

    private struct VerifiedSignIn {
        let stored: StoredCredentialRecord
        let holder: Holder
        let assertion: VerifiedAssertion
        let live: LiveVerification
        let event: AuditEvent

        /// The sign-in's event and answer under `verdict`: AMR only for an accepted MIE.
        func completed(verdict: String, profile: Profile) -> (AuditEvent, SignInCompletion) {
            let acceptable = verdict == Verdict.accepted.rawValue
            let entry = live.catalog.entry(for: .aaguid(AAGUIDText.bytes(stored.aaguid) ?? []))
            let amr = acceptable ? PolicyEngine.assertionAMR(flags: assertion.flags, entry: entry, profile: profile) : []
            var event = event
            event.result = "verified"
            event.amr = amr
            var judged = stored
            judged.verdict = verdict
            return (event, .verified(holder, judged, assertion, acceptable: acceptable, amr: amr))
        }
    }

    /// The stored credential (live, this relying party's, the ceremony holder's when it named
    /// one) and the assertion verified against it.
    private func check(_ records: SignInRecords, _ response: CredentialResponse, by caller: Caller, at now: Date) throws -> SignInCheck {
        let ceremony = records.ceremony
        var event = AuditEvent(
            action: "assertion", client: caller.auditName, holder: ceremony.holderID, credentialID: Base64URL.encode(response.id), result: "")
        guard let stored = records.credential, stored.deletedAt == nil, stored.rpID == caller.party.id,
            ceremony.holderID == nil || ceremony.holderID == stored.holderID,
            let holder = records.holder
        else {
            event.result = "credential.unknown"
            return .refused(event, code: "credential.unknown", message: "no such credential is registered for this relying party")
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
            return .refused(event, code: event.result, message: outcome.result.failureMessage ?? "")
        }
        return .verified(VerifiedSignIn(stored: stored, holder: holder, assertion: assertion, live: live, event: event))
    }
}
