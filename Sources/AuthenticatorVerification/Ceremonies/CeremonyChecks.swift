import SignatureVerification
import WireFormat

/// What the relying party expects of a ceremony: the options it sent the client.
public struct CeremonyExpectation: Sendable {
    public var challenge: [UInt8]
    /// Accepted origins; see `OriginMatcher` for the wildcard opt-in.
    public var origins: [String]
    public var rpID: String
    public var userVerification: UserVerificationRequirement

    public init(challenge: [UInt8], origins: [String], rpID: String, userVerification: UserVerificationRequirement = .required) {
        self.challenge = challenge
        self.origins = origins
        self.rpID = rpID
        self.userVerification = userVerification
    }
}

/// The steps both ceremonies share (WebAuthn L3 §7.1 and §7.2), one function each.
enum CeremonyChecks {
    /// §7.1 steps 5–10 / §7.2 steps 9–14: parse clientDataJSON and check what the client
    /// reports against the relying party's expectation and policy.
    static func checkClientData(
        _ json: [UInt8], type: String, _ expectation: CeremonyExpectation, _ policy: VerificationPolicy
    ) throws(VerificationFailure) -> CollectedClientData {
        let clientData = try CollectedClientData.parse(json)
        try checkType(clientData, is: type)
        try checkChallenge(clientData, expectation.challenge)
        try checkOrigin(clientData, expectation.origins)
        try checkCrossOrigin(clientData, policy)
        try checkTokenBinding(clientData, policy)
        return clientData
    }

    /// §7.1 step 7 / §7.2 step 11: `type`.
    static func checkType(_ clientData: CollectedClientData, is expected: String) throws(VerificationFailure) {
        guard clientData.type == expected else {
            throw VerificationFailure(.typeMismatch, "clientData.type is \"\(clientData.type.prefix(32))\", expected \"\(expected)\"")
        }
    }

    /// §7.1 step 8 / §7.2 step 12: the challenge is the one the relying party issued.
    static func checkChallenge(_ clientData: CollectedClientData, _ expected: [UInt8]) throws(VerificationFailure) {
        guard let received = Base64URL.decode(clientData.challenge), received == expected else {
            throw VerificationFailure(.challengeMismatch, "clientData.challenge differs from the issued challenge")
        }
    }

    /// §7.1 step 9 / §7.2 step 13: the origin is one the relying party accepts.
    static func checkOrigin(_ clientData: CollectedClientData, _ origins: [String]) throws(VerificationFailure) {
        guard OriginMatcher(entries: origins).accepts(clientData.origin) else {
            throw VerificationFailure(.originMismatch, "origin \"\(clientData.origin.prefix(128))\" is not accepted")
        }
    }

    /// §7.1 step 10 / §7.2 step 14: cross-origin use and topOrigin only where allowed.
    static func checkCrossOrigin(_ clientData: CollectedClientData, _ policy: VerificationPolicy) throws(VerificationFailure) {
        if clientData.crossOrigin, !policy.allowsCrossOrigin {
            throw VerificationFailure(.crossOriginNotAllowed, "the ceremony ran cross-origin, which the policy does not allow")
        }
        if let topOrigin = clientData.topOrigin {
            guard clientData.crossOrigin, policy.allowsCrossOrigin else {
                throw VerificationFailure(.crossOriginNotAllowed, "topOrigin present but cross-origin use is not allowed")
            }
            guard OriginMatcher(entries: policy.allowedTopOrigins).accepts(topOrigin) else {
                throw VerificationFailure(.topOriginNotAllowed, "topOrigin \"\(topOrigin.prefix(128))\" is not accepted")
            }
        }
    }

    /// Level 2 §7.1 step 10 (removed in Level 3), when the policy asks for it.
    static func checkTokenBinding(_ clientData: CollectedClientData, _ policy: VerificationPolicy) throws(VerificationFailure) {
        guard policy.enforcesLevel2TokenBinding, let status = clientData.tokenBindingStatus else { return }
        guard status == "present" || status == "supported" else {
            throw VerificationFailure(.malformedClientData, "tokenBinding.status \"\(status)\" is not present or supported")
        }
    }

    /// §7.1 step 13 / §7.2 step 15: rpIdHash is SHA-256 of the expected RP ID.
    static func checkRPIDHash(_ authenticatorData: AuthenticatorData, _ rpID: String) throws(VerificationFailure) {
        guard authenticatorData.rpIDHash.elementsEqual(Digest.sha256(Array(rpID.utf8))) else {
            throw VerificationFailure(.rpIDMismatch, "rpIdHash is not SHA-256 of \"\(rpID.prefix(128))\"")
        }
    }

    /// §7.1 steps 14–15 / §7.2 steps 16–17: user presence always; verification per request.
    static func checkUser(_ flags: AuthenticatorData.Flags, _ requirement: UserVerificationRequirement) throws(VerificationFailure) {
        guard flags.userPresent else { throw VerificationFailure(.userNotPresent, "the UP flag is not set") }
        if requirement == .required, !flags.userVerified {
            throw VerificationFailure(.userNotVerified, "user verification was required but the UV flag is not set")
        }
    }

    /// §7.1 step 16 / §7.2 step 18: a credential cannot be backed up without being eligible.
    static func checkBackupFlags(_ flags: AuthenticatorData.Flags) throws(VerificationFailure) {
        if flags.backupState, !flags.backupEligible {
            throw VerificationFailure(.backupStateWithoutEligibility, "BS is set without BE")
        }
    }

    /// §7.1 step 19: the credential key's algorithm is one the relying party allows.
    static func checkAlgorithm(_ algorithm: COSEAlgorithm, _ policy: VerificationPolicy) throws(VerificationFailure) {
        guard algorithm.isSupported else {
            throw VerificationFailure(.algorithmUnsupported, "\(algorithm.name) is not supported by this verifier")
        }
        guard policy.allowedAlgorithms.contains(algorithm) else {
            throw VerificationFailure(.algorithmNotAllowed, "\(algorithm.name) is not allowed by the policy")
        }
    }
}
