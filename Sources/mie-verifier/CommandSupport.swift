import ArgumentParser
import Foundation
import Logging
import PostgresStorage
import Storage
import VerificationRequests
import WireFormat

/// A usage or environment problem: printed on standard error, exit status 2.
struct CLIFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Runs a command body, turning CLI failures into a message and exit status 2.
func runReporting(_ body: () throws -> Void) throws {
    signal(SIGPIPE, SIG_IGN)
    do {
        try body()
    } catch let failure as CLIFailure {
        printError(failure.description)
        throw ExitCode(2)
    } catch let failure as FileDescriptorIO.Failure {
        printError(failure.description)
        throw ExitCode(2)
    } catch let failure as StoreError {
        printError(failure.description)
        throw ExitCode(2)
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("mie-verifier: \(message)\n".utf8))
}

func printJSON(_ value: JSONValue) {
    var writer = JSONWriter()
    value.write(to: &writer)
    FileHandle.standardOutput.write(Data(writer.bytes + [0x0A]))
}

enum Files {
    /// A whole file, refused (exit 2) when larger than `limit`.
    static func read(_ path: String, limit: Int, what: String) throws -> [UInt8] {
        let fd = path == "-" ? STDIN_FILENO : try FileDescriptorIO.open(path)
        defer { if fd != STDIN_FILENO { close(fd) } }
        let (bytes, oversize) = try FileDescriptorIO.readBounded(fd, limit: limit)
        guard !oversize else { throw CLIFailure("\(path): \(what) is larger than \(limit) bytes") }
        return bytes
    }
}

enum Times {
    /// An RFC 3339 time from the command line, or nil when not given.
    static func parse(_ text: String?) throws -> Date? {
        guard let text else { return nil }
        guard let seconds = RFC3339.secondsSince1970(text) else { throw CLIFailure("--at \(text) is not an RFC 3339 time") }
        return Date(timeIntervalSince1970: seconds)
    }
}

/// The database a command names: a SQLite file, or a `postgres://` URL whose password comes
/// from `MIE_POSTGRES_PASSWORD_FILE` or `MIE_POSTGRES_PASSWORD`; migrated like the service's.
func openDatabase(_ text: String) throws(StoreError) -> any SQLDatabase {
    var logger = Logger(label: "mie-verifier")
    logger.logLevel = .warning
    return try DatabaseLocation.parse(text).open(logger: logger)
}
