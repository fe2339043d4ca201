import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import WireFormat

/// The end of the audit trail at one moment: its last sequence number and hash. Signed by the
/// service's audit key and shipped elsewhere (WORM storage, another system), it makes cutting
/// or rewriting the trail up to it detectable by whoever holds the copy, even by someone who
/// can write the database and re-chain it.
package struct AuditHead: Sendable, Equatable {
    package let seq: Int64
    package let hash: [UInt8]
    /// When the head was taken.
    package let at: String

    package init(seq: Int64, hash: [UInt8], at: String) {
        self.seq = seq
        self.hash = hash
        self.at = at
    }

    static let format = "mie-verifier-audit-head/1"

    /// What the signature covers.
    var signedBytes: [UInt8] { Array("\(Self.format)\n\(seq)\n\(Hex.string(hash))\n\(at)".utf8) }
}

/// A head with its Ed25519 signature, as one JSON line.
package struct SignedAuditHead: Sendable, Equatable {
    package let head: AuditHead
    package let publicKey: [UInt8]
    package let signature: [UInt8]

    package var json: String {
        let value = JSONValue.object([
            ("format", .string(AuditHead.format)), ("seq", .integer(head.seq)), ("hash", .string(Hex.string(head.hash))), ("at", .string(head.at)),
            ("key", .string(Base64URL.encode(publicKey))), ("signature", .string(Base64URL.encode(signature))),
        ])
        return String(decoding: value.json, as: UTF8.self)
    }

    /// Whether the signature is the key's over the head.
    package var signatureValid: Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: head.signedBytes)
    }

    package static func parse(_ bytes: [UInt8]) throws(StoreError) -> SignedAuditHead {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes, document: "the audit head")
        } catch {
            throw StoreError(.auditHeadMalformed, error.message)
        }
        guard value["format"]?.string == AuditHead.format, let seq = value["seq"]?.integer, let hash = value["hash"]?.string.flatMap(Hex.bytes),
            hash.count == 32, let at = value["at"]?.string, let key = value["key"]?.string.flatMap(Base64URL.decode), key.count == 32,
            let signature = value["signature"]?.string.flatMap(Base64URL.decode)
        else { throw StoreError(.auditHeadMalformed, "not an audit head (\(AuditHead.format): seq, hash, at, key, signature)") }
        return SignedAuditHead(head: AuditHead(seq: seq, hash: hash, at: at), publicKey: key, signature: signature)
    }
}

/// The service's audit signing key: Ed25519, in a file of its own beside the database (mode
/// 0600), created on first use. Kept out of the database so a copy of the database signs nothing.
package struct AuditSigningKey: Sendable {
    private let key: Curve25519.Signing.PrivateKey

    package var publicKey: [UInt8] { Array(key.publicKey.rawRepresentation) }

    static let prefix = "mie-audit-key-v1 "

    /// The key in `path`, created there when the file does not exist.
    package static func loadOrCreate(path: String) throws(StoreError) -> AuditSigningKey {
        if let existing = try load(path: path) { return existing }
        // Several nodes may start at once on one key file: the key is written whole to a file of
        // its own, then linked into place, which fails if another node got there first; that
        // node's key is then the one every node reads (never two keys, never half a file).
        let key = Curve25519.Signing.PrivateKey()
        let line = prefix + Base64URL.encode(Array(key.rawRepresentation)) + "\n"
        let temporary = path + ".\(ProcessInfo.processInfo.processIdentifier).\(UInt64.random(in: 0...UInt64.max)).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(line.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw StoreError(.auditKeyWrite, "cannot write the audit key to \(path)")
        }
        defer { unlink(temporary) }
        if link(temporary, path) == 0 { return AuditSigningKey(key: key) }
        guard errno == EEXIST, let existing = try load(path: path) else { throw StoreError(.auditKeyWrite, "cannot write the audit key to \(path)") }
        return existing
    }

    /// The key in `path`, nil when there is no such file.
    static func load(path: String) throws(StoreError) -> AuditSigningKey? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix(prefix), let raw = Base64URL.decode(String(text.dropFirst(prefix.count))),
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)
        else { throw StoreError(.auditKeyMalformed, "\(path) is not an audit key (\(prefix)…)") }
        return AuditSigningKey(key: key)
    }

    /// The default place: beside the database.
    package static func defaultPath(database: String) -> String { database + ".audit-key" }

    package func sign(_ head: AuditHead) throws(StoreError) -> SignedAuditHead {
        do {
            return SignedAuditHead(head: head, publicKey: publicKey, signature: Array(try key.signature(for: head.signedBytes)))
        } catch {
            throw StoreError(.auditSign, "the head could not be signed: \(error)")
        }
    }
}
