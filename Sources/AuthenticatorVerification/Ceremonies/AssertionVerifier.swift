import CBORDecoding
import SignatureVerification

/// An assertion as the client sent it, untrusted.
public struct AssertionResponse: Sendable {
    public var rawID: [UInt8]
    public var clientDataJSON: [UInt8]
    public var authenticatorData: [UInt8]
    public var signature: [UInt8]
    public var userHandle: [UInt8]?

    public init(rawID: [UInt8], clientDataJSON: [UInt8], authenticatorData: [UInt8], signature: [UInt8], userHandle: [UInt8]? = nil) {
        self.rawID = rawID
        self.clientDataJSON = clientDataJSON
        self.authenticatorData = authenticatorData
        self.signature = signature
        self.userHandle = userHandle
    }
}

/// What the relying party stored for the credential being used.
public struct StoredCredential: Sendable {
    /// The credential ID; nil skips the check (the caller already looked it up by ID).
    public var id: [UInt8]?
    /// The decoded key; decode it once and keep it (see `DecodingCache`).
    public var publicKey: CredentialPublicKey
    public var signCount: UInt32
    /// The BE flag seen at registration; nil when unknown.
    public var backupEligible: Bool?
    /// The user handle the credential belongs to; nil skips the check.
    public var userHandle: [UInt8]?

    public init(id: [UInt8]?, publicKey: CredentialPublicKey, signCount: UInt32, backupEligible: Bool? = nil, userHandle: [UInt8]? = nil) {
        self.id = id
        self.publicKey = publicKey
        self.signCount = signCount
        self.backupEligible = backupEligible
        self.userHandle = userHandle
    }
}

/// An assertion that passed every check.
public struct VerifiedAssertion: Sendable {
    public let credentialID: [UInt8]
    /// The counter to store (the received one).
    public let signCount: UInt32
    public let flags: AuthenticatorData.Flags
    public let extensions: AuthenticatorExtensions?
    public var userVerified: Bool { flags.userVerified }
    public var backupState: Bool { flags.backupState }
}

/// Authentication ceremony verification (WebAuthn L3 §7.2). Pure.
public enum AssertionVerifier {
    public static func verify(
        _ response: AssertionResponse, expecting expectation: CeremonyExpectation, credential: StoredCredential,
        policy: VerificationPolicy = .strict
    ) throws(VerificationFailure) -> VerifiedAssertion {
        try checkCredentialID(response, credential)
        try checkUserHandle(response, credential)
        _ = try CeremonyChecks.checkClientData(response.clientDataJSON, type: "webauthn.get", expectation, policy)
        let authenticatorData = try AuthenticatorData.parse(response.authenticatorData)
        try CeremonyChecks.checkRPIDHash(authenticatorData, expectation.rpID)
        try CeremonyChecks.checkUser(authenticatorData.flags, expectation.userVerification)
        try CeremonyChecks.checkBackupFlags(authenticatorData.flags)
        try checkBackupEligibility(authenticatorData.flags, credential)
        try CeremonyChecks.checkAlgorithm(credential.publicKey.algorithm, policy)
        try checkSignature(response, credential)
        try checkSignCount(authenticatorData.signCount, credential)
        return VerifiedAssertion(
            credentialID: response.rawID, signCount: authenticatorData.signCount, flags: authenticatorData.flags,
            extensions: authenticatorData.extensions)
    }

    /// §7.2 step 5: the credential is the one the relying party looked up.
    static func checkCredentialID(_ response: AssertionResponse, _ credential: StoredCredential) throws(VerificationFailure) {
        try CredentialIDRules.check(length: response.rawID.count)
        if let id = credential.id, id != response.rawID {
            throw VerificationFailure(.credentialIDMismatch, "rawId is not the stored credential's ID")
        }
    }

    /// §7.2 step 6: a returned user handle must be the credential owner's.
    static func checkUserHandle(_ response: AssertionResponse, _ credential: StoredCredential) throws(VerificationFailure) {
        if let expected = credential.userHandle, let received = response.userHandle, !received.isEmpty, received != expected {
            throw VerificationFailure(.userHandleMismatch, "userHandle is not the credential owner's")
        }
    }

    /// §7.2 step 18: BE is fixed for a credential's life.
    static func checkBackupEligibility(_ flags: AuthenticatorData.Flags, _ credential: StoredCredential) throws(VerificationFailure) {
        if let stored = credential.backupEligible, stored != flags.backupEligible {
            throw VerificationFailure(.backupEligibilityChanged, "BE changed from \(stored) to \(flags.backupEligible)")
        }
    }

    /// §7.2 steps 20–21: the signature over authenticatorData ‖ SHA-256(clientDataJSON).
    static func checkSignature(_ response: AssertionResponse, _ credential: StoredCredential) throws(VerificationFailure) {
        let clientDataHash = Digest.sha256(response.clientDataJSON)
        guard credential.publicKey.isValidSignature(response.signature, over: response.authenticatorData, clientDataHash) else {
            throw VerificationFailure(.signatureInvalid, "assertion signature does not verify with the stored key")
        }
    }

    /// §7.2 step 22: a counter that does not grow signals a possibly cloned authenticator.
    /// Authenticators without counters report 0 every time, which is accepted.
    static func checkSignCount(_ received: UInt32, _ credential: StoredCredential) throws(VerificationFailure) {
        if received != 0 || credential.signCount != 0, received <= credential.signCount {
            throw VerificationFailure(
                .signCountRegression, "signCount \(received) does not exceed the stored \(credential.signCount): possible clone")
        }
    }
}
