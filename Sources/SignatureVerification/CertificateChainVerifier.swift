internal import COpenSSL
import Foundation

/// Builds and checks a path from a leaf certificate to one of the given anchors with OpenSSL's
/// `X509_STORE`, at an explicit time. Anchors may be intermediate CAs (partial chains are
/// allowed), as FIDO metadata often lists them.
public enum CertificateChainVerifier {
    /// Longest path accepted, anchors included.
    public static let maximumDepth = 8

    /// How far revocation was checked on a verified path.
    public enum Revocation: String, Sendable {
        /// No CRL was supplied.
        case notChecked = "not-checked"
        /// Every certificate below the anchor was checked against its issuer's CRL.
        case checked
        /// Some certificates were checked; others had no CRL from their issuer.
        case partial
    }

    public struct Outcome: Sendable {
        /// The path from leaf to anchor, when one was found and verified.
        public let path: [Certificate]
        /// OpenSSL's reason when no valid path was found.
        public let failure: String?
        /// Whether the failure is a revoked certificate.
        public var isRevoked: Bool = false
        /// Whether the failure is a supplied CRL that is not current at the verification time
        /// (not yet valid or expired).
        public var isCRLNotCurrent: Bool = false
        public var revocation: Revocation = .notChecked

        public var isTrusted: Bool { failure == nil }

        public init(path: [Certificate], failure: String?) {
            self.path = path
            self.failure = failure
        }
    }

    /// Seconds since 1970 for OpenSSL, saturated: no `Date` a library caller passes can trap.
    static func seconds(_ time: Date) -> time_t {
        let seconds = time.timeIntervalSince1970.rounded(.down)
        guard seconds.isFinite else { return seconds > 0 ? time_t.max : 0 }
        if seconds >= Double(time_t.max) { return time_t.max }
        if seconds <= Double(time_t.min) { return time_t.min }
        return time_t(seconds)
    }

    public static func verify(
        leaf: Certificate, intermediates: [Certificate], anchors: [Certificate], at time: Date,
        crls: [CertificateRevocationList] = [], cache: ChainVerificationCache? = nil
    ) -> Outcome {
        guard !anchors.isEmpty else { return Outcome(path: [], failure: "no trust anchors") }
        guard let cache else { return build(leaf: leaf, intermediates: intermediates, anchors: anchors, crls: crls, at: time) }
        let key = ChainVerificationCache.key(leaf: leaf, intermediates: intermediates, anchors: anchors, crls: crls)
        if let hit = cache.lookup(key, at: time) { return hit }
        let outcome = build(leaf: leaf, intermediates: intermediates, anchors: anchors, crls: crls, at: time)
        if outcome.isTrusted { cache.store(key, outcome: outcome, crls: crls) }
        return outcome
    }

    private static func build(
        leaf: Certificate, intermediates: [Certificate], anchors: [Certificate], crls: [CertificateRevocationList], at time: Date
    ) -> Outcome {
        guard let store = X509_STORE_new() else { return Outcome(path: [], failure: "out of memory") }
        defer { X509_STORE_free(store) }
        for anchor in anchors {
            X509_STORE_add_cert(store, anchor.x509)
        }
        ERR_clear_error()
        guard let untrusted = OPENSSL_sk_new_null() else { return Outcome(path: [], failure: "out of memory") }
        defer { OPENSSL_sk_free(untrusted) }
        for certificate in intermediates {
            OPENSSL_sk_push(untrusted, UnsafeRawPointer(certificate.x509))
        }
        guard let context = X509_STORE_CTX_new() else { return Outcome(path: [], failure: "out of memory") }
        var crlStacks: [OpaquePointer] = []
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, leaf.x509, untrusted) == 1 else {
            return Outcome(path: [], failure: OpenSSLError.fromQueue(.internalFailure, "X509_STORE_CTX_init").message)
        }
        let parameters = X509_STORE_CTX_get0_param(context)
        var flags = UInt(X509_V_FLAG_PARTIAL_CHAIN)
        if !crls.isEmpty {
            // Check every certificate whose issuer supplied a CRL; a missing CRL is not an
            // error (the callback below), and the outcome says how far the check reached.
            guard let stack = OPENSSL_sk_new_null() else { return Outcome(path: [], failure: "out of memory") }
            for crl in crls { OPENSSL_sk_push(stack, UnsafeRawPointer(crl.crl)) }
            X509_STORE_CTX_set0_crls(context, stack)
            flags |= UInt(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL)
            X509_STORE_CTX_set_verify_cb(context, toleratingMissingCRL)
            crlStacks.append(stack)
        }
        defer { for stack in crlStacks { OPENSSL_sk_free(stack) } }
        X509_VERIFY_PARAM_set_flags(parameters, flags)
        X509_VERIFY_PARAM_set_time(parameters, Self.seconds(time))
        X509_VERIFY_PARAM_set_depth(parameters, Int32(maximumDepth))
        let verified = X509_verify_cert(context) == 1
        ERR_clear_error()
        guard verified else {
            let code = X509_STORE_CTX_get_error(context)
            let reason = String(cString: X509_verify_cert_error_string(Int(code)))
            var outcome = Outcome(path: [], failure: reason)
            outcome.isRevoked = code == X509_V_ERR_CERT_REVOKED
            outcome.isCRLNotCurrent = code == X509_V_ERR_CRL_NOT_YET_VALID || code == X509_V_ERR_CRL_HAS_EXPIRED
            return outcome
        }
        var path: [Certificate] = []
        if let chain = X509_STORE_CTX_get0_chain(context) {
            let stack = chain
            for index in 0..<OPENSSL_sk_num(stack) {
                guard let raw = OPENSSL_sk_value(stack, index) else { continue }
                let x509 = OpaquePointer(raw)
                if let known = ([leaf] + intermediates + anchors).first(where: { $0.x509 == x509 }) {
                    path.append(known)
                }
            }
        }
        var outcome = Outcome(path: path, failure: nil)
        if !crls.isEmpty {
            // Every certificate of the path that an anchor does not end: was its issuer's CRL there?
            let checked = path.dropLast().map { certificate in crls.contains { $0.covers(certificate) } }
            outcome.revocation = checked.allSatisfy { $0 } ? .checked : checked.contains(true) ? .partial : .notChecked
        }
        return outcome
    }
}

/// Verification callback: a certificate without a CRL from its issuer is accepted (reported
/// as partial revocation checking); every other error stands.
private func toleratingMissingCRL(_ ok: Int32, _ context: OpaquePointer?) -> Int32 {
    if ok == 0, let context, X509_STORE_CTX_get_error(context) == X509_V_ERR_UNABLE_TO_GET_CRL {
        X509_STORE_CTX_set_error(context, X509_V_OK)
        return 1
    }
    return ok
}
