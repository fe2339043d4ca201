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
        // report.complete judges the others: the criteria that use it run last.
        var results: [CriterionResult?] = Array(repeating: nil, count: profile.criteria.count)
        for (index, criterion) in profile.criteria.enumerated() where !criterion.summarises {
            results[index] = decide(criterion, context: context, amr: amr, others: [])
        }
        if profile.criteria.contains(where: \.summarises) {
            let decided = results.compactMap { $0 }
            for (index, criterion) in profile.criteria.enumerated() where criterion.summarises {
                results[index] = decide(criterion, context: context, amr: amr, others: decided)
            }
        }
        return finish(results.compactMap { $0 }, context: context, amr: amr)
    }

    static func finish(_ results: [CriterionResult], context: CheckContext, amr: AMRDerivation) -> Evaluation {
        let profile = context.profile
        let time = context.time
        var verdict = Verdict.accepted
        for result in results where result.criterion.severity == .required {
            if result.status == .notSatisfied { verdict = .refused }
            if result.status == .indeterminate && verdict == .accepted { verdict = .indeterminate }
        }
        let lists = context.listsUsed
        return Evaluation(
            verdict: verdict, criteria: results, amr: verdict == .accepted ? amr.values : [], derivedAMR: amr.values,
            describe: { context.summary }, lists: lists, stale: lists.contains { $0.isStale(at: time) },
            profile: (profile.id, profile.version, profile.sha256), profileNote: profile.note, time: time)
    }

    static func decide(_ criterion: Criterion, context: CheckContext, amr: AMRDerivation, others: [CriterionResult]) -> CriterionResult {
        let outcomes = criterion.checks.map { Checks.run($0, context, amr: amr, others: others) }
        var status: CriterionStatus =
            outcomes.contains { $0.status == .notSatisfied }
            ? .notSatisfied
            : outcomes.contains { $0.status == .indeterminate }
                ? .indeterminate : outcomes.allSatisfy { $0.status == .notApplicable } ? .notApplicable : .satisfied
        var missing: [String] = []
        if status == .satisfied, !criterion.evidence.isEmpty {
            // Only here is evidence written during the evaluation: the profile asks for it.
            let recorded = Set(outcomes.flatMap { $0.evidence.map(\.0) })
            missing = criterion.evidence.filter { !recorded.contains($0) }
        }
        if !missing.isEmpty { status = .indeterminate }
        return CriterionResult(criterion: criterion, status: status, checks: outcomes, missingEvidence: missing)
    }
}

/// Everything a check may read, with the lookups done once (checks read these many times).
final class CheckContext: Sendable {
    let subject: EvaluationSubject
    let catalog: CatalogSnapshot
    let time: Date
    let deployment: DeploymentFacts?
    let profile: Profile
    let registration: VerifiedRegistration?
    let card: CardFacts?
    let deviceInfo: DeviceInfo?
    /// The model identifier a trusted attestation signature covers; nil for none/self or an
    /// untrusted path (then the AAGUID is only a claim).
    let attestedIdentifier: AuthenticatorIdentifier?
    /// The catalog entry of the attested model.
    let entry: CatalogEntry?
    /// The lists this evaluation relied on: the ANS list, and for a FIDO2 key the MDS sources
    /// that describe its model (all MDS sources when none does, since a missing entry is then
    /// their answer). Cards rely on the ANS list only.
    let listsUsed: [ListVersion]
    // The registration's few facts the checks decide on, read once: binding the whole
    // registration in each check would copy (and retain) every array it holds.
    let isFIDO: Bool
    let flags: AuthenticatorData.Flags?
    let algorithmName: String
    let rsaBits: Int?
    let attestationType: AttestationResult.AttestationType?
    /// The root the attestation path ended at, when trusted.
    let attestationRoot: Certificate?

    init(subject: EvaluationSubject, catalog: CatalogSnapshot, time: Date, deployment: DeploymentFacts?, profile: Profile) {
        self.subject = subject
        self.catalog = catalog
        self.time = time
        self.deployment = deployment
        self.profile = profile
        switch subject {
        case .fido(let facts):
            registration = facts.registration
            deviceInfo = facts.deviceInfo
            card = nil
        case .card(let facts):
            registration = nil
            deviceInfo = nil
            card = facts
        }
        if let attestation = registration?.attestation, attestation.isTrusted {
            attestedIdentifier = attestation.authenticator
            attestationRoot = attestation.verifiedPath.last
        } else {
            attestedIdentifier = nil
            attestationRoot = nil
        }
        isFIDO = registration != nil
        flags = registration?.flags
        algorithmName = registration?.publicKey.algorithm.name ?? ""
        attestationType = registration?.attestation.type
        if case .rsa(let modulus, _)? = registration?.publicKey.parameters {
            rsaBits = modulus.drop { $0 == 0 }.count * 8 - (modulus.first { $0 != 0 }.map { $0.leadingZeroBitCount } ?? 0)
        } else {
            rsaBits = nil
        }
        let entry = attestedIdentifier.flatMap { catalog.entry(for: $0) }
        self.entry = entry
        let ans = catalog.lists(of: .ans)
        if card != nil {
            listsUsed = ans
        } else {
            let describing = entry?.mds.map(\.list) ?? []
            listsUsed = ans + (describing.isEmpty ? catalog.lists(of: .mds) : catalog.lists(of: .mds).filter { describing.contains($0) })
        }
    }

    /// The statement of the attested model.
    var statement: MetadataStatement? { entry?.statement }

    var summary: EvaluatedAuthenticator {
        if let card {
            let family = catalog.cardFamilies(matchingATR: card.atr).first
            return EvaluatedAuthenticator(
                kind: "card", identifier: family?.family.family ?? card.generation, aaguid: nil, attested: card.chainTrusted,
                description: family?.family.description ?? "CPS/CPx card (\(card.generation))", icon: nil, statusReports: [],
                decision: family.map { ($0.family.decision.status.rawValue, $0.family.decision.reference, $0.family.decision.since, $0.list.label) },
                links: [card.issuerName.map { .named(subject: $0, sha256: card.issuerSHA256.map { Hex.string($0) } ?? "") }].compactMap { $0 })
        }
        guard let registration else {
            return EvaluatedAuthenticator(
                kind: subject.kind, identifier: nil, aaguid: nil, attested: false, description: "unknown", icon: nil, statusReports: [],
                decision: nil, links: [])
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
            links: path.map { .certificate($0) })
    }

    static func text(_ identifier: AuthenticatorIdentifier) -> String {
        switch identifier {
        case .aaguid(let bytes): AAGUIDText.string(bytes)
        case .certificateKeyIdentifier(let bytes): Hex.string(bytes)
        }
    }
}
