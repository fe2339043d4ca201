/// Reads a binary structure front to back. Every read either returns exactly what was asked
/// or throws with the offset where the structure ended too early.
struct ByteCursor {
    let bytes: ArraySlice<UInt8>
    private(set) var index: Int
    let failure: FailureCode
    let structure: String

    init(_ bytes: ArraySlice<UInt8>, structure: String, failure: FailureCode) {
        self.bytes = bytes
        self.index = bytes.startIndex
        self.failure = failure
        self.structure = structure
    }

    var offset: Int { index - bytes.startIndex }
    var remaining: Int { bytes.endIndex - index }
    var rest: ArraySlice<UInt8> { bytes[index...] }

    func error(_ what: String) -> VerificationFailure {
        VerificationFailure(failure, "\(structure): \(what) at byte \(offset)")
    }

    mutating func read(_ count: Int, _ what: String) throws(VerificationFailure) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw error("\(what) needs \(count) bytes, \(remaining) left")
        }
        defer { index += count }
        return bytes[index..<(index + count)]
    }

    mutating func readUInt8(_ what: String) throws(VerificationFailure) -> UInt8 {
        let byte = try read(1, what)
        return byte[byte.startIndex]
    }

    mutating func readUInt16(_ what: String) throws(VerificationFailure) -> UInt16 {
        let b = try read(2, what)
        return UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1])
    }

    mutating func readUInt32(_ what: String) throws(VerificationFailure) -> UInt32 {
        let b = try read(4, what)
        return b.reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func skip(to newIndex: Int) throws(VerificationFailure) {
        guard newIndex >= index, newIndex <= bytes.endIndex else { throw error("bad position") }
        index = newIndex
    }

    func expectEnd() throws(VerificationFailure) {
        guard remaining == 0 else { throw error("\(remaining) unexpected trailing bytes") }
    }
}
