import Dispatch
import Foundation
import VerificationRequests

/// Verifies JSON lines in batches on every core and writes results in input order.
struct BulkVerifier {
    let service: VerificationService
    let ceremony: Ceremony
    /// Lines verified together; bounds memory whatever the input size.
    static let batchSize = 2048

    func run(input: FileHandle, output: FileHandle) -> VerificationOutcome.Disposition {
        var worst = VerificationOutcome.Disposition.verified
        var reader = LineReader(handle: input, maximumLineLength: VerificationService.maximumRequestSize)
        while true {
            var lines: [Data?] = []
            while lines.count < Self.batchSize, let line = reader.next() {
                if case .some(let data) = line, data.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                lines.append(line)
            }
            if lines.isEmpty { break }
            let results = verifyAll(lines)
            var chunk = Data()
            for outcome in results {
                chunk.append(outcome.json())
                chunk.append(0x0A)
                if outcome.disposition.rawValue > worst.rawValue { worst = outcome.disposition }
            }
            output.write(chunk)
        }
        return worst
    }

    private func verifyAll(_ lines: [Data?]) -> [VerificationOutcome] {
        let box = ResultBox(count: lines.count)
        let service = self.service
        let ceremony = self.ceremony
        let now = Date()
        DispatchQueue.concurrentPerform(iterations: lines.count) { index in
            // nil marks a line longer than the request size limit.
            let outcome =
                lines[index].map { service.verify(ceremony, requestJSON: $0, now: now) }
                ?? service.verify(ceremony, requestJSON: Data(count: VerificationService.maximumRequestSize + 1), now: now)
            box.set(index, outcome)
        }
        return box.values()
    }
}

/// Slots written once each from concurrent iterations, read after all have finished.
private final class ResultBox: @unchecked Sendable {
    private var slots: [VerificationOutcome?]
    private let lock = NSLock()

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: VerificationOutcome) {
        lock.lock()
        slots[index] = value
        lock.unlock()
    }

    func values() -> [VerificationOutcome] { slots.compactMap { $0 } }
}

/// Splits a file into lines without reading it all; an over-long line is returned as nil and
/// skipped to its end.
struct LineReader {
    let handle: FileHandle
    let maximumLineLength: Int
    private var buffer = Data()
    private var finished = false

    init(handle: FileHandle, maximumLineLength: Int) {
        self.handle = handle
        self.maximumLineLength = maximumLineLength
    }

    /// The next line (without its newline): `.some(nil)` for an over-long line, nil at the end.
    mutating func next() -> Data?? {
        var overlong = false
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<newline]
                buffer = Data(buffer[(newline + 1)...])
                return overlong || line.count > maximumLineLength ? .some(nil) : .some(Data(line))
            }
            if buffer.count > maximumLineLength {
                overlong = true
                buffer.removeAll(keepingCapacity: true)
            }
            if finished {
                if buffer.isEmpty && !overlong { return nil }
                let line = buffer
                buffer = Data()
                return overlong ? .some(nil) : .some(line)
            }
            let chunk = handle.readData(ofLength: 1 << 16)
            if chunk.isEmpty { finished = true } else { buffer.append(chunk) }
        }
    }
}
