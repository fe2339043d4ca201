internal import COpenSSL

/// Runs an OpenSSL `d2i_*` decoder over `bytes` and keeps the object only when it consumed
/// every byte: DER with anything after it is refused.
func decodeWholeDER(
    _ bytes: [UInt8], _ decode: (UnsafeMutablePointer<UnsafePointer<UInt8>?>, Int) -> OpaquePointer?,
    free release: (OpaquePointer) -> Void
) -> OpaquePointer? {
    bytes.withUnsafeBufferPointer { buffer -> OpaquePointer? in
        var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
        guard let object = decode(&cursor, buffer.count) else { return nil }
        guard let cursor, cursor == buffer.baseAddress.map({ $0 + buffer.count }) else {
            release(object)
            return nil
        }
        return object
    }
}

/// The few DER encodings needed to hand public keys to OpenSSL as SubjectPublicKeyInfo.
enum DER {
    static func length(_ count: Int) -> [UInt8] {
        if count < 0x80 { return [UInt8(count)] }
        var bytes: [UInt8] = []
        var n = count
        while n > 0 {
            bytes.insert(UInt8(n & 0xFF), at: 0)
            n >>= 8
        }
        return [0x80 | UInt8(bytes.count)] + bytes
    }

    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        [tag] + length(content.count) + content
    }

    static func sequence(_ parts: [UInt8]...) -> [UInt8] {
        tlv(0x30, parts.flatMap { $0 })
    }

    static func bitString(_ content: some Collection<UInt8>) -> [UInt8] {
        tlv(0x03, [0x00] + content)
    }

    /// A non-negative INTEGER from big-endian magnitude bytes: leading zeros are dropped and one
    /// is added back when the high bit is set.
    static func unsignedInteger(_ magnitude: some Collection<UInt8>) -> [UInt8] {
        var bytes = Array(magnitude.drop(while: { $0 == 0 }))
        if bytes.isEmpty { bytes = [0] }
        if bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        return tlv(0x02, bytes)
    }

    static let null: [UInt8] = [0x05, 0x00]
}

/// Object identifiers, DER-encoded with their tag and length.
enum ObjectIdentifierDER {
    static let ecPublicKey: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    static let prime256v1: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
    static let secp384r1: [UInt8] = [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22]
    static let secp521r1: [UInt8] = [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23]
    static let secp256k1: [UInt8] = [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A]
    static let rsaEncryption: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]
    static let ed25519: [UInt8] = [0x06, 0x03, 0x2B, 0x65, 0x70]
    static let ed448: [UInt8] = [0x06, 0x03, 0x2B, 0x65, 0x71]
}
