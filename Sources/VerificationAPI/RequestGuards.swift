import AuthenticatorCatalog
import AuthenticatorVerification
import CardJudgement
import Ceremonies
import Foundation
import Logging
import NIOCore
import NIOPosix
import PSCPolicy
import SignatureVerification
import Storage
import Synchronization
import VerificationRequests
import WireFormat

/// What stands in front of the operations on the request path: the rate limits, the cache of
/// authenticated clients, the count of requests in flight.
package final class RequestGuards: Sendable {
    /// Per client.
    package let limiter: RateLimiter<Int64>
    /// Failed authentications per source address: past it, a source's unknown keys are refused
    /// (429) before any lookup.
    let failedAuthentications: RateLimiter<String>
    /// The desk's requests before sign-in, per source address (a desk signs in rarely, in bursts:
    /// 200 at once, 2 a second after): a flood from one place stops there.
    let deskBySource: RateLimiter<String>
    /// Sign-in options for a known operator, per operator name: a flood naming someone else,
    /// or nobody, does not lock them out.
    let deskByOperator: RateLimiter<String>
    /// Whatever else comes before sign-in (unknown names, one-time codes), from every source
    /// together: the ceremony table cannot be filled by many sources either.
    let deskShared: RateLimiter<Int>
    /// The OpenID Provider's sign-in page and its calls, per source address; its token
    /// endpoint per client id (an IAM redeems one code per sign-in).
    let oidcBySource: RateLimiter<String>
    let oidcTokens: RateLimiter<String>
    /// Authenticated clients (and unknown keys) by key digest, for a few seconds: the hot path
    /// needs no database.
    package let clientCache: ClientCache
    /// Proxies whose X-Forwarded-For names the source address.
    let trustedProxies: Set<String>
    let inFlight = Atomic<Int>(0)

    /// Counts a request in flight, or refuses it (503) past `maximum`; each `enter` that
    /// returns is paired with a `leave`.
    func enter(maximum: Int) throws(APIError) {
        guard inFlight.wrappingAdd(1, ordering: .relaxed).newValue <= maximum else {
            inFlight.wrappingSubtract(1, ordering: .relaxed)
            throw APIError(.overloaded, "\(maximum) requests are in progress; retry")
        }
    }

    func leave() {
        inFlight.wrappingSubtract(1, ordering: .relaxed)
    }

    /// The client's rate limit: a token, or 429.
    func admit(_ client: APIClient) throws(APIError) {
        guard limiter.allow(client.id) else { throw APIError(.rateLimited, "slow down") }
    }

    /// `clock`: the service's (buckets refill as it moves; a test's hand clock holds them).
    init(configuration: ServiceConfiguration, clock: @escaping @Sendable () -> Date = { Date() }) {
        limiter = RateLimiter(rate: configuration.rateLimit, burst: configuration.rateBurst, clock: clock)
        failedAuthentications = RateLimiter(rate: 1, burst: 50, clock: clock)
        deskBySource = RateLimiter(rate: 2, burst: 200, clock: clock)
        deskByOperator = RateLimiter(rate: 2, burst: 20, clock: clock)
        deskShared = RateLimiter(rate: 50, burst: 500, clock: clock)
        oidcBySource = RateLimiter(rate: 5, burst: 100, clock: clock)
        oidcTokens = RateLimiter(rate: 50, burst: 500, clock: clock)
        trustedProxies = Set(configuration.trustedProxies)
        clientCache = ClientCache(lifetime: configuration.clientCacheLifetime)
    }
}

/// Token buckets by key (a client, a source address, an operator name), in a bounded table:
/// past `capacity` keys the buckets that have refilled go first, then the oldest.
package final class RateLimiter<Key: Hashable & Sendable>: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Date
    }

    private let rate: Double
    private let burst: Double
    private let capacity: Int
    private let clock: @Sendable () -> Date
    private let buckets = Mutex<[Key: Bucket]>([:])

    init(rate: Double, burst: Double, capacity: Int = 10_000, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.rate = rate
        self.burst = burst
        self.capacity = capacity
        self.clock = clock
    }

    /// Seconds from `start` to `end`, never negative (a clock set back refills nothing).
    private static func elapsed(_ start: Date, _ end: Date) -> Double { max(0, end.timeIntervalSince(start)) }

    /// Takes one token for `key`; false when its bucket is empty.
    func allow(_ key: Key) -> Bool { take(key, spend: true) }

    /// Whether `key` has a token, without taking it.
    func hasToken(_ key: Key) -> Bool { take(key, spend: false) }

    private func take(_ key: Key, spend: Bool) -> Bool {
        let now = clock()
        return buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: burst, updated: now)
            bucket.tokens = min(burst, bucket.tokens + Self.elapsed(bucket.updated, now) * rate)
            bucket.updated = now
            guard bucket.tokens >= 1 else {
                buckets[key] = bucket
                return false
            }
            if spend { bucket.tokens -= 1 }
            if buckets[key] == nil, buckets.count >= capacity { Self.evict(&buckets, now: now, rate: rate, burst: burst) }
            if spend || buckets[key] != nil { buckets[key] = bucket }
            return true
        }
    }

    /// Makes room: buckets full again are forgotten (a fresh one is the same); if none is, the
    /// least recently used quarter.
    private static func evict(_ buckets: inout [Key: Bucket], now: Date, rate: Double, burst: Double) {
        let before = buckets.count
        buckets = buckets.filter { $0.value.tokens + elapsed($0.value.updated, now) * rate < burst }
        guard buckets.count >= before else { return }
        let oldest = buckets.sorted { $0.value.updated < $1.value.updated }.prefix(max(1, before / 4)).map(\.key)
        for key in oldest { buckets[key] = nil }
    }

    var count: Int { buckets.withLock { $0.count } }
}

/// API clients recently authenticated, by the SHA-256 of their key or certificate, and keys
/// recently found to be nobody's (so a sprayer of keys costs no database read per request). An
/// entry lives `lifetime`: a client revoked from the command line (another process) stops
/// being admitted within that time. Bounded: over 10,000 entries a table starts afresh.
package final class ClientCache: Sendable {
    package enum Entry: Sendable {
        case client(APIClient)
        case unknown
    }

    private let lifetime: Duration
    private let entries = Mutex<[[UInt8]: (entry: Entry, until: ContinuousClock.Instant)]>([:])

    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    func entry(_ digest: [UInt8]) -> Entry? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[digest], entry.until > now else { return nil }
            return entry.entry
        }
    }

    func store(_ entry: Entry, _ digest: [UInt8]) {
        let until = ContinuousClock.now + lifetime
        entries.withLock { entries in
            if entries.count >= 10_000 { entries.removeAll(keepingCapacity: true) }
            entries[digest] = (entry, until)
        }
    }
}
