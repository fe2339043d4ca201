/// Bounds applied to every header before it is accepted. They are checked before anything is
/// allocated, so a hostile header costs nothing.
public struct CBORLimits: Sendable, Equatable {
    /// Nesting of arrays, maps and tags; the top-level item is at depth 1.
    public var maximumDepth: Int
    /// Data items in one decode, counting every container, key and value.
    public var maximumItems: Int
    /// Some authenticators emit indefinite-length maps in attestation objects; CTAP2 canonical
    /// encoding forbids them. Allowed by default, still bounded by the limits above.
    public var allowsIndefiniteLength: Bool

    public init(maximumDepth: Int, maximumItems: Int, allowsIndefiniteLength: Bool) {
        self.maximumDepth = maximumDepth
        self.maximumItems = maximumItems
        self.allowsIndefiniteLength = allowsIndefiniteLength
    }

    /// Limits for WebAuthn objects: a real attestation object has a few dozen items.
    public static let webAuthn = CBORLimits(maximumDepth: 16, maximumItems: 4096, allowsIndefiniteLength: true)
}
