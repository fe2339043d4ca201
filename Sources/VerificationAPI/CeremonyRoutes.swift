import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import Hummingbird
import PSCPolicy
import Storage
import VerificationRequests
import WireFormat

/// The holder named in a registration's options.
struct HolderInput {
    var id: String
    var name: String
    var displayName: String
    var rpps: String?

    static func read(_ reader: inout JSONReader) throws(JSONError) -> HolderInput {
        var id: String?
        var name: String?
        var displayName: String?
        var rpps: String?
        try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
            switch key {
            case "id": id = try readText(&reader, limit: 64)
            case "name": name = try readText(&reader, limit: 64)
            case "displayName": displayName = try readText(&reader, limit: 64)
            case "rpps":
                let text = try reader.readString()
                guard CheckDigit.isRPPS(text) else { throw reader.invalid("must be an RPPS number: 11 digits with a valid Luhn key") }
                rpps = text
            default: throw reader.unknownMember(key)
            }
        }
        guard let id else { throw reader.missing("holder.id") }
        guard let name else { throw reader.missing("holder.name") }
        return HolderInput(id: id, name: name, displayName: displayName ?? name, rpps: rpps)
    }

    /// 1 to `limit` characters (Unicode scalars, as JSON Schema counts them) without control
    /// characters: what authenticators display.
    static func readText(_ reader: inout JSONReader, limit: Int) throws(JSONError) -> String {
        let text = try reader.readString()
        guard !text.isEmpty, text.unicodeScalars.count <= limit else { throw reader.invalid("must be 1 to \(limit) characters") }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw reader.invalid("must not hold control characters")
        }
        return text
    }
}

/// Reads a small request object whose members `body` handles; unknown members are refused.
func readRequest<T>(_ bytes: [UInt8], _ body: (inout JSONReader) throws(JSONError) -> T) throws(APIError) -> T {
    do {
        return try JSONReader.read(bytes, document: "the request", body)
    } catch {
        throw APIError(.malformedRequest, error.message)
    }
}

/// The stateful ceremonies (enrolment desks, simple relying parties): the service keeps the
/// challenges (32 random bytes, single use, bound to the ceremony and client, expiring) and
/// the credentials.
struct CeremonyRoutes {
    let state: ServiceState

    func register(on router: Router<APIRequestContext>) {
        router.post("/v1/registrations/options") { request, context in try await registrationOptions(request, context) }
        router.post("/v1/registrations") { request, context in try await registration(request, context) }
        router.post("/v1/assertions/options") { request, context in try await assertionOptions(request, context) }
        router.post("/v1/assertions") { request, context in try await assertion(request, context) }
    }

    private var store: any CredentialStoring { state.credentials }

    /// What the service offers to sign with: the algorithms its policy verifies, the usual
    /// ones first (WebAuthn clients take the first the authenticator supports).
    static let offeredAlgorithms: [COSEAlgorithm] = [.es256, .edDSA, .es384, .es512, .ps256, .rs256].filter {
        VerificationPolicy.strict.allowedAlgorithms.contains($0)
    }

    // MARK: Registration

    func registrationOptions(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let client = try context.require(.enrolment)
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        let (holder, profileName, card) = try readRequest(body) { (reader: inout JSONReader) throws(JSONError) in
            var holder: HolderInput?
            var profile: String?
            var card: CardRoutes.Input?
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                switch key {
                case "holder": holder = try HolderInput.read(&reader)
                case "profile": profile = try reader.readString()
                case "card":
                    card = try CardRoutes.readInput(&reader)
                    guard card?.challengeID != nil else {
                        throw reader.invalid("needs challengeId and signature: the card signs a challenge of POST /v1/cards/challenges")
                    }
                default: throw reader.unknownMember(key)
                }
            }
            guard (holder == nil) != (card == nil) else { throw reader.invalid("needs either holder (typed identity) or card (proven by card)") }
            return (holder, profile, card)
        }
        if let holder {
            return try await state.io { jsonResponse(try openRegistration(holder, profileName, client).body) }
        }
        guard let card else { throw APIError(.malformedRequest, "needs either holder or card") }
        // Card-bound: the holder is who the card proves, once the card is an accepted MIE.
        let judgement = try await CardRoutes(state: state).judge(card, client: client)
        let identity = judgement.authentication.identity
        let event = AuditEvent(
            action: "enrolment.card", client: client.name, holder: identity.nationalID, authenticator: judgement.authentication.issuer,
            result: judgement.evaluation.verdict.rawValue, amr: judgement.evaluation.amr, lists: judgement.evaluation.lists.map(\.label),
            profile: state.profile.label, detail: "card \(judgement.facts.generation), chain \(judgement.authentication.trusted ? "trusted" : "untrusted")")
        guard judgement.evaluation.verdict == .accepted, judgement.proven == true else {
            state.auditBuffer.record(event)
            let failing = judgement.evaluation.criteria.flatMap(\.checks).first { $0.status == .notSatisfied || $0.status == .indeterminate }
            throw APIError(
                .cardRefused, failing?.reason ?? "the card is not an accepted MIE (\(judgement.evaluation.verdict.rawValue))",
                reason: failing?.kind.rawValue ?? "card.refused")
        }
        let rpps = identity.identifierType == .rpps ? String(identity.nationalID.dropFirst()) : nil
        let names = [identity.givenName, identity.surname].compactMap { $0 }.joined(separator: " ")
        let input = HolderInput(
            id: identity.nationalID, name: String(identity.nationalID.prefix(64)),
            displayName: String((names.isEmpty ? identity.nationalID : names).prefix(64)), rpps: rpps.flatMap { CheckDigit.isRPPS($0) ? $0 : nil })
        return try await state.io {
            jsonResponse(try openRegistration(input, profileName, client, evidence: DeploymentFacts.IdentityEvidence.provenByCard.rawValue, event: event).body)
        }
    }

    /// Opens a registration ceremony for `input` (created or updated), recording how its identity
    /// was established and, for the desk, by which operator.
    func openRegistration(
        _ input: HolderInput, _ profileName: String?, _ client: APIClient, evidence: String? = nil, operator: String? = nil,
        event: AuditEvent? = nil
    ) throws -> (ceremonyID: String, body: [UInt8]) {
        let profile = try VerificationRoutes.profile(profileName, for: client, state: state)
        let party = state.relyingParty(for: client)
        let now = Date()
        let holder = try store.holder(id: input.id, name: input.name, displayName: input.displayName, rpps: input.rpps, at: now)
        let existing = try store.credentials(holder: holder.id).filter { $0.rpID == party.id }
        let ceremony = try store.open(
            .registration, clientID: client.id, holderID: holder.id, profile: profile.id, lifetime: state.configuration.challengeLifetime, at: now,
            evidence: evidence, operator: `operator`)
        if let event { try state.audit.append([event], at: now) }
        let options = creationOptions(
            party: party, userHandle: holder.userHandle, name: holder.name, displayName: holder.displayName, challenge: ceremony.challenge,
            exclude: existing.map(\.id),
            // The attestation is what the PSC engine judges the model by (FI 19, 22).
            attestation: "direct")
        let body = JSONValue.object([
            ("ceremonyId", .string(ceremony.id)), ("expiresAt", .string(ceremony.expiryText)), ("publicKey", options),
            ("holder", Self.holderJSON(holder)), ("identityEvidence", .string(evidence ?? "asserted-by-client")),
            // For a client that is not a browser (mie-probe enrol): the origins it may claim.
            ("origins", .strings(party.origins)),
        ])
        return (ceremony.id, body.json)
    }

    /// PublicKeyCredentialCreationOptions as `parseCreationOptionsFromJSON` reads them: the
    /// service's algorithms, user verification required, a discoverable credential preferred.
    func creationOptions(
        party: RelyingParty, userHandle: [UInt8], name: String, displayName: String, challenge: [UInt8], exclude: [[UInt8]], attestation: String
    ) -> JSONValue {
        .object([
            ("rp", .object([("id", .string(party.id)), ("name", .string(party.name))])),
            (
                "user",
                .object([("id", .string(Base64URL.encode(userHandle))), ("name", .string(name)), ("displayName", .string(displayName))])
            ),
            ("challenge", .string(Base64URL.encode(challenge))),
            ("pubKeyCredParams", .array(Self.offeredAlgorithms.map { .object([("type", .string("public-key")), ("alg", .integer($0.rawValue))]) })),
            ("timeout", .integer(timeoutMilliseconds)),
            ("excludeCredentials", Self.descriptors(exclude)),
            (
                "authenticatorSelection",
                .object([("residentKey", .string("preferred")), ("requireResidentKey", .bool(false)), ("userVerification", .string("required"))])
            ),
            ("attestation", .string(attestation)),
            ("hints", .array([.string("security-key")])),
            ("extensions", .object([("credProps", .bool(true))])),
        ])
    }

    /// PublicKeyCredentialRequestOptions for `parseRequestOptionsFromJSON`, user verification required.
    func requestOptions(party: RelyingParty, challenge: [UInt8], allow: [[UInt8]]) -> JSONValue {
        .object([
            ("challenge", .string(Base64URL.encode(challenge))), ("timeout", .integer(timeoutMilliseconds)), ("rpId", .string(party.id)),
            ("allowCredentials", Self.descriptors(allow)), ("userVerification", .string("required")),
        ])
    }

    /// `{ceremonyId, expiresAt, publicKey}`.
    func ceremonyJSON(_ ceremony: CeremonyRecord, _ options: JSONValue) -> [UInt8] {
        JSONValue.object([
            ("ceremonyId", .string(ceremony.id)),
            ("expiresAt", .string(ceremony.expiryText)), ("publicKey", options),
        ]).json
    }

    /// The options' `timeout`: the ceremony's lifetime, a hint to the browser.
    var timeoutMilliseconds: Int { Int(state.configuration.challengeLifetime * 1000) }

    static func descriptors(_ ids: [[UInt8]]) -> JSONValue {
        .array(ids.map { .object([("type", .string("public-key")), ("id", .string(Base64URL.encode($0)))]) })
    }

    /// Reads `{ceremonyId, response}`, and the desk's one-time `code` when `withCode`.
    static func readCeremonyResponse(
        _ bytes: [UInt8], _ ceremony: CeremonyRecord.Kind, withCode: Bool = false
    ) throws(APIError) -> (id: String, response: CredentialResponse, code: String?) {
        try readRequest(bytes) { (reader: inout JSONReader) throws(JSONError) in
            var id: String?
            var response: CredentialResponse?
            var code: String?
            let kind: Ceremony = ceremony == .registration || ceremony == .operatorRegistration ? .registration : .assertion
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                switch key {
                case "ceremonyId":
                    let text = try reader.readString()
                    guard text.utf8.count <= 64 else { throw reader.invalid("is not a ceremony id") }
                    id = text
                case "response": response = try CredentialResponse.read(&reader, ceremony: kind)
                case "code" where withCode: code = try DeskRoutes.readCode(&reader)
                default: throw reader.unknownMember(key)
                }
            }
            guard let id else { throw reader.missing("ceremonyId") }
            guard let response else { throw reader.missing("response") }
            if withCode, code == nil { throw reader.missing("code") }
            return (id, response, code)
        }
    }

    func registration(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let client = try context.require(.enrolment)
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        let (ceremonyID, response, _) = try Self.readCeremonyResponse(body, .registration)
        return try await state.io { try finishRegistration(ceremonyID, response, client) }
    }

    /// What a registration came to.
    enum Completion {
        /// The core refused the response.
        case refused(VerificationOutcome)
        /// Verified and judged; stored when acceptable or the service allows unacceptable keys.
        case verified(Holder, VerifiedRegistration, Evaluation, stored: Bool, VerificationOutcome)
    }

    func finishRegistration(_ ceremonyID: String, _ response: CredentialResponse, _ client: APIClient) throws -> Response {
        switch try completeRegistration(ceremonyID, response, client) {
        case .refused(let outcome): return try Self.refusal(outcome)
        case .verified(let holder, let registration, let evaluation, let stored, let outcome):
            var w = JSONWriter(capacity: 4096)
            w.object { w in
                w.key("registered")
                w.bool(stored)
                w.key("holder")
                Self.holderJSON(holder).write(to: &w)
                w.key("credentialId")
                w.base64URL(registration.credentialID)
                w.key("verification")
                outcome.write(to: &w)
                evaluation.writeMembers(to: &w)
            }
            return jsonResponse(w.bytes)
        }
    }

    /// Takes the ceremony, verifies the response, judges the key (with how the holder's identity
    /// was established, FI 25) and stores it with its audit event.
    func completeRegistration(_ ceremonyID: String, _ response: CredentialResponse, _ client: APIClient) throws -> Completion {
        let now = Date()
        let ceremony = try state.takeCeremony(ceremonyID, .registration, client, at: now)
        let profile = try VerificationRoutes.profile(ceremony.profile, for: client, state: state)
        guard let holderID = ceremony.holderID, let holder = try store.find(holder: holderID) else {
            throw APIError(.ceremonyUnknown, "the ceremony's holder no longer exists")
        }
        let party = state.relyingParty(for: client)
        let live = state.current
        let outcome = live.service.verify(
            .registration, request: VerificationRoutes.coreRequest(response, challenge: ceremony.challenge, party: party, credential: nil, at: now),
            now: now)
        let evidence = ceremony.evidence ?? "asserted-by-client"
        var event = AuditEvent(
            action: "registration", client: ceremony.operator.map { "desk:\($0)" } ?? client.name, holder: holder.id,
            credentialID: Base64URL.encode(response.id), result: outcome.result.failureCode ?? "verified", profile: profile.label,
            detail: "identity \(evidence)")
        guard case .registration(let registration) = outcome.result else {
            state.metrics.verification("registration", event.result)
            try state.audit.append([event], at: now)
            return .refused(outcome)
        }
        // Typed by an operator or proven by a card: the engine decides FI 25 on it.
        let deployment = DeploymentFacts.IdentityEvidence(rawValue: evidence).map { level in
            DeploymentFacts(
                holderNationalID: holder.rpps.map { "8" + $0 } ?? holder.id, holderLuhnValid: holder.rpps.map(CheckDigit.isRPPS), identityEvidence: level,
                credentialIDUnique: (try? store.find(credential: registration.credentialID)) == nil)
        }
        let evaluation = PolicyEngine.evaluate(
            .fido(FIDOFacts(registration: registration)), catalog: live.catalog, profile: profile, at: now, deployment: deployment)
        let aaguid = AAGUIDText.string(registration.aaguid)
        event.authenticator = aaguid
        event.result = evaluation.verdict.rawValue
        event.amr = evaluation.amr
        event.lists = evaluation.lists.map(\.label)
        state.metrics.verification("registration", event.result)
        let storable = evaluation.verdict == .accepted || state.configuration.enrolsUnacceptableKeys
        if storable {
            let record = StoredCredentialRecord(
                id: registration.credentialID, holderID: holder.id, identityEvidence: evidence, publicKey: registration.publicKey.encoded,
                algorithm: registration.publicKey.algorithm.name, signCount: registration.signCount, backupEligible: registration.flags.backupEligible,
                aaguid: aaguid, authenticator: evaluation.authenticator.description, verdict: evaluation.verdict.rawValue, amr: evaluation.amr,
                clientID: client.id, rpID: party.id, createdAt: now.formatted(.iso8601), enrolledBy: ceremony.operator,
                lists: evaluation.lists.map(\.label), profile: profile.label)
            try insert(record, event: event, at: now)
        } else {
            event.detail = "identity \(evidence); not stored: the key is not PSC-acceptable"
            try state.audit.append([event], at: now)
        }
        return .verified(holder, registration, evaluation, stored: storable, outcome)
    }

    /// Stores the credential; one already registered is a conflict.
    private func insert(_ record: StoredCredentialRecord, event: AuditEvent, at now: Date) throws {
        do {
            try store.insert(record, event: event, at: now)
        } catch {
            guard error.code == "store.credential-exists" else { throw error }
            throw APIError(.conflict, "this credential is already registered")
        }
    }

    /// A failed verification: 200 with `verified: false` and its code; a request the core
    /// could not read: 400.
    static func refusal(_ outcome: VerificationOutcome) throws -> Response {
        guard outcome.disposition != .badRequest else {
            throw APIError(.malformedRequest, outcome.result.failureMessage ?? "the response could not be read")
        }
        var w = JSONWriter(capacity: 512)
        w.object { w in
            w.key("registered")
            w.bool(false)
            w.key("verification")
            outcome.write(to: &w)
        }
        return jsonResponse(w.bytes)
    }

    static func holderJSON(_ holder: Holder) -> JSONValue {
        .object([
            ("id", .string(holder.id)), ("name", .string(holder.name)), ("displayName", .string(holder.displayName)),
            ("rpps", holder.rpps.map(JSONValue.string) ?? .null),
        ])
    }

    // MARK: Sign-in

    func assertionOptions(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let client = try context.require(.enrolment)
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        let holderID: String? = try readRequest(body) { (reader: inout JSONReader) throws(JSONError) in
            var holder: String?
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                switch key {
                case "holder": holder = try HolderInput.readText(&reader, limit: 64)
                default: throw reader.unknownMember(key)
                }
            }
            return holder
        }
        return try await state.io { try openSignIn(holderID, client) }
    }

    func openSignIn(_ holderID: String?, _ client: APIClient) throws -> Response {
        let party = state.relyingParty(for: client)
        var allowed: [[UInt8]] = []
        if let holderID {
            guard try store.find(holder: holderID) != nil else { throw APIError(.notFound, "no holder \(holderID)") }
            allowed = try store.credentials(holder: holderID).filter { $0.rpID == party.id }.map(\.id)
            guard !allowed.isEmpty else { throw APIError(.notFound, "holder \(holderID) has no credential for \(party.id)") }
        }
        let now = Date()
        let ceremony = try store.open(
            .assertion, clientID: client.id, holderID: holderID, profile: nil, lifetime: state.configuration.challengeLifetime, at: now)
        let options = requestOptions(party: party, challenge: ceremony.challenge, allow: allowed)
        return jsonResponse(ceremonyJSON(ceremony, options))
    }

    func assertion(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let client = try context.require(.enrolment)
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        let (ceremonyID, response, _) = try Self.readCeremonyResponse(body, .assertion)
        return try await state.io { try finishSignIn(ceremonyID, response, client) }
    }

    func finishSignIn(_ ceremonyID: String, _ response: CredentialResponse, _ client: APIClient) throws -> Response {
        let now = Date()
        let ceremony = try state.takeCeremony(ceremonyID, .assertion, client, at: now)
        let party = state.relyingParty(for: client)
        var event = AuditEvent(action: "assertion", client: client.name, holder: ceremony.holderID, credentialID: Base64URL.encode(response.id), result: "")
        // The credential must be live, this relying party's, and the ceremony holder's when
        // the ceremony named one.
        guard let stored = try store.find(credential: response.id), stored.deletedAt == nil, stored.rpID == party.id,
            ceremony.holderID == nil || ceremony.holderID == stored.holderID, let holder = try store.find(holder: stored.holderID)
        else {
            event.result = "credential.unknown"
            try state.audit.append([event], at: now)
            return Self.signInRefusal(code: "credential.unknown", message: "no such credential is registered for this relying party")
        }
        event.holder = holder.id
        event.authenticator = stored.aaguid
        let credential = VerificationRequest.StoredCredentialJSON(
            id: stored.id, publicKey: stored.publicKey, signCount: stored.signCount, backupEligible: stored.backupEligible,
            userHandle: holder.userHandle)
        let outcome = state.current.service.verify(
            .assertion, request: VerificationRoutes.coreRequest(response, challenge: ceremony.challenge, party: party, credential: credential, at: now),
            now: now)
        guard case .assertion(let assertion) = outcome.result else {
            guard outcome.disposition != .badRequest else {
                throw APIError(.malformedRequest, outcome.result.failureMessage ?? "the response could not be read")
            }
            event.result = outcome.result.failureCode ?? "rejected"
            state.metrics.verification("assertion", event.result)
            try state.audit.append([event], at: now)
            return Self.signInRefusal(code: event.result, message: outcome.result.failureMessage ?? "")
        }
        let acceptable = stored.verdict == Verdict.accepted.rawValue
        let entry = state.current.catalog.entry(for: .aaguid(AAGUIDText.bytes(stored.aaguid) ?? []))
        let amr = acceptable ? PolicyEngine.assertionAMR(flags: assertion.flags, entry: entry, profile: state.profile) : []
        event.result = "verified"
        event.amr = amr
        state.metrics.verification("assertion", event.result)
        guard try store.recordUse(stored.id, expectedCount: stored.signCount, newCount: assertion.signCount, event: event, at: now) else {
            throw APIError(.conflict, "the credential was used by another sign-in at the same time; sign in again")
        }
        let reply = JSONValue.object([
            ("verified", .bool(true)), ("holder", Self.holderJSON(holder)), ("credentialId", .string(Base64URL.encode(stored.id))),
            ("authenticator", .string(stored.authenticator)), ("aaguid", .string(stored.aaguid)), ("verdict", .string(stored.verdict)),
            ("pscAcceptable", .bool(acceptable)), ("amr", .strings(amr)), ("signCount", .integer(assertion.signCount)),
            ("userVerified", .bool(assertion.userVerified)),
        ])
        return jsonResponse(reply.json)
    }

    static func signInRefusal(code: String, message: String) -> Response {
        let reply = JSONValue.object([("verified", .bool(false)), ("error", .object([("code", .string(code)), ("message", .string(message))]))])
        return jsonResponse(reply.json)
    }
}

extension CeremonyRecord {
    /// When the challenge expires, RFC 3339.
    var expiryText: String { Date(timeIntervalSince1970: TimeInterval(expiresAt)).formatted(.iso8601) }
}
