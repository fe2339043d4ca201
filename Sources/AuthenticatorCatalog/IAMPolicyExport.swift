import AuthenticatorVerification
import Foundation
import SignatureVerification
import WireFormat

/// The ANS list in force as the configuration of an IAM people already run: the models an
/// establishment's IAM may enrol, as that IAM's own API takes them, with the lists they come
/// from. An AAGUID allow-list means something only when the IAM also verifies attestation (an
/// unattested key may claim any AAGUID): each form switches it on where the IAM has it, and says
/// so where it cannot.
public enum IAMPolicyExport {
    public enum Target: String, Sendable, CaseIterable {
        case entra, okta, keycloak
    }

    /// A model the IAM may allow: referenced by the ANS now, with no negative FIDO status.
    public struct Model: Sendable, Equatable {
        public let aaguid: String
        public let description: String
        /// The attestation roots its statements name (DER), for IAMs that take them.
        public let roots: [[UInt8]]
        /// Firmware versions the ANS decision restricts the model to (nil: any), which no IAM
        /// can enforce by AAGUID.
        public let acceptedFirmware: [Int64]?
        /// Whether FIDO MDS knows the model (Okta needs the others as custom AAGUIDs).
        public let inFIDOMDS: Bool
    }

    /// A model of the ANS list left out, and why.
    public struct Exclusion: Sendable, Equatable {
        public let identifier: String
        /// Its AAGUID (8-4-4-4-12, lower case), when it has one.
        public let aaguid: String?
        public let description: String
        public let reason: String
    }

    /// What the lists allow at `time`.
    public static func models(_ catalog: CatalogSnapshot, at time: Date) -> (accepted: [Model], excluded: [Exclusion]) {
        var accepted: [Model] = []
        var excluded: [Exclusion] = []
        for entry in catalog.allEntries {
            guard let ans = entry.ans else { continue }
            let decision = ans.authenticator.decision
            let name = entry.identifier?.description ?? entry.aaid ?? entry.description
            guard case .aaguid(let bytes)? = entry.identifier else {
                excluded.append(Exclusion(identifier: name, aaguid: nil, description: entry.description, reason: "no AAGUID: an IAM cannot allow it by AAGUID"))
                continue
            }
            let aaguid = AAGUIDText.string(bytes)
            let effect = decision.effect(at: time)
            guard effect == .referenced else {
                excluded.append(
                    Exclusion(
                        identifier: name, aaguid: aaguid, description: entry.description, reason: "ANS decision \(effect.rawValue) (\(decision.reference), \(ans.list.label))"))
                continue
            }
            if let negative = entry.mds.lazy.compactMap({ $0.entry.status(at: time) }).first(where: { $0.status.isNegative }) {
                excluded.append(Exclusion(identifier: name, aaguid: aaguid, description: entry.description, reason: "FIDO MDS status \(negative.status.description)"))
                continue
            }
            accepted.append(
                Model(
                    aaguid: aaguid, description: entry.description, roots: entry.roots.map(\.der),
                    acceptedFirmware: decision.acceptedFirmware, inFIDOMDS: !entry.mds.isEmpty))
        }
        return (accepted, excluded)
    }

    /// The document for `target`: provenance (lists, time), the models, what to call with
    /// which body, and what the IAM cannot enforce.
    public static func document(for target: Target, catalog: CatalogSnapshot, at time: Date) -> JSONValue {
        let (accepted, excluded) = models(catalog, at: time)
        let aaguids = accepted.map(\.aaguid)
        let source = catalog.lists.map(\.label)
        var notes: [String] = []
        let restricted = accepted.compactMap { model in
            model.acceptedFirmware.map { "\(model.description) (firmware \($0.map(String.init).joined(separator: ", ")))" }
        }
        if !restricted.isEmpty {
            notes.append(
                "firmware restrictions of the ANS decisions cannot be expressed by AAGUID: \(restricted.joined(separator: "; ")); the service's verdict still applies them")
        }
        if aaguids.isEmpty { notes.append("no model is accepted by the lists in force: the allow-list is empty and admits no key") }
        var requests: [JSONValue] = []
        switch target {
        case .entra:
            notes.append("isAttestationEnforced makes Entra verify the key's attestation against FIDO MDS roots: without it any key may claim an allowed AAGUID")
            requests.append(
                request(
                    "PATCH", "https://graph.microsoft.com/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2",
                    .object([
                        ("@odata.type", .string("#microsoft.graph.fido2AuthenticationMethodConfiguration")),
                        ("isAttestationEnforced", .bool(true)),
                        (
                            "keyRestrictions",
                            .object([
                                ("@odata.type", .string("#microsoft.graph.fido2KeyRestrictions")), ("isEnforced", .bool(true)),
                                ("enforcementType", .string("allow")), ("aaGuids", .strings(aaguids)),
                            ])
                        ),
                    ])))
        case .okta:
            notes.append(
                "Okta checks the attestation of keys in an AAGUID group against FIDO MDS, or against the roots given with a custom AAGUID: models the MDS does not know are added as custom AAGUIDs first, with their roots")
            for model in accepted where !model.inFIDOMDS {
                requests.append(
                    request(
                        "POST", "/api/v1/authenticators/{webauthnAuthenticatorId}/aaguids",
                        .object([
                            ("aaguid", .string(model.aaguid)), ("name", .string(model.description)),
                            ("attestationRootCertificates", .array(model.roots.map { .object([("x5c", .string(Data($0).base64EncodedString()))]) })),
                            ("authenticatorCharacteristics", .object([("platformAttached", .bool(false)), ("hardwareProtected", .bool(true))])),
                        ])))
            }
            requests.append(
                request(
                    "PUT", "/api/v1/authenticators/{webauthnAuthenticatorId}/methods/webauthn",
                    .object([
                        ("type", .string("webauthn")), ("status", .string("ACTIVE")),
                        (
                            "settings",
                            .object([
                                ("userVerification", .string("REQUIRED")), ("attachment", .string("ANY")),
                                (
                                    "aaguidGroups",
                                    .array([.object([("name", .string("PSC MIE (\(source.joined(separator: ", ")))")), ("aaguids", .strings(aaguids))])])
                                ),
                            ])
                        ),
                    ])))
        case .keycloak:
            notes.append(
                "Keycloak checks the AAGUID the key reports; it verifies the attestation only against the trust anchors of its truststore: put the roots of these models there (attestation conveyance is set to direct)")
            requests.append(
                request(
                    "PUT", "/admin/realms/{realm}",
                    .object([
                        ("webAuthnPolicyAcceptableAaguids", .strings(aaguids)),
                        ("webAuthnPolicyAttestationConveyancePreference", .string("direct")),
                        ("webAuthnPolicyUserVerificationRequirement", .string("required")),
                        ("webAuthnPolicyPasswordlessAcceptableAaguids", .strings(aaguids)),
                        ("webAuthnPolicyPasswordlessAttestationConveyancePreference", .string("direct")),
                        ("webAuthnPolicyPasswordlessUserVerificationRequirement", .string("required")),
                    ])))
        }
        return .object([
            ("format", .string("mie-verifier/iam-policy/1")), ("for", .string(target.rawValue)), ("generatedAt", .string(time.formatted(.iso8601))),
            ("lists", .array(catalog.lists.map { list in
                .object([("label", .string(list.label)), ("sha256", .string(list.sha256)), ("nextUpdate", .optional(list.nextUpdate))])
            })),
            ("accepted", .array(accepted.map { model in
                .object([("aaguid", .string(model.aaguid)), ("description", .string(model.description)), ("inFidoMds", .bool(model.inFIDOMDS))])
            })),
            ("excluded", .array(excluded.map { item in
                .object([("identifier", .string(item.identifier)), ("description", .string(item.description)), ("reason", .string(item.reason))])
            })),
            ("requests", .array(requests)), ("notes", .strings(notes)),
        ])
    }

    private static func request(_ method: String, _ path: String, _ body: JSONValue) -> JSONValue {
        .object([("method", .string(method)), ("path", .string(path)), ("body", body)])
    }
}
