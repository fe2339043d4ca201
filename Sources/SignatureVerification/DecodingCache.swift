import Synchronization

/// Decoded values by their encoded bytes: a stored credential's key, an attestation
/// certificate seen for every authenticator of its batch. Each is decoded once.
///
/// Bounded: when full, the oldest half is dropped. Lookups take a mutex for a few nanoseconds;
/// the signature check that follows takes tens of microseconds.
public final class DecodingCache<Value: Sendable>: Sendable {
    private struct State {
        var values: [EncodedKey: Value] = [:]
        var order: [EncodedKey] = []
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 10_000) {
        self.capacity = max(1, capacity)
    }

    /// The value cached for `encoded`, or the one `decode` builds (then cached).
    public func value<E: Error>(for encoded: [UInt8], decode: ([UInt8]) throws(E) -> Value) throws(E) -> Value {
        let key = EncodedKey(encoded)
        if let value = state.withLock({ $0.values[key] }) { return value }
        let value = try decode(encoded)
        state.withLock { state in
            if state.values[key] == nil {
                if state.values.count >= capacity {
                    let dropped = state.order.prefix(state.order.count / 2 + 1)
                    for old in dropped { state.values[old] = nil }
                    state.order.removeFirst(dropped.count)
                }
                state.values[key] = value
                state.order.append(key)
            }
        }
        return value
    }

    public var count: Int { state.withLock { $0.values.count } }
}

/// Encoded bytes as a dictionary key, hashed and compared as memory: `[UInt8]` as a key of a
/// generic class's dictionary is hashed element by element through witness tables.
struct EncodedKey: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    static func == (a: EncodedKey, b: EncodedKey) -> Bool {
        a.bytes.count == b.bytes.count && a.bytes.withUnsafeBytes { x in b.bytes.withUnsafeBytes { y in x.elementsEqual(y) } }
    }
}
