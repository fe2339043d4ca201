// swift-tools-version: 6.0
// Performance harness for mie-verifier; kept apart so the product's build stays lean.
//   Benchmarks/run.sh        (builds in release, runs mie-bench and the py_webauthn comparison)
import PackageDescription

let package = Package(
    name: "mie-verifier-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "mie-verifier", path: ".."),
        // Comparison only: the physical limit for P-256 verification on this machine.
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // Allocation counts (LD_PRELOAD of its dylib; see run.sh).
        .package(url: "https://github.com/ordo-one/malloc-interposer", from: "1.6.1"),
    ],
    targets: [
        .executableTarget(
            name: "mie-bench",
            dependencies: [
                .product(name: "AuthenticatorVerification", package: "mie-verifier"),
                .product(name: "CBORDecoding", package: "mie-verifier"),
                .product(name: "SignatureVerification", package: "mie-verifier"),
                .product(name: "VerificationRequests", package: "mie-verifier"),
                .product(name: "WireFormat", package: "mie-verifier"),
                .product(name: "AuthenticatorCatalog", package: "mie-verifier"),
                .product(name: "PSCPolicy", package: "mie-verifier"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
