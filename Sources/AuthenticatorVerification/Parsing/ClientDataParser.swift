import WireFormat

/// Reads clientDataJSON (WebAuthn L3 §5.8.1) with the strict JSON reader: one object of valid
/// UTF-8 JSON, duplicate member names refused at every depth (so two parsers can never read
/// different challenges), the members the ceremonies use extracted and the rest checked and
/// skipped.
enum ClientDataParser {
    static let maximumSize = 16 * 1024
    static let maximumDepth = 16

    static func parse(_ bytes: [UInt8]) throws(VerificationFailure) -> CollectedClientData {
        guard bytes.count <= maximumSize else {
            throw VerificationFailure(.malformedClientData, "clientDataJSON is larger than \(maximumSize) bytes")
        }
        var members = CollectedClientData.Members()
        do {
            try JSONReader.read(bytes, document: "clientDataJSON", maximumDepth: maximumDepth) { (reader: inout JSONReader) throws(JSONError) in
                try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                    switch key {
                    case "type": members.type = try reader.readString()
                    case "challenge": members.challenge = try reader.readString()
                    case "origin": members.origin = try reader.readString()
                    case "topOrigin": members.topOrigin = try reader.readString()
                    case "crossOrigin": members.crossOrigin = try reader.readBool()
                    case "tokenBinding":
                        // Level 1/2 member, gone from Level 3: checked when it is an object, as
                        // Level 2 defined it, and otherwise skipped like any unknown member.
                        guard try reader.peekKind() == .object else { return }
                        var status: String? = nil
                        try reader.readObject { (reader: inout JSONReader, key: JSONKey) throws(JSONError) in
                            if case "status" = key { status = try reader.readString() }
                        }
                        members.tokenBindingStatus = .some(status ?? "")
                    default:
                        return
                    }
                }
            }
        } catch {
            let message = error.message.hasPrefix("clientDataJSON") ? error.message : "clientDataJSON: \(error.message)"
            throw VerificationFailure(.malformedClientData, message)
        }
        return try CollectedClientData(members)
    }
}
