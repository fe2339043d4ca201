import Foundation
import Storage
import Synchronization
import WireFormat

/// The provider's signing keys, one active per algorithm, in the database every node shares.
/// A key signs for `rotation`, then a new one is generated and the old one retires; a retired
/// key stays in the JWKS for `keepRetired` (longer than any token it signed lives), then it is
/// deleted. The JWKS is read from the database on every request, so a key made by one node is
/// published by all at once; signing keys are cached for a few seconds.
final class OIDCKeyRing: Sendable {
    let store: any OIDCStoring
    let rotation: TimeInterval
    let keepRetired: TimeInterval
    /// Per algorithm: the active key and when it was read.
    private let cache = Mutex<[String: (at: Date, key: OIDCSigningKey)]>([:])
    static let cacheLifetime: TimeInterval = 5

    /// A retired key stays published a day longer than any token it signed lives (the IAMs
    /// cache JWKS documents).
    init(store: any OIDCStoring, settings: OIDCSettings) {
        self.store = store
        rotation = settings.keyRotation
        keepRetired = max(settings.idTokenLifetime, settings.accessTokenLifetime) + 86_400
    }

    /// The active key of `algorithm`, made (or rotated) when there is none young enough.
    func signingKey(_ algorithm: String, at now: Date) throws -> OIDCSigningKey {
        if let cached = cache.withLock({ entries -> OIDCSigningKey? in
            guard let entry = entries[algorithm], now >= entry.at, now.timeIntervalSince(entry.at) < Self.cacheLifetime,
                now.timeIntervalSince(entry.key.createdAt) < rotation
            else { return nil }
            return entry.key
        }) {
            return cached
        }
        let records = try store.signingKeys()
        if let active = records.last(where: { $0.algorithm == algorithm && $0.retiredAt == nil }), now.timeIntervalSince(active.createdAt) < rotation {
            let key = try OIDCSigningKey(record: active)
            cache.withLock { $0[algorithm] = (now, key) }
            return key
        }
        return try rotate(algorithm, at: now)
    }

    /// A new key for `algorithm`; the previous one retires (and keys retired long enough ago go).
    @discardableResult
    func rotate(_ algorithm: String, at now: Date) throws -> OIDCSigningKey {
        var key = try OIDCSigningKey.generate(algorithm)
        key.createdAt = now
        try store.rotate(to: key.record(at: now), at: now)
        try store.deleteKeys(retiredBefore: now.addingTimeInterval(-keepRetired))
        cache.withLock { $0[algorithm] = (now, key) }
        return key
    }

    /// The public keys to publish: the active ones and those retired less than `keepRetired` ago.
    func published(at now: Date) throws(StoreError) -> [JSONValue] {
        try store.signingKeys().filter { record in
            record.retiredAt.map { now.timeIntervalSince($0) < keepRetired } ?? true
        }.compactMap { record in
            try? JSONValue.parse(Array(record.publicJWK.utf8), document: "a stored JWK")
        }
    }
}

/// The algorithms the provider signs id_tokens with.
package let OIDCSigningKeyAlgorithms: Set<String> = Set(OIDCSigningKey.algorithms)

/// What the command line does with the provider's keys and the JWKS files it is given.
package enum OIDCKeyCheck {
    /// Throws when `text` is not a JWKS holding a usable signing key.
    package static func jwks(_ text: String) throws {
        _ = try JWKSet(json: text)
    }

    /// A new key for each algorithm; returns their kids.
    package static func rotate(_ store: any OIDCStoring, at now: Date, settings: OIDCSettings = OIDCSettings()) throws -> [String] {
        let ring = OIDCKeyRing(store: store, settings: settings)
        return try OIDCSigningKey.algorithms.map { try ring.rotate($0, at: now).kid }
    }
}
