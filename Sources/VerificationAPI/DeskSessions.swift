import Foundation
import SignatureVerification
import Storage
import Synchronization
import WireFormat

/// Signed-in desk operators. A session is a random 32-byte token in an HttpOnly, SameSite=Strict
/// cookie (Secure behind TLS), known only by its SHA-256; each has its CSRF token, which every
/// state change must send back in `X-CSRF-Token`. Sessions end after `idle` seconds without a
/// request, `lifetime` seconds after sign-in, at sign-out, or when the operator is revoked.
/// They are kept in the database (`DeskSessionStoring`): every node sees the same sessions, and
/// an end on one is an end on all. Calls block on the store: make them from the I/O pool.
package final class DeskSessions: Sendable {
    typealias Session = DeskSessionRecord

    enum Refusal: Error {
        case missing, expired
    }

    let idle: TimeInterval
    let lifetime: TimeInterval
    private let store: any DeskSessionStoring
    /// The cookie's name where the desk's origin is plain http (a developer's localhost); an
    /// https origin uses `__Host-mie_desk` (see `DeskCookie`).
    static let cookieName = "mie_desk"
    static let maximumSessions = 10_000
    /// A session's last request is written at most this often (its idle end moves by as much).
    static let touchResolution: TimeInterval = 5

    init(store: any DeskSessionStoring, idle: TimeInterval, lifetime: TimeInterval) {
        self.store = store
        self.idle = idle
        self.lifetime = lifetime
    }

    private static func key(_ token: String) -> [UInt8] { Digest.sha256(Array(token.utf8)) }

    /// A new session for the operator: its token (for the cookie) and CSRF token.
    func open(operatorID: Int64, name: String, at now: Date) throws(StoreError) -> (token: String, csrf: String) {
        let token = Base64URL.encode(CredentialStore.randomBytes(32))
        let csrf = Base64URL.encode(CredentialStore.randomBytes(32))
        try store.open(
            Self.key(token), Session(operatorID: operatorID, name: name, csrf: csrf, created: now, lastSeen: now), limit: Self.maximumSessions,
            isLiveAfter: (idle: now.addingTimeInterval(-idle), created: now.addingTimeInterval(-lifetime)))
        return (token, csrf)
    }

    private func isLive(_ session: Session, at now: Date) -> Bool {
        now.timeIntervalSince(session.lastSeen) < idle && now.timeIntervalSince(session.created) < lifetime
    }

    /// The live session of this token, touched; an expired one is dropped.
    func find(_ token: String?, at now: Date) throws(StoreError) -> Result<Session, Refusal> {
        guard let token, !token.isEmpty, token.utf8.count <= 64 else { return .failure(.missing) }
        let key = Self.key(token)
        guard var session = try store.find(key) else { return .failure(.missing) }
        guard isLive(session, at: now) else {
            try store.end(key)
            return .failure(.expired)
        }
        if now.timeIntervalSince(session.lastSeen) >= Self.touchResolution {
            try store.touch(key, at: now)
            session.lastSeen = now
        }
        return .success(session)
    }

    /// When the session ends if nothing more comes.
    func expiry(of session: Session) -> Date {
        min(session.created.addingTimeInterval(lifetime), session.lastSeen.addingTimeInterval(idle))
    }

    func remember(ceremony: String, for token: String, at now: Date) throws(StoreError) {
        try store.remember(ceremony: ceremony, for: Self.key(token), at: now)
    }

    func end(_ token: String) throws(StoreError) {
        try store.end(Self.key(token))
    }

    func end(operatorID: Int64) throws(StoreError) {
        try store.end(operatorID: operatorID)
    }

    /// Constant-time comparison of CSRF tokens.
    static func same(_ a: String, _ b: String) -> Bool { same(Array(a.utf8), Array(b.utf8)) }

    /// Compared in time that does not depend on where they differ.
    static func same(_ x: [UInt8], _ y: [UInt8]) -> Bool {
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
