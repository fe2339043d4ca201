/// Decides whether a client-reported origin is one the relying party accepts.
///
/// Entries match exactly (scheme, host and port), including `android:apk-key-hash:` origins.
/// Subdomains are accepted only through an explicit wildcard entry: `https://*.example.org`
/// accepts `https://a.example.org` and `https://a.b.example.org` on the default port, never
/// `https://example.org` itself (list it too) nor another port.
struct OriginMatcher: Sendable {
    let entries: [String]

    func accepts(_ origin: String) -> Bool {
        for entry in entries {
            if entry == origin { return true }
            if let wildcard = entry.range(of: "://*.") {
                let scheme = entry[..<wildcard.lowerBound]
                let suffix = entry[wildcard.upperBound...]
                guard origin.hasPrefix(scheme + "://") else { continue }
                let host = origin.dropFirst(scheme.count + 3)
                guard host.hasSuffix("." + suffix) else { continue }
                let label = host.dropLast(suffix.count + 1)
                if !label.isEmpty, label.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }),
                    !label.hasPrefix("."), !label.hasSuffix(".")
                {
                    return true
                }
            }
        }
        return false
    }
}
