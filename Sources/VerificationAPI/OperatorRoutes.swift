import AuthenticatorCatalog
import AuthenticatorVerification
import Ceremonies
import Foundation
import Hummingbird
import PSCPolicy
import Storage
import VerificationRequests
import WireFormat

/// Credentials (read by desks and operators, deleted by operators), list imports, and the
/// conformity evaluation MIE vendors ask for.
struct OperatorRoutes {
    let state: ServiceState

    func register(on router: Router<APIRequestContext>) {
        // The store is read and written off the cooperative pool.
        router.get("/v1/credentials") { request, context in try await listCredentials(request, context) }
        router.get("/v1/credentials/:id") { _, context in try await credential(context) }
        router.delete("/v1/credentials/:id") { _, context in try await deleteCredential(context) }
        router.get("/v1/verdict-changes") { request, context in try await verdictChanges(request, context) }
        router.post("/v1/referencing/import") { request, context in try await importList(request, context) }
        router.post("/v1/evaluations") { request, context in try await evaluate(request, context) }
    }

    // MARK: Credentials

    /// A stored credential as the API shows it, with the changes list updates made to its verdict
    /// (FI 46), newest first.
    static func credentialJSON(_ record: StoredCredentialRecord, holder: Holder?, changes: [VerdictChange] = []) -> JSONValue {
        .object([
            ("id", .string(Base64URL.encode(record.id))), ("holder", holder.map(CeremonyRoutes.holderJSON) ?? .string(record.holderID)),
            ("identityEvidence", .string(record.identityEvidence)), ("aaguid", .string(record.aaguid)),
            ("authenticator", .string(record.authenticator)), ("algorithm", .string(record.algorithm)), ("verdict", .string(record.verdict)),
            ("amr", .strings(record.amr)), ("signCount", .integer(record.signCount)), ("backupEligible", .bool(record.backupEligible)),
            ("rpId", .string(record.rpID)), ("createdAt", .string(record.createdAt)),
            ("lastUsedAt", record.lastUsedAt.map(JSONValue.string) ?? .null), ("deletedAt", record.deletedAt.map(JSONValue.string) ?? .null),
            ("pscAcceptable", .bool(record.verdict == "accepted")), ("lists", .strings(record.lists)),
            ("verdictChanges", .array(changes.map(WebhookBody.change))),
        ])
    }

    /// A holder of the caller's relying party and their credentials.
    func listCredentials(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = state.caller(try context.require(.operator, .enrolment))
        guard let holderID = request.uri.queryParameters.get("holder"), !holderID.isEmpty, holderID.utf8.count <= 64 else {
            throw APIError(.malformedRequest, "name the holder: /v1/credentials?holder=ID")
        }
        let deleted: Bool
        switch request.uri.queryParameters.get("deleted") {
        case nil, "false": deleted = false
        case "true": deleted = true
        default: throw APIError(.malformedRequest, "deleted is true or false")
        }
        let (holder, records, changes) = try await state.io { [state] in
            let (holder, records) = try state.operations.credentials(of: String(holderID), includingDeleted: deleted, by: caller)
            return (holder, records, try records.map { try state.stores.verdicts.changes(credential: $0.id) })
        }
        let reply = JSONValue.object([
            ("holder", CeremonyRoutes.holderJSON(holder)),
            ("credentials", .array(zip(records, changes).map { Self.credentialJSON($0, holder: nil, changes: $1) })),
        ])
        return jsonResponse(reply.json)
    }

    /// The credential id of the path (`:id`, base64url).
    static func credentialID(_ context: APIRequestContext) throws(APIError) -> [UInt8] {
        guard let text = context.parameters.get("id"), let id = Base64URL.decode(text), !id.isEmpty, id.count <= 1023 else {
            throw APIError(.malformedRequest, "a credential id is base64url")
        }
        return id
    }

    func credential(_ context: APIRequestContext) async throws -> Response {
        let caller = state.caller(try context.require(.operator, .enrolment))
        let id = try Self.credentialID(context)
        let (record, holder, changes) = try await state.io { [state] in
            let (record, holder) = try state.operations.credential(id, by: caller)
            return (record, holder, try state.stores.verdicts.changes(credential: record.id))
        }
        return jsonResponse(Self.credentialJSON(record, holder: holder, changes: changes).json)
    }

    /// The verdict changes of the caller's relying party, newest first (what the webhook
    /// sends, for an IAM that polls).
    func verdictChanges(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let caller = state.caller(try context.require(.operator, .enrolment))
        var limit = 100
        if let text = request.uri.queryParameters.get("limit") {
            guard let value = Int(text), (1...1000).contains(value) else { throw APIError(.malformedRequest, "limit is an integer in 1...1000") }
            limit = value
        }
        let changes = try await state.io { [state, limit] in try state.stores.verdicts.changes(rpID: caller.party.id, limit: limit) }
        return jsonResponse(JSONValue.object([("changes", .array(changes.map(WebhookBody.change)))]).json)
    }

    func deleteCredential(_ context: APIRequestContext) async throws -> Response {
        let caller = state.caller(try context.require(.operator))
        let id = try Self.credentialID(context)
        _ = try await state.io { [state] in try state.operations.revoke(id, action: "credential.delete", by: caller) }
        return Response(status: .noContent)
    }

    // MARK: Referencing lists

    /// `{document: base64url, signature?: detached JWS text}`: verified with the configured
    /// signers, stored, and swapped in for the requests that follow.
    func importList(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let client = try context.require(.operator)
        var request = request
        // Base64url grows a document by a third.
        let body = try await request.jsonBody(limit: state.configuration.maximumListSize / 3 * 4 + 4096)
        let (document, signature) = try readRequest(body) { (reader: inout JSONReader) throws(JSONError) in
            var document: [UInt8]?
            var signature: [UInt8]?
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                switch key {
                case "document": document = try reader.readBase64URL()
                case "signature": signature = try reader.readStringBytes()
                default: throw reader.unknownMember(key)
                }
            }
            guard let document else { throw reader.missing("document") }
            return (document, signature)
        }
        do {
            let version = try await state.io { [state] in try state.operations.importList(document, signature: signature) }
            state.logger.notice("list \(version.label) imported by \(client.name)")
            return jsonResponse(JSONValue.object([("result", .string("imported")), ("list", listJSON(version, at: state.clock()))]).json)
        } catch let error as OperationError where error.code == .listRefused {
            state.logger.notice("list import by \(client.name) refused: \(error.reason ?? "") \(error.message)")
            throw error
        }
    }

    // MARK: Conformity evaluation

    /// A candidate registration in the offline request format (`response` and `expected`): the
    /// vendor made it with its own challenge and relying party. Trust, policy and time stay the
    /// service's, so `trustAnchors`, `crls`, `policy` and `at` are refused. `Accept: text/html`
    /// gives the printable report.
    func evaluate(_ request: Request, _ context: APIRequestContext) async throws -> Response {
        let client = try context.require(.verifier, .operator)
        let html = request.headers[.accept]?.contains("text/html") == true
        var request = request
        let body = try await request.jsonBody(limit: state.configuration.maximumBodySize)
        let members = try readRequest(body) { (reader: inout JSONReader) throws(JSONError) in
            var names: [String] = []
            try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                names.append(key.string)
                try reader.skipValue()
            }
            return names
        }
        if let refused = members.first(where: { !["response", "expected"].contains($0) }) {
            throw APIError(.malformedRequest, "\(refused): trust, policy and time are the service's; send response and expected only")
        }
        let parsed: VerificationRequest
        do {
            parsed = try VerificationRequest.read(body, ceremony: .registration)
        } catch {
            throw APIError(.malformedRequest, error.message)
        }
        let judged = try state.operations.evaluateCandidate(parsed, by: state.caller(client))
        guard let evaluation = judged.evaluation else {
            var writer = JSONWriter(capacity: 1024)
            writer.object { w in
                w.key("verification")
                judged.outcome.write(to: &w)
                w.key("verdict")
                w.string(Verdict.refused.rawValue)
                w.key("reason")
                w.string("the registration does not verify")
                w.key("amr")
                w.array { _ in }
            }
            return jsonResponse(writer.bytes)
        }
        if html {
            let page: String
            do {
                page = try ConformityReport.render(evaluation, format: .html, tool: "mie-verifier service")
            } catch {
                throw APIError(.internalError, "the report could not be rendered")
            }
            return jsonResponse(Array(page.utf8), type: "text/html; charset=utf-8")
        }
        var writer = JSONWriter(capacity: 8192)
        writer.object { w in
            w.key("verification")
            judged.outcome.write(to: &w)
            evaluation.writeMembers(to: &w)
        }
        return jsonResponse(writer.bytes)
    }
}
