import SwiftASN1

/// Reading the DER inside certificate extensions with swift-asn1. Every failure becomes the
/// caller's `VerificationFailure`; nothing here trusts a length or a tag.
struct DERNode {
    let node: ASN1Node

    static func parse(_ bytes: some Collection<UInt8>, _ failure: VerificationFailure) throws(VerificationFailure) -> DERNode {
        do {
            return DERNode(node: try DER.parse(Array(bytes)))
        } catch {
            throw failure
        }
    }

    var identifier: ASN1Identifier { node.identifier }

    var children: [DERNode] {
        if case .constructed(let nodes) = node.content { return nodes.map(DERNode.init) }
        return []
    }

    var isConstructed: Bool {
        if case .constructed = node.content { return true }
        return false
    }

    var primitive: ArraySlice<UInt8>? {
        if case .primitive(let bytes) = node.content { return bytes }
        return nil
    }

    func isContextTag(_ number: UInt) -> Bool {
        identifier.tagClass == .contextSpecific && identifier.tagNumber == number
    }

    var octetString: [UInt8]? {
        guard identifier == .octetString, let bytes = primitive else { return nil }
        return Array(bytes)
    }

    /// An INTEGER or ENUMERATED that fits in Int.
    var integer: Int? {
        guard identifier == .integer || identifier == .enumerated else { return nil }
        return try? Int(derEncoded: node, withIdentifier: identifier)
    }

    var objectIdentifier: String? {
        guard identifier == .objectIdentifier else { return nil }
        return (try? ASN1ObjectIdentifier(derEncoded: node)).map { $0.description }
    }

    /// UTF8String, PrintableString or IA5String contents.
    var string: String? {
        guard let bytes = primitive,
            identifier == .utf8String || identifier == .printableString || identifier == .ia5String
        else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
