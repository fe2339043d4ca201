import CBORDecoding
import Foundation
import SignatureVerification

/// A registration as the client sent it (the parts of `PublicKeyCredential` the relying party
/// needs), untrusted.
public struct RegistrationResponse: Sendable {
    public var rawID: [UInt8]
    public var clientDataJSON: [UInt8]
    public var attestationObject: [UInt8]

    public init(rawID: [UInt8], clientDataJSON: [UInt8], attestationObject: [UInt8]) {
        self.rawID = rawID
        self.clientDataJSON = clientDataJSON
        self.attestationObject = attestationObject
    }
}

/// A registration that passed every check: what the relying party stores.
public struct VerifiedRegistration: Sendable {
    public let credentialID: [UInt8]
    public let publicKey: CredentialPublicKey
    public let signCount: UInt32
    /// The model's AAGUID where the attestation covers it; all zeros where it cannot (a
    /// fido-u2f statement signs no AAGUID: the model is its certificate's).
    public let aaguid: [UInt8]
    /// The AAGUID authenticatorData carried, as the authenticator (or its client) claimed it.
    public let claimedAAGUID: [UInt8]
    public let flags: AuthenticatorData.Flags
    public let attestation: AttestationResult
    public let extensions: AuthenticatorExtensions?
    public let clientData: CollectedClientData
}

/// Registration ceremony verification (WebAuthn L3 §7.1). Pure: the time, trust anchors and
/// policy are inputs; `caches` only saves work.
public enum RegistrationVerifier {
    public static func verify(
        _ response: RegistrationResponse, expecting expectation: CeremonyExpectation,
        policy: VerificationPolicy = .strict, trust: any AttestationTrustSource, at time: Date,
        caches: VerificationCaches? = nil
    ) throws(VerificationFailure) -> VerifiedRegistration {
        let clientData = try CeremonyChecks.checkClientData(response.clientDataJSON, type: "webauthn.create", expectation, policy)
        let clientDataHash = Digest.sha256(response.clientDataJSON)

        let object = try AttestationObject.parse(response.attestationObject)
        let authenticatorData = object.authenticatorData
        try CeremonyChecks.checkRPIDHash(authenticatorData, expectation.rpID)
        try CeremonyChecks.checkUser(authenticatorData.flags, expectation.userVerification)
        try CeremonyChecks.checkBackupFlags(authenticatorData.flags)
        let credential = try attestedCredential(authenticatorData)
        try checkCredentialID(credential, matches: response.rawID)
        try CeremonyChecks.checkAlgorithm(credential.credentialPublicKey.algorithm, policy)

        let attestation = try AttestationStatementVerifier.verify(
            object, clientDataHash: clientDataHash, policy: policy, trust: trust, at: time, caches: caches)
        return VerifiedRegistration(
            credentialID: credential.credentialID, publicKey: credential.credentialPublicKey,
            signCount: authenticatorData.signCount, aaguid: attestedAAGUID(credential.aaguid, attestation), claimedAAGUID: credential.aaguid,
            flags: authenticatorData.flags,
            attestation: attestation, extensions: authenticatorData.extensions, clientData: clientData)
    }

    /// The AAGUID a consumer may take for the model: a fido-u2f signature does not cover
    /// authenticatorData's AAGUID (§8.6 expects zeros there), so a non-zero one beside it is
    /// nobody's word and is reported as zeros (the model is identified by the certificate).
    static func attestedAAGUID(_ claimed: [UInt8], _ attestation: AttestationResult) -> [UInt8] {
        attestation.format == "fido-u2f" ? [UInt8](repeating: 0, count: 16) : claimed
    }

    /// §7.1 step 13 (AT flag): a registration must carry the new credential.
    static func attestedCredential(_ authenticatorData: AuthenticatorData) throws(VerificationFailure)
        -> AuthenticatorData.AttestedCredentialData
    {
        guard let credential = authenticatorData.attestedCredentialData else {
            throw VerificationFailure(.missingAttestedCredentialData, "registration authenticatorData has no attested credential data")
        }
        return credential
    }

    /// The credential's `rawId` is the ID inside authenticatorData.
    static func checkCredentialID(
        _ credential: AuthenticatorData.AttestedCredentialData, matches rawID: [UInt8]
    ) throws(VerificationFailure) {
        guard credential.credentialID == rawID else {
            throw VerificationFailure(.credentialIDMismatch, "rawId differs from the credential ID in authenticatorData")
        }
    }
}
