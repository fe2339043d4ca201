internal import COpenSSL
import Foundation

/// Builds and checks a path from a leaf certificate to one of the given anchors with OpenSSL's
/// `X509_STORE`, at an explicit time. Anchors may be intermediate CAs (partial chains are
/// allowed), as FIDO metadata often lists them.
public enum CertificateChainVerifier {
    /// Longest path accepted, anchors included.
    public static let maximumDepth = 8

    public struct Outcome: Sendable {
        /// The path from leaf to anchor, when one was found and verified.
        public let path: [Certificate]
        /// OpenSSL's reason when no valid path was found.
        public let failure: String?

        public var isTrusted: Bool { failure == nil }
    }

    public static func verify(
        leaf: Certificate, intermediates: [Certificate], anchors: [Certificate], at time: Date,
        cache: ChainVerificationCache? = nil
    ) -> Outcome {
        guard !anchors.isEmpty else { return Outcome(path: [], failure: "no trust anchors") }
        guard let cache else { return build(leaf: leaf, intermediates: intermediates, anchors: anchors, at: time) }
        let key = ChainVerificationCache.key(leaf: leaf, intermediates: intermediates, anchors: anchors)
        if let path = cache.lookup(key, at: time) { return Outcome(path: path, failure: nil) }
        let outcome = build(leaf: leaf, intermediates: intermediates, anchors: anchors, at: time)
        if outcome.isTrusted { cache.store(key, path: outcome.path) }
        return outcome
    }

    private static func build(leaf: Certificate, intermediates: [Certificate], anchors: [Certificate], at time: Date) -> Outcome {
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
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, leaf.x509, untrusted) == 1 else {
            return Outcome(path: [], failure: OpenSSLError.fromQueue(.internalFailure, "X509_STORE_CTX_init").message)
        }
        let parameters = X509_STORE_CTX_get0_param(context)
        X509_VERIFY_PARAM_set_flags(parameters, UInt(X509_V_FLAG_PARTIAL_CHAIN))
        X509_VERIFY_PARAM_set_time(parameters, time_t(time.timeIntervalSince1970.rounded(.down)))
        X509_VERIFY_PARAM_set_depth(parameters, Int32(maximumDepth))
        let verified = X509_verify_cert(context) == 1
        ERR_clear_error()
        guard verified else {
            let code = X509_STORE_CTX_get_error(context)
            let reason = String(cString: X509_verify_cert_error_string(Int(code)))
            return Outcome(path: [], failure: reason)
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
        return Outcome(path: path, failure: nil)
    }
}
