internal import COpenSSL

/// The RSA public-key operation alone, for smart cards: a CPS3 INTERNAL AUTHENTICATE answer
/// is a PKCS#1 type-1 block over the challenge, a CPS4 one a raw RSA result.
extension PublicKey {
    /// RSA public-key operation on `signature` with PKCS#1 v1.5 type 1 padding removed: the
    /// data a card's INTERNAL AUTHENTICATE signed. Nil for non-RSA keys or bad padding.
    public func recoverPKCS1(_ signature: [UInt8]) -> [UInt8]? {
        recover(signature, padding: RSA_PKCS1_PADDING)
    }

    /// Raw RSA public-key operation (s^e mod n), the full block.
    public func recoverRaw(_ signature: [UInt8]) -> [UInt8]? {
        recover(signature, padding: RSA_NO_PADDING)
    }

    private func recover(_ signature: [UInt8], padding: Int32) -> [UInt8]? {
        guard case .rsa = type, let pkey, let context = EVP_PKEY_CTX_new(pkey, nil) else { return nil }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_verify_recover_init(context) == 1, EVP_PKEY_CTX_set_rsa_padding(context, padding) == 1 else {
            ERR_clear_error()
            return nil
        }
        var length = 0
        guard EVP_PKEY_verify_recover(context, nil, &length, signature, signature.count) == 1 else {
            ERR_clear_error()
            return nil
        }
        var out = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_verify_recover(context, &out, &length, signature, signature.count) == 1 else {
            ERR_clear_error()
            return nil
        }
        return Array(out.prefix(length))
    }

}
