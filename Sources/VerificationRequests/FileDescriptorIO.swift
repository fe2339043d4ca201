import Foundation

/// Reads and writes on file descriptors with POSIX calls: bounded, retried on EINTR, and
/// failing with the system's message.
package enum FileDescriptorIO {
    package struct Failure: Error, CustomStringConvertible {
        package let description: String
    }

    package static func open(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// A file opened for writing, created or truncated (mode 0644 before the umask).
    package static func create(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// One read into `buffer` from `offset`; 0 at the end of input.
    package static func read(_ fd: Int32, into buffer: inout [UInt8], at offset: Int) throws -> Int {
        let room = buffer.count - offset
        guard room > 0 else { return 0 }
        while true {
            let count = buffer.withUnsafeMutableBytes { raw in raw.baseAddress.map { Glibc.read(fd, $0 + offset, room) } ?? 0 }
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw Failure(description: "read failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads at most `limit + 1` bytes: enough to know whether the input is over `limit`
    /// without reading (or holding) the rest of it.
    package static func readBounded(_ fd: Int32, limit: Int) throws -> (bytes: [UInt8], oversize: Bool) {
        var buffer = [UInt8](repeating: 0, count: min(limit + 1, 64 * 1024))
        var count = 0
        while true {
            if count == buffer.count {
                guard buffer.count < limit + 1 else { break }
                buffer += [UInt8](repeating: 0, count: min(buffer.count, limit + 1 - buffer.count))
            }
            let n = try read(fd, into: &buffer, at: count)
            if n == 0 { break }
            count += n
        }
        buffer.removeSubrange(count...)
        return (buffer, count > limit)
    }

    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw in raw.baseAddress.map { Glibc.write(fd, $0 + written, bytes.count - written) } ?? 0 }
            if n > 0 {
                written += n
            } else if n < 0, errno == EINTR {
                continue
            } else {
                throw Failure(description: "write failed: \(String(cString: strerror(errno)))")
            }
        }
    }
}
