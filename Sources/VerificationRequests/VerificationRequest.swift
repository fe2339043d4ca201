import AuthenticatorVerification
import Foundation
import WireFormat

/// The JSON request of `mie-verifier verify …` (README, "Request"), read in one strict pass:
/// base64url members arrive decoded, policy members already applied to `VerificationPolicy`,
/// origins normalised. Whatever the JSON reader refuses (duplicates, trailing commas, nulls,
/// non-UTF-8) and every unknown member of the request, `expected`, `expected.credential` and
/// `policy` is a `RequestError` naming the member.
public struct VerificationRequest: Sendable {
    public var response: CredentialResponse
    public var expected: Expected
    public var policy: VerificationPolicy
    /// The verification instant, when the request fixes it.
    public var at: Date?
    /// Extra attestation anchors (DER), for this request only.
    public var trustAnchors: [[UInt8]]
    /// CRLs (DER) to check attestation paths against.
    public var crls: [[UInt8]]

    public struct Expected: Sendable {
        public var challenge: [UInt8]
        public var origins: [String]
        public var rpID: String
        public var userVerification: UserVerificationRequirement
        /// The stored credential, for assertions.
        public var credential: StoredCredentialJSON?

        package init(
            challenge: [UInt8], origins: [String], rpID: String, userVerification: UserVerificationRequirement, credential: StoredCredentialJSON?
        ) {
            self.challenge = challenge
            self.origins = origins
            self.rpID = rpID
            self.userVerification = userVerification
            self.credential = credential
        }
    }

    /// A request assembled by a caller that decides expectations, policy and time itself (the
    /// HTTP service: its clients send only the ceremony data).
    package init(
        response: CredentialResponse, expected: Expected, policy: VerificationPolicy, at: Date?, trustAnchors: [[UInt8]] = [],
        crls: [[UInt8]] = []
    ) {
        self.response = response
        self.expected = expected
        self.policy = policy
        self.at = at
        self.trustAnchors = trustAnchors
        self.crls = crls
    }

    /// What the relying party stored at registration, as the request carries it.
    public struct StoredCredentialJSON: Sendable {
        public var id: [UInt8]?
        public var publicKey: [UInt8]
        public var signCount: UInt32
        public var backupEligible: Bool?
        public var userHandle: [UInt8]?

        package init(id: [UInt8]?, publicKey: [UInt8], signCount: UInt32, backupEligible: Bool?, userHandle: [UInt8]?) {
            self.id = id
            self.publicKey = publicKey
            self.signCount = signCount
            self.backupEligible = backupEligible
            self.userHandle = userHandle
        }
    }

    /// Reads a request for `ceremony` from JSON bytes.
    public static func read(_ bytes: UnsafeRawBufferPointer, ceremony: Ceremony) throws(RequestError) -> VerificationRequest {
        do {
            return try JSONReader.read(bytes, document: "the request") { (reader: inout JSONReader) throws(JSONError) in
                try readRequest(&reader, ceremony: ceremony)
            }
        } catch {
            throw RequestError(error.message)
        }
    }

    public static func read(_ bytes: [UInt8], ceremony: Ceremony) throws(RequestError) -> VerificationRequest {
        let result: Result<VerificationRequest, RequestError> = bytes.withUnsafeBytes { raw in
            do throws(RequestError) {
                return .success(try read(raw, ceremony: ceremony))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private static func readRequest(_ reader: inout JSONReader, ceremony: Ceremony) throws(JSONError) -> VerificationRequest {
        var response: CredentialResponse?
        var expected: Expected?
        var policy = VerificationPolicy.strict
        var at: Date?
        var anchors: [[UInt8]] = []
        var crls: [[UInt8]] = []
        try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
            switch key {
            case "response": response = try CredentialResponse.read(&reader, ceremony: ceremony)
            case "expected": expected = try readExpected(&reader, ceremony: ceremony)
            case "policy": policy = try PolicyReader.read(&reader)
            case "at": at = try readTime(&reader)
            case "trustAnchors": anchors = try reader.readList { (r: inout JSONReader) throws(JSONError) in try r.readBase64URL() }
            case "crls": crls = try reader.readList { (r: inout JSONReader) throws(JSONError) in try r.readBase64URL() }
            default: throw reader.unknownMember(key)
            }
        }
        guard let response else { throw reader.missing("response") }
        guard let expected else { throw reader.missing("expected") }
        if ceremony == .assertion, expected.credential == nil { throw reader.missing("expected.credential") }
        return VerificationRequest(response: response, expected: expected, policy: policy, at: at, trustAnchors: anchors, crls: crls)
    }

    private static func readExpected(_ reader: inout JSONReader, ceremony: Ceremony) throws(JSONError) -> Expected {
        var challenge: [UInt8]?
        var origins: [String]?
        var rpID: String?
        var userVerification = UserVerificationRequirement.required
        var credential: StoredCredentialJSON?
        try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
            switch key {
            case "challenge": challenge = try reader.readBase64URL()
            case "origins": origins = try readOrigins(&reader)
            case "rpId":
                let id = try reader.readString()
                guard !id.isEmpty, id.utf8.count <= 253 else { throw reader.invalid("must be a domain name") }
                rpID = id
            case "userVerification":
                let text = try reader.readString()
                guard let value = UserVerificationRequirement(rawValue: text) else {
                    throw reader.invalid("must be required, preferred or discouraged")
                }
                userVerification = value
            case "credential":
                guard ceremony == .assertion else { throw reader.invalid("applies to assertions only") }
                credential = try readStoredCredential(&reader)
            default: throw reader.unknownMember(key)
            }
        }
        guard let challenge else { throw reader.missing("challenge") }
        guard let origins else { throw reader.missing("origins") }
        guard let rpID else { throw reader.missing("rpId") }
        return Expected(challenge: challenge, origins: origins, rpID: rpID, userVerification: userVerification, credential: credential)
    }

    /// A non-empty list of origins, each normalised (`ExpectedOrigin`); one that could never
    /// match a client's origin is refused, naming its index.
    static func readOrigins(_ reader: inout JSONReader, allowEmpty: Bool = false) throws(JSONError) -> [String] {
        let origins = try reader.readList { (reader: inout JSONReader) throws(JSONError) in
            let text = try reader.readString()
            do throws(ExpectedOrigin.Invalid) {
                return try ExpectedOrigin.normalise(text)
            } catch {
                throw reader.invalid(error.reason)
            }
        }
        guard allowEmpty || !origins.isEmpty else { throw reader.invalid("must list at least one origin") }
        return origins
    }

    package static func readStoredCredential(_ reader: inout JSONReader) throws(JSONError) -> StoredCredentialJSON {
        var id: [UInt8]?
        var publicKey: [UInt8]?
        var signCount: UInt32?
        var backupEligible: Bool?
        var userHandle: [UInt8]?
        try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
            switch key {
            case "id": id = try reader.readBase64URL()
            case "publicKey": publicKey = try reader.readBase64URL()
            case "signCount": signCount = try reader.readInteger(UInt32.self)
            case "backupEligible": backupEligible = try reader.readBool()
            case "userHandle": userHandle = try reader.readBase64URL()
            default: throw reader.unknownMember(key)
            }
        }
        guard let publicKey else { throw reader.missing("publicKey") }
        // The stored counter decides clone detection: never assumed.
        guard let signCount else { throw reader.missing("signCount") }
        return StoredCredentialJSON(id: id, publicKey: publicKey, signCount: signCount, backupEligible: backupEligible, userHandle: userHandle)
    }

    private static func readTime(_ reader: inout JSONReader) throws(JSONError) -> Date {
        let text = try reader.readString()
        guard let seconds = RFC3339.secondsSince1970(text) else {
            throw reader.invalid("is not an RFC 3339 time (2026-11-29T00:00:00Z)")
        }
        return Date(timeIntervalSince1970: seconds)
    }
}

/// The WebAuthn Level 3 JSON serialisation of a `PublicKeyCredential` (what `toJSON()` gives:
/// `RegistrationResponseJSON`, `AuthenticationResponseJSON`), decoded. Members this verifier
/// does not use (`clientExtensionResults`, `authenticatorAttachment`, `transports`, …) are
/// checked as JSON and ignored.
public struct CredentialResponse: Sendable {
    public var id: [UInt8]
    public var clientDataJSON: [UInt8]
    public var attestationObject: [UInt8]?
    public var authenticatorData: [UInt8]?
    public var signature: [UInt8]?
    public var userHandle: [UInt8]?

    public init(
        id: [UInt8], clientDataJSON: [UInt8], attestationObject: [UInt8]? = nil, authenticatorData: [UInt8]? = nil, signature: [UInt8]? = nil,
        userHandle: [UInt8]? = nil
    ) {
        self.id = id
        self.clientDataJSON = clientDataJSON
        self.attestationObject = attestationObject
        self.authenticatorData = authenticatorData
        self.signature = signature
        self.userHandle = userHandle
    }

    public static func read(_ reader: inout JSONReader, ceremony: Ceremony) throws(JSONError) -> CredentialResponse {
        var id: [UInt8]?
        var rawID: [UInt8]?
        var inner: (clientData: [UInt8]?, attestation: [UInt8]?, authData: [UInt8]?, signature: [UInt8]?, userHandle: [UInt8]?) = (
            nil, nil, nil, nil, nil
        )
        try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
            switch key {
            case "id": id = try reader.readBase64URL()
            case "rawId": rawID = try reader.readBase64URL()
            case "type":
                guard try reader.readString() == "public-key" else { throw reader.invalid("must be \"public-key\"") }
            case "response":
                try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                    switch (key, ceremony) {
                    case ("clientDataJSON", _): inner.clientData = try reader.readBase64URL()
                    case ("attestationObject", .registration): inner.attestation = try reader.readBase64URL()
                    case ("authenticatorData", .assertion): inner.authData = try reader.readBase64URL()
                    case ("signature", .assertion): inner.signature = try reader.readBase64URL()
                    case ("userHandle", .assertion):
                        // null is how a client says "no user handle".
                        if try !reader.readNullIfPresent() { inner.userHandle = try reader.readBase64URL() }
                    default: return
                    }
                }
            default: return
            }
        }
        guard let id else { throw reader.missing("id") }
        guard let rawID else { throw reader.missing("rawId") }
        guard id == rawID else { throw reader.invalid("has id and rawId naming different credentials") }
        guard let clientData = inner.clientData else { throw reader.missing("response.clientDataJSON") }
        switch ceremony {
        case .registration:
            guard inner.attestation != nil else { throw reader.missing("response.attestationObject") }
        case .assertion:
            guard inner.authData != nil else { throw reader.missing("response.authenticatorData") }
            guard inner.signature != nil else { throw reader.missing("response.signature") }
        }
        return CredentialResponse(
            id: rawID, clientDataJSON: clientData, attestationObject: inner.attestation, authenticatorData: inner.authData,
            signature: inner.signature, userHandle: inner.userHandle)
    }

    public var registration: RegistrationResponse {
        RegistrationResponse(rawID: id, clientDataJSON: clientDataJSON, attestationObject: attestationObject ?? [])
    }

    public var assertion: AssertionResponse {
        AssertionResponse(
            rawID: id, clientDataJSON: clientDataJSON, authenticatorData: authenticatorData ?? [], signature: signature ?? [],
            userHandle: userHandle)
    }
}

/// `policy`: each member a named relaxation or tightening of `VerificationPolicy.strict`.
enum PolicyReader {
    /// Longest SafetyNet age a policy may allow: a year.
    static let maximumSafetyNetAge = 366.0 * 24 * 3600

    static func read(_ reader: inout JSONReader) throws(JSONError) -> VerificationPolicy {
        var policy = VerificationPolicy.strict
        try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
            switch key {
            case "attestation":
                guard let value = VerificationPolicy.AttestationRequirement(rawValue: try reader.readString()) else {
                    throw reader.invalid("must be trusted or any")
                }
                policy.attestation = value
            case "algorithms":
                let algorithms = try reader.readList { (reader: inout JSONReader) throws(JSONError) in
                    let name = try reader.readString()
                    guard let algorithm = COSEAlgorithm(name: name) else { throw reader.invalid("names an unknown algorithm") }
                    return algorithm
                }
                policy.allowedAlgorithms = Set(algorithms)
            case "allowCrossOrigin": policy.allowsCrossOrigin = try reader.readBool()
            case "topOrigins": policy.allowedTopOrigins = try VerificationRequest.readOrigins(&reader, allowEmpty: true)
            case "allowSHA1Attestation": policy.allowsSHA1AttestationSignatures = try reader.readBool()
            case "formats":
                let supported = Set(VerificationPolicy.supportedAttestationFormats)
                let formats = try reader.readList { (reader: inout JSONReader) throws(JSONError) in
                    let format = try reader.readString()
                    guard supported.contains(format) else { throw reader.invalid("names an unknown attestation format") }
                    return format
                }
                policy.allowedAttestationFormats = Set(formats)
            case "androidKeyAuthorization":
                guard let value = VerificationPolicy.AndroidKeyAuthorization(rawValue: try reader.readString()) else {
                    throw reader.invalid("must be teeEnforced, teeOrSoftwareEnforced or notCheckedForTesting")
                }
                policy.androidKeyAuthorization = value
            case "requireKnownTPMManufacturer": policy.requiresKnownTPMManufacturer = try reader.readBool()
            case "safetyNetMaxAgeSeconds":
                let age = try reader.readDouble()
                guard age >= 0, age <= maximumSafetyNetAge else { throw reader.invalid("must be between 0 and 31622400 seconds") }
                policy.safetyNetMaximumAge = age
            case "requireSafetyNetCTSProfileMatch": policy.requiresSafetyNetCTSProfileMatch = try reader.readBool()
            default: throw reader.unknownMember(key)
            }
        }
        return policy
    }
}

/// A request that cannot be acted on (exit status 2, HTTP 400), with a message naming the
/// member at fault.
public struct RequestError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
