/// An error every layer reports the same way: a stable dotted code (documented in
/// docs/failure-codes.md, tested against each layer's list) and a message for people. Each
/// layer's error keeps its own typed code; this is how the edges (the CLI, the API, logs) read
/// any of them.
public protocol CodedError: Error, CustomStringConvertible {
    var stableCode: String { get }
    var message: String { get }
}

extension CodedError {
    public var description: String { "\(stableCode): \(message)" }
}
