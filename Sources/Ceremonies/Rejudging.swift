import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import PSCPolicy
import Storage
import VerificationRequests
import WireFormat

/// Names the lists and profile a verdict was given under: the active versions' ids and the
/// profile's digest. A credential judged under another key is judged again (FI 46).
package enum JudgementKey {
    package static func of(_ catalog: CatalogSnapshot, profile: Profile) -> String {
        let lists = catalog.lists.map { version in version.id.map(String.init) ?? String(version.sha256.prefix(16)) }
        return "lists \(lists.joined(separator: ",")); profile \(profile.label) \(profile.sha256.prefix(16))"
    }
}

/// Judges stored credentials again under the lists in force: the registration they were
/// verified from runs through the core again (its certificates judged at the registration's
/// time: a list change is not a clock change) and the PSC engine decides under the new lists
/// at the time given. A credential enrolled before its registration was kept (schema 9) is
/// judged by its model's standing alone. Pure: no store, no clock.
package struct CredentialJudge: Sendable {
    package let catalog: CatalogSnapshot
    package let service: VerificationService
    package let profile: Profile
    package let key: String

    package init(catalog: CatalogSnapshot, service: VerificationService, profile: Profile) {
        self.catalog = catalog
        self.service = service
        self.profile = profile
        key = JudgementKey.of(catalog, profile: profile)
    }

    package init(_ live: LiveVerification, profile: Profile) {
        self.init(catalog: live.catalog, service: live.service, profile: profile)
    }

    /// A hypothetical catalog (an impact report): its own core over its own trust.
    package init(catalog: CatalogSnapshot, profile: Profile) {
        self.init(catalog: catalog, service: VerificationService(trust: catalog), profile: profile)
    }

    package func judge(_ input: JudgementInput, at now: Date) -> Rejudgement {
        let stored = input.credential
        func result(_ verdict: String, _ amr: [String], lists: [String], authenticator: String, cause: String) -> Rejudgement {
            Rejudgement(
                credentialID: stored.id, oldVerdict: stored.verdict, oldAMR: stored.amr, verdict: verdict, amr: amr, lists: lists,
                authenticator: authenticator, cause: cause)
        }
        guard let attestation = stored.attestationObject, let clientData = stored.clientDataJSON else {
            return judgeByModel(input, at: now)
        }
        guard let parsed = try? JSONValue.parse(clientData, document: "clientDataJSON"),
            let challenge = parsed["challenge"]?.string.flatMap(Base64URL.decode), let origin = parsed["origin"]?.string
        else {
            return result(
                Verdict.refused.rawValue, [], lists: catalog.lists.map(\.label), authenticator: stored.authenticator,
                cause: "the stored client data no longer reads")
        }
        let registered = RFC3339.secondsSince1970(stored.createdAt).map(Date.init(timeIntervalSince1970:)) ?? now
        let response = CredentialResponse(id: stored.id, clientDataJSON: clientData, attestationObject: attestation)
        let request = ServiceOperations.coreRequest(
            response, challenge: challenge, party: RelyingParty(id: stored.rpID, origins: [origin]), credential: nil, at: registered)
        let outcome = service.verify(.registration, request: request, now: registered)
        guard case .registration(let registration) = outcome.result else {
            let failure = outcome.result.failureCode ?? "rejected"
            return result(
                Verdict.refused.rawValue, [], lists: catalog.lists.map(\.label), authenticator: stored.authenticator,
                cause: "the stored registration no longer verifies: \(failure)")
        }
        let evidence = DeploymentFacts.IdentityEvidence(rawValue: stored.identityEvidence) ?? .assertedByClient
        let deployment = DeploymentFacts(
            holderNationalID: input.holderRPPS.map { "8" + $0 } ?? stored.holderID, holderLuhnValid: input.holderRPPS.map(CheckDigit.isRPPS),
            identityEvidence: evidence, credentialIDUnique: true)
        let evaluation = PolicyEngine.evaluate(.fido(FIDOFacts(registration: registration)), catalog: catalog, profile: profile, at: now, deployment: deployment)
        let lists = evaluation.lists.map(\.label)
        let cause: String
        if evaluation.verdict == .accepted {
            cause = "accepted under \(lists.joined(separator: ", "))"
        } else {
            let deciding = evaluation.criteria.filter { result in
                result.criterion.severity == .required && (result.status == .notSatisfied || result.status == .indeterminate)
            }
            cause = deciding.map { "\($0.criterion.id) \($0.status.rawValue): \($0.reason)" }.joined(separator: "; ")
        }
        return result(evaluation.verdict.rawValue, evaluation.amr, lists: lists, authenticator: evaluation.authenticator.description, cause: cause)
    }

    /// A credential without its registration: refused when its model is no longer referenced
    /// or has a negative FIDO status; otherwise its verdict stands.
    private func judgeByModel(_ input: JudgementInput, at now: Date) -> Rejudgement {
        let stored = input.credential
        let entry = AAGUIDText.bytes(stored.aaguid).flatMap { catalog.entry(for: .aaguid($0)) }
        var lists: [String] = []
        var refusal: String?
        if let ans = entry?.ans {
            lists.append(ans.list.label)
            let effect = ans.authenticator.decision.effect(at: now)
            if effect != .referenced { refusal = "the ANS decision in force is \(effect.rawValue) (\(ans.authenticator.decision.reference))" }
        } else {
            refusal = "the model is not on the ANS list in force"
        }
        for record in entry?.mds ?? [] {
            lists.append(record.list.label)
            if let status = record.entry.status(at: now)?.status, status.isNegative, refusal == nil {
                refusal = "FIDO MDS status \(status.description)"
            }
        }
        if lists.isEmpty { lists = catalog.lists.map(\.label) }
        let note = "judged by the model's standing only (enrolled before registrations were kept)"
        if let refusal {
            return Rejudgement(
                credentialID: stored.id, oldVerdict: stored.verdict, oldAMR: stored.amr, verdict: Verdict.refused.rawValue, amr: [], lists: lists,
                authenticator: entry?.description ?? stored.authenticator, cause: "\(refusal); \(note)")
        }
        return Rejudgement(
            credentialID: stored.id, oldVerdict: stored.verdict, oldAMR: stored.amr, verdict: stored.verdict, amr: stored.amr, lists: lists,
            authenticator: entry?.description ?? stored.authenticator, cause: note)
    }
}

extension ServiceOperations {
    /// The judge of the lists in force now.
    package var currentJudge: CredentialJudge { CredentialJudge(lists.current, profile: profile) }

    /// The verdict of a stored credential under `live`: its stored one when it was judged under
    /// these lists, else judged now (and the change recorded, as the batch would).
    func currentVerdict(of stored: StoredCredentialRecord, live: LiveVerification, at now: Date) throws -> String {
        let judge = CredentialJudge(live, profile: profile)
        guard stored.judgedUnder != judge.key, let input = try verdicts.judgementInput(credential: stored.id) else { return stored.verdict }
        let judgement = judge.judge(input, at: now)
        observer.rejudged(1, changes: try verdicts.record([judgement], under: judge.key, at: now))
        return judgement.verdict
    }

    /// One batch of re-judging: what was judged, what changed, where the next batch starts.
    package struct RejudgingBatch: Sendable {
        package let judged: Int
        package let changes: [VerdictChange]
        package let last: [UInt8]?
        package let key: String
    }

    /// Judges the next `limit` stored credentials (after `after`, by id) not judged under the
    /// lists in force, and records their new verdicts. `judged == 0`: nothing left.
    package func rejudge(after: [UInt8]?, limit: Int) throws -> RejudgingBatch {
        let judge = currentJudge
        let now = clock()
        let inputs = try verdicts.credentials(notJudgedUnder: judge.key, after: after, limit: limit)
        let judgements = inputs.map { judge.judge($0, at: now) }
        let changes = try verdicts.record(judgements, under: judge.key, at: now)
        observer.rejudged(inputs.count, changes: changes)
        return RejudgingBatch(judged: inputs.count, changes: changes, last: inputs.last?.credential.id, key: judge.key)
    }
}

/// What importing a list would change, computed without writing anything: every stored
/// credential judged under the lists in force and under them with `list` in place of its
/// source's version (`referencing impact`).
package struct ListImpact: Sendable {
    package struct Change: Sendable {
        package let input: JudgementInput
        package let before: Rejudgement
        package let after: Rejudgement
    }

    /// `FIDO MDS no 1 -> FIDO MDS no 2`, or `ANS list no 1 added`.
    package let replacing: String
    package let judged: Int
    package let changes: [Change]

    package struct Refusal: Error, Sendable, CustomStringConvertible {
        package let description: String
    }

    package static func of(
        _ list: VerifiedList, document: [UInt8], referencing: ReferencingStore, verdicts: any VerdictChangeStoring, profile: Profile, at time: Date,
        progress: ((Int) -> Void)? = nil
    ) throws -> ListImpact {
        let active = try referencing.activeLists()
        let version = list.version(document: document)
        let sameSource = { (item: (version: ListVersion, list: VerifiedList)) in item.version.kind == version.kind && item.version.source == version.source }
        let replaced = active.first(where: sameSource)
        if let old = replaced, version.number <= old.version.number {
            throw Refusal(description: "\(version.label) does not exceed \(old.version.label) in force: an import would be refused (import.rollback)")
        }
        let now = CredentialJudge(catalog: CatalogSnapshot(lists: active), profile: profile)
        let next = CredentialJudge(catalog: CatalogSnapshot(lists: active.filter { !sameSource($0) } + [(version, list)]), profile: profile)
        var judged = 0
        var changes: [Change] = []
        try verdicts.forEachCredential(batch: 500) { batch in
            for input in batch {
                let before = now.judge(input, at: time)
                let after = next.judge(input, at: time)
                if before.verdict != after.verdict || before.amr != after.amr { changes.append(Change(input: input, before: before, after: after)) }
            }
            judged += batch.count
            progress?(judged)
        }
        return ListImpact(
            replacing: replaced.map { "\($0.version.label) -> \(version.label)" } ?? "\(version.label) added", judged: judged, changes: changes)
    }
}
