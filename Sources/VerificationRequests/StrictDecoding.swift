/// Coding keys for any member name, to list what a JSON object holds.
struct AnyCodingKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    /// Refuses members outside `allowed`, so a misspelt option never silently relaxes a check.
    func rejectUnknownKeys(_ allowed: Set<String>, in object: String) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        let unknown = container.allKeys.map(\.stringValue).filter { !allowed.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw RequestError("\(object) has unknown member(s): \(unknown.joined(separator: ", "))")
        }
    }
}

/// A request that cannot be acted on (exit status 2, HTTP 400).
struct RequestError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
