import Dispatch
import Foundation
import WireFormat

/// `--jsonl`: answers one request per line on every core and writes one result per line in
/// input order, in bounded memory whatever the input (`verify --jsonl`, `evaluate --jsonl`).
///
/// The reader cuts the input into chunks (at most `linesPerChunk` lines or `bytesPerChunk`
/// bytes, or whatever complete lines one read brought), workers answer chunks concurrently,
/// and a serial writer emits them in order. At most `chunksInFlight` chunks exist at once,
/// so memory stays bounded; a line longer than the request limit is never buffered whole: it is
/// skipped to its end and answered as `malformed.request`.
package struct BulkVerifier {
    /// Writes the answer to one line's request (nil: a line over the request limit) into the
    /// writer, without the newline; returns its disposition (the worst one is the exit status).
    package typealias Answer = @Sendable (UnsafeRawBufferPointer?, inout JSONWriter) -> VerificationOutcome.Disposition

    package let answer: Answer
    package var linesPerChunk = 256
    package var bytesPerChunk = 1 << 20
    package var chunksInFlight = 2 * ProcessInfo.processInfo.activeProcessorCount + 2

    package init(answer: @escaping Answer) {
        self.answer = answer
    }

    /// `verify --jsonl`: the core's outcome for each line, verified at the run's start.
    package init(service: VerificationService, ceremony: Ceremony, now: Date = Date()) {
        self.init { line, out in
            let outcome = line.map { service.verify(ceremony, requestJSON: $0, now: now) } ?? Self.oversize(ceremony)
            outcome.write(to: &out)
            return outcome.disposition
        }
    }

    /// The answer to a line over the request limit.
    package static func oversize(_ ceremony: Ceremony) -> VerificationOutcome {
        VerificationOutcome(
            disposition: .badRequest,
            result: .rejected(
                code: RequestFailureCode.malformedRequest.rawValue,
                message: "the request is larger than \(VerificationService.maximumRequestSize) bytes", ceremony: ceremony))
    }

    package func run(input: Int32, output: Int32) throws -> VerificationOutcome.Disposition {
        let writer = OrderedWriter(output: output)
        let slots = DispatchSemaphore(value: chunksInFlight)
        let workers = DispatchQueue(label: "mie-verifier.jsonl.workers", attributes: .concurrent)
        let group = DispatchGroup()
        var lines = LineSplitter(input: input, maximumLineLength: VerificationService.maximumRequestSize, bufferSize: bytesPerChunk)
        var sequence = 0
        while true {
            slots.wait()
            guard let chunk = try lines.nextChunk(maximumLines: linesPerChunk) else {
                slots.signal()
                break
            }
            let index = sequence
            sequence += 1
            let answer = self.answer
            // `async(group:)`, not enter/leave around the work: the group is left only once the
            // closure has been released, so when `wait` returns no worker still owns `answer`
            // and what it holds (the service, its caches of OpenSSL keys and certificates) is
            // freed by this thread, never by a worker while the process exits and OpenSSL's
            // atexit cleanup runs (the likely cause of a SIGSEGV the re-signing fuzzer met in CI).
            workers.async(group: group) {
                let answered = Self.answer(chunk, with: answer)
                writer.deliver(index, answered) { slots.signal() }
            }
        }
        group.wait()
        try writer.finish()
        return writer.worst
    }

    /// Answers every line of a chunk; returns their results, one per line, and the worst
    /// disposition among them.
    static func answer(_ chunk: LineChunk, with answer: Answer) -> VerifiedChunk {
        var out = JSONWriter(capacity: chunk.lines.count * 192)
        var worst = VerificationOutcome.Disposition.verified
        chunk.bytes.withUnsafeBytes { raw in
            for line in chunk.lines {
                let disposition: VerificationOutcome.Disposition
                switch line {
                case .request(let start, let end): disposition = answer(UnsafeRawBufferPointer(rebasing: raw[start..<end]), &out)
                case .oversize: disposition = answer(nil, &out)
                }
                out.endLine()
                if disposition.rawValue > worst.rawValue { worst = disposition }
            }
        }
        return VerifiedChunk(output: out.bytes, worst: worst)
    }
}

struct VerifiedChunk: Sendable {
    let output: [UInt8]
    let worst: VerificationOutcome.Disposition
}

/// Writes chunks in sequence order as they complete, from a serial queue.
final class OrderedWriter: @unchecked Sendable {
    // Mutable state is touched only on `queue`.
    private let queue = DispatchQueue(label: "mie-verifier.jsonl.writer")
    private let output: Int32
    private var pending: [Int: (VerifiedChunk, @Sendable () -> Void)] = [:]
    private var next = 0
    private var failure: (any Error)?
    private(set) var worst = VerificationOutcome.Disposition.verified

    init(output: Int32) {
        self.output = output
    }

    func deliver(_ index: Int, _ chunk: VerifiedChunk, written: @escaping @Sendable () -> Void) {
        queue.async {
            self.pending[index] = (chunk, written)
            while case let (ready, done)? = self.pending.removeValue(forKey: self.next) {
                if self.failure == nil {
                    do {
                        try FileDescriptorIO.writeAll(self.output, ready.output)
                    } catch {
                        self.failure = error
                    }
                }
                if ready.worst.rawValue > self.worst.rawValue { self.worst = ready.worst }
                self.next += 1
                done()
            }
        }
    }

    /// Waits for the queue to drain; throws the first write failure.
    func finish() throws {
        let failure = queue.sync { self.failure }
        if let failure { throw failure }
    }
}

/// One chunk of input lines: their bytes side by side and where each line lies.
struct LineChunk: Sendable {
    enum Line: Sendable {
        case request(start: Int, end: Int)
        /// A line longer than the request limit, already skipped.
        case oversize
    }

    var bytes: [UInt8] = []
    var lines: [Line] = []
}

/// Splits a file descriptor into lines in linear time: one buffer, each byte scanned once,
/// a partial line moved to the front at most once per read. Blank lines (only spaces, tabs,
/// carriage returns) are dropped.
struct LineSplitter {
    let input: Int32
    let maximumLineLength: Int
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var finished = false
    /// Skipping the rest of an over-long line.
    private var discarding = false

    init(input: Int32, maximumLineLength: Int, bufferSize: Int) {
        self.input = input
        self.maximumLineLength = maximumLineLength
        self.buffer = [UInt8](repeating: 0, count: max(bufferSize, maximumLineLength + 2))
    }

    /// The lines available after at most one read, or nil at the end of input.
    mutating func nextChunk(maximumLines: Int) throws -> LineChunk? {
        var chunk = LineChunk()
        while chunk.lines.isEmpty {
            if start == end || !hasCompleteLine() {
                if finished {
                    return try finalLine(into: &chunk) ? chunk : nil
                }
                try fill()
                if !hasCompleteLine() && !finished && end - start <= maximumLineLength { continue }
            }
            collect(into: &chunk, maximumLines: maximumLines)
        }
        return chunk
    }

    private func hasCompleteLine() -> Bool {
        newline(after: start) != nil
    }

    /// Index of the first newline in `from..<end`, found with memchr.
    private func newline(after from: Int) -> Int? {
        guard from < end else { return nil }
        return buffer.withUnsafeBytes { raw -> Int? in
            guard let base = raw.baseAddress, let found = memchr(base + from, 0x0A, end - from) else { return nil }
            return UnsafeRawPointer(found) - base
        }
    }

    /// Moves lines from the buffer into `chunk`.
    private mutating func collect(into chunk: inout LineChunk, maximumLines: Int) {
        while chunk.lines.count < maximumLines {
            guard let newline = newline(after: start) else {
                // No complete line left: an over-long partial line is dropped and remembered.
                if end - start > maximumLineLength {
                    if !discarding { chunk.lines.append(.oversize) }
                    discarding = true
                    start = end
                }
                return
            }
            if discarding {
                discarding = false
            } else if newline - start > maximumLineLength {
                chunk.lines.append(.oversize)
            } else if !Self.isBlank(buffer[start..<newline]) {
                let offset = chunk.bytes.count
                chunk.bytes.append(contentsOf: buffer[start..<newline])
                chunk.lines.append(.request(start: offset, end: chunk.bytes.count))
            }
            start = newline + 1
        }
    }

    /// The last line when the input does not end with a newline.
    private mutating func finalLine(into chunk: inout LineChunk) throws -> Bool {
        defer { start = end }
        if discarding {
            discarding = false
            return false
        }
        guard start < end else { return false }
        if end - start > maximumLineLength {
            chunk.lines.append(.oversize)
        } else if !Self.isBlank(buffer[start..<end]) {
            chunk.bytes.append(contentsOf: buffer[start..<end])
            chunk.lines.append(.request(start: 0, end: chunk.bytes.count))
        } else {
            return false
        }
        return true
    }

    /// Reads more input after moving the unread part to the front.
    private mutating func fill() throws {
        if start > 0 {
            let count = end - start
            if count > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    guard let base = raw.baseAddress else { return }
                    _ = memmove(base, base + start, count)
                }
            }
            start = 0
            end = count
        }
        if end == buffer.count {
            // A full buffer without a newline: only possible while discarding a long line.
            start = 0
            end = 0
        }
        let count = try FileDescriptorIO.read(input, into: &buffer, at: end)
        if count == 0 { finished = true } else { end += count }
    }

    static func isBlank(_ line: ArraySlice<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }
}
