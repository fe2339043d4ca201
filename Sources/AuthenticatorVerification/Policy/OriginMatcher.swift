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
        // Entries that are not origins can never match; the request layer refuses them loudly.
        self.entries = entries.compactMap { try? ExpectedOrigin.normalise($0) }
    }

    func accepts(_ origin: String) -> Bool {
        for entry in entries {
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

    public static func normalise(_ entry: String) throws(Invalid) -> String {
        guard let separator = entry.range(of: "://") else {
            // Opaque origins of native apps (android:apk-key-hash:…): compared as written.
            guard let colon = entry.firstIndex(of: ":"), entry[..<colon].allSatisfy(isSchemeCharacter),
                !entry[..<colon].isEmpty, entry.index(after: colon) < entry.endIndex
            else { throw Invalid(reason: "is not an origin (scheme://host[:port] or android:apk-key-hash:…)") }
            return entry
        }
        let scheme = entry[..<separator.lowerBound].lowercased()
        guard !scheme.isEmpty, scheme.allSatisfy(isSchemeCharacter) else { throw Invalid(reason: "has an invalid scheme") }
        var rest = entry[separator.upperBound...]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains(where: { "/?#@\\".contains($0) }) else {
            throw Invalid(reason: "has a path, query, fragment or user info; an origin is scheme://host[:port]")
        }
        var host = Substring(rest)
        var port: Substring? = nil
        if host.hasPrefix("[") {
            // IPv6 literal.
            guard let close = host.firstIndex(of: "]") else { throw Invalid(reason: "has an unterminated IPv6 address") }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") { port = after.dropFirst() } else if !after.isEmpty { throw Invalid(reason: "has an invalid host") }
            host = host[...close]
        } else if let colon = host.lastIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        let lowerHost = host.lowercased()
        guard !lowerHost.isEmpty else { throw Invalid(reason: "has no host") }
        if !lowerHost.hasPrefix("[") {
            var labels = lowerHost.split(separator: ".", omittingEmptySubsequences: false)
            if labels.first == "*" { labels.removeFirst() }
            guard !labels.isEmpty, labels.allSatisfy(isHostLabel) else {
                throw Invalid(reason: "has an invalid host (ASCII letters, digits, hyphens; IDNs in their xn-- form)")
            }
        }
        var normalised = scheme + "://" + lowerHost
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(port),
                (1...65535).contains(number)
            else { throw Invalid(reason: "has an invalid port") }
            let isDefault = (scheme == "https" && number == 443) || (scheme == "http" && number == 80)
            if !isDefault { normalised += ":\(number)" }
        }
        return normalised
    }

    static func isSchemeCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "+" || c == "-" || c == ".")
    }

    /// One DNS label: 1–63 ASCII letters, digits or hyphens.
    static func isHostLabel(_ label: Substring) -> Bool {
        !label.isEmpty && label.count <= 63 && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}
