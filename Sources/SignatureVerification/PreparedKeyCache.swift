import Synchronization

/// Decoded public keys (or values holding them) by their encoded form, so a stored credential's key is decoded once.
///
/// Bounded: when full, the oldest half is dropped. Lookups take a mutex for a few nanoseconds;
/// the signature check that follows takes tens of microseconds.
public final class PreparedKeyCache<Value: Sendable>: Sendable {
    private struct State {
        var keys: [[UInt8]: Value] = [:]
        var order: [[UInt8]] = []
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 10_000) {
        self.capacity = max(1, capacity)
    }

    /// The key cached for `encoded`, or the one `decode` builds (then cached).
    public func key<E: Error>(for encoded: [UInt8], decode: ([UInt8]) throws(E) -> Value) throws(E) -> Value {
        if let key = state.withLock({ $0.keys[encoded] }) { return key }
        let key = try decode(encoded)
        state.withLock { state in
            if state.keys[encoded] == nil {
                if state.keys.count >= capacity {
                    let dropped = state.order.prefix(state.order.count / 2 + 1)
                    for old in dropped { state.keys[old] = nil }
                    state.order.removeFirst(dropped.count)
                }
                state.keys[encoded] = key
                state.order.append(encoded)
            }
        }
        return key
    }

    public var count: Int { state.withLock { $0.keys.count } }
}
