internal import COpenSSL

/// Checks an encoded EdDSA public key before it is accepted (RFC 8032 §5.1.3 and §5.2.3), as
/// libsodium does: the encoding must be canonical (y < p, and x = 0 never with the sign bit
/// set), the point must be on the curve, and it must not have small order. OpenSSL's raw key
/// import checks none of this, and with a small-order key (the identity above all) a fixed
/// signature verifies over any message.
enum EdwardsPointValidation {
    struct Rejection: Error {
        let reason: String
    }

    static func check(_ encoded: [UInt8], curve: EdwardsCurve) throws(Rejection) {
        guard encoded.count == curve.keySize else { throw Rejection(reason: "\(curve.rawValue) keys are \(curve.keySize) bytes") }
        let parameters = CurveParameters.of(curve)
        var littleEndianY = encoded
        let sign: Bool
        switch curve {
        case .ed25519:
            sign = littleEndianY[31] & 0x80 != 0
            littleEndianY[31] &= 0x7F
        case .ed448:
            // 57 bytes: y in the first 56, the x sign in bit 7 of the last; its other bits are 0.
            guard littleEndianY[56] & 0x7F == 0 else { throw Rejection(reason: "non-canonical Ed448 encoding") }
            sign = littleEndianY[56] & 0x80 != 0
            littleEndianY.removeLast()
        }
        guard let context = BN_CTX_new() else { throw Rejection(reason: "out of memory") }
        defer { BN_CTX_free(context) }
        BN_CTX_start(context)
        defer { BN_CTX_end(context) }
        guard let y = BN_CTX_get(context), let u = BN_CTX_get(context), let v = BN_CTX_get(context),
            let w = BN_CTX_get(context), let one = BN_CTX_get(context)
        else { throw Rejection(reason: "out of memory") }
        let bigEndianY = Array(littleEndianY.reversed())
        guard BN_bin2bn(bigEndianY, Int32(bigEndianY.count), y) != nil, BN_set_word(one, 1) == 1 else {
            throw Rejection(reason: "out of memory")
        }
        guard BN_cmp(y, parameters.p) < 0 else { throw Rejection(reason: "non-canonical \(curve.rawValue) encoding (y ≥ p)") }
        for small in parameters.smallOrderY where BN_cmp(y, small) == 0 {
            throw Rejection(reason: "\(curve.rawValue) key is a point of small order")
        }
        // x² = (y² − 1) / (d·y² − a), with a = −1 for edwards25519 and 1 for edwards448.
        guard BN_mod_sqr(w, y, parameters.p, context) == 1,
            BN_mod_sub(u, w, one, parameters.p, context) == 1,
            BN_mod_mul(v, w, parameters.d, parameters.p, context) == 1,
            (curve == .ed25519 ? BN_mod_add(v, v, one, parameters.p, context) : BN_mod_sub(v, v, one, parameters.p, context)) == 1,
            BN_mod_inverse(v, v, parameters.p, context) != nil,
            BN_mod_mul(w, u, v, parameters.p, context) == 1
        else {
            ERR_clear_error()
            throw Rejection(reason: "\(curve.rawValue) key is not a point on the curve")
        }
        if BN_is_zero(w) == 1 {
            guard !sign else { throw Rejection(reason: "non-canonical \(curve.rawValue) encoding (x = 0 with the sign bit set)") }
            return
        }
        // Euler's criterion: x² must be a square modulo p.
        guard BN_mod_exp(u, w, parameters.eulerExponent, parameters.p, context) == 1, BN_is_one(u) == 1 else {
            ERR_clear_error()
            throw Rejection(reason: "\(curve.rawValue) key is not a point on the curve")
        }
    }

    /// p, d, (p − 1) / 2 and the y coordinates of every point of small order.
    final class CurveParameters: @unchecked Sendable {
        // Immutable after init; BIGNUMs are only read.
        let p: OpaquePointer
        let d: OpaquePointer
        let eulerExponent: OpaquePointer
        let smallOrderY: [OpaquePointer]

        static let ed25519 = CurveParameters(
            p: "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed",
            d: "52036cee2b6ffe738cc740797779e89800700a4d4141d8ab75eb4dca135978a3",
            // The eight-torsion: identity (y = 1), order 2 (y = −1), order 4 (y = 0), order 8.
            smallOrderY: [
                "00", "01", "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffec",
                "05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826",
                "7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7",
            ])

        static let ed448 = CurveParameters(
            p: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            d: "fffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffffffffffffffffffffffffffffffffffffffffffffffff6756",
            // Cofactor 4: identity (y = 1), order 2 (y = −1), order 4 (y = 0).
            smallOrderY: [
                "00", "01",
                "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffffffffffffffffffffffffffffffffffffffffffffffffffffe",
            ])

        static func of(_ curve: EdwardsCurve) -> CurveParameters {
            curve == .ed25519 ? ed25519 : ed448
        }

        private init(p: String, d: String, smallOrderY: [String]) {
            func number(_ hex: String) -> OpaquePointer {
                var bn: OpaquePointer? = nil
                // Constants written above; BN_hex2bn fails only without memory, and no input reaches here.
                let ok = BN_hex2bn(&bn, hex) > 0
                precondition(ok && bn != nil, "Edwards curve constant")
                return bn.unsafelyUnwrapped
            }
            self.p = number(p)
            self.d = number(d)
            let half = number(p)
            BN_rshift1(half, half)
            self.eulerExponent = half
            self.smallOrderY = smallOrderY.map(number)
        }
    }
}
