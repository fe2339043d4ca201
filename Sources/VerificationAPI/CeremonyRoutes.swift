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
        let (input, profileName) = try readRequest(body) { (reader: inout JSONReader) throws(JSONError) in
            var holder: HolderInput?
            var profile: String?
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                switch key {
                case "holder": holder = try HolderInput.read(&reader)
                case "profile": profile = try reader.readString()
                default: throw reader.unknownMember(key)
                }
            }
            guard let holder else { throw reader.missing("holder") }
            return (holder, profile)
        }
        return try await state.io { try openRegistration(input, profileName, client) }
    }

    func openRegistration(_ input: HolderInput, _ profileName: String?, _ client: APIClient) throws -> Response {
        let profile = try VerificationRoutes.profile(profileName, for: client, state: state)
        let party = state.relyingParty(for: client)
        let now = Date()
        let holder = try store.holder(id: input.id, name: input.name, displayName: input.displayName, rpps: input.rpps, at: now)
        let existing = try store.credentials(holder: holder.id).filter { $0.rpID == party.id }
        let ceremony = try store.open(
            .registration, clientID: client.id, holderID: holder.id, profile: profile.id, lifetime: state.configuration.challengeLifetime, at: now)
        let options = JSONValue.object([
            ("rp", .object([("id", .string(party.id)), ("name", .string(party.name))])),
            (
                "user",
                .object([
                    ("id", .string(Base64URL.encode(holder.userHandle))), ("name", .string(holder.name)),
                    ("displayName", .string(holder.displayName)),
                ])
            ),
            ("challenge", .string(Base64URL.encode(ceremony.challenge))),
            ("pubKeyCredParams", .array(Self.offeredAlgorithms.map { .object([("type", .string("public-key")), ("alg", .integer($0.rawValue))]) })),
            ("timeout", .integer(timeoutMilliseconds)),
            ("excludeCredentials", Self.descriptors(existing.map(\.id))),
            (
                "authenticatorSelection",
                .object([("residentKey", .string("preferred")), ("requireResidentKey", .bool(false)), ("userVerification", .string("required"))])
            ),
            // The attestation is what the PSC engine judges the model by (FI 19, 22).
            ("attestation", .string("direct")),
            ("hints", .array([.string("security-key")])),
            ("extensions", .object([("credProps", .bool(true))])),
        ])
        return jsonResponse(ceremonyJSON(ceremony, options))
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

    /// Reads `{ceremonyId, response}`.
    static func readCeremonyResponse(_ bytes: [UInt8], _ ceremony: CeremonyRecord.Kind) throws(APIError) -> (String, CredentialResponse) {
        try readRequest(bytes) { (reader: inout JSONReader) throws(JSONError) in
            var id: String?
            var response: CredentialResponse?
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                switch key {
                case "ceremonyId":
                    let text = try reader.readString()
                    guard text.utf8.count <= 64 else { throw reader.invalid("is not a ceremony id") }
                    id = text
                case "response": response = try CredentialResponse.read(&reader, ceremony: ceremony == .registration ? .registration : .assertion)
                default: throw reader.unknownMember(key)
                }
            }
            guard let id else { throw reader.missing("ceremonyId") }
            guard let response else { throw reader.missing("response") }
            return (id, response)
        }
    }

    func registration(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let client = try context.require(.enrolment)
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        let (ceremonyID, response) = try Self.readCeremonyResponse(body, .registration)
        return try await state.io { try finishRegistration(ceremonyID, response, client) }
    }

    func finishRegistration(_ ceremonyID: String, _ response: CredentialResponse, _ client: APIClient) throws -> Response {
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
        var event = AuditEvent(
            action: "registration", client: client.name, holder: holder.id, credentialID: Base64URL.encode(response.id),
            result: outcome.result.failureCode ?? "verified", profile: profile.label)
        guard case .registration(let registration) = outcome.result else {
            state.metrics.verification("registration", event.result)
            try state.audit.append([event], at: now)
            return try Self.refusal(outcome)
        }
        let evaluation = PolicyEngine.evaluate(.fido(FIDOFacts(registration: registration)), catalog: live.catalog, profile: profile, at: now)
        let aaguid = AAGUIDText.string(registration.aaguid)
        event.authenticator = aaguid
        event.result = evaluation.verdict.rawValue
        event.amr = evaluation.amr
        event.lists = evaluation.lists.map(\.label)
        state.metrics.verification("registration", event.result)
        let storable = evaluation.verdict == .accepted || state.configuration.enrolsUnacceptableKeys
        var w = JSONWriter(capacity: 4096)
        if storable {
            let record = StoredCredentialRecord(
                id: registration.credentialID, holderID: holder.id, identityEvidence: "asserted-by-client", publicKey: registration.publicKey.encoded,
                algorithm: registration.publicKey.algorithm.name, signCount: registration.signCount, backupEligible: registration.flags.backupEligible,
                aaguid: aaguid, authenticator: evaluation.authenticator.description, verdict: evaluation.verdict.rawValue, amr: evaluation.amr,
                clientID: client.id, rpID: party.id, createdAt: now.formatted(.iso8601))
            try insert(record, event: event, at: now)
        } else {
            event.detail = "not stored: the key is not PSC-acceptable"
            try state.audit.append([event], at: now)
        }
        w.object { w in
            w.key("registered")
            w.bool(storable)
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
        let options = JSONValue.object([
            ("challenge", .string(Base64URL.encode(ceremony.challenge))), ("timeout", .integer(timeoutMilliseconds)), ("rpId", .string(party.id)),
            ("allowCredentials", Self.descriptors(allowed)), ("userVerification", .string("required")),
        ])
        return jsonResponse(ceremonyJSON(ceremony, options))
    }

    func assertion(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let client = try context.require(.enrolment)
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        let (ceremonyID, response) = try Self.readCeremonyResponse(body, .assertion)
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
