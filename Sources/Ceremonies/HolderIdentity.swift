import Foundation
import PSCPolicy
import Storage

/// A holder's identity as a request states it.
package struct HolderClaim: Sendable, Equatable {
    package var id: String
    package var name: String
    package var displayName: String
    package var rpps: String?

    package init(id: String, name: String, displayName: String, rpps: String?) {
        self.id = id
        self.name = name
        self.displayName = displayName
        self.rpps = rpps
    }
}

/// Identity evidence only strengthens. A holder's identity fields (name, display name, RPPS) are
/// changed only by evidence at least as strong as what set them, and a client's word counts
/// only for the client that gave it: another client asserting the same holder is weaker. A
/// weaker request can neither change them nor add a key to the holder, unless its client is
/// allowed to add keys (`addsKeysToStrongerHolders`, off by default), and then it changes
/// nothing of the identity.
package enum HolderIdentityRule {
    package enum Decision: Equatable, Sendable {
        /// The holder stays as it is; a key may be added to it.
        case unchanged
        /// Its identity fields become these.
        case update(Holder)
        /// Neither: why not.
        case refuse(String)
    }

    package static func decide(
        _ existing: Holder, claim: HolderClaim, evidence: DeploymentFacts.IdentityEvidence, client: Int64, addsKeysToStrongerHolders: Bool
    ) -> Decision {
        let held = DeploymentFacts.IdentityEvidence(rawValue: existing.evidence) ?? .assertedByClient
        let sameFields = existing.name == claim.name && existing.displayName == claim.displayName && existing.rpps == claim.rpps
        let updated = existing.with(name: claim.name, displayName: claim.displayName, rpps: claim.rpps, evidence: evidence.rawValue, client: client)
        if evidence > held { return .update(updated) }
        let sameSource = evidence == held && (evidence != .assertedByClient || existing.ownerClientID == client)
        if sameSource { return sameFields ? .unchanged : .update(updated) }
        guard addsKeysToStrongerHolders else {
            return .refuse(
                "this holder's identity was set by stronger evidence (\(held.rawValue)\(held == .assertedByClient ? " of another client" : "")): a request \(evidence.rawValue) can neither change it nor add a key to it"
            )
        }
        return .unchanged
    }
}

extension ServiceOperations {
    /// The holder a registration is for: created, or with its identity fields changed where
    /// the rule allows, each change an audit event with old and new values. Compare and set: a
    /// concurrent change is read again and decided anew.
    func settleHolder(_ claim: HolderClaim, evidence: DeploymentFacts.IdentityEvidence, by caller: Caller, at now: Date) throws -> Holder {
        for _ in 0..<3 {
            guard let existing = try credentials.find(holder: claim.id, rpID: caller.party.id) else {
                let holder = Holder(
                    rpID: caller.party.id, id: claim.id, name: claim.name, displayName: claim.displayName, rpps: claim.rpps,
                    userHandle: CredentialStore.randomBytes(32), evidence: evidence.rawValue, ownerClientID: caller.client.id)
                if try credentials.create(holder, event: Self.identityEvent(from: nil, to: holder, by: caller), at: now) { return holder }
                continue
            }
            switch HolderIdentityRule.decide(
                existing, claim: claim, evidence: evidence, client: caller.client.id, addsKeysToStrongerHolders: caller.client.addsKeysToStrongerHolders)
            {
            case .unchanged: return existing
            case .refuse(let why):
                try audit.append(
                    [AuditEvent(action: "holder.identity", client: caller.auditName, holder: existing.id, result: OperationError.Code.evidenceWeaker.rawValue,
                        detail: "refused: \(evidence.rawValue) over \(existing.evidence)")], at: now)
                throw OperationError(.evidenceWeaker, why)
            case .update(let new):
                if try credentials.update(existing, to: new, event: Self.identityEvent(from: existing, to: new, by: caller), at: now) { return new }
            }
        }
        throw OperationError(.conflict, "the holder was changed by another request meanwhile; try again")
    }

    /// A holder created or its identity fields changed: old and new values.
    static func identityEvent(from old: Holder?, to new: Holder, by caller: Caller) -> AuditEvent {
        func fields(_ holder: Holder?) -> String {
            guard let holder else { return "none" }
            return "name=\(holder.name) displayName=\(holder.displayName) rpps=\(holder.rpps ?? "-") evidence=\(holder.evidence)"
        }
        return AuditEvent(
            action: old == nil ? "holder.created" : "holder.identity", client: caller.auditName, holder: new.id, result: old == nil ? "created" : "changed",
            detail: "rp \(new.rpID); old: \(fields(old)); new: \(fields(new))")
    }
}
