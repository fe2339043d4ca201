import AuthenticatorVerification
import Foundation
import Testing

/// Every vector of the software authenticator (TestVectors/generated) gets exactly its
/// expected verdict.
@Suite struct GeneratedVectorTests {
    static let directory = packageRoot.appendingPathComponent("TestVectors/generated")
    static let vectors = VectorCorpus.load(directory)
    static let runner = VectorRunner(anchors: VectorCorpus.anchors(directory), crls: VectorCorpus.crls(directory))

    @Test func corpusIsPresent() {
        #expect(Self.vectors.count >= 150)
        #expect(Self.vectors.contains { $0.expected == "valid" })
    }

    @Test(arguments: vectors)
    func vectorGetsItsExpectedVerdict(_ vector: Vector) {
        let (verdict, message) = Self.runner.run(vector)
        #expect(verdict.description == vector.expected, "\(vector.id): \(message)")
    }

    /// Each code a verification can produce from input has at least one generated vector.
    @Test func everyOutcomeCodeHasAVector() {
        let expected = Set(Self.vectors.map(\.expected))
        let untested = FailureCode.allCases.filter { code in
            code != .internalError && code != .malformedRequest && !expected.contains("invalid:\(code.rawValue)")
        }
        #expect(untested.isEmpty, "codes without a vector: \(untested.map(\.rawValue))")
    }

    @Test func everySupportedAlgorithmRegistersAndAsserts() {
        let supported = COSEAlgorithm.allCases.filter(\.isSupported).map(\.name)
        for name in supported {
            #expect(Self.vectors.contains { $0.ceremony == "registration" && $0.algorithm == name && $0.expected == "valid" }, "\(name)")
            #expect(Self.vectors.contains { $0.ceremony == "authentication" && $0.algorithm == name && $0.expected == "valid" }, "\(name)")
        }
    }
}
