// swift-tools-version: 6.0
// libFuzzer targets for the parsers of mie-verifier. Built only by Tools/fuzz/run.sh:
//   swift build --package-path Tools/fuzz --sanitize fuzzer --sanitize address
import PackageDescription

let package = Package(
    name: "mie-verifier-fuzz",
    dependencies: [.package(name: "mie-verifier", path: "../..")],
    targets: [
        .executableTarget(
            name: "FuzzTargets",
            dependencies: [
                .product(name: "CBORDecoding", package: "mie-verifier"),
                .product(name: "AuthenticatorVerification", package: "mie-verifier"),
                .product(name: "VerificationRequests", package: "mie-verifier"),
                .product(name: "SignatureVerification", package: "mie-verifier"),
                .product(name: "WireFormat", package: "mie-verifier"),
                .product(name: "AuthenticatorCatalog", package: "mie-verifier"),
                .product(name: "PSCPolicy", package: "mie-verifier"),
            ],
            // libFuzzer supplies main(); without -parse-as-library the target gets no coverage.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ],
    swiftLanguageModes: [.v6]
)
