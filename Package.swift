// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // Generic helpers of one module (byte views, base64, JSON) specialised where another
    // module calls them: without it release builds ran them through witness tables
    // (Benchmarks/: none registrations spent a quarter of their time there).
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "mie-verifier",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "mie-verifier", targets: ["mie-verifier"]),
        .executable(name: "mie-probe", targets: ["mie-probe"]),
        .executable(name: "mie-http-floor", targets: ["mie-http-floor"]),
        .library(name: "AuthenticatorVerification", targets: ["AuthenticatorVerification"]),
        .library(name: "VerificationRequests", targets: ["VerificationRequests"]),
        .library(name: "CBORDecoding", targets: ["CBORDecoding"]),
        .library(name: "SignatureVerification", targets: ["SignatureVerification"]),
        .library(name: "WireFormat", targets: ["WireFormat"]),
        .library(name: "AuthenticatorCatalog", targets: ["AuthenticatorCatalog"]),
        .library(name: "PSCPolicy", targets: ["PSCPolicy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // P-256 ECDSA (1.27x OpenSSL 3.0 here, Benchmarks/) and ML-DSA-65/87 (absent from OpenSSL 3.0).
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // DER inside X.509 extensions (Android KeyDescription, Apple nonce, TPM names).
        .package(url: "https://github.com/apple/swift-asn1", from: "1.3.0"),
        // Conformity reports (HTML, Markdown) from templates rather than string concatenation.
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.0.0"),
        // The HTTP service (routes, middleware, testing without sockets).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // Mutual TLS for the service's listener (HummingbirdTLS is built on it).
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        // HTTP parts as Hummingbird's pipeline carries them (the request-head timeout handler).
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.0"),
        // The service's configuration file may be YAML.
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        // PostgreSQL for several nodes (the same store protocols as SQLite).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        // System libraries: a module map and one-line shims, nothing else.
        .systemLibrary(name: "CCBOR", pkgConfig: "libcbor", providers: [.apt(["libcbor-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPCSCLite", pkgConfig: "libpcsclite", providers: [.apt(["libpcsclite-dev"])]),

        // Readers for untrusted bytes every layer shares: byte cursor, strict base64url, strict JSON.
        .target(name: "WireFormat", swiftSettings: strict),
        .target(name: "CBORDecoding", dependencies: ["CCBOR"], swiftSettings: strict),
        .target(
            name: "SignatureVerification",
            dependencies: [
                "COpenSSL", "WireFormat", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict),
        .target(
            name: "AuthenticatorVerification",
            dependencies: [
                "WireFormat", "CBORDecoding", "SignatureVerification", .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict),
        // FIDO MDS3 and the ANS referencing list: verified documents, the in-memory catalog (an
        // AttestationTrustSource), list differences. Pure: bytes and a time in, values out.
        .target(
            name: "AuthenticatorCatalog",
            dependencies: ["WireFormat", "SignatureVerification", "AuthenticatorVerification"],
            swiftSettings: strict),
        // The PSC criteria as data: profiles, evaluation, AMR, conformity reports.
        .target(
            name: "PSCPolicy",
            dependencies: [
                "WireFormat", "SignatureVerification", "AuthenticatorVerification", "AuthenticatorCatalog",
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [.copy("Reports"), .copy("Profiles")],
            swiftSettings: strict),
        // SQLite through the system library: every referencing list version and import now,
        // credentials and the audit chain with the service.
        .target(
            name: "Storage",
            dependencies: [
                "CSQLite", "WireFormat", "SignatureVerification", "AuthenticatorCatalog",
                // Ed25519 for the signed audit head.
                .product(name: "Crypto", package: "swift-crypto"),
            ], swiftSettings: strict),
        // The same stores on PostgreSQL, for several `serve` nodes on one database.
        .target(
            name: "PostgresStorage",
            dependencies: [
                "Storage", "WireFormat", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log"),
            ], swiftSettings: strict),
        .target(
            name: "VerificationRequests",
            dependencies: ["WireFormat", "AuthenticatorVerification"],
            swiftSettings: strict),
        // The service's operations (ceremonies, sign-ins, card checks, credentials, imports), each
        // with its caller's scope, over the store protocols and an injected clock: the only place
        // that calls the core and the PSC engine for the service.
        .target(
            name: "Ceremonies",
            dependencies: [
                "WireFormat", "SignatureVerification", "AuthenticatorVerification", "VerificationRequests", "AuthenticatorCatalog", "PSCPolicy",
                "Storage", "CardJudgement",
            ],
            swiftSettings: strict),
        // The HTTP API: routes, client authentication, problem documents; built by functions
        // (`buildApplication`) over the stores and the engine.
        .target(
            name: "VerificationAPI",
            dependencies: [
                "WireFormat", "SignatureVerification", "AuthenticatorVerification", "VerificationRequests", "AuthenticatorCatalog",
                "PSCPolicy", "Storage", "PostgresStorage", "CardJudgement", "Ceremonies", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdTLS", package: "hummingbird"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"), .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "HummingbirdCore", package: "hummingbird"), .product(name: "Mustache", package: "swift-mustache"),
                // HMAC-SHA256 of the webhook's bodies; the OpenID Provider's ES256 keys.
                .product(name: "Crypto", package: "swift-crypto"),
                // The OpenID Provider's RS256 keys (OpenID Connect's default algorithm).
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            // The enrolment desk's and the sign-in page's templates, script and styles.
            resources: [.copy("Desk")],
            swiftSettings: strict),
        // CPS-family cards judged from what they showed (chain to IGC-Santé, identity, possession):
        // no PC/SC, shared by the probe and the service.
        .target(
            name: "CardJudgement",
            dependencies: ["WireFormat", "SignatureVerification", "PSCPolicy", .product(name: "SwiftASN1", package: "swift-asn1")],
            swiftSettings: strict),
        .target(
            name: "HardwareProbe",
            dependencies: [
                "CardJudgement", "CPCSCLite", "WireFormat", "CBORDecoding", "AuthenticatorVerification", "SignatureVerification", "PSCPolicy", "AuthenticatorCatalog",
                .product(name: "SwiftASN1", package: "swift-asn1"),
                // PIN/UV auth protocols: P-256 ECDH, HKDF, HMAC (Crypto); AES-256-CBC (CryptoExtras).
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "mie-probe",
            dependencies: [
                "HardwareProbe", "AuthenticatorVerification", "SignatureVerification", "WireFormat", "AuthenticatorCatalog",
                "PSCPolicy", "Storage", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        // The HTTP floors Benchmarks/http_load.py measures the service against: a bare
        // Hummingbird app and raw SwiftNIO answering a fixed body; and the ceilings, raw SwiftNIO
        // answering with the offline path's outcome (what an HTTP stack around the core reaches).
        .executableTarget(
            name: "mie-http-floor",
            dependencies: [
                "VerificationRequests", "Ceremonies", "Storage", "PSCPolicy", "AuthenticatorCatalog", "WireFormat",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tools/http-floor",
            swiftSettings: strict),
        .executableTarget(
            name: "mie-verifier",
            dependencies: [
                "VerificationRequests", "WireFormat", "AuthenticatorVerification", "SignatureVerification", "AuthenticatorCatalog",
                "PSCPolicy", "Storage", "PostgresStorage", "Ceremonies", "VerificationAPI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        .testTarget(name: "WireFormatTests", dependencies: ["WireFormat"]),
        .testTarget(name: "CBORDecodingTests", dependencies: ["CBORDecoding"]),
        .testTarget(name: "SignatureVerificationTests", dependencies: ["SignatureVerification"]),
        .testTarget(
            name: "AuthenticatorVerificationTests",
            dependencies: ["AuthenticatorVerification", "VerificationRequests", "CBORDecoding", "WireFormat", "SignatureVerification"]),
        // The catalog, its SQLite store and the PSC engine: one target, one suite per layer.
        .testTarget(
            name: "ReferencingTests",
            dependencies: [
                "AuthenticatorCatalog", "Storage", "PSCPolicy", "AuthenticatorVerification", "VerificationRequests", "SignatureVerification",
                "WireFormat",
            ]),
        .testTarget(
            name: "VerificationAPITests",
            dependencies: [
                "VerificationAPI", "Ceremonies", "Storage", "PostgresStorage", "AuthenticatorCatalog", "PSCPolicy", "AuthenticatorVerification", "WireFormat",
                "SignatureVerification", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "SystemLibraryTests", dependencies: ["CSQLite", "CPCSCLite"]),
        .testTarget(
            name: "HardwareProbeTests",
            dependencies: [
                "HardwareProbe", "SignatureVerification", "WireFormat", "CBORDecoding", "AuthenticatorCatalog", .product(name: "Crypto", package: "swift-crypto"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
