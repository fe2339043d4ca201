import Synchronization

/// Decoded values by their encoded bytes: a stored credential's key, an attestation
/// certificate seen for every authenticator of its batch. Each is decoded once.
///
/// Bounded: when full, the oldest half is dropped. Lookups take a mutex for a few nanoseconds;
/// the signature check that follows takes tens of microseconds.
public final class DecodingCache<Value: Sendable>: Sendable {
    private struct State {
        var values: [[UInt8]: Value] = [:]
        var order: [[UInt8]] = []
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 10_000) {
        self.capacity = max(1, capacity)
    }

    /// The value cached for `encoded`, or the one `decode` builds (then cached).
    public func value<E: Error>(for encoded: [UInt8], decode: ([UInt8]) throws(E) -> Value) throws(E) -> Value {
        if let value = state.withLock({ $0.values[encoded] }) { return value }
        let value = try decode(encoded)
        state.withLock { state in
            if state.values[encoded] == nil {
                if state.values.count >= capacity {
                    let dropped = state.order.prefix(state.order.count / 2 + 1)
                    for old in dropped { state.values[old] = nil }
                    state.order.removeFirst(dropped.count)
                }
                state.values[encoded] = value
                state.order.append(encoded)
            }
        }
        return value
    }

    public var count: Int { state.withLock { $0.values.count } }
}
