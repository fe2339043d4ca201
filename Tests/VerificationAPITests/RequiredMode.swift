import Foundation
import Testing

/// `MIE_REQUIRE_ALL=1` (set by .ci/run): a test that needs data, a daemon or a built binary
/// runs even when it is missing, and fails on it, instead of being skipped.
enum RequiredMode {
    static let isOn = ProcessInfo.processInfo.environment["MIE_REQUIRE_ALL"] == "1"

    /// Enabled when `available`, and always in required mode (where the test then fails on
    /// what is missing).
    static func needs(_ available: Bool, _ what: Comment) -> ConditionTrait {
        .enabled(if: available || isOn, what)
    }
}
