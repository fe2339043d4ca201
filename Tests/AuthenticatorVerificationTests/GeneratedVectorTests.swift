@_spi(Internals) import AuthenticatorVerification
import Foundation
import Testing

/// Every vector of the software authenticator (TestVectors/generated) gets exactly its
/// expected verdict.
@Suite struct GeneratedVectorTests {
    static let directory = packageRoot.appendingPathComponent("TestVectors/generated")
    static let corpus = Result { try VectorCorpus.load(directory) }
    static let vectors = (try? corpus.get()) ?? []
    static let runner = VectorRunner(
        anchors: (try? VectorCorpus.anchors(directory)) ?? [:], crls: (try? VectorCorpus.crls(directory)) ?? [:])

    /// Every line, anchor and CRL reads; a file the runner cannot read fails here.
    @Test func corpusReadsWhole() throws {
        let vectors = try Self.corpus.get()
        #expect(vectors.count == Self.expectedCount, "regenerate with `make vectors` and update the count")
        #expect(vectors.contains { $0.expected == "valid" })
        #expect(try !VectorCorpus.anchors(Self.directory).isEmpty)
        #expect(try !VectorCorpus.crls(Self.directory).isEmpty)
    }

    /// Lines in TestVectors/generated/vectors.jsonl.
    static let expectedCount = 270

    @Test(arguments: vectors)
    func vectorGetsItsExpectedVerdict(_ vector: Vector) {
        let (verdict, message) = Self.runner.run(vector)
        #expect(verdict.description == vector.expected, "\(vector.id): \(message)")
    }

    /// Each code a verification can produce from input has at least one generated vector.
    @Test func everyOutcomeCodeHasAVector() {
        let expected = Set(Self.vectors.map(\.expected))
        let untested = FailureCode.allCases.filter { code in
            code != .internalError && !expected.contains("invalid:\(code.rawValue)")
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
