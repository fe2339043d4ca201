import Foundation
import SignatureVerification
import Storage
import Synchronization
import WireFormat

/// Signed-in desk operators. A session is a random 32-byte token in an HttpOnly, SameSite=Strict
/// cookie (Secure behind TLS), known here only by its SHA-256; each has its CSRF token, which
/// every state change must send back in `X-CSRF-Token`. Sessions end after `idle` seconds
/// without a request, `lifetime` seconds after sign-in, at sign-out, or when the operator is
/// revoked. They live in memory: a restart signs every operator out (the safe direction).
package final class DeskSessions: Sendable {
    struct Session: Sendable {
        let operatorID: Int64
        let name: String
        let csrf: String
        let created: Date
        var lastSeen: Date
        /// Ceremonies this session opened: only it may finish them.
        var ceremonies: Set<String> = []
    }

    enum Refusal: Error {
        case missing, expired
    }

    let idle: TimeInterval
    let lifetime: TimeInterval
    private let sessions = Mutex<[[UInt8]: Session]>([:])
    /// The cookie's name where the desk's origin is plain http (a developer's localhost); an
    /// https origin uses `__Host-mie_desk` (see `DeskCookie`).
    static let cookieName = "mie_desk"
    static let maximumSessions = 10_000

    init(idle: TimeInterval, lifetime: TimeInterval) {
        self.idle = idle
        self.lifetime = lifetime
    }

    /// A new session for the operator: its token (for the cookie) and CSRF token.
    func open(operatorID: Int64, name: String, at now: Date) -> (token: String, csrf: String) {
        let token = Base64URL.encode(CredentialStore.randomBytes(32))
        let csrf = Base64URL.encode(CredentialStore.randomBytes(32))
        sessions.withLock { sessions in
            sessions = sessions.filter { isLive($0.value, at: now) }
            if sessions.count >= Self.maximumSessions, let oldest = sessions.min(by: { $0.value.lastSeen < $1.value.lastSeen }) {
                sessions[oldest.key] = nil
            }
            sessions[Digest.sha256(Array(token.utf8))] = Session(operatorID: operatorID, name: name, csrf: csrf, created: now, lastSeen: now)
        }
        return (token, csrf)
    }

    private func isLive(_ session: Session, at now: Date) -> Bool {
        now.timeIntervalSince(session.lastSeen) < idle && now.timeIntervalSince(session.created) < lifetime
    }

    /// The live session of this token, touched; an expired one is dropped.
    func find(_ token: String?, at now: Date) -> Result<Session, Refusal> {
        guard let token, !token.isEmpty, token.utf8.count <= 64 else { return .failure(.missing) }
        let key = Digest.sha256(Array(token.utf8))
        return sessions.withLock { sessions in
            guard var session = sessions[key] else { return .failure(.missing) }
            guard isLive(session, at: now) else {
                sessions[key] = nil
                return .failure(.expired)
            }
            session.lastSeen = now
            sessions[key] = session
            return .success(session)
        }
    }

    /// When the session started, for its absolute end.
    func expiry(of session: Session) -> Date {
        min(session.created.addingTimeInterval(lifetime), session.lastSeen.addingTimeInterval(idle))
    }

    func remember(ceremony: String, for token: String) {
        let key = Digest.sha256(Array(token.utf8))
        sessions.withLock { sessions in
            guard var session = sessions[key] else { return }
            // Bounded: a session keeps 32 ceremonies at most.
            if session.ceremonies.count >= 32 { session.ceremonies.removeFirst() }
            session.ceremonies.insert(ceremony)
            sessions[key] = session
        }
    }

    func end(_ token: String) {
        _ = sessions.withLock { $0.removeValue(forKey: Digest.sha256(Array(token.utf8))) }
    }

    func end(operatorID: Int64) {
        sessions.withLock { sessions in sessions = sessions.filter { $0.value.operatorID != operatorID } }
    }

    /// Constant-time comparison of CSRF tokens.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
