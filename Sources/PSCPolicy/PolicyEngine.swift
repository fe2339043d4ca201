import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import SignatureVerification
import WireFormat

/// Decides whether an authenticator is an accepted MIE under a profile: runs each criterion's
/// checks over the facts, the catalog and the time, derives the AMR, and gives the verdict.
/// Pure and deterministic: no clock, no I/O.
public enum PolicyEngine {
    public static func evaluate(
        _ subject: EvaluationSubject, catalog: CatalogSnapshot, profile: Profile, at time: Date, deployment: DeploymentFacts? = nil
    ) -> Evaluation {
        let context = CheckContext(subject: subject, catalog: catalog, time: time, deployment: deployment, profile: profile)
        let amr = AMRDerivation.derive(context)
        var results: [CriterionResult] = []
        // report.complete judges the others: run the criteria without it first.
        let (plain, summarising) = profile.criteria.enumerated().reduce(into: ([(Int, Criterion)](), [(Int, Criterion)]())) { split, item in
            if item.element.checks.contains(where: { $0.kind == .reportComplete }) { split.1.append(item) } else { split.0.append(item) }
        }
        var byIndex: [Int: CriterionResult] = [:]
        for (index, criterion) in plain {
            byIndex[index] = decide(criterion, context: context, amr: amr, others: [])
        }
        let decided = plain.compactMap { byIndex[$0.0] }
        for (index, criterion) in summarising {
            byIndex[index] = decide(criterion, context: context, amr: amr, others: decided)
        }
        results = profile.criteria.indices.compactMap { byIndex[$0] }

        let required = results.filter { $0.criterion.severity == .required }
        let verdict: Verdict =
            required.contains { $0.status == .notSatisfied } ? .refused : required.contains { $0.status == .indeterminate } ? .indeterminate : .accepted
        let lists = context.listsUsed
        return Evaluation(
            verdict: verdict, criteria: results, amr: verdict == .accepted ? amr.values : [], derivedAMR: amr.values,
            authenticator: context.summary, lists: lists, stale: lists.contains { $0.isStale(at: time) },
            profile: (profile.id, profile.version, profile.sha256), profileNote: profile.note, time: time)
    }

    static func decide(_ criterion: Criterion, context: CheckContext, amr: AMRDerivation, others: [CriterionResult]) -> CriterionResult {
        let outcomes = criterion.checks.map { Checks.run($0, context, amr: amr, others: others) }
        var status: CriterionStatus =
            outcomes.contains { $0.status == .notSatisfied }
            ? .notSatisfied
            : outcomes.contains { $0.status == .indeterminate }
                ? .indeterminate : outcomes.allSatisfy { $0.status == .notApplicable } ? .notApplicable : .satisfied
        let recorded = Set(outcomes.flatMap { $0.evidence.map(\.0) })
        let missing = status == .satisfied ? criterion.evidence.filter { !recorded.contains($0) } : []
        if !missing.isEmpty { status = .indeterminate }
        return CriterionResult(criterion: criterion, status: status, checks: outcomes, missingEvidence: missing)
    }
}

/// Everything a check may read, with the lookups done once.
struct CheckContext {
    let subject: EvaluationSubject
    let catalog: CatalogSnapshot
    let time: Date
    let deployment: DeploymentFacts?
    let profile: Profile

    var registration: VerifiedRegistration? {
        if case .fido(let facts) = subject { return facts.registration }
        return nil
    }

    var card: CardFacts? {
        if case .card(let facts) = subject { return facts }
        return nil
    }

    var deviceInfo: DeviceInfo? {
        if case .fido(let facts) = subject { return facts.deviceInfo }
        return nil
    }

    /// The model identifier a trusted attestation signature covers; nil for none/self or an
    /// untrusted path (then the AAGUID is only a claim).
    var attestedIdentifier: AuthenticatorIdentifier? {
        guard let attestation = registration?.attestation, attestation.isTrusted else { return nil }
        return attestation.authenticator
    }

    /// The catalog entry of the attested model.
    var entry: CatalogEntry? { attestedIdentifier.flatMap { catalog.entry(for: $0) } }

    /// The statement of the attested model.
    var statement: MetadataStatement? { entry?.statement }

    /// The lists this evaluation relied on: the ANS list, and for a FIDO2 key the MDS sources
    /// that describe its model (all MDS sources when none does, since a missing entry is then
    /// their answer). Cards rely on the ANS list only.
    var listsUsed: [ListVersion] {
        let ans = catalog.lists(of: .ans)
        if card != nil { return ans }
        let describing = entry?.mds.map(\.list) ?? []
        return ans + (describing.isEmpty ? catalog.lists(of: .mds) : catalog.lists(of: .mds).filter { describing.contains($0) })
    }

    var summary: EvaluatedAuthenticator {
        if let card {
            let family = catalog.cardFamilies(matchingATR: card.atr).first
            return EvaluatedAuthenticator(
                kind: "card", identifier: family?.family.family ?? card.generation, aaguid: nil, attested: card.chainTrusted,
                description: family?.family.description ?? "CPS/CPx card (\(card.generation))", icon: nil, statusReports: [],
                decision: family.map { ($0.family.decision.status.rawValue, $0.family.decision.reference, $0.family.decision.since, $0.list.label) },
                chain: [card.issuerName.map { ($0, card.issuerSHA256.map { Hex.string($0) } ?? "") }].compactMap { $0 })
        }
        guard let registration else {
            return EvaluatedAuthenticator(
                kind: subject.kind, identifier: nil, aaguid: nil, attested: false, description: "unknown", icon: nil, statusReports: [],
                decision: nil, chain: [])
        }
        let attested = attestedIdentifier
        let claimed = attested ?? .aaguid(registration.aaguid)
        let shown = entry ?? catalog.entry(for: claimed)
        let reports = (shown?.mds ?? []).flatMap { record in
            record.entry.statusReports.map { (status: $0.status.description, effectiveDate: $0.effectiveDateText, list: record.list.label) }
        }
        let path = registration.attestation.verifiedPath.isEmpty ? registration.attestation.certificates : registration.attestation.verifiedPath
        return EvaluatedAuthenticator(
            kind: "fido2", identifier: Self.text(claimed), aaguid: AAGUIDText.string(registration.aaguid), attested: attested != nil,
            description: shown?.description ?? "authenticator not in the catalog", icon: shown?.statement?.icon, statusReports: reports,
            decision: shown?.ans.map {
                ($0.authenticator.decision.status.rawValue, $0.authenticator.decision.reference, $0.authenticator.decision.since, $0.list.label)
            },
            chain: path.map { ($0.subjectDescription, Hex.string($0.sha256Fingerprint)) })
    }

    static func text(_ identifier: AuthenticatorIdentifier) -> String {
        switch identifier {
        case .aaguid(let bytes): AAGUIDText.string(bytes)
        case .certificateKeyIdentifier(let bytes): Hex.string(bytes)
        }
    }
}
