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
        // Statuses only, in flat arrays: the results people read (reasons, evidence, per-check
        // outcomes) are built from these when asked for.
        let criteria = profile.criteria
        var checkStatuses = [CriterionStatus](repeating: .notApplicable, count: profile.checkCount)
        var statuses = [CriterionStatus](repeating: .notApplicable, count: criteria.count)
        var missingEvidence: [Int: [String]] = [:]
        // One criterion: its checks' statuses into the flat array, its own status back.
        func decide(_ index: Int, _ criterion: Criterion, others: Decided) -> CriterionStatus {
            var anyNotSatisfied = false
            var anyIndeterminate = false
            var anyApplicable = false
            let base = profile.checkOffsets[index]
            for offset in criterion.checks.indices {
                let found = Checks.run(criterion.checks[offset], context, others: others, .deciding).status
                checkStatuses[base + offset] = found
                anyNotSatisfied = anyNotSatisfied || found == .notSatisfied
                anyIndeterminate = anyIndeterminate || found == .indeterminate
                anyApplicable = anyApplicable || found != .notApplicable
            }
            var status: CriterionStatus =
                anyNotSatisfied ? .notSatisfied : anyIndeterminate ? .indeterminate : anyApplicable ? .satisfied : .notApplicable
            if status == .satisfied, !criterion.evidence.isEmpty {
                // Only here is evidence written during the evaluation: the profile asks for it.
                var missing: [String] = []
                for key in criterion.evidence {
                    let recorded = criterion.checks.indices.contains { offset in
                        let check = criterion.checks[offset]
                        if checkStatuses[base + offset] == .satisfied && check.kind.keysWhenSatisfied.contains(key) { return true }
                        return Checks.run(check, context, others: others, .evidence).explanation?.evidence.contains { $0.0 == key } ?? false
                    }
                    if !recorded { missing.append(key) }
                }
                if !missing.isEmpty {
                    missingEvidence[index] = missing
                    status = .indeterminate
                }
            }
            return status
        }
        let nobody = Decided(criteria: [], statuses: [])
        for index in criteria.indices where !criteria[index].summarises {
            statuses[index] = decide(index, criteria[index], others: nobody)
        }
        // report.complete judges the others, so runs last, on what they decided.
        if profile.hasSummarisingCriteria {
            var summaries: [(Int, CriterionStatus)] = []
            do {
                let others = Decided(criteria: criteria, statuses: statuses)
                for index in criteria.indices where criteria[index].summarises {
                    summaries.append((index, decide(index, criteria[index], others: others)))
                }
            }
            for (index, status) in summaries { statuses[index] = status }
        }
        var verdict = Verdict.accepted
        for (criterion, status) in zip(criteria, statuses) where criterion.severity == .required {
            if status == .notSatisfied { verdict = .refused }
            if status == .indeterminate && verdict == .accepted { verdict = .indeterminate }
        }
        let lists = context.listsUsed
        return Evaluation(
            verdict: verdict, statuses: statuses, checkStatuses: checkStatuses, missingEvidence: missingEvidence, context: context,
            amr: verdict == .accepted ? context.amr.values : [], derivedAMR: context.amr.values, lists: lists,
            stale: lists.contains { $0.isStale(at: time) }, profile: (profile.id, profile.version, profile.sha256), profileNote: profile.note,
            time: time)
    }
}

/// The criteria decided so far, for report.complete (which judges the others).
struct Decided: Sendable {
    let criteria: [Criterion]
    let statuses: [CriterionStatus]

    /// The criteria other than the summarising ones, with their status.
    var others: [(Criterion, CriterionStatus)] {
        zip(criteria, statuses).filter { !$0.0.summarises }
    }
}

/// Everything a check may read, with the lookups done once (checks read these many times).
final class CheckContext: Sendable {
    let subject: EvaluationSubject
    let catalog: CatalogSnapshot
    let time: Date
    let deployment: DeploymentFacts?
    let profile: Profile
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
    /// The AMR the profile's rules derive from these facts.
    let amr: AMRDerivation
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
        // Read through the facts' class reference: binding the registration would copy it.
        let fido: FIDOFacts?
        switch subject {
        case .fido(let facts):
            fido = facts
            deviceInfo = facts.deviceInfo
            card = nil
        case .card(let facts):
            fido = nil
            deviceInfo = nil
            card = facts
        }
        if let fido, fido.registration.attestation.isTrusted {
            attestedIdentifier = fido.registration.attestation.authenticator
            attestationRoot = fido.registration.attestation.verifiedPath.last
        } else {
            attestedIdentifier = nil
            attestationRoot = nil
        }
        isFIDO = fido != nil
        flags = fido?.registration.flags
        algorithmName = fido?.registration.publicKey.algorithm.name ?? ""
        attestationType = fido?.registration.attestation.type
        if let fido, case .rsa(let modulus, _) = fido.registration.publicKey.parameters {
            rsaBits = modulus.drop { $0 == 0 }.count * 8 - (modulus.first { $0 != 0 }.map { $0.leadingZeroBitCount } ?? 0)
        } else {
            rsaBits = nil
        }
        let attestedEntry = attestedIdentifier.flatMap { catalog.entry(for: $0) }
        self.entry = attestedEntry
        amr = AMRDerivation.derive(
            profile: profile, subject: subject.kind, flags: flags, card: card, entry: attestedEntry)
        listsUsed = card != nil ? catalog.lists(of: .ans) : catalog.listsReliedOn(for: attestedEntry)
    }

    /// The statement of the attested model.
    var statement: MetadataStatement? { entry?.statement }

    /// The registration (read when explaining: binding it copies every array it holds).
    var registration: VerifiedRegistration? {
        if case .fido(let facts) = subject { return facts.registration }
        return nil
    }

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

extension PolicyEngine {
    /// The AMR of a sign-in with a FIDO2 credential, from the flags its assertion proved and,
    /// when known, the model's catalog entry (for the kind of user verification). Without the
    /// model, a UV assertion is `hwk mfa` under the bundled profile: the flags do not say which
    /// factor verified the user.
    public static func assertionAMR(flags: AuthenticatorData.Flags, entry: CatalogEntry?, profile: Profile) -> [String] {
        AMRDerivation.derive(profile: profile, subject: "fido2", flags: flags, card: nil, entry: entry).values
    }
}
