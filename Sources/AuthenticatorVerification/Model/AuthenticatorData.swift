import CBORDecoding
import WireFormat

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
    package struct AttestedCredentialData: Sendable {
        package let aaguid: [UInt8]
        package let credentialID: [UInt8]
        package let credentialPublicKey: CredentialPublicKey
    }

    /// Longest credential ID WebAuthn allows (§5.1, credential ID).
    public static let maximumCredentialIDLength = 1023
    /// rpIdHash + flags + signCount.
    package static let minimumLength = 37

    package let bytes: [UInt8]
    package let rpIDHash: ArraySlice<UInt8>
    package let flags: Flags
    package let signCount: UInt32
    package let attestedCredentialData: AttestedCredentialData?
    /// Authenticator extension outputs, when the ED flag is set: a CBOR map keyed by extension
    /// identifiers (text strings), with the exact bytes it was received as.
    package let extensions: AuthenticatorExtensions?

    @_spi(Internals) public static func parse(_ bytes: [UInt8]) throws(VerificationFailure) -> AuthenticatorData {
        try AuthenticatorData(bytes)
    }

    private init(_ bytes: [UInt8]) throws(VerificationFailure) {
        self.bytes = bytes
        var cursor = ByteCursor(bytes[...], structure: "authenticatorData") { VerificationFailure(.malformedAuthenticatorData, $0.description) }
        rpIDHash = try cursor.read(32, "rpIdHash")
        flags = Flags(rawValue: try cursor.readUInt8("flags"))
        signCount = try cursor.readUInt32("signCount")
        let decoder = CBORDecoder()

        if flags.attestedCredentialData {
            let aaguid = Array(try cursor.read(16, "aaguid"))
            let length = Int(try cursor.readUInt16("credentialIdLength"))
            try CredentialIDRules.check(length: length)
            let credentialID = Array(try cursor.read(length, "credentialId"))
            let keyStart = cursor.index
            let key: CredentialPublicKey
            if let canonical = try CredentialPublicKey.canonicalP256(cursor.rest) {
                key = canonical
                try cursor.skip(to: keyStart + CredentialPublicKey.canonicalP256Length)
            } else {
                let keyValue: CBORValue
                let keyEnd: Int
                do {
                    (keyValue, keyEnd) = try decoder.decodePrefix(cursor.rest)
                } catch {
                    throw VerificationFailure(.malformedCOSEKey, "credentialPublicKey at byte \(cursor.offset): \(error)")
                }
                try cursor.skip(to: keyEnd)
                key = try CredentialPublicKey(keyValue, encoded: Array(bytes[keyStart..<keyEnd]))
            }
            attestedCredentialData = AttestedCredentialData(aaguid: aaguid, credentialID: credentialID, credentialPublicKey: key)
        } else {
            attestedCredentialData = nil
        }

        if flags.extensionData {
            guard cursor.remaining > 0 else { throw cursor.error("ED flag set but no extensions follow") }
            let start = cursor.index
            let value: CBORValue
            let end: Int
            do {
                (value, end) = try decoder.decodePrefix(cursor.rest)
            } catch {
                throw VerificationFailure(.malformedAuthenticatorData, "extensions at byte \(cursor.offset): \(error)")
            }
            guard let map = value.map else { throw cursor.error("extensions must be a CBOR map") }
            // WebAuthn §9: extension identifiers are text strings. An integer key would be
            // reported under the same name as its text form.
            for entry in map.entries where entry.key.text == nil {
                throw cursor.error("extension identifiers must be text strings, found a \(entry.key.kindName)")
            }
            try cursor.skip(to: end)
            extensions = AuthenticatorExtensions(outputs: map, encoded: Array(bytes[start..<end]))
        } else {
            extensions = nil
        }
        try cursor.expectEnd()
    }
}

/// Authenticator extension outputs (WebAuthn L3 §9): identifiers are text; values are CBOR as
/// the authenticator sent them. `encoded` keeps the exact bytes for a faithful report.
public struct AuthenticatorExtensions: Sendable {
    package let outputs: CBORMap
    /// The extension map exactly as received (CBOR).
    public let encoded: [UInt8]

    /// The extension identifiers present, in the order received.
    public var identifiers: [String] { outputs.entries.compactMap(\.key.text) }
}

/// Bounds on credential IDs (WebAuthn L3 §5.1 and §7.1 step 19).
package enum CredentialIDRules {
    package static let maximumLength = AuthenticatorData.maximumCredentialIDLength

    /// At least one byte and at most 1023: an empty ID names no credential.
    package static func check(length: Int) throws(VerificationFailure) {
        guard length >= 1 else { throw VerificationFailure(.malformedCredentialID, "credential ID is empty") }
        guard length <= maximumLength else {
            throw VerificationFailure(.malformedCredentialID, "credential ID of \(length) bytes exceeds \(maximumLength)")
        }
    }
}

/// AAGUIDs as the usual 8-4-4-4-12 lowercase UUID text; other lengths as plain hex.
public enum AAGUIDText {
    public static func string(_ bytes: [UInt8]) -> String {
        guard bytes.count == 16 else { return Hex.string(bytes) }
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 36) { out in
            var o = 0
            for (i, byte) in bytes.enumerated() {
                if i == 4 || i == 6 || i == 8 || i == 10 {
                    out[o] = UInt8(ascii: "-")
                    o += 1
                }
                out[o] = digits.utf8Start[Int(byte >> 4)]
                out[o + 1] = digits.utf8Start[Int(byte & 0x0F)]
                o += 2
            }
            return o
        }
    }

    /// The 16 bytes of a UUID written as text (with or without hyphens), or nil.
    public static func bytes(_ text: String) -> [UInt8]? {
        let digits = String(text.filter { $0 != "-" })
        guard digits.utf8.count == 32, let bytes = Hex.bytes(digits) else { return nil }
        return bytes
    }
}
