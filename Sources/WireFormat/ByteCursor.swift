/// Why a binary structure could not be read: which structure, what was missing, at which byte.
public struct ByteReadError: Error, Sendable, Equatable, CustomStringConvertible {
    public let structure: String
    public let message: String
    public let offset: Int

    public init(structure: String, message: String, offset: Int) {
        self.structure = structure
        self.message = message
        self.offset = offset
    }

    public var description: String { "\(structure): \(message) at byte \(offset)" }
}

/// Reads a binary structure front to back (authenticatorData, TPM structures, card files,
/// APDUs, DER). Every read returns exactly what was asked or throws with the offset where the
/// structure ended too early; `expectEnd()` refuses trailing bytes. No magic offsets.
///
/// Each layer gives the cursor its own error type once, at construction (`failure`), so a
/// short read surfaces as a `VerificationFailure`, a `CardError`, … without a catch per read.
public struct ByteCursor<Failure: Error>: Sendable {
    public let bytes: ArraySlice<UInt8>
    @usableFromInline var position: Int
    /// Index in `bytes` of the next unread byte.
    @inlinable public var index: Int { position }
    public let structure: String
    @usableFromInline let failure: @Sendable (ByteReadError) -> Failure

    public init(_ bytes: ArraySlice<UInt8>, structure: String, failure: @escaping @Sendable (ByteReadError) -> Failure) {
        self.bytes = bytes
        self.position = bytes.startIndex
        self.structure = structure
        self.failure = failure
    }

    public init(_ bytes: [UInt8], structure: String, failure: @escaping @Sendable (ByteReadError) -> Failure) {
        self.init(bytes[...], structure: structure, failure: failure)
    }

    /// Bytes read so far.
    @inlinable public var offset: Int { index - bytes.startIndex }
    @inlinable public var remaining: Int { bytes.endIndex - index }
    @inlinable public var isAtEnd: Bool { index == bytes.endIndex }
    @inlinable public var rest: ArraySlice<UInt8> { bytes[index...] }

    /// The layer's error for `message` at the current offset.
    @inlinable public func error(_ message: String) -> Failure {
        failure(ByteReadError(structure: structure, message: message, offset: offset))
    }

    @inlinable
    public mutating func read(_ count: Int, _ what: String) throws(Failure) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else {
            throw error("\(what) needs \(count) bytes, \(remaining) left")
        }
        defer { position += count }
        return bytes[index..<(index + count)]
    }

    @inlinable
    public mutating func readUInt8(_ what: String) throws(Failure) -> UInt8 {
        guard remaining >= 1 else { throw error("\(what) needs 1 byte, none left") }
        defer { position += 1 }
        return bytes[index]
    }

    @inlinable
    public mutating func readUInt16(_ what: String) throws(Failure) -> UInt16 {
        let b = try read(2, what)
        return UInt16(b[b.startIndex]) << 8 | UInt16(b[b.startIndex + 1])
    }

    @inlinable
    public mutating func readUInt32(_ what: String) throws(Failure) -> UInt32 {
        let b = try read(4, what)
        return b.reduce(0) { $0 << 8 | UInt32($1) }
    }

    @inlinable
    public mutating func readUInt64(_ what: String) throws(Failure) -> UInt64 {
        let b = try read(8, what)
        return b.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A big-endian 16-bit size, then that many bytes (TPM2B_* fields).
    @inlinable
    public mutating func readSized16(_ what: String) throws(Failure) -> ArraySlice<UInt8> {
        let count = try readUInt16("\(what) size")
        return try read(Int(count), what)
    }

    /// The next byte without consuming it.
    @inlinable public func peek() -> UInt8? {
        isAtEnd ? nil : bytes[index]
    }

    @inlinable
    public mutating func skip(to newIndex: Int) throws(Failure) {
        guard newIndex >= index, newIndex <= bytes.endIndex else { throw error("bad position") }
        position = newIndex
    }

    @inlinable
    public mutating func readRest() -> ArraySlice<UInt8> {
        defer { position = bytes.endIndex }
        return bytes[index...]
    }

    @inlinable
    public func expectEnd() throws(Failure) {
        guard remaining == 0 else { throw error("\(remaining) unexpected trailing bytes") }
    }
}

extension ByteCursor where Failure == ByteReadError {
    /// A cursor that throws `ByteReadError` itself.
    public init(_ bytes: ArraySlice<UInt8>, structure: String) {
        self.init(bytes, structure: structure, failure: { $0 })
    }

    public init(_ bytes: [UInt8], structure: String) {
        self.init(bytes[...], structure: structure, failure: { $0 })
    }
}
