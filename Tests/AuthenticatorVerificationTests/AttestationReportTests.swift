import AuthenticatorVerification
import Foundation
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
        #expect(known.properties["tpm.manufacturer"] == "id:FFFFF1D0")
        #expect(known.properties["tpm.model"] == "MIE-TPM")
        #expect(known.warnings.isEmpty)
        let unknown = try verified("gen-reg-tpm-unknown-manufacturer")
        #expect(unknown.properties["tpm.manufacturerName"] == nil)
        #expect(unknown.warnings.contains { $0.contains("unknown TPM manufacturer id:00000000") })
        #expect(try verified("gen-reg-tpm-sha1-allowed").warnings.contains { $0.contains("SHA-1") })
    }

    @Test func androidAndSafetyNetDetails() throws {
        let android = try verified("gen-reg-android-key-ES256")
        #expect(android.properties["android.attestationSecurityLevel"] == "TrustedEnvironment")
        let safetyNet = try verified("gen-reg-android-safetynet-ES256")
        #expect(safetyNet.warnings.contains { $0.contains("deprecated") })
        #expect(safetyNet.properties["safetynet.ctsProfileMatch"] == "true")
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
