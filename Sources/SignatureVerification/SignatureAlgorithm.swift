internal import COpenSSL

/// Message digests used by signature schemes.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case sha1 = "SHA1"
    case sha256 = "SHA256"
    case sha384 = "SHA384"
    case sha512 = "SHA512"

    public var outputSize: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        }
    }
}

/// A signature scheme as OpenSSL executes it.
public enum SignatureScheme: Sendable, Equatable {
    /// ECDSA with a DER-encoded (r, s) signature.
    case ecdsa(DigestAlgorithm)
    /// Pure EdDSA (Ed25519 or Ed448, decided by the key).
    case eddsa
    case rsaPKCS1v15(DigestAlgorithm)
    /// RSASSA-PSS with MGF1 over the same digest and a salt as long as the digest.
    case rsaPSS(DigestAlgorithm)
    /// FIPS 204 ML-DSA (pure, empty context), parameter set decided by the key.
    case mlDSA
}

/// Pre-fetched digest implementations. OpenSSL 3 looks an algorithm up in its provider store on
/// every implicit use (`EVP_sha256()`); fetching once keeps that lookup off the hot path.
final class FetchedDigests: @unchecked Sendable {
    // Immutable after init; EVP_MD objects are reference counted and safe to share.
    let sha1: OpaquePointer?
    let sha256: OpaquePointer?
    let sha384: OpaquePointer?
    let sha512: OpaquePointer?

    static let shared = FetchedDigests()

    private init() {
        func fetch(_ name: String) -> OpaquePointer? {
            // The default provider always has these digests; the legacy getter is a fallback.
            EVP_MD_fetch(nil, name, nil) ?? EVP_get_digestbyname(name)
        }
        sha1 = fetch("SHA1")
        sha256 = fetch("SHA256")
        sha384 = fetch("SHA384")
        sha512 = fetch("SHA512")
    }

    func md(_ algorithm: DigestAlgorithm) -> OpaquePointer? {
        switch algorithm {
        case .sha1: sha1
        case .sha256: sha256
        case .sha384: sha384
        case .sha512: sha512
        }
    }
}

/// One-shot digests.
public enum Digest {
    public static func hash(_ algorithm: DigestAlgorithm, _ data: some ContiguousBytesSequence) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: algorithm.outputSize)
        var length: UInt32 = 0
        let md = FetchedDigests.shared.md(algorithm)
        let ok = data.withBytes { input in
            output.withUnsafeMutableBufferPointer { out in
                EVP_Digest(input.baseAddress, input.count, out.baseAddress, &length, md, nil)
            }
        }
        // EVP_Digest over memory with a fetched digest fails only when allocation fails, which no
        // input can cause; continuing with a wrong digest would be worse than stopping.
        precondition(ok == 1 && Int(length) == algorithm.outputSize, "EVP_Digest failed")
        return output
    }

    public static func sha256(_ data: some ContiguousBytesSequence) -> [UInt8] {
        hash(.sha256, data)
    }
}

/// Byte containers whose storage can be read in place.
public protocol ContiguousBytesSequence {
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytesSequence where Element == UInt8 {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

extension ArraySlice: ContiguousBytesSequence where Element == UInt8 {
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}
