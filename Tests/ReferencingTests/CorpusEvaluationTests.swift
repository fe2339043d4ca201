import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation
import PSCPolicy
import SignatureVerification
import Storage
import Testing
import WireFormat

/// Real registrations of the public corpus whose models are in the 2021 production BLOB,
/// evaluated end to end: imported BLOB + demo ANS list in SQLite, the catalog as the only
/// trust source.
@Suite(RequiredMode.needs(TestData.mds3 != nil, "set MIE_EXTERNAL_VECTORS to the external corpus"))
struct CorpusEvaluationTests {
    static func catalog() throws -> CatalogSnapshot {
        let (store, _) = try TestData.temporaryDatabase()
        let production = store.importList(
            try TestData.mds("webauthn4j-production-blob-no9.jwt"), signature: nil, trust: try TestData.productionTrust(), at: TestData.productionTime)
        guard case .imported = production else { throw CancellationError() }
        let ans = store.importList(
            try TestData.demo("demo-ans-list.json"), signature: try TestData.demo("demo-ans-list.json.jws"), trust: try TestData.demoTrust(),
            at: TestData.demoTime)
        guard case .imported = ans else { throw CancellationError() }
        return try store.snapshot()
    }

    func evaluate(_ folder: String, _ id: String, at time: Date? = nil) throws -> (VerifiedRegistration, Evaluation) {
        let catalog = try Self.catalog()
        let vector = try RegistrationVector.external(folder, id)
        let when = time ?? vector.time ?? TestData.productionTime
        var policy = VerificationPolicy.strict
        policy.safetyNetMaximumAge = nil
        policy.allowsSHA1AttestationSignatures = true  // Windows Hello TPMs of that time sign with SHA-1
        let registration = try vector.verify(trust: catalog, at: when, policy: policy)
        let evaluation = PolicyEngine.evaluate(
            .fido(FIDOFacts(registration: registration)), catalog: catalog, profile: PolicyEngineTests.profile, at: when)
        return (registration, evaluation)
    }

    func criterion(_ evaluation: Evaluation, _ number: Int) throws -> CriterionResult {
        try #require(evaluation.criteria.first { $0.criterion.id == "EXI EDC PSC FI \(number)" })
    }

    @Test(arguments: [
        ("webauthn-rs", "wrs-test_registration_packed_attestaion_works_with_valid_fido_aaguid_extension", "YubiKey 5 Series with NFC"),
        ("py_webauthn", "pyw-registration_response_packed-verify_attestation_from_yubikey_firefox", "Security Key by Yubico with NFC"),
        ("py_webauthn", "pyw-registration_response_packed-verify_attestation_with_okp_public_key", "YubiKey 5Ci"),
    ])
    func referencedSecurityKeysAreTrustedThroughTheCatalog(_ folder: String, _ id: String, _ model: String) throws {
        let (registration, evaluation) = try evaluate(folder, id)
        #expect(registration.attestation.isTrusted)
        #expect(registration.attestation.referencingEntry?.description == model)
        #expect(evaluation.authenticator.description == model)
        let fi19 = try criterion(evaluation, 19)
        #expect(fi19.status == .satisfied, "\(fi19.reason)")
        let fi23 = try criterion(evaluation, 23)
        #expect(fi23.status == .satisfied)
        #expect(fi23.evidence.first { $0.0 == "mdsList" }?.1 == .string("FIDO MDS no 9"))
        // The root that vouched is one the catalog lists for this very model.
        let identifier = try #require(registration.attestation.authenticator)
        let root = try #require(registration.attestation.verifiedPathDER.last)
        #expect(try Self.catalog().trustAnchors(for: identifier, format: "packed").contains { $0.der == root })
        // And with the catalog's other models only, nothing vouches for it.
        let vector = try RegistrationVector.external(folder, id)
        let others = OtherModels(catalog: try Self.catalog(), excluded: identifier)
        #expect(!(try vector.verify(trust: others, at: vector.time ?? TestData.productionTime)).attestation.isTrusted)
    }

    @Test(arguments: [
        ("py_webauthn", "pyw-registration_response_tpm-verify_attestation_dell_xps_13", "Windows Hello Hardware Authenticator"),
        ("py_webauthn", "pyw-registration_response_android_safetynet-verify_attestation_android_safetynet",
         "Android Authenticator with SafetyNet Attestation"),
    ])
    func withdrawnPlatformAuthenticatorsAreRefused(_ folder: String, _ id: String, _ model: String) throws {
        let (registration, evaluation) = try evaluate(folder, id)
        #expect(registration.attestation.isTrusted)
        #expect(evaluation.authenticator.description == model)
        let fi19 = try criterion(evaluation, 19)
        #expect(fi19.status == .notSatisfied)
        #expect(fi19.reason.contains("withdrawn"))
        #expect(evaluation.verdict == .refused)
    }

    @Test func theBLOBsStatusesAreInTheReport() throws {
        let (_, evaluation) = try evaluate("py_webauthn", "pyw-registration_response_tpm-verify_attestation_dell_xps_13")
        #expect(evaluation.authenticator.statusReports.contains { $0.status == "FIDO_CERTIFIED_L1" && $0.list == "FIDO MDS no 9" })
        #expect(evaluation.lists.map(\.label).sorted() == ["ANS list no 1", "FIDO MDS no 9"])
        #expect(!evaluation.stale)
    }
}

/// A trust source that answers for every model of the catalog but one: a root listed for
/// another model must not vouch for it.
struct OtherModels: AttestationTrustSource {
    let catalog: CatalogSnapshot
    let excluded: AuthenticatorIdentifier

    func trustAnchors(for authenticator: AuthenticatorIdentifier, format: String) -> [Certificate] {
        authenticator == excluded ? [] : catalog.trustAnchors(for: authenticator, format: format)
    }
}
