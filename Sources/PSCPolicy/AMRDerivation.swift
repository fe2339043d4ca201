import AuthenticatorCatalog
import AuthenticatorVerification
import Foundation

/// The AMR values (RFC 8176) an authentication with this authenticator may report, derived by
/// the profile's rules from what was verified: flags signed by an attested authenticator, the
/// attested model's statement, the card's PIN and possession proof. A value outside the
/// profile's allowed list is never produced (it is kept aside as FI 41's evidence).
struct AMRDerivation: Sendable {
    var values: [String] = []
    var dropped: [String] = []

    /// Methods that verify nobody: presence tests and "none".
    static let presenceOnly: Set<String> = ["presence_internal", "none"]

    static func derive(
        profile: Profile, subject: String, flags: AuthenticatorData.Flags?, card: CardFacts?, entry: CatalogEntry?
    ) -> AMRDerivation {
        var result = AMRDerivation()
        result.values.reserveCapacity(profile.amrAllowed.count)
        let allowed = profile.amrAllowedSet
        let methods = entry?.verifyingMethods ?? []
        for rule in profile.amrRules {
            if let wanted = rule.subject, wanted != subject { continue }
            if let wanted = rule.userVerified, (flags?.userVerified ?? false) != wanted { continue }
            if let only = rule.uvMethodsOnlySet, methods.isEmpty || !methods.isSubset(of: only) { continue }
            if let wanted = rule.pinVerified, (card?.pinVerified ?? false) != wanted { continue }
            if let wanted = rule.possessionProven, (card?.possessionProven ?? false) != wanted { continue }
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
}
