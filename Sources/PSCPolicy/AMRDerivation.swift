import AuthenticatorCatalog
import Foundation

/// The AMR values (RFC 8176) an authentication with this authenticator may report, derived by
/// the profile's rules from what was verified: flags signed by an attested authenticator, the
/// attested model's statement, the card's PIN and possession proof. A value outside the
/// profile's allowed list is never produced (it is kept aside as FI 41's evidence).
struct AMRDerivation {
    var values: [String] = []
    var dropped: [String] = []

    /// Methods that verify nobody: presence tests and "none".
    static let presenceOnly: Set<String> = ["presence_internal", "none"]

    static func derive(_ c: CheckContext) -> AMRDerivation {
        var result = AMRDerivation()
        let allowed = c.profile.amrAllowedSet
        let methods = c.profile.amrReadsMethods ? c.statement.map { $0.userVerificationMethods.subtracting(presenceOnly) } ?? [] : []
        for rule in c.profile.amrRules where matches(rule, c, methods: methods) {
            for value in rule.add {
                if allowed.contains(value) {
                    if !result.values.contains(value) { result.values.append(value) }
                } else if !result.dropped.contains(value) {
                    result.dropped.append(value)
                }
            }
        }
        return result
    }

    static func matches(_ rule: AMRRule, _ c: CheckContext, methods: Set<String>) -> Bool {
        if let subject = rule.subject, subject != c.subject.kind { return false }
        if let wanted = rule.userVerified, (c.flags?.userVerified ?? false) != wanted { return false }
        if let only = rule.uvMethodsOnly, methods.isEmpty || !methods.isSubset(of: only) { return false }
        if let wanted = rule.pinVerified, (c.card?.pinVerified ?? false) != wanted { return false }
        if let wanted = rule.possessionProven, (c.card?.possessionProven ?? false) != wanted { return false }
        return true
    }
}
