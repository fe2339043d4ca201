/// base64url (RFC 4648 §5) as WebAuthn's JSON uses it, read strictly so one value has one
/// spelling: the URL-safe alphabet only, unused low bits zero, and padding either absent or
/// exactly what completes the last quantum (`=` or `==`), never more.
public enum Base64URL {
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(encodedLength(bytes.count))
        append(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Length of the unpadded encoding of `count` bytes.
    public static func encodedLength(_ count: Int) -> Int {
        count / 3 * 4 + [0, 2, 3][count % 3]
    }

    /// Appends the unpadded encoding of `bytes` to `out`.
    public static func append(_ bytes: some Collection<UInt8>, to out: inout [UInt8]) {
        Base64Alphabet.url.append(bytes, to: &out, padded: false)
    }

    /// The decoded bytes, or nil when `text` is not strict base64url.
    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode(UnsafeRawBufferPointer($0)) }
    }

    public static func decode(_ utf8: some Collection<UInt8>) -> [UInt8]? {
        let contiguous = utf8.withContiguousStorageIfAvailable { decode(UnsafeRawBufferPointer($0)) }
        if let contiguous { return contiguous }
        return Array(utf8).withUnsafeBytes { decode($0) }
    }

    public static func decode(_ utf8: UnsafeRawBufferPointer) -> [UInt8]? {
        Base64Alphabet.url.decode(utf8)
    }
}

/// Standard base64 (RFC 4648 §4), padded, read with the same strictness: the JWS `x5c` header
/// (RFC 7515 §4.1.6) and the SafetyNet nonce use it.
public enum Base64 {
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        Base64Alphabet.standard.append(bytes, to: &out, padded: true)
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { Base64Alphabet.standard.decode(UnsafeRawBufferPointer($0)) }
    }
}

struct Base64Alphabet: Sendable {
    let symbols: [UInt8]
    let values: [UInt8]

    init(_ symbols: String) {
        self.symbols = Array(symbols.utf8)
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in self.symbols.enumerated() { table[Int(c)] = UInt8(i) }
        self.values = table
    }

    static let url = Base64Alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    static let standard = Base64Alphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    func append(_ bytes: some Collection<UInt8>, to out: inout [UInt8], padded: Bool) {
        symbols.withUnsafeBufferPointer { s in
            var iterator = bytes.makeIterator()
            while let b0 = iterator.next() {
                let b1 = iterator.next()
                let b2 = iterator.next()
                out.append(s[Int(b0 >> 2)])
                out.append(s[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
                if let b1 { out.append(s[Int((b1 & 0x0F) << 2 | (b2 ?? 0) >> 6)]) } else if padded { out.append(0x3D) }
                if let b2 { out.append(s[Int(b2 & 0x3F)]) } else if padded { out.append(0x3D) }
            }
        }
    }

    /// Decodes `input`; nil for a symbol outside the alphabet, non-zero unused bits, a length
    /// no encoding has, or padding that is not exactly the missing part of the last quantum.
    func decode(_ input: UnsafeRawBufferPointer) -> [UInt8]? {
        var length = input.count
        var padding = 0
        while length > 0, input[length - 1] == 0x3D, padding < 3 {
            length -= 1
            padding += 1
        }
        if padding > 0 {
            // Padding is allowed only when it completes a 4-symbol quantum: 2 symbols + "==",
            // 3 symbols + "=".
            guard input.count % 4 == 0, padding == 4 - length % 4, padding <= 2 else { return nil }
        }
        if length % 4 == 1 { return nil }
        let outputCount = length / 4 * 3 + [0, 0, 1, 2][length % 4]
        return values.withUnsafeBufferPointer { table -> [UInt8]? in
            var failed = false
            let out = [UInt8](unsafeUninitializedCapacity: outputCount) { buffer, initialized in
                var i = 0
                var o = 0
                // Whole quanta: 4 symbols → 3 bytes.
                while i + 4 <= length {
                    let a = table[Int(input[i])], b = table[Int(input[i + 1])]
                    let c = table[Int(input[i + 2])], d = table[Int(input[i + 3])]
                    if (a | b | c | d) & 0xC0 != 0 {
                        failed = true
                        break
                    }
                    let n = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                    buffer[o] = UInt8(truncatingIfNeeded: n >> 16)
                    buffer[o + 1] = UInt8(truncatingIfNeeded: n >> 8)
                    buffer[o + 2] = UInt8(truncatingIfNeeded: n)
                    i += 4
                    o += 3
                }
                if !failed, i < length {
                    // A tail of 2 or 3 symbols; its unused low bits must be zero.
                    var n: UInt32 = 0
                    var bits = 0
                    while i < length {
                        let v = table[Int(input[i])]
                        if v & 0xC0 != 0 {
                            failed = true
                            break
                        }
                        n = n << 6 | UInt32(v)
                        bits += 6
                        i += 1
                    }
                    if !failed {
                        let spare = bits % 8
                        if n & ((1 << UInt32(spare)) - 1) != 0 {
                            failed = true
                        } else {
                            n >>= UInt32(spare)
                            var byteCount = bits / 8
                            while byteCount > 0 {
                                byteCount -= 1
                                buffer[o] = UInt8(truncatingIfNeeded: n >> UInt32(8 * byteCount))
                                o += 1
                            }
                        }
                    }
                }
                initialized = failed ? 0 : o
            }
            return failed ? nil : out
        }
    }
}
