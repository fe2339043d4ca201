import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import Storage
import VerificationRequests
import WireFormat

/// The desk staff's own ceremonies: an operator's key registered with a one-time code (the
/// first, or another one), and sign-in with it. Their keys are not judged by the PSC profile.
extension ServiceOperations {
    package struct OperatorCeremonyOpened: Sendable {
        package let ceremony: CeremonyRecord
        package let operatorName: String
        package let options: JSONValue
    }

    /// Options to register a key for the operator whose one-time code this is.
    package func openOperatorEnrolment(code: String, desk: Caller) throws -> OperatorCeremonyOpened {
        let now = clock()
        guard let found = try operators.redeemable(code: code, at: now) else {
            throw OperationError(.operatorCodeInvalid, "this code is unknown, spent or expired; ask for a new one (mie-verifier operators code NAME)")
        }
        let ceremony = try credentials.open(
            .operatorRegistration, clientID: desk.client.id, holderID: nil, profile: nil, lifetime: settings.challengeLifetime, at: now, evidence: nil,
            operator: found.name, rpID: desk.party.id)
        let existing = try operators.credentials(operator: found.id).map(\.id)
        // Staff keys are not judged by the PSC profile: no attestation asked.
        let options = WebAuthnOptions.creation(
            party: desk.party, userHandle: found.userHandle, name: found.name, displayName: found.name, challenge: ceremony.challenge, exclude: existing,
            attestation: "none", timeoutMilliseconds: timeoutMilliseconds)
        return OperatorCeremonyOpened(ceremony: ceremony, operatorName: found.name, options: options)
    }

    /// The operator's key registered, the code spent with its storage: the operator signed in.
    package func finishOperatorEnrolment(_ ceremonyID: String, _ response: CredentialResponse, code: String, desk: Caller) throws -> DeskOperator {
        let now = clock()
        let ceremony = try takeCeremony(ceremonyID, .operatorRegistration, by: desk, at: now)
        guard let found = try operators.redeemable(code: code, at: now), found.name == ceremony.operator else {
            throw OperationError(.operatorCodeInvalid, "this code is unknown, spent or expired, or not the ceremony's")
        }
        let outcome = lists.current.service.verify(
            .registration, request: Self.coreRequest(response, challenge: ceremony.challenge, party: desk.party, credential: nil, at: now), now: now)
        guard case .registration(let registration) = outcome.result else {
            try audit.append([AuditEvent(action: "operator.key", client: "desk:\(found.name)", result: outcome.result.failureCode ?? "refused")], at: now)
            throw OperationError(.invalidCredentials, "the key's registration was refused: \(outcome.result.failureMessage ?? "")")
        }
        let credential = OperatorCredential(
            id: registration.credentialID, operatorID: found.id, publicKey: registration.publicKey.encoded, algorithm: registration.publicKey.algorithm.name,
            signCount: registration.signCount, backupEligible: registration.flags.backupEligible, aaguid: AAGUIDText.string(registration.aaguid),
            createdAt: now.formatted(.iso8601))
        let event = AuditEvent(
            action: "operator.key", client: "desk:\(found.name)", credentialID: Base64URL.encode(registration.credentialID),
            authenticator: credential.aaguid, result: "registered")
        do {
            guard try operators.enrol(credential, code: code, event: event, at: now) else {
                throw OperationError(.operatorCodeInvalid, "this code was spent meanwhile")
            }
        } catch let error as StoreError where error.code == .credentialExists {
            throw OperationError(.conflict, "this key is already registered")
        }
        return found
    }

    /// Options to sign in as `name`. An unknown or revoked name gets options like any other (no
    /// list of staff names from the outside); its sign-in then fails.
    package func openOperatorSignIn(name: String, desk: Caller) throws -> OperatorCeremonyOpened {
        let now = clock()
        let found = try operators.find(name: name).flatMap { $0.revokedAt == nil ? $0 : nil }
        let keys = try found.map { try operators.credentials(operator: $0.id).map(\.id) } ?? []
        let ceremony = try credentials.open(
            .operatorAssertion, clientID: desk.client.id, holderID: nil, profile: nil, lifetime: settings.challengeLifetime, at: now, evidence: nil,
            operator: name, rpID: desk.party.id)
        let options = WebAuthnOptions.request(party: desk.party, challenge: ceremony.challenge, allow: keys, timeoutMilliseconds: timeoutMilliseconds)
        return OperatorCeremonyOpened(ceremony: ceremony, operatorName: name, options: options)
    }

    /// The operator's signature verified and its counter moved: who signed in.
    package func finishOperatorSignIn(_ ceremonyID: String, _ response: CredentialResponse, desk: Caller) throws -> DeskOperator {
        let now = clock()
        let ceremony = try takeCeremony(ceremonyID, .operatorAssertion, by: desk, at: now)
        var event = AuditEvent(
            action: "operator.sign-in", client: ceremony.operator.map { "desk:\($0)" }, credentialID: Base64URL.encode(response.id), result: "")
        guard let key = try operators.find(credential: response.id), let found = try operators.find(id: key.operatorID), found.revokedAt == nil,
            found.name == ceremony.operator
        else {
            event.result = "credential.unknown"
            try audit.append([event], at: now)
            throw OperationError(.invalidCredentials, "this key is not registered for this operator")
        }
        let stored = VerificationRequest.StoredCredentialJSON(
            id: key.id, publicKey: key.publicKey, signCount: key.signCount, backupEligible: key.backupEligible, userHandle: found.userHandle)
        let outcome = lists.current.service.verify(
            .assertion, request: Self.coreRequest(response, challenge: ceremony.challenge, party: desk.party, credential: stored, at: now), now: now)
        guard case .assertion(let assertion) = outcome.result else {
            event.result = outcome.result.failureCode ?? "refused"
            try audit.append([event], at: now)
            throw OperationError(.invalidCredentials, "the key's signature was refused: \(outcome.result.failureMessage ?? "")")
        }
        event.result = "verified"
        event.authenticator = key.aaguid
        guard try operators.recordUse(key.id, expectedCount: key.signCount, newCount: assertion.signCount, event: event, at: now) else {
            throw OperationError(.conflict, "the key was used by another sign-in at the same time; sign in again")
        }
        return found
    }
}
