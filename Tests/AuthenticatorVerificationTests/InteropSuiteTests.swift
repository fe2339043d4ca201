@_spi(Internals) import AuthenticatorVerification
import Foundation
import Testing

/// The public corpus of other projects' vectors, read in place (never copied here). Its
/// location comes from `MIE_EXTERNAL_VECTORS` (CI passes `../shared/vectors/external`), or the
/// sibling `../shared/vectors/external` of a development checkout.
enum ExternalCorpus {
    static let location: URL? = {
        if let path = ProcessInfo.processInfo.environment["MIE_EXTERNAL_VECTORS"], !path.isEmpty {
            let url = URL(fileURLWithPath: path, relativeTo: packageRoot).standardizedFileURL
            return url
        }
        let sibling = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors/external")
        return FileManager.default.fileExists(atPath: sibling.path) ? sibling : nil
    }()

    /// Formats whose statements this verifier handles.
    static let formatsInScope: Set<String> = [
        "none", "packed", "fido-u2f", "tpm", "android-key", "android-safetynet", "apple", "compound",
    ]

    /// Vectors whose corpus verdict no policy may reproduce, with the verdict we hold to and
    /// why. Listed, printed and still asserted: a change in our verdict fails the suite.
    static let disputed: [String: (verdict: String, reason: String)] = [
        "gw-attestation_safetynet-safetyNetTestResponse-success": (
            "invalid:mismatch.attestation-signature",
            "the JWS signature does not verify with its own x5c leaf (checked independently with pyca/cryptography); "
                + "the other three SafetyNet vectors of the corpus verify"
        )
    ]

    /// Whether a vector exercises only what this verifier supports (everything but ML-DSA-44:
    /// OpenSSL 3.0 has no ML-DSA and swift-crypto exposes only ML-DSA-65 and ML-DSA-87). Registrations with an unparsable or unknown format are in
    /// scope: rejecting them is our job.
    static func inScope(_ vector: Vector) -> Bool {
        if vector.algorithm == "ML-DSA-44" { return false }
        if vector.ceremony == "registration", let format = vector.format {
            let known = ["none", "packed", "fido-u2f", "tpm", "android-key", "android-safetynet", "apple", "compound"]
            return formatsInScope.contains(format) || !known.contains(format)
        }
        return true
    }
}

@Suite(RequiredMode.needs(ExternalCorpus.location != nil, "set MIE_EXTERNAL_VECTORS to the external corpus"))
struct InteropSuiteTests {
    struct Row: Equatable {
        var matched = 0, mismatched = 0, disputed = 0, outOfScope = 0, outOfScopeAgreeing = 0
    }

    /// The table this corpus gives today, folder by folder: a vector that appears, disappears or
    /// changes column fails the suite, so nothing passes by being quietly dropped.
    static let expectedRows: [String: Row] = [
        "derived": Row(matched: 69),
        "fido2-net-lib": Row(matched: 14),
        "go-webauthn": Row(matched: 7, disputed: 1),
        "py_webauthn": Row(matched: 33, outOfScope: 2),
        "python-fido2": Row(matched: 12),
        "w3c-spec": Row(matched: 30),
        "webauthn-rs": Row(matched: 16),
    ]

    @Test func everyInScopeVectorMatchesItsExpectedVerdict() throws {
        let directory = try #require(ExternalCorpus.location)
        let vectors = try VectorCorpus.load(directory)
        let runner = VectorRunner(anchors: try VectorCorpus.anchors(directory), crls: try VectorCorpus.crls(directory))
        var rows: [String: Row] = [:]
        var mismatches: [String] = []
        for vector in vectors {
            let (verdict, message) = runner.run(vector)
            let agrees = ExternalReasons.matches(verdict, expected: vector.expected)
            if let dispute = ExternalCorpus.disputed[vector.id] {
                rows[vector.folder, default: Row()].disputed += 1
                print("DISPUTED \(vector.id): corpus says \(vector.expected), we say \(verdict): \(dispute.reason)")
                #expect(verdict.description == dispute.verdict, "\(vector.id): \(message)")
            } else if ExternalCorpus.inScope(vector) {
                if agrees {
                    rows[vector.folder, default: Row()].matched += 1
                } else {
                    rows[vector.folder, default: Row()].mismatched += 1
                    mismatches.append("\(vector.id): expected \(vector.expected), got \(verdict) (\(message))")
                }
            } else {
                rows[vector.folder, default: Row()].outOfScope += 1
                if agrees { rows[vector.folder, default: Row()].outOfScopeAgreeing += 1 }
            }
        }
        print(Self.table(rows))
        for line in mismatches { print("MISMATCH \(line)") }
        #expect(mismatches.isEmpty, "\(mismatches.count) in-scope mismatches")
        #expect(rows == Self.expectedRows)
    }

    static func table(_ rows: [String: Row]) -> String {
        var lines = ["interop  folder            matched  mismatched  disputed  out-of-scope (agreeing)"]
        var total = Row()
        for (folder, row) in rows.sorted(by: { $0.key < $1.key }) {
            lines.append(format(folder, row))
            total.matched += row.matched
            total.mismatched += row.mismatched
            total.disputed += row.disputed
            total.outOfScope += row.outOfScope
            total.outOfScopeAgreeing += row.outOfScopeAgreeing
        }
        lines.append(format("total", total))
        return lines.joined(separator: "\n")
    }

    private static func format(_ folder: String, _ row: Row) -> String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        return "interop  " + pad(folder, 18) + pad(String(row.matched), 9) + pad(String(row.mismatched), 12)
            + pad(String(row.disputed), 10) + "\(row.outOfScope) (\(row.outOfScopeAgreeing))"
    }
}
