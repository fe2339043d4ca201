import CBORDecoding

/// authenticatorData (WebAuthn L3 §6.1), parsed from the exact received bytes.
public struct AuthenticatorData: Sendable {
    public struct Flags: Sendable, Equatable {
        public let rawValue: UInt8
        public var userPresent: Bool { rawValue & 0x01 != 0 }
        public var userVerified: Bool { rawValue & 0x04 != 0 }
        public var backupEligible: Bool { rawValue & 0x08 != 0 }
        public var backupState: Bool { rawValue & 0x10 != 0 }
        public var attestedCredentialData: Bool { rawValue & 0x40 != 0 }
        public var extensionData: Bool { rawValue & 0x80 != 0 }
    }

    /// §6.5.1: the part added when a credential is created.
    public struct AttestedCredentialData: Sendable {
        public let aaguid: [UInt8]
        public let credentialID: [UInt8]
        public let credentialPublicKey: CredentialPublicKey
    }

    /// Longest credential ID WebAuthn allows (§5.1, credential ID).
    public static let maximumCredentialIDLength = 1023
    /// rpIdHash + flags + signCount.
    public static let minimumLength = 37

    public let bytes: [UInt8]
    public let rpIDHash: ArraySlice<UInt8>
    public let flags: Flags
    public let signCount: UInt32
    public let attestedCredentialData: AttestedCredentialData?
    /// Authenticator extension outputs (a CBOR map), when the ED flag is set.
    public let extensions: CBORMap?

    public static func parse(_ bytes: [UInt8]) throws(VerificationFailure) -> AuthenticatorData {
        try AuthenticatorData(bytes)
    }

    private init(_ bytes: [UInt8]) throws(VerificationFailure) {
        self.bytes = bytes
        var cursor = ByteCursor(bytes[...], structure: "authenticatorData", failure: .malformedAuthenticatorData)
        rpIDHash = try cursor.read(32, "rpIdHash")
        flags = Flags(rawValue: try cursor.readUInt8("flags"))
        signCount = try cursor.readUInt32("signCount")
        let decoder = CBORDecoder()

        if flags.attestedCredentialData {
            let aaguid = Array(try cursor.read(16, "aaguid"))
            let length = Int(try cursor.readUInt16("credentialIdLength"))
            guard length <= AuthenticatorData.maximumCredentialIDLength else {
                throw VerificationFailure(
                    .malformedCredentialID,
                    "credential ID of \(length) bytes exceeds \(AuthenticatorData.maximumCredentialIDLength)")
            }
            let credentialID = Array(try cursor.read(length, "credentialId"))
            let keyStart = cursor.index
            let keyValue: CBORValue
            let keyEnd: Int
            do {
                (keyValue, keyEnd) = try decoder.decodePrefix(cursor.rest)
            } catch {
                throw VerificationFailure(.malformedCOSEKey, "credentialPublicKey at byte \(cursor.offset): \(error)")
            }
            try cursor.skip(to: keyEnd)
            let key = try CredentialPublicKey(keyValue, encoded: Array(bytes[keyStart..<keyEnd]))
            attestedCredentialData = AttestedCredentialData(aaguid: aaguid, credentialID: credentialID, credentialPublicKey: key)
        } else {
            attestedCredentialData = nil
        }

        if flags.extensionData {
            guard cursor.remaining > 0 else { throw cursor.error("ED flag set but no extensions follow") }
            let value: CBORValue
            let end: Int
            do {
                (value, end) = try decoder.decodePrefix(cursor.rest)
            } catch {
                throw VerificationFailure(.malformedAuthenticatorData, "extensions at byte \(cursor.offset): \(error)")
            }
            guard let map = value.map else { throw cursor.error("extensions must be a CBOR map") }
            try cursor.skip(to: end)
            extensions = map
        } else {
            extensions = nil
        }
        try cursor.expectEnd()
    }
}

/// AAGUIDs as the usual 8-4-4-4-12 lowercase UUID text; other lengths as plain hex.
public enum AAGUIDText {
    public static func string(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        let hex = bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] }
        guard hex.count == 32 else { return String(hex) }
        return [hex[0..<8], hex[8..<12], hex[12..<16], hex[16..<20], hex[20..<32]].map { String($0) }.joined(separator: "-")
    }
}
