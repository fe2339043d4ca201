@_spi(Internals) import AuthenticatorVerification
import AuthenticatorCatalog
import Foundation
import SignatureVerification
import Storage
import Testing
import WireFormat

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Where the test data lives: the project's own (TestVectors/referencing, generated) and the
/// shared public corpus, read in place (MIE_EXTERNAL_VECTORS or the sibling ../shared).
enum TestData {
    static let referencing = packageRoot.appendingPathComponent("TestVectors/referencing")

    static let external: URL? = {
        if let path = ProcessInfo.processInfo.environment["MIE_EXTERNAL_VECTORS"], !path.isEmpty {
            return URL(fileURLWithPath: path, relativeTo: packageRoot).standardizedFileURL
        }
        let sibling = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors/external")
        return FileManager.default.fileExists(atPath: sibling.path) ? sibling : nil
    }()

    static var mds3: URL? { external?.appendingPathComponent("mds3") }

    static func bytes(_ url: URL) throws -> [UInt8] {
        Array(try Data(contentsOf: url))
    }

    static func demo(_ name: String) throws -> [UInt8] { try bytes(referencing.appendingPathComponent(name)) }

    static func mds(_ name: String) throws -> [UInt8] {
        let folder = try #require(mds3, "the external corpus (MIE_EXTERNAL_VECTORS) is needed")
        return try bytes(folder.appendingPathComponent(name))
    }

    static func certificates(_ bytes: [UInt8]) throws -> [Certificate] { try Certificate.load(file: bytes) }

    /// The demo MDS root and ANS key, as an operator configures them.
    static func demoTrust() throws -> ReferencingTrust {
        let pem = String(decoding: try demo("demo-ans-key.pem"), as: UTF8.self)
        let der = try #require(PEM.blocks(pem, label: "PUBLIC KEY")?.first)
        return ReferencingTrust(
            mdsRoots: try certificates(try demo("demo-mds-root.pem")), ansKeys: [try PublicKey.subjectPublicKeyInfo(der)])
    }

    static func productionTrust() throws -> ReferencingTrust {
        ReferencingTrust(mdsRoots: try certificates(try mds("globalsign-root-r3.crt")))
    }

    static func date(_ text: String) -> Date {
        Date(timeIntervalSince1970: RFC3339.secondsSince1970(text) ?? 0)
    }

    /// The 2021 production BLOB's window (before its nextUpdate and its certificates' expiry).
    static let productionTime = date("2021-11-15T00:00:00Z")
    /// A time inside the demo lists' validity.
    static let demoTime = date("2026-11-29T00:00:00Z")

    /// The demo lists verified at the demo time, as a catalog.
    static func demoLists(mdsNumber: Int = 1, ansNumber: Int = 1) throws -> [(version: ListVersion, list: VerifiedList)] {
        let trust = try demoTrust()
        let blob = try demo("demo-mds-blob-no\(mdsNumber).jwt")
        let ansName = ansNumber == 1 ? "demo-ans-list.json" : "demo-ans-list-no\(ansNumber).json"
        let ans = try demo(ansName)
        let mdsList = try VerifiedList.verify(blob, signature: nil, trust: trust, at: demoTime)
        let ansList = try VerifiedList.verify(ans, signature: try demo(ansName + ".jws"), trust: trust, at: demoTime)
        return [(mdsList.version(document: blob), mdsList), (ansList.version(document: ans), ansList)]
    }

    /// A fresh database file in a temporary directory.
    static func temporaryDatabase() throws -> (ReferencingStore, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mie-referencing-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("mie.sqlite")
        return (try ReferencingStore(path: path.path), path)
    }
}

/// One registration vector of a JSON-lines corpus (the external corpus's schema, which the
/// project's generated vectors share), as the core's inputs.
struct RegistrationVector {
    let id: String
    let response: RegistrationResponse
    let expectation: CeremonyExpectation
    let time: Date?

    static func load(_ file: URL, id: String) throws -> RegistrationVector {
        let text = try String(contentsOf: file, encoding: .utf8)
        for line in text.split(separator: "\n") {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard object["id"] as? String == id else { continue }
            func bytes(_ key: String) throws -> [UInt8] {
                let text = try #require(object[key] as? String, "\(key) is present")
                return try #require(Base64URL.decode(Array(text.utf8)), "\(key) is base64url")
            }
            let origin = try #require(object["origin"] as? String)
            let expectation = CeremonyExpectation(
                challenge: try bytes("challenge_b64url"), origins: [origin], rpID: try #require(object["rp_id"] as? String),
                userVerification: .discouraged)
            let response = RegistrationResponse(
                rawID: try bytes("credential_id_b64url"), clientDataJSON: try bytes("client_data_json_b64url"),
                attestationObject: try bytes("attestation_object_b64url"))
            return RegistrationVector(
                id: id, response: response, expectation: expectation, time: (object["verification_time"] as? String).map(TestData.date))
        }
        throw VectorMissing(id: id)
    }

    struct VectorMissing: Error {
        let id: String
    }

    /// A vector of the external corpus, by folder and id.
    static func external(_ folder: String, _ id: String) throws -> RegistrationVector {
        let root = try #require(TestData.external, "the external corpus (MIE_EXTERNAL_VECTORS) is needed")
        return try load(root.appendingPathComponent(folder).appendingPathComponent("vectors.jsonl"), id: id)
    }

    /// A vector of the project's software authenticator (TestVectors/generated).
    static func generated(_ id: String) throws -> RegistrationVector {
        try load(packageRoot.appendingPathComponent("TestVectors/generated/vectors.jsonl"), id: id)
    }

    func verify(trust: any AttestationTrustSource, at time: Date? = nil, policy: VerificationPolicy = .strict) throws -> VerifiedRegistration {
        var policy = policy
        policy.attestation = .any
        return try RegistrationVerifier.verify(
            response, expecting: expectation, policy: policy, trust: trust, at: time ?? self.time ?? TestData.demoTime)
    }
}
