import Foundation
import Logging
import WireFormat

/// Structured logs: one JSON object per line on standard error (`serve --log-format json`),
/// for collectors that parse them: `at`, `level`, `logger`, `message`, then the metadata.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var w = JSONWriter(capacity: 256)
        w.object { w in
            w.key("at")
            w.string(Date().formatted(.iso8601))
            w.key("level")
            w.string(event.level.rawValue)
            w.key("logger")
            w.string(label)
            w.key("message")
            w.string(event.message.description)
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
                w.key(key)
                w.string(value.description)
            }
        }
        w.endLine()
        FileHandle.standardError.write(Data(w.bytes))
    }
}
