import VerificationRequests
@_spi(Internals) import AuthenticatorVerification
import Foundation
import SignatureVerification
import Testing

/// What a verified registration reports about its attestation: type, trust path, revocation,
/// properties, warnings, compound components.
@Suite struct AttestationReportTests {
    static let vectors = Dictionary(uniqueKeysWithValues: GeneratedVectorTests.vectors.map { ($0.id, $0) })

    func verified(_ id: String) throws -> AttestationResult {
        let vector = try #require(Self.vectors[id])
        return try GeneratedVectorTests.runner.registration(vector).attestation
    }

    @Test func typesPerFormat() throws {
        #expect(try verified("gen-reg-none-ES256").type == .none)
        #expect(try verified("gen-reg-packed-self-ES256").type == .self)
        #expect(try verified("gen-reg-packed-x5c-ES256").type == .basic)
        #expect(try verified("gen-reg-tpm-RS256").type == .attCA)
        #expect(try verified("gen-reg-apple-ES256").type == .anonCA)
        #expect(try verified("gen-reg-android-key-ES256").type == .basic)
    }

    @Test func trustedPathsRunFromLeafToAnchor() throws {
        let packed = try verified("gen-reg-packed-x5c-ES256")
        #expect(packed.isTrusted)
        #expect(packed.certificates.count == 2)
        #expect(packed.verifiedPath.count == 3)
        #expect(packed.verifiedPath.last?.subject(.commonName) == ["MIE Verifier Test Attestation Root CA"])
        let untrusted = try verified("gen-reg-compound")
        #expect(!untrusted.isTrusted)
    }

    @Test func revocationReportsHowFarItReached() throws {
        #expect(try verified("gen-reg-packed-x5c-ES256").revocation == .notChecked)
        #expect(try verified("gen-reg-packed-crl-checked").revocation == .checked)
        #expect(try verified("gen-reg-packed-crl-partial").revocation == .partial)
    }

    @Test func tpmReportsItsManufacturer() throws {
        let known = try verified("gen-reg-tpm-RS256")
        #expect(
            known.evidence.contains(
                .tpmManufacturer(id: "id:FFFFF1D0", name: "FIDO Alliance conformance testing", model: "MIE-TPM", version: "id:13")))
        #expect(known.warnings.isEmpty)
        let unknown = try verified("gen-reg-tpm-unknown-manufacturer")
        #expect(unknown.evidence.contains(.tpmManufacturerUnknown(id: "id:00000000")))
        #expect(unknown.warnings.map(\.code) == ["tpm.manufacturer-unknown"])
        #expect(try verified("gen-reg-tpm-sha1-allowed").warnings.contains(.sha1StatementSignature))
    }

    @Test func androidAndSafetyNetDetails() throws {
        let android = try verified("gen-reg-android-key-ES256")
        #expect(android.evidence.contains { if case .androidKey(1, _, _) = $0 { true } else { false } })
        let safetyNet = try verified("gen-reg-android-safetynet-ES256")
        #expect(safetyNet.warnings.contains(.deprecatedFormat("android-safetynet")))
        #expect(safetyNet.evidence.contains { if case .safetyNet(_, true, _) = $0 { true } else { false } })
    }

    /// The authenticator the attestation vouches for: the AAGUID where the signature covers
    /// it, the certificate's key identifier for fido-u2f, nothing for none and self.
    @Test func attestedAuthenticatorIsReportedPerFormat() throws {
        let packed = try verified("gen-reg-packed-x5c-ES256")
        #expect(packed.authenticator == .aaguid(Array("MIE-Verifier-Tes".utf8)))
        let u2f = try verified("gen-reg-fido-u2f-ES256")
        guard case .certificateKeyIdentifier(let identifier) = u2f.authenticator else {
            Issue.record("fido-u2f reported \(String(describing: u2f.authenticator))")
            return
        }
        #expect(identifier == u2f.certificates[0].publicKeyIdentifier)
        #expect(identifier.count == 20)
        #expect(try verified("gen-reg-none-ES256").authenticator == nil)
        #expect(try verified("gen-reg-packed-self-ES256").authenticator == nil)
    }

    /// Anchors by authenticator: the pair (root, authenticator) is what trust means.
    struct KeyedTrust: AttestationTrustSource {
        let anchors: [AuthenticatorIdentifier: [Certificate]]
        func trustAnchors(for authenticator: AuthenticatorIdentifier, format: String) -> [Certificate] {
            anchors[authenticator] ?? []
        }
    }

    func registration(_ id: String, trust: any AttestationTrustSource) throws -> VerifiedRegistration {
        let vector = try #require(Self.vectors[id])
        let response = RegistrationResponse(
            rawID: try vector.bytes("credential_id_b64url"), clientDataJSON: try vector.bytes("client_data_json_b64url"),
            attestationObject: try vector.bytes("attestation_object_b64url"))
        let runner = GeneratedVectorTests.runner
        return try RegistrationVerifier.verify(
            response, expecting: try runner.expectation(for: vector), policy: runner.policy(for: vector), trust: trust,
            at: try runner.time(for: vector))
    }

    /// fido-u2f's signature does not cover the AAGUID: a root listed for the AAGUID the client
    /// wrote never vouches for it; the root listed for its certificate key identifier does.
    @Test func u2fTrustIsLookedUpByCertificateKeyIdentifierNotByTheUnsignedAAGUID() throws {
        let root = try #require(GeneratedVectorTests.runner.anchors["generated"]?["mie-test-attestation-root"])
        let chosen = AuthenticatorIdentifier.aaguid(try #require(AAGUIDText.bytes("ee882879-721c-4913-9775-3dfcce97072a")))
        #expect(throws: VerificationFailure(.attestationChainUntrusted, "attestation chain does not reach a trust anchor: no trust anchors")) {
            try registration("gen-reg-fido-u2f-chosen-aaguid", trust: KeyedTrust(anchors: [chosen: [root]]))
        }
        let reported = try registration("gen-reg-fido-u2f-chosen-aaguid", trust: FixedTrustAnchors([root]))
        guard case .certificateKeyIdentifier(let identifier) = reported.attestation.authenticator else {
            Issue.record("fido-u2f reported \(String(describing: reported.attestation.authenticator))")
            return
        }
        let trusted = try registration("gen-reg-fido-u2f-chosen-aaguid", trust: KeyedTrust(anchors: [AuthenticatorIdentifier.certificateKeyIdentifier(identifier): [root]]))
        #expect(trusted.attestation.isTrusted)
        // The AAGUID the client wrote is kept apart as a claim; the model's AAGUID, which any
        // consumer (the catalog, the PSC engine, the stored credential) reads, is zeros.
        #expect(trusted.claimedAAGUID == AAGUIDText.bytes("ee882879-721c-4913-9775-3dfcce97072a"))
        #expect(trusted.aaguid == [UInt8](repeating: 0, count: 16))
        let json = String(decoding: VerificationOutcome(disposition: .verified, result: .registration(trusted)).json(), as: UTF8.self)
        #expect(json.contains(#""aaguid":"00000000-0000-0000-0000-000000000000""#) && json.contains(#""unattestedAAGUID":"ee882879-721c-4913-9775-3dfcce97072a""#))
    }

    /// A root listed for one AAGUID does not vouch for another.
    @Test func packedTrustIsPerAAGUID() throws {
        let root = try #require(GeneratedVectorTests.runner.anchors["generated"]?["mie-test-attestation-root"])
        let own = AuthenticatorIdentifier.aaguid(Array("MIE-Verifier-Tes".utf8))
        let other = AuthenticatorIdentifier.aaguid([UInt8](repeating: 7, count: 16))
        #expect(try registration("gen-reg-packed-x5c-ES256", trust: KeyedTrust(anchors: [own: [root]])).attestation.isTrusted)
        #expect(throws: VerificationFailure.self) {
            try registration("gen-reg-packed-x5c-ES256", trust: KeyedTrust(anchors: [other: [root]]))
        }
    }

    @Test func compoundListsEachStatement() throws {
        let compound = try verified("gen-reg-compound-trusted")
        #expect(compound.type == .compound)
        #expect(compound.components.map(\.format) == ["packed", "packed"])
        #expect(compound.isTrusted)
        let mixed = try verified("gen-reg-compound")
        #expect(mixed.components.map(\.type) == [.basic, .self])
    }
}
