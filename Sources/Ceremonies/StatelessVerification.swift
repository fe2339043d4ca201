import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import PSCPolicy
import Storage
import VerificationRequests
import WireFormat

extension ServiceOperations {
    /// A stateless verification: the core's outcome and, for a verified registration, the
    /// engine's evaluation; for a verified assertion, its AMR.
    package struct Judged: Sendable {
        package let outcome: VerificationOutcome
        package let evaluation: Evaluation?
        package let amr: [String]
    }

    /// POST /v1/registrations/verify and /v1/assertions/verify: the IAM keeps challenges and
    /// credentials; the service verifies with its catalog, policy and clock, and judges. A
    /// request the core could not read is `request.malformed`. Its audit event is queued.
    package func judge(
        _ ceremony: Ceremony, _ response: CredentialResponse, challenge: [UInt8], credential: VerificationRequest.StoredCredentialJSON?,
        profile name: String?, by caller: Caller
    ) throws(OperationError) -> Judged {
        try requireAuditRoom()
        let profile = try profile(named: name)
        let live = lists.current
        let now = clock()
        let outcome = live.service.verify(
            ceremony, request: Self.coreRequest(response, challenge: challenge, party: caller.party, credential: credential, at: now), now: now)
        var event = AuditEvent(
            action: "\(ceremony.rawValue).verify", client: caller.client.name, result: outcome.result.failureCode ?? "verified", profile: profile.label)
        defer {
            auditQueue.record(event)
            observer.verification(ceremony.rawValue, event.result)
        }
        guard outcome.disposition != .badRequest else {
            throw OperationError(.malformed, outcome.result.failureMessage ?? "the request could not be verified")
        }
        switch outcome.result {
        case .registration(let registration):
            let evaluation = PolicyEngine.evaluate(.fido(FIDOFacts(registration: registration)), catalog: live.catalog, profile: profile, at: now)
            event.authenticator = AAGUIDText.string(registration.aaguid)
            event.credentialID = Base64URL.encode(registration.credentialID)
            event.result = evaluation.verdict.rawValue
            event.amr = evaluation.amr
            event.lists = evaluation.lists.map(\.label)
            return Judged(outcome: outcome, evaluation: evaluation, amr: evaluation.amr)
        case .assertion(let assertion):
            let amr = PolicyEngine.assertionAMR(flags: assertion.flags, entry: nil, profile: profile)
            event.credentialID = Base64URL.encode(assertion.credentialID)
            event.amr = amr
            return Judged(outcome: outcome, evaluation: nil, amr: amr)
        case .rejected:
            return Judged(outcome: outcome, evaluation: nil, amr: [])
        }
    }

    /// A vendor's candidate registration in the offline request format, made with its own
    /// challenge and relying party: verified with any attestation accepted, at the service's
    /// time, and judged by the service's profile and lists (the conformity report's content).
    package func evaluateCandidate(_ request: VerificationRequest, by caller: Caller) throws(OperationError) -> Judged {
        try requireAuditRoom()
        var request = request
        let now = clock()
        request.policy.attestation = .any
        request.at = now
        let live = lists.current
        let outcome = live.service.verify(.registration, request: request, now: now)
        guard case .registration(let registration) = outcome.result else {
            guard outcome.disposition != .badRequest else {
                throw OperationError(.malformed, outcome.result.failureMessage ?? "the request could not be verified")
            }
            return Judged(outcome: outcome, evaluation: nil, amr: [])
        }
        let evaluation = PolicyEngine.evaluate(.fido(FIDOFacts(registration: registration)), catalog: live.catalog, profile: profile, at: now)
        auditQueue.record(
            AuditEvent(
                action: "evaluation", client: caller.client.name, authenticator: AAGUIDText.string(registration.aaguid),
                result: evaluation.verdict.rawValue, amr: evaluation.amr, lists: evaluation.lists.map(\.label), profile: profile.label))
        return Judged(outcome: outcome, evaluation: evaluation, amr: evaluation.amr)
    }

    /// Imports a list with the configured signers, stores it, and puts it in force.
    package func importList(_ document: [UInt8], signature: [UInt8]?) throws -> ListVersion {
        guard let importTrust else {
            throw OperationError(.listRefused, "no list signer is configured (mdsRoots, ansKeys)", reason: "import.no-trust")
        }
        switch referencing.importList(document, signature: signature, trust: importTrust, at: clock()) {
        case .refused(let failure): throw OperationError(.listRefused, failure.message, reason: failure.code.rawValue)
        case .imported(let version, _):
            try reloadLists()
            return version
        }
    }

    /// Builds a new snapshot from the stored lists and puts it in force.
    package func reloadLists() throws(StoreError) {
        lists.swap(to: try referencing.snapshot())
    }
}
