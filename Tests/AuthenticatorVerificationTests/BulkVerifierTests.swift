import Foundation
import Synchronization
import Testing
import VerificationRequests

/// `--jsonl`'s engine (BulkVerifier): answers in input order, and what the answer owns freed by
/// the caller once `run` returns.
@Suite struct BulkVerifierTests {
    /// Calls `freed` with the thread that released the last reference to it.
    final class Witness: Sendable {
        let freed: @Sendable (pthread_t) -> Void
        init(freed: @escaping @Sendable (pthread_t) -> Void) { self.freed = freed }
        deinit { freed(pthread_self()) }
    }

    /// `lines` written to a pipe (closed after), whose read end is returned.
    static func input(_ lines: [String]) throws -> Int32 {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
        try #require(bytes.count < 60_000, "the pipe holds the whole input")
        let written = bytes.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) }
        #expect(written == bytes.count)
        close(ends[1])
        return ends[0]
    }

    /// Runs `bulk` over `lines`; returns what it wrote.
    static func run(_ bulk: BulkVerifier, _ lines: [String]) throws -> [String] {
        let input = try input(lines)
        defer { close(input) }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("bulk-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: output) }
        let fd = try FileDescriptorIO.create(output.path)
        _ = try bulk.run(input: input, output: fd)
        close(fd)
        return try String(decoding: Data(contentsOf: output), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func answersComeInInputOrderWhateverTheWorkersDo() throws {
        var bulk = BulkVerifier { line, out in
            let text = line.map { String(decoding: $0, as: UTF8.self) } ?? ""
            // Uneven work, so chunks finish out of order.
            if let number = Int(text), number % 7 == 0 { usleep(200) }
            out.raw(Array(text.utf8))
            return .verified
        }
        bulk.linesPerChunk = 3
        let lines = (0..<2_000).map(String.init)
        #expect(try Self.run(bulk, lines) == lines)
    }

    /// The answer's captures (in the product: the service and its caches of OpenSSL keys and
    /// certificates) must be released by the caller, never by a worker thread after `run` has
    /// returned: the process may be exiting then, and OpenSSL's atexit cleanup races the frees
    /// (CI saw the re-signing fuzzer's verifier die with SIGSEGV).
    @Test func whatTheAnswerOwnsIsFreedByTheCallerNeverByAWorker() throws {
        let caller = pthread_self()
        for round in 0..<120 {
            let freedOn = Mutex<pthread_t?>(nil)
            do {
                let witness = Witness { thread in freedOn.withLock { $0 = thread } }
                var bulk = BulkVerifier { _, out in
                    withExtendedLifetime(witness) { out.raw(Array("{}".utf8)) }
                    return .verified
                }
                bulk.linesPerChunk = 1
                #expect(try Self.run(bulk, Array(repeating: "{}", count: 64)).count == 64)
            }
            let thread = freedOn.withLock { $0 }
            #expect(thread != nil, "round \(round): the answer's captures are still owned after run returned")
            #expect(thread.map { pthread_equal($0, caller) != 0 } == true, "round \(round): freed by a worker thread")
        }
    }
}
