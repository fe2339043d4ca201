import Foundation
import SignatureVerification
import Testing

/// Reads generated vectors and anchors without the WebAuthn layer.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("TestVectors/generated")

    static func base64url(_ text: String) -> [UInt8] {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Array(Data(base64Encoded: s) ?? Data())
    }

    static func anchor(_ name: String) throws -> Certificate {
        let data = try Data(contentsOf: root.appendingPathComponent("trust_anchors.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: String]])
        return try Certificate(der: base64url(try #require(object[name]?["der_b64url"])))
    }

    /// The x5c of the packed ES256 registration, read from its CBOR by locating the DER
    /// certificates (0x30 0x82 length) in the attestation object.
    static func packedChain() throws -> [Certificate] {
        let text = try String(contentsOf: root.appendingPathComponent("vectors.jsonl"), encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.contains("\"gen-reg-packed-x5c-ES256\"") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let bytes = base64url(try #require(object["attestation_object_b64url"] as? String))
        var certificates: [Certificate] = []
        var index = 0
        while index + 4 < bytes.count {
            if bytes[index] == 0x30, bytes[index + 1] == 0x82 {
                let length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
                if index + 4 + length <= bytes.count, let cert = try? Certificate(der: bytes[index..<(index + 4 + length)]) {
                    certificates.append(cert)
                    index += 4 + length
                    continue
                }
            }
            index += 1
        }
        return certificates
    }
}

@Suite struct PublicKeyTests {
    // A P-256 point: the generator G.
    let gx: [UInt8] = Array(hex: "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296")
    let gy: [UInt8] = Array(hex: "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")

    @Test func ecKeyFromCoordinates() throws {
        let key = try PublicKey.ec(curve: .p256, x: gx, y: gy)
        #expect(key.type == .ec(.p256))
        #expect(key.subjectPublicKeyInfo.count == 91)
        #expect(key.accepts(.ecdsa(.sha256)))
        #expect(!key.accepts(.eddsa))
    }

    @Test func pointOffTheCurveIsRefused() {
        var y = gy
        y[31] ^= 1
        #expect(throws: OpenSSLError.self) { try PublicKey.ec(curve: .p256, x: gx, y: y) }
    }

    @Test func coordinatesOfTheWrongLengthAreRefused() {
        #expect(throws: OpenSSLError.self) { try PublicKey.ec(curve: .p256, x: gx.dropFirst(), y: gy) }
        #expect(throws: OpenSSLError.self) { try PublicKey.ec(curve: .p384, x: gx, y: gy) }
    }

    @Test func rsaBoundsAreEnforced() {
        let small = [UInt8](repeating: 0xFF, count: 64)  // 512 bits
        #expect(throws: OpenSSLError.self) { try PublicKey.rsa(modulus: small, exponent: [0x01, 0x00, 0x01]) }
        let huge = [UInt8](repeating: 0xFF, count: 1025)  // 8200 bits
        #expect(throws: OpenSSLError.self) { try PublicKey.rsa(modulus: huge, exponent: [0x01, 0x00, 0x01]) }
        let fine = [UInt8](repeating: 0xFF, count: 256)
        #expect(throws: OpenSSLError.self) { try PublicKey.rsa(modulus: fine, exponent: [0x01, 0x00, 0x00]) }
        #expect(throws: OpenSSLError.self) { try PublicKey.rsa(modulus: fine, exponent: [0x01]) }
    }

    @Test func edwardsKeyLengths() throws {
        let rfc8032 = [UInt8](hex: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        #expect(try PublicKey.edwards(curve: .ed25519, x: rfc8032).type == .edwards(.ed25519))
        #expect(throws: OpenSSLError.self) { try PublicKey.edwards(curve: .ed25519, x: rfc8032.dropLast()) }
        #expect(throws: OpenSSLError.self) { try PublicKey.edwards(curve: .ed448, x: [UInt8](repeating: 0x11, count: 32)) }
    }

    @Test func wrongSchemeOrGarbageSignatureIsFalseNotACrash() throws {
        let key = try PublicKey.ec(curve: .p256, x: gx, y: gy)
        #expect(!key.isValidSignature([UInt8](), over: [1, 2, 3], scheme: .ecdsa(.sha256)))
        #expect(!key.isValidSignature([0x30, 0x02, 0x00], over: [1, 2, 3], scheme: .ecdsa(.sha256)))
        #expect(!key.isValidSignature([UInt8](repeating: 0, count: 64), over: [1], scheme: .rsaPSS(.sha256)))
    }

    @Test func subjectPublicKeyInfoRoundTrips() throws {
        let key = try PublicKey.ec(curve: .p256, x: gx, y: gy)
        let again = try PublicKey.subjectPublicKeyInfo(key.subjectPublicKeyInfo)
        #expect(again.subjectPublicKeyInfo == key.subjectPublicKeyInfo)
        #expect(throws: OpenSSLError.self) { try PublicKey.subjectPublicKeyInfo(key.subjectPublicKeyInfo + [0]) }
    }

    /// The generated ES256 assertion verifies through both backends, and a flipped bit through
    /// neither; the OpenSSL key of a P-256 credential is imported on that first request.
    @Test func bothBackendsAgreeOnTheGeneratedAssertion() throws {
        let text = try String(contentsOf: Fixtures.root.appendingPathComponent("vectors.jsonl"), encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.contains("\"gen-auth-ES256\"") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        func field(_ name: String) throws -> [UInt8] { Fixtures.base64url(try #require(object[name] as? String)) }
        // COSE EC2 P-256 key: a5 01 02 03 26 20 01 21 58 20 <x> 22 58 20 <y>
        let cose = try field("credential_public_key_cose_b64url")
        let key = try PublicKey.ec(curve: .p256, x: cose[10..<42], y: cose[45..<77])
        let message = try field("authenticator_data_b64url") + Digest.sha256(try field("client_data_json_b64url"))
        let signature = try field("signature_b64url")
        for backend in [SignatureBackend.fastest, .openSSL] {
            #expect(key.isValidSignature(signature, over: message, scheme: .ecdsa(.sha256), backend: backend))
            var bad = signature
            bad[bad.count - 1] ^= 1
            #expect(!key.isValidSignature(bad, over: message, scheme: .ecdsa(.sha256), backend: backend))
        }
        // Same key, another digest: only OpenSSL can do it.
        #expect(!key.isValidSignature(signature, over: message, scheme: .ecdsa(.sha384)))
    }

    @Test func digestsMatchKnownAnswers() {
        #expect(Digest.sha256([UInt8]("abc".utf8)) == Array(hex: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        #expect(Digest.hash(.sha1, [UInt8]("abc".utf8)) == Array(hex: "a9993e364706816aba3e25717850c26c9cd0d89d"))
    }
}

@Suite struct CertificateTests {
    @Test func parsesTheGeneratedChain() throws {
        let chain = try Fixtures.packedChain()
        try #require(chain.count == 2)
        let leaf = chain[0]
        #expect(leaf.version == 3)
        #expect(leaf.subject(.organizationalUnit) == ["Authenticator Attestation"])
        #expect(leaf.subject(.country) == ["FR"])
        #expect(!leaf.isCertificateAuthority)
        #expect(chain[1].isCertificateAuthority)
        let aaguid = try #require(leaf.extensionValue(oid: "1.3.6.1.4.1.45724.1.1.4"))
        #expect(!aaguid.critical && aaguid.value.count == 18)
        #expect(leaf.notBefore == Date(timeIntervalSince1970: 1_704_067_200))
        #expect(leaf.signatureAlgorithmName == "ecdsa-with-SHA256")
        #expect(!leaf.hasWeakSignatureAlgorithm)
        #expect(try leaf.publicKey().type == .ec(.p256))
    }

    @Test func trailingBytesAndGarbageAreRefused() throws {
        let leaf = try #require(try Fixtures.packedChain().first)
        #expect(throws: OpenSSLError.self) { try Certificate(der: leaf.der + [0]) }
        #expect(throws: OpenSSLError.self) { try Certificate(der: [0x30, 0x03, 0x02, 0x01, 0x01]) }
        #expect(throws: OpenSSLError.self) { try Certificate(der: [UInt8]()) }
        #expect(throws: OpenSSLError.self) { try Certificate(der: [UInt8](repeating: 0x30, count: Certificate.maximumSize + 1)) }
    }

    @Test func chainReachesItsRootAtAGivenTime() throws {
        let chain = try Fixtures.packedChain()
        let root = try Fixtures.anchor("mie-test-attestation-root")
        let now = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11
        let trusted = CertificateChainVerifier.verify(leaf: chain[0], intermediates: [chain[1]], anchors: [root], at: now)
        #expect(trusted.isTrusted)
        #expect(trusted.path.count == 3)
        // The intermediate alone is an acceptable anchor (partial chain).
        #expect(CertificateChainVerifier.verify(leaf: chain[0], intermediates: [], anchors: [chain[1]], at: now).isTrusted)
    }

    @Test func chainFailsOutsideValidityOrWithAnotherRoot() throws {
        let chain = try Fixtures.packedChain()
        let root = try Fixtures.anchor("mie-test-attestation-root")
        let other = try Fixtures.anchor("mie-unrelated-root")
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        let expired = CertificateChainVerifier.verify(
            leaf: chain[0], intermediates: [chain[1]], anchors: [root], at: Date(timeIntervalSince1970: 2_400_000_000))
        #expect(!expired.isTrusted)
        #expect(expired.failure?.contains("expired") == true)
        let early = CertificateChainVerifier.verify(
            leaf: chain[0], intermediates: [chain[1]], anchors: [root], at: Date(timeIntervalSince1970: 1_600_000_000))
        #expect(early.failure?.contains("not yet valid") == true)
        #expect(!CertificateChainVerifier.verify(leaf: chain[0], intermediates: [chain[1]], anchors: [other], at: now).isTrusted)
        #expect(!CertificateChainVerifier.verify(leaf: chain[0], intermediates: [], anchors: [root], at: now).isTrusted)
        #expect(
            CertificateChainVerifier.verify(leaf: chain[0], intermediates: [chain[1]], anchors: [], at: now).failure == "no trust anchors")
    }

    @Test func pemWithSeveralCertificates() throws {
        let chain = try Fixtures.packedChain()
        let pem = chain.map {
            "-----BEGIN CERTIFICATE-----\n" + Data($0.der).base64EncodedString(options: .lineLength64Characters)
                + "\n-----END CERTIFICATE-----\n"
        }.joined()
        let parsed = try Certificate.fromPEM(pem)
        #expect(parsed.map(\.der) == chain.map(\.der))
    }
}

@Suite struct DecodingCacheTests {
    @Test func decodesOnceAndStaysBounded() throws {
        let cache = DecodingCache<Int>(capacity: 4)
        var decodes = 0
        for round in 0..<3 {
            for n in 0..<4 {
                let value = cache.value(for: [UInt8(n)]) { bytes in
                    decodes += 1
                    return Int(bytes[0]) * 10
                }
                #expect(value == n * 10, "round \(round)")
            }
        }
        #expect(decodes == 4)
        for n in 4..<20 { _ = cache.value(for: [UInt8(n)]) { _ in 0 } }
        #expect(cache.count <= 4)
    }
}

extension Array where Element == UInt8 {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        self = bytes
    }
}

/// EdDSA keys are checked as libsodium checks them: canonical, on the curve, not of small order.
@Suite struct EdwardsKeyTests {
    /// libsodium's list of Ed25519 encodings of small order (order 1, 2, 4 and 8, and y ≥ p
    /// spellings of them), each also with the sign bit set.
    static let smallOrder25519 = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ]

    @Test(arguments: smallOrder25519)
    func smallOrderAndNonCanonicalEd25519KeysAreRefused(_ hex: String) {
        var bytes = [UInt8](hex: hex)
        #expect(throws: OpenSSLError.self) { try PublicKey.edwards(curve: .ed25519, x: bytes) }
        bytes[31] |= 0x80
        #expect(throws: OpenSSLError.self) { try PublicKey.edwards(curve: .ed25519, x: bytes) }
    }

    @Test func offCurveEd25519KeysAreRefused() {
        // y = 2 has no x on edwards25519.
        #expect(throws: OpenSSLError.self) { try PublicKey.edwards(curve: .ed25519, x: [2] + [UInt8](repeating: 0, count: 31)) }
    }

    /// RFC 8032 §7.1 TEST 1: the key is accepted and its signature of the empty message verifies.
    @Test func rfc8032KeysStillVerify() throws {
        let key = try PublicKey.edwards(curve: .ed25519, x: [UInt8](hex: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))
        let signature = [UInt8](
            hex: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        #expect(key.isValidSignature(signature, over: [UInt8](), scheme: .eddsa))
        #expect(!key.isValidSignature(signature, over: [0], scheme: .eddsa))
        for hex in [
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        ] {
            #expect(throws: Never.self) { try PublicKey.edwards(curve: .ed25519, x: [UInt8](hex: hex)) }
        }
        let ed448 =
            "5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180"
        #expect(throws: Never.self) { try PublicKey.edwards(curve: .ed448, x: [UInt8](hex: ed448)) }
    }

    /// The identity key and the fixed signature (R = identity, S = 0) that OpenSSL would accept
    /// over any message never get as far as a key.
    @Test func theIdentityForgeryIsStoppedAtTheKey() {
        let identity = [1] + [UInt8](repeating: 0, count: 31)
        #expect(throws: OpenSSLError.self) { try PublicKey.edwards(curve: .ed25519, x: identity) }
    }

    @Test func smallOrderAndNonCanonicalEd448KeysAreRefused() {
        // p = 2^448 - 2^224 - 1, little-endian.
        let p = [UInt8](repeating: 0xFF, count: 28) + [0xFE] + [UInt8](repeating: 0xFF, count: 27)
        var pMinusOne = p
        pMinusOne[0] = 0xFE
        let cases: [[UInt8]] = [
            [1] + [UInt8](repeating: 0, count: 56),  // identity
            [UInt8](repeating: 0, count: 57),  // order 4
            pMinusOne + [0],  // order 2
            Array(p) + [0],  // y = p
            [5] + [UInt8](repeating: 0, count: 55) + [0x01],  // stray low bits in the last byte
            [2] + [UInt8](repeating: 0, count: 56),  // off the curve
        ]
        for bytes in cases {
            #expect(throws: OpenSSLError.self) { try PublicKey.edwards(curve: .ed448, x: bytes) }
        }
    }
}

/// Certificates and CRLs are DER or nothing.
@Suite struct StrictDERTests {
    static func berVariants(_ der: [UInt8]) -> [String: [UInt8]] {
        // Outer SEQUENCE 30 82 LL LL.
        let content = Array(der[4...])
        var boolean = der
        if let at = (0..<(der.count - 2)).first(where: { der[$0] == 0x01 && der[$0 + 1] == 0x01 && der[$0 + 2] == 0xFF }) {
            boolean[at + 2] = 0x01
        }
        return [
            "indefinite outer length": [0x30, 0x80] + content + [0x00, 0x00],
            "non-minimal outer length": [0x30, 0x83, 0x00, der[2], der[3]] + content,
            "BOOLEAN 01 for true": boolean,
        ]
    }

    @Test func berCertificatesAreRefused() throws {
        let root = try Fixtures.anchor("mie-test-attestation-root")
        for (name, bytes) in Self.berVariants(root.der) {
            #expect(bytes != root.der, "\(name)")
            #expect(throws: OpenSSLError.self, "\(name)") { try Certificate(der: bytes) }
        }
        #expect(throws: Never.self) { try Certificate(der: root.der) }
    }

    @Test func berCRLsAreRefused() throws {
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("crls.json"))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        let text = try #require(object.values.compactMap { $0["der_b64url"] as? String }.first)
        let der = Fixtures.base64url(text)
        #expect(throws: Never.self) { try CertificateRevocationList(der: der) }
        for (name, bytes) in Self.berVariants(der) where name != "BOOLEAN 01 for true" {
            #expect(throws: OpenSSLError.self, "\(name)") { try CertificateRevocationList(der: bytes) }
        }
    }

    /// RFC 5280 §4.2.1.2 method 1: SHA-1 over the subjectPublicKey bits.
    @Test func publicKeyIdentifierIsTheSHA1OfTheKeyBits() throws {
        let root = try Fixtures.anchor("mie-test-attestation-root")
        let spki = try root.publicKey().subjectPublicKeyInfo
        // P-256 SPKI: 26-byte prefix ending with BIT STRING 03 42 00, then the 65-byte point.
        #expect(root.publicKeyIdentifier == Digest.hash(.sha1, Array(spki.suffix(65))))
    }
}

/// The weak-algorithm report reads the signature's digest, not its name.
@Suite struct WeakSignatureAlgorithmTests {
    static func certificate(_ name: String) throws -> Certificate {
        let url = Fixtures.root.deletingLastPathComponent().appendingPathComponent("certificates/\(name)")
        return try #require(try Certificate.load(file: Array(try Data(contentsOf: url))).first)
    }

    @Test func sha1IsWeakAndTheOthersAreNot() throws {
        #expect(try Self.certificate("sha1-rsa.pem").hasWeakSignatureAlgorithm)
        #expect(try !Self.certificate("sha256-ecdsa.pem").hasWeakSignatureAlgorithm)
        // Ed25519 has no separate digest: not weak.
        #expect(try !Self.certificate("ed25519.pem").hasWeakSignatureAlgorithm)
        #expect(try Self.certificate("sha1-rsa.pem").signatureAlgorithmName == "sha1WithRSAEncryption")
    }
}
