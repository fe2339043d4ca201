/// Decides whether a client-reported origin is one the relying party accepts.
///
/// Entries match exactly (scheme, host and port) once normalised (see `ExpectedOrigin`),
/// including `android:apk-key-hash:` origins. Subdomains are accepted only through an
/// explicit wildcard entry: `https://*.example.org` accepts `https://a.example.org` and
/// `https://a.b.example.org` on the default port, never `https://example.org` itself (list it
/// too) nor another port. Labels a wildcard covers are ASCII letters, digits and hyphens.
struct OriginMatcher: Sendable {
    let entries: [String]

    init(entries: [String]) {
        self.entries = entries
    }

    func accepts(_ origin: String) -> Bool {
        // The common case first: the entry is written exactly as the client reports it.
        if entries.contains(origin) { return true }
        // Otherwise compare with each entry's normal form. Entries that are not origins can
        // never match; the request layer refuses them loudly.
        for case let entry? in entries.lazy.map({ try? ExpectedOrigin.normalise($0) }) {
            if entry == origin { return true }
            if let wildcard = entry.range(of: "://*.") {
                let scheme = entry[..<wildcard.lowerBound]
                let suffix = entry[wildcard.upperBound...]
                guard origin.hasPrefix(scheme + "://") else { continue }
                let host = origin.dropFirst(scheme.count + 3)
                guard host.hasSuffix("." + suffix) else { continue }
                let labels = host.dropLast(suffix.count + 1).split(separator: ".", omittingEmptySubsequences: false)
                if labels.allSatisfy(ExpectedOrigin.isHostLabel) { return true }
            }
        }
        return false
    }
}

/// The origins a relying party lists, checked and put in the form browsers serialise origins
/// in (HTML "ASCII serialization of an origin"): `scheme://host[:port]`, lowercase, without
/// the scheme's default port. A trailing `/` is dropped; a path, query, fragment or user info
/// is refused, since such an entry could never match a client's origin.
public enum ExpectedOrigin {
    public struct Invalid: Error, Sendable, Equatable {
        public let reason: String
    }

    /// The normal form of `entry`, computed over its UTF-8 bytes; the entry itself (no copy)
    /// when it already is normal, as relying parties usually write it.
    public static func normalise(_ entry: String) throws(Invalid) -> String {
        var entry = entry
        if entry.withUTF8(isNormal) { return entry }
        let bytes = Array(entry.utf8)
        let normal = try normalise(bytes)
        return normal == bytes ? entry : String(decoding: normal, as: UTF8.self)
    }

    static func normalise(_ bytes: [UInt8]) throws(Invalid) -> [UInt8] {
        guard let separator = find(Array("://".utf8), in: bytes) else {
            // Opaque origins of native apps (android:apk-key-hash:…): compared as written.
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0, colon + 1 < bytes.count,
                bytes[..<colon].allSatisfy(isSchemeByte)
            else { throw Invalid(reason: "is not an origin (scheme://host[:port] or android:apk-key-hash:…)") }
            return bytes
        }
        let scheme = bytes[..<separator].map(lowercase)
        guard let first = scheme.first, isLetter(first), scheme.allSatisfy(isSchemeByte) else {
            throw Invalid(reason: "has an invalid scheme")
        }
        var rest = bytes[(separator + 3)...]
        if rest.last == UInt8(ascii: "/") { rest = rest.dropLast() }
        guard !rest.contains(where: { "/?#@\\".utf8.contains($0) }) else {
            throw Invalid(reason: "has a path, query, fragment or user info; an origin is scheme://host[:port]")
        }
        var host = rest
        var port: ArraySlice<UInt8>? = nil
        if host.first == UInt8(ascii: "[") {
            // IPv6 literal, kept as written but for case.
            guard let close = host.firstIndex(of: UInt8(ascii: "]")) else { throw Invalid(reason: "has an unterminated IPv6 address") }
            let after = host[(close + 1)...]
            if after.first == UInt8(ascii: ":") {
                port = after.dropFirst()
            } else if !after.isEmpty {
                throw Invalid(reason: "has an invalid host")
            }
            host = host[...close]
        } else if let colon = host.lastIndex(of: UInt8(ascii: ":")) {
            port = host[(colon + 1)...]
            host = host[..<colon]
        }
        guard !host.isEmpty else { throw Invalid(reason: "has no host") }
        let lowerHost = host.map(lowercase)
        if lowerHost.first != UInt8(ascii: "[") {
            var labels = lowerHost.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            if labels.first?.elementsEqual([UInt8(ascii: "*")]) == true { labels.removeFirst() }
            guard !labels.isEmpty, labels.allSatisfy(isHostLabel) else {
                throw Invalid(reason: "has an invalid host (ASCII letters, digits, hyphens; IDNs in their xn-- form)")
            }
        }
        var normal = scheme + Array("://".utf8) + lowerHost
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw Invalid(reason: "has an invalid port")
            }
            let number = port.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard (1...65535).contains(number) else { throw Invalid(reason: "has an invalid port") }
            let isDefault = (scheme.elementsEqual("https".utf8) && number == 443) || (scheme.elementsEqual("http".utf8) && number == 80)
            if !isDefault { normal += Array(":\(number)".utf8) }
        }
        return normal
    }

    /// Whether `bytes` is already `scheme://host[:port]` in normal form (lowercase, a DNS name
    /// or a wildcard of one, a port that is not the scheme's default), checked without
    /// allocating: the form relying parties write, checked on every request.
    static func isNormal(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = bytes.count
        guard n > 0, isLowerLetter(bytes[0]) else { return false }
        while i < n, isLowerLetter(bytes[i]) || isDigit(bytes[i]) || bytes[i] == 0x2B || bytes[i] == 0x2D || bytes[i] == 0x2E { i += 1 }
        let schemeEnd = i
        guard i + 3 <= n, bytes[i] == 0x3A, bytes[i + 1] == 0x2F, bytes[i + 2] == 0x2F else { return false }
        i += 3
        if i + 1 < n, bytes[i] == 0x2A, bytes[i + 1] == 0x2E { i += 2 }  // "*."
        var labelLength = 0
        while i < n, bytes[i] != 0x3A {
            let c = bytes[i]
            if c == 0x2E {
                guard labelLength > 0 else { return false }
                labelLength = 0
            } else {
                guard isLowerLetter(c) || isDigit(c) || c == 0x2D, labelLength < 63 else { return false }
                labelLength += 1
            }
            i += 1
        }
        guard labelLength > 0 else { return false }
        guard i < n else { return true }
        // ":port": 1 to 5 digits, no leading zero, 1...65535, not the default.
        i += 1
        let portStart = i
        var port = 0
        while i < n, isDigit(bytes[i]), i - portStart < 5 {
            port = port * 10 + Int(bytes[i] &- 0x30)
            i += 1
        }
        guard i == n, i > portStart, bytes[portStart] != 0x30, port <= 65535 else { return false }
        let scheme = UnsafeBufferPointer(rebasing: bytes[..<schemeEnd])
        if scheme.elementsEqual("https".utf8), port == 443 { return false }
        if scheme.elementsEqual("http".utf8), port == 80 { return false }
        return true
    }

    private static func isLowerLetter(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7A }

    private static func find(_ needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        for start in 0...(bytes.count - needle.count) where bytes[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }

    private static func lowercase(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c + 0x20 : c }
    private static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    static func isSchemeByte(_ c: UInt8) -> Bool {
        isLetter(c) || isDigit(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
    }

    /// One DNS label: 1–63 ASCII letters, digits or hyphens.
    static func isHostLabel(_ label: some Collection<UInt8>) -> Bool {
        !label.isEmpty && label.count <= 63 && label.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "-") }
    }

    static func isHostLabel(_ label: Substring) -> Bool {
        isHostLabel(label.utf8)
    }
}
