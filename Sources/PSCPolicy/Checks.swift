import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import SignatureVerification
import WireFormat

/// The checks profiles name (CheckKind), one function each. A check that does not concern the
/// subject (a flag check for a card) is `not_applicable`.
///
/// Each check runs in one of two modes: deciding (the evaluation: status only, no string is
/// built, no closure escapes) and explaining (when a report or the JSON reads a reason or the
/// evidence: the same function runs again over the same facts and writes them). One function
/// per check keeps the sentence next to the branch it explains.
struct Mode {
    let explaining: Bool
    /// Evidence without the sentence: what a profile's required evidence keys are checked on.
    let evidenceOnly: Bool

    static let deciding = Mode(explaining: false, evidenceOnly: false)
    static let explaining = Mode(explaining: true, evidenceOnly: false)
    static let evidence = Mode(explaining: true, evidenceOnly: true)

    func found(
        _ kind: CheckKind, _ status: CriterionStatus, _ reason: @autoclosure () -> String,
        _ evidence: @autoclosure () -> [(String, JSONValue)] = []
    ) -> Found {
        Found(kind: kind, status: status, explanation: explaining ? (evidenceOnly ? "" : reason(), evidence()) : nil)
    }
}

/// What a check found, and in explaining mode why.
struct Found {
    let kind: CheckKind
    let status: CriterionStatus
    let explanation: (reason: String, evidence: [(String, JSONValue)])?
}
enum Checks {
    static func run(_ reference: CheckReference, _ c: CheckContext, others: Decided, _ m: Mode) -> Found {
        let kind = reference.kind
        switch kind {
        case .attestationTrustedByCatalog: return attestationTrusted(c, m)
        case .ansReferenced: return ansReferenced(c, m)
        case .mdsStatus: return mdsStatus(reference, c, m)
        case .listsFresh: return listsFresh(reference, c, m)
        case .userPresent, .userVerified:
            guard let flags = c.flags else { return m.found(kind, .notApplicable, "not a FIDO2 ceremony") }
            let (set, flag) = kind == .userPresent ? (flags.userPresent, "UP") : (flags.userVerified, "UV")
            return m.found(
                kind, set ? .satisfied : .notSatisfied, set ? "the \(flag) flag is set" : "the \(flag) flag is not set",
                [("flags.\(flag)", .bool(set))])
        case .userVerificationCapable: return userVerificationCapable(reference, c, m)
        case .keyProtection: return keyProtection(reference, c, m)
        case .notSynced:
            guard let flags = c.flags else { return m.found(kind, .notApplicable, "not a FIDO2 credential") }
            let eligible = flags.backupEligible
            return m.found(
                kind, eligible ? .notSatisfied : .satisfied,
                eligible ? "the credential is backup eligible (BE = 1): a synced, multi-device credential" : "BE = 0: a device-bound credential",
                [("flags.BE", .bool(eligible))])
        case .algorithmAllowed: return algorithmAllowed(reference, c, m)
        case .originBound:
            guard c.isFIDO else { return m.found(kind, .notApplicable, "not a WebAuthn ceremony") }
            return m.found(
                kind, .satisfied, "type, challenge, origin and RP ID hash were verified; the signature binds them",
                [("origin", .string(c.registration?.clientData.origin ?? "")), ("crossOrigin", .bool(c.registration?.clientData.crossOrigin ?? false))])
        case .identityBound: return identityBound(reference, c, m)
        case .amrDerived:
            let amr = c.amr
            if amr.values.isEmpty, let card = c.card, card.pinVerified == nil || card.possessionProven == nil {
                return m.found(kind, .indeterminate, "the PIN was not presented: the card's AMR is not known yet", [("amr", .strings([]))])
            }
            if amr.values.isEmpty {
                return m.found(kind, .notSatisfied, "no AMR rule of the profile matches what was verified", [("amr", .strings([]))])
            }
            if !amr.dropped.isEmpty {
                return m.found(
                    kind, .notSatisfied, "a rule produced values outside the profile's allowed list: \(amr.dropped.joined(separator: ", "))",
                    [("amr", .strings(amr.values)), ("amrRefused", .strings(amr.dropped))])
            }
            return m.found(kind, .satisfied, "AMR derived from what was verified: \(amr.values.joined(separator: " "))", [("amr", .strings(amr.values))])
        case .tokenClaims: return tokenClaims(reference, c, m)
        case .authTime: return authTime(reference, c, m)
        case .traceListVersions:
            let lists = c.listsUsed
            if lists.isEmpty { return m.found(kind, .indeterminate, "no referencing list was used") }
            func evidence() -> [(String, JSONValue)] { [("lists", .array(lists.map { .string("\($0.label) sha256:\($0.sha256)") }))] }
            if lists.contains(where: { $0.id == nil }) {
                return m.found(
                    kind, .notSatisfied, "\(lists.filter { $0.id == nil }.map(\.label).joined(separator: ", ")) is not a stored list version",
                    evidence())
            }
            return m.found(kind, .satisfied, "every list used is a stored version with its digest", evidence())
        case .reportComplete:
            if reference.refuseDemoLists, c.listsUsed.contains(where: \.demo) {
                let demo = c.listsUsed.filter(\.demo).map(\.label)
                return m.found(
                    kind, .notSatisfied, "built on a DEMO list (\(demo.joined(separator: ", "))): it proves nothing to an auditor",
                    [("demoLists", .strings(demo))])
            }
            if zip(others.criteria, others.statuses).contains(where: { !$0.0.summarises && $0.1 == .indeterminate }) {
                let open = others.others.filter { $0.1 == .indeterminate }.map(\.0.id)
                return m.found(kind, .indeterminate, "criteria without a decision: \(open.joined(separator: ", "))", [("undecided", .strings(open))])
            }
            return m.found(kind, .satisfied, "every criterion is decided, with its evidence", [("decided", .integer(others.others.count))])
        case .cardChain, .cardNotRevoked, .cardFamilyReferenced, .cardIssuedByANS, .cardPINVerified, .cardPossession:
            return CardChecks.run(kind, c, m)
        }
    }

    static func attestationTrusted(_ c: CheckContext, _ m: Mode) -> Found {
        let kind = CheckKind.attestationTrustedByCatalog
        guard let type = c.attestationType else { return m.found(kind, .notApplicable, "not a FIDO2 registration") }
        func format() -> [(String, JSONValue)] {
            [("format", .string(c.registration?.attestation.format ?? "")), ("attestationType", .string(type.rawValue))]
        }
        if type == .none || type == .self {
            return m.found(kind, .notSatisfied, "\(type.rawValue) attestation: nothing proves which model made the key", format())
        }
        guard let identifier = c.attestedIdentifier, let root = c.attestationRoot else {
            return m.found(
                kind, .notSatisfied, "the attestation is not trusted: \(c.registration?.attestation.untrustedReason ?? "no path to a listed root")",
                format())
        }
        func path() -> [(String, JSONValue)] {
            format() + [
                ("authenticator", .string(CheckContext.text(identifier))), ("root", .string(root.subjectDescription)),
                ("rootSHA256", .string(Hex.string(root.sha256Fingerprint))),
            ]
        }
        guard let entry = c.entry else {
            return m.found(kind, .notSatisfied, "\(identifier) is in no active referencing list", path())
        }
        guard entry.roots.contains(where: { $0 === root || $0.sha256Fingerprint == root.sha256Fingerprint }) else {
            return m.found(kind, .notSatisfied, "the path ends at a root the catalog does not list for \(entry.description)", path())
        }
        return m.found(
            kind, .satisfied, "attestation chains to a root listed for \(entry.description)", path() + [("catalogEntry", .string(entry.description))])
    }

    static func ansReferenced(_ c: CheckContext, _ m: Mode) -> Found {
        let kind = CheckKind.ansReferenced
        guard c.isFIDO else { return m.found(kind, .notApplicable, "not a FIDO2 key") }
        guard !c.catalog.lists(of: .ans).isEmpty else { return m.found(kind, .indeterminate, "no ANS list is imported") }
        guard let identifier = c.attestedIdentifier else {
            return m.found(
                kind, .notSatisfied, "the model is not attested (AAGUID \(AAGUIDText.string(c.registration?.aaguid ?? [])) is only a claim)",
                [("ansList", .string(c.catalog.lists(of: .ans).first?.label ?? ""))])
        }
        guard let record = c.entry?.ans else {
            return m.found(kind, .notSatisfied, "\(identifier) is not on the ANS referencing list", [("ansList", .string(c.catalog.lists(of: .ans).first?.label ?? ""))])
        }
        let decision = record.authenticator.decision
        let firmware = c.deviceInfo?.firmwareVersion
        func evidence() -> [(String, JSONValue)] {
            var evidence: [(String, JSONValue)] = [
                ("ansList", .string(record.list.label)), ("reference", .string(decision.reference)), ("decision", .string(decision.status.rawValue)),
                ("since", .string(decision.since)),
            ]
            if let until = decision.until { evidence.append(("until", .string(until))) }
            if let accepted = decision.acceptedFirmware {
                evidence.append(("acceptedFirmware", .array(accepted.map { JSONValue.integer($0) })))
                evidence.append(("firmware", firmware.map { JSONValue.integer($0) } ?? .string("not observed (a WebAuthn registration does not carry it)")))
            }
            return evidence
        }
        let effect = decision.effect(at: c.time)
        guard effect == .referenced else {
            return m.found(
                kind, .notSatisfied, "\(record.authenticator.description) is \(effect.rawValue) on the ANS list (\(decision.reference))", evidence())
        }
        if let accepted = decision.acceptedFirmware, let firmware, !accepted.contains(firmware) {
            return m.found(kind, .notSatisfied, "firmware \(firmware) is not among the accepted versions", evidence())
        }
        return m.found(kind, .satisfied, "\(record.authenticator.description) is referenced (\(decision.reference))", evidence())
    }

    static func mdsStatus(_ reference: CheckReference, _ c: CheckContext, _ m: Mode) -> Found {
        let kind = CheckKind.mdsStatus
        guard c.isFIDO else { return m.found(kind, .notApplicable, "not a FIDO2 key") }
        guard !c.catalog.lists(of: .mds).isEmpty else { return m.found(kind, .indeterminate, "no FIDO MDS BLOB is imported") }
        guard let identifier = c.attestedIdentifier else {
            return m.found(kind, .notSatisfied, "the model is not attested: its MDS status cannot be applied to it")
        }
        guard let entry = c.entry, !entry.mds.isEmpty else {
            return m.found(kind, .notSatisfied, "\(identifier) is not in FIDO MDS")
        }
        let minimum = reference.minimumLevel
        let minimumRank = reference.minimumRank
        let equivalents = reference.equivalents
        let negative = reference.negative
        var judged: [(record: CatalogEntry.MDSRecord, governing: StatusReport, best: StatusReport?)] = []
        func evidence(_ judged: [(record: CatalogEntry.MDSRecord, governing: StatusReport, best: StatusReport?)]) -> [(String, JSONValue)] {
            judged.flatMap { item -> [(String, JSONValue)] in
                var evidence: [(String, JSONValue)] = [
                    ("mdsList", .string(item.record.list.label)), ("status", .string(item.governing.status.description)),
                    ("effectiveDate", .optional(item.governing.effectiveDateText)),
                ]
                if let url = item.governing.url { evidence.append(("statusURL", .string(url))) }
                if let best = item.best {
                    evidence.append(("certification", .string(best.status.description)))
                    if let number = best.certificateNumber { evidence.append(("certificateNumber", .string(number))) }
                }
                return evidence
            }
        }
        for record in entry.mds {
            guard let governing = record.entry.status(at: c.time) else {
                return m.found(kind, .notSatisfied, "no status report in force in \(record.list.label)", [("mdsList", .string(record.list.label))])
            }
            if negative.contains(governing.status.description) {
                let done = m.explaining ? judged + [(record, governing, nil)] : []
                return m.found(
                    kind, .notSatisfied,
                    "FIDO MDS reports \(governing.status.description) since \(governing.effectiveDateText ?? "an undated report")", evidence(done))
            }
            // The level is the best certification since the last negative report.
            let reports = record.entry.statusReports
            var lastNegative = Date.distantPast
            for index in reports.indices where negative.contains(reports[index].status.description) {
                if let date = reports[index].effectiveDate, date <= c.time, date > lastNegative { lastNegative = date }
            }
            var bestRank = -1
            var bestIndex = -1
            for index in reports.indices {
                let date = reports[index].effectiveDate ?? .distantPast
                guard date <= c.time, date >= lastNegative else { continue }
                let name = reports[index].status.description
                guard let rank = AuthenticatorStatus.certificationRank(equivalents[name] ?? name), rank > bestRank else { continue }
                bestRank = rank
                bestIndex = index
            }
            let best = bestIndex >= 0 ? reports[bestIndex] : nil
            if m.explaining { judged.append((record, governing, best)) }
            let done = judged
            guard let best else {
                return m.found(kind, .notSatisfied, "no FIDO certification level in \(record.list.label); the profile requires \(minimum)", evidence(done))
            }
            guard bestRank >= minimumRank else {
                return m.found(kind, .notSatisfied, "certified \(best.status.description); the profile requires \(minimum)", evidence(done))
            }
        }
        let done = judged
        return m.found(kind, .satisfied, "certified at or above \(minimum), no negative status", evidence(done))
    }

    static func listsFresh(_ reference: CheckReference, _ c: CheckContext, _ m: Mode) -> Found {
        let kinds = reference.kinds
        let lists = kinds.isEmpty || c.card != nil ? c.listsUsed : c.listsUsed.filter { kinds.contains($0.kind.rawValue) }
        guard !lists.isEmpty else { return m.found(.listsFresh, .indeterminate, "no referencing list is imported") }
        func evidence() -> [(String, JSONValue)] {
            [("lists", .array(lists.map { .string("\($0.label), next update \($0.nextUpdate ?? "not given")") }))]
        }
        let time = c.time
        if lists.contains(where: { $0.isStale(at: time) }) {
            return m.found(
                .listsFresh, .notSatisfied,
                "stale: \(lists.filter { $0.isStale(at: time) }.map { "\($0.label) (next update \($0.nextUpdate ?? "?"))" }.joined(separator: ", "))",
                evidence())
        }
        return m.found(.listsFresh, .satisfied, "every list is before its next update", evidence())
    }

    static func userVerificationCapable(_ reference: CheckReference, _ c: CheckContext, _ m: Mode) -> Found {
        let kind = CheckKind.userVerificationCapable
        guard c.isFIDO else { return m.found(kind, .notApplicable, "not a FIDO2 key") }
        let device = c.deviceInfo
        let statement = c.statement
        func evidence() -> [(String, JSONValue)] {
            var evidence: [(String, JSONValue)] = []
            if let device { evidence.append(("deviceOptions", .object(device.options.sorted { $0.key < $1.key }.map { ($0.key, .bool($0.value)) }))) }
            if let statement {
                evidence.append(("userVerificationMethods", .strings(statement.userVerificationMethods.sorted())))
                if let info = statement.getInfo?["options"] { evidence.append(("statementOptions", info)) }
            }
            return evidence
        }
        if let device, device.options["uv"] != true && device.options["clientPin"] != true {
            return m.found(kind, .notSatisfied, "the device's getInfo offers neither uv nor clientPin", evidence())
        }
        guard let statement else {
            return m.found(kind, .indeterminate, "no metadata statement for an attested model", evidence())
        }
        let presenceOnly = reference.presenceOnlyMethods
        let verifying = statement.userVerificationDetails.contains { $0.contains { !presenceOnly.contains($0) } }
        let declaredUV = statement.getInfoOption("uv") == true || statement.getInfoOption("clientPin") == true
        if !verifying && !declaredUV {
            return m.found(kind, .notSatisfied, "the statement declares presence only: the key cannot verify its user", evidence())
        }
        return m.found(
            kind, .satisfied,
            !verifying
                ? "getInfo declares uv or clientPin"
                : "user verification by \(statement.userVerificationMethods.subtracting(presenceOnly).sorted().joined(separator: ", "))",
            evidence())
    }

    static func keyProtection(_ reference: CheckReference, _ c: CheckContext, _ m: Mode) -> Found {
        let kind = CheckKind.keyProtection
        guard c.isFIDO else { return m.found(kind, .notApplicable, "a card's keys live in its chip") }
        guard let statement = c.statement else { return m.found(kind, .indeterminate, "no metadata statement for an attested model") }
        let wanted = reference.anyOf
        guard statement.keyProtection.contains(where: { wanted.contains($0) }) else {
            return m.found(
                kind, .notSatisfied, "key protection \(statement.keyProtection.joined(separator: ", ")) is none of \(wanted.sorted().joined(separator: ", "))",
                [("keyProtection", .strings(statement.keyProtection))])
        }
        return m.found(
            kind, .satisfied, "keys protected by \(statement.keyProtection.joined(separator: ", "))", [("keyProtection", .strings(statement.keyProtection))])
    }

    static func algorithmAllowed(_ reference: CheckReference, _ c: CheckContext, _ m: Mode) -> Found {
        let kind = CheckKind.algorithmAllowed
        let minimumRSA = reference.minimumRSABits
        if let card = c.card {
            guard let type = card.keyType, let bits = card.keyBits else { return m.found(kind, .indeterminate, "the card's key was not read") }
            let allowed = reference.cardKeyTypes
            guard allowed.isEmpty || allowed.contains(where: { type.hasPrefix($0) }) else {
                return m.found(kind, .notSatisfied, "\(type) is not an allowed card key type", [("algorithm", .string(type)), ("keyBits", .integer(bits))])
            }
            guard !type.hasPrefix("RSA") || bits >= minimumRSA else {
                return m.found(
                    kind, .notSatisfied, "a \(bits)-bit RSA key is below \(minimumRSA) bits", [("algorithm", .string(type)), ("keyBits", .integer(bits))])
            }
            return m.found(kind, .satisfied, "\(type) is allowed", [("algorithm", .string(type)), ("keyBits", .integer(bits))])
        }
        guard c.isFIDO else { return m.found(kind, .notApplicable, "nothing to judge") }
        let name = c.algorithmName
        guard reference.algorithms.contains(name) else {
            return m.found(kind, .notSatisfied, "\(name) is not on the profile's algorithm list", [("algorithm", .string(name))])
        }
        if let bits = c.rsaBits {
            func evidence() -> [(String, JSONValue)] { [("algorithm", .string(name)), ("keyBits", .integer(bits))] }
            guard bits >= minimumRSA else {
                return m.found(kind, .notSatisfied, "a \(bits)-bit RSA key is below \(minimumRSA) bits", evidence())
            }
            return m.found(kind, .satisfied, "\(name) is allowed", evidence())
        }
        return m.found(kind, .satisfied, "\(name) is allowed", [("algorithm", .string(name))])
    }

    static func identityBound(_ reference: CheckReference, _ c: CheckContext, _ m: Mode) -> Found {
        let kind = CheckKind.identityBound
        if let card = c.card {
            guard let id = card.nationalID, !id.isEmpty else { return m.found(kind, .indeterminate, "no national id was read from the card") }
            func evidence() -> [(String, JSONValue)] { [("nationalId", .string(id)), ("identifierType", .optional(card.identifierType))] }
            if card.luhnValid == false { return m.found(kind, .notSatisfied, "the RPPS number fails its Luhn key", evidence()) }
            return m.found(kind, .satisfied, "the card carries the holder's national id", evidence())
        }
        guard let deployment = c.deployment else {
            return m.found(kind, reference.whenMissing, "decided at enrolment: the holder is bound by the service, not by the key")
        }
        func evidence() -> [(String, JSONValue)] {
            var evidence: [(String, JSONValue)] = [("holder", .optional(deployment.holderNationalID))]
            if let level = deployment.identityEvidence { evidence.append(("identityEvidence", .string(level.rawValue))) }
            if let unique = deployment.credentialIDUnique { evidence.append(("credentialIdUnique", .bool(unique))) }
            return evidence
        }
        guard let level = deployment.identityEvidence, deployment.holderNationalID != nil else {
            return m.found(kind, .indeterminate, "no holder identity was recorded with the enrolment", evidence())
        }
        guard reference.acceptedEvidence.contains(level.rawValue) else {
            guard reference.refusedEvidence.contains(level.rawValue) else {
                return m.found(kind, .indeterminate, "the profile does not say whether identity \(level.rawValue) is accepted", evidence())
            }
            return m.found(kind, .notSatisfied, "identity \(level.rawValue) is not accepted by the profile", evidence())
        }
        if deployment.holderLuhnValid == false { return m.found(kind, .notSatisfied, "the holder's RPPS number fails its Luhn key", evidence()) }
        guard let unique = deployment.credentialIDUnique else {
            return m.found(kind, .indeterminate, "the credential store was not consulted for this credential ID", evidence())
        }
        guard unique else { return m.found(kind, .notSatisfied, "this credential ID is already registered", evidence()) }
        return m.found(kind, .satisfied, "bound to \(deployment.holderNationalID ?? "") (\(level.rawValue))", evidence())
    }

    static func tokenClaims(_ reference: CheckReference, _ c: CheckContext, _ m: Mode) -> Found {
        let kind = CheckKind.tokenClaims
        // No deployment, or one without any token fact (an enrolment): not yet decidable.
        guard let deployment = c.deployment, deployment.atTokenTime else {
            return m.found(kind, reference.whenMissing, "decided when the IAM issues its token")
        }
        guard let claims = deployment.tokenClaims else { return m.found(kind, .indeterminate, "the token's claims were not given") }
        let missing = reference.requiredClaims.filter { (claims[$0] ?? "").isEmpty }
        let evidence: [(String, JSONValue)] = [("claims", .strings(claims.keys.sorted()))]
        if !missing.isEmpty { return m.found(kind, .notSatisfied, "missing claims: \(missing.joined(separator: ", "))", evidence) }
        if let text = claims["auth_time"] {
            guard let seconds = JSONValue.number(text).integer else {
                return m.found(kind, .notSatisfied, "auth_time is not a number of seconds", evidence)
            }
            guard let authTime = deployment.authTime else {
                return m.found(kind, .indeterminate, "auth_time cannot be compared with the authentication it reports", evidence)
            }
            guard seconds == Self.seconds(authTime.timeIntervalSince1970) else {
                return m.found(kind, .notSatisfied, "auth_time differs from the time of the authentication", evidence)
            }
        }
        return m.found(kind, .satisfied, "the token carries \(reference.requiredClaims.joined(separator: ", ")) consistently", evidence)
    }

    static func authTime(_ reference: CheckReference, _ c: CheckContext, _ m: Mode) -> Found {
        let kind = CheckKind.authTime
        guard let deployment = c.deployment, deployment.atTokenTime else {
            return m.found(kind, reference.whenMissing, "decided when the IAM issues its token")
        }
        guard let authTime = deployment.authTime else { return m.found(kind, .indeterminate, "the time of the authentication is unknown") }
        let maximum = reference.maximumAgeSeconds
        // Whole seconds, clamped: a hostile auth_time must not overflow anything.
        let age = Self.seconds(c.time.timeIntervalSince(authTime))
        let evidence: [(String, JSONValue)] = [
            ("authTime", .string(authTime.formatted(.iso8601))), ("ageSeconds", .integer(age)), ("maximumAgeSeconds", .integer(maximum)),
        ]
        if age < -60 { return m.found(kind, .notSatisfied, "auth_time is in the future", evidence) }
        guard age <= maximum else {
            return m.found(kind, .notSatisfied, "the authentication is \(age / 60) minutes old, over \(maximum / 60)", evidence)
        }
        return m.found(kind, .satisfied, "re-authenticated within \(maximum / 60) minutes", evidence)
    }
}

extension Checks {
    /// A time interval as whole seconds, clamped to ±2^53 (beyond any real date) so no input
    /// reaches a trapping conversion.
    static func seconds(_ interval: Double) -> Int64 {
        guard interval.isFinite else { return interval < 0 ? -(1 << 53) : 1 << 53 }
        let clamped = min(max(interval.rounded(.down), -9_007_199_254_740_992), 9_007_199_254_740_992)
        return Int64(exactly: clamped) ?? 0
    }
}

/// The card checks: chain, revocation, referenced family, ANS issuer, PIN, possession.
enum CardChecks {
    static func run(_ kind: CheckKind, _ c: CheckContext, _ m: Mode) -> Found {
        guard let card = c.card else { return m.found(kind, .notApplicable, "not a card") }
        switch kind {
        case .cardChain:
            guard card.anchorsConfigured else { return m.found(kind, .indeterminate, "no IGC-Santé anchors are configured") }
            let evidence: [(String, JSONValue)] = [("issuer", .optional(card.issuerName))]
            return card.chainTrusted
                ? m.found(kind, .satisfied, "the authentication certificate chains to IGC-Santé", evidence)
                : m.found(kind, .notSatisfied, "the authentication certificate does not chain to IGC-Santé: \(card.chainFailure ?? "")", evidence)
        case .cardNotRevoked:
            let evidence: [(String, JSONValue)] = [("revocation", .string(card.revocation.rawValue))]
            switch card.revocation {
            case .good: return m.found(kind, .satisfied, "checked against the CRLs: not revoked", evidence)
            case .revoked: return m.found(kind, .notSatisfied, "the authentication certificate is revoked", evidence)
            case .notChecked: return m.found(kind, .indeterminate, "revocation was not checked (no CRL)", evidence)
            }
        case .cardFamilyReferenced:
            guard !c.catalog.lists(of: .ans).isEmpty else { return m.found(kind, .indeterminate, "no ANS list is imported") }
            let byATR = c.catalog.cardFamilies(matchingATR: card.atr)
            func evidence(_ more: [(String, JSONValue)]) -> [(String, JSONValue)] {
                var evidence: [(String, JSONValue)] = [("ansList", .string(c.catalog.lists(of: .ans).first?.label ?? "")), ("atr", .string(Hex.string(card.atr, separator: " ", uppercase: true)))]
                if !byATR.isEmpty { evidence.append(("family", .string(byATR.map(\.family.family).joined(separator: ", ")))) }
                if let issuer = card.issuerSHA256 { evidence.append(("issuerSHA256", .string(Hex.string(issuer)))) }
                return evidence + more
            }
            guard !byATR.isEmpty else {
                return m.found(kind, .notSatisfied, "the ATR matches no card family on the ANS list", evidence([]))
            }
            guard let issuer = card.issuerSHA256 else {
                return m.found(kind, .indeterminate, "the issuing CA is unknown (the chain was not built)", evidence([]))
            }
            guard let match = byATR.first(where: { $0.family.issuerCAs.contains { $0.sha256 == issuer } }) else {
                return m.found(kind, .notSatisfied, "the issuing CA is not listed for \(byATR[0].family.family)", evidence([]))
            }
            let decision = match.family.decision
            let effect = decision.effect(at: c.time)
            guard effect == .referenced else {
                return m.found(
                    kind, .notSatisfied, "\(match.family.family) cards are \(effect.rawValue) on the ANS list", evidence([("reference", .string(decision.reference))]))
            }
            return m.found(
                kind, .satisfied, "\(match.family.family) from a listed CA, referenced (\(decision.reference))",
                evidence([("reference", .string(decision.reference))]))
        case .cardIssuedByANS:
            return card.issuedByANS
                ? m.found(kind, .satisfied, "EF.SN.ICC carries the ANS issuer number", [("issuedByANS", .bool(true))])
                : m.found(kind, .notSatisfied, "EF.SN.ICC does not carry the ANS issuer number", [("issuedByANS", .bool(false))])
        case .cardPINVerified:
            guard let verified = card.pinVerified else { return m.found(kind, .indeterminate, "no PIN was presented") }
            return verified
                ? m.found(kind, .satisfied, "the PIN was verified by the card", [("pinVerified", .bool(true))])
                : m.found(kind, .notSatisfied, "the PIN was refused", [("pinVerified", .bool(false))])
        case .cardPossession:
            guard let proven = card.possessionProven else { return m.found(kind, .indeterminate, "possession was not tested (no PIN)") }
            return proven
                ? m.found(kind, .satisfied, "the card signed a fresh challenge with its authentication key", [("possessionProven", .bool(true))])
                : m.found(kind, .notSatisfied, "the card's signature does not verify with its certificate", [("possessionProven", .bool(false))])
        default:
            return m.found(kind, .notApplicable, "not a card check")
        }
    }
}
