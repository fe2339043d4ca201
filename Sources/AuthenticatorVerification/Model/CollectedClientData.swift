/// The client data of a ceremony (WebAuthn L3 §5.8.1), parsed but not yet checked against
/// any expectation.
public struct CollectedClientData: Sendable, Equatable {
    struct Members {
        var type: String?
        var challenge: String?
        var origin: String?
        var topOrigin: String?
        var crossOrigin: Bool?
        var tokenBindingStatus: String??
    }

    public let type: String
    /// The challenge exactly as the client encoded it (base64url).
    public let challenge: String
    public let origin: String
    public let topOrigin: String?
    public let crossOrigin: Bool
    /// Level 2 `tokenBinding.status`, when the member was present.
    public let tokenBindingStatus: String?

    init(_ members: Members) throws(VerificationFailure) {
        guard let type = members.type else { throw VerificationFailure(.malformedClientData, "clientDataJSON has no \"type\"") }
        guard let challenge = members.challenge else {
            throw VerificationFailure(.malformedClientData, "clientDataJSON has no \"challenge\"")
        }
        guard let origin = members.origin else { throw VerificationFailure(.malformedClientData, "clientDataJSON has no \"origin\"") }
        self.type = type
        self.challenge = challenge
        self.origin = origin
        self.topOrigin = members.topOrigin
        self.crossOrigin = members.crossOrigin ?? false
        self.tokenBindingStatus = members.tokenBindingStatus ?? nil
        // Level 3 dropped token binding; a status is still refused when no level ever defined it.
        if let status = members.tokenBindingStatus, !["present", "supported", "not-supported"].contains(status) {
            throw VerificationFailure(.malformedClientData, "tokenBinding.status must be present, supported or not-supported")
        }
    }

    /// Parses the exact bytes the client sent.
    @_spi(Internals) public static func parse(_ json: [UInt8]) throws(VerificationFailure) -> CollectedClientData {
        try ClientDataParser.parse(json)
    }
}
