import Testing

@testable import AuthenticatorVerification

@Suite struct ClientDataParsingTests {
    func parse(_ text: String) throws(VerificationFailure) -> CollectedClientData {
        try CollectedClientData.parse(Array(text.utf8))
    }

    @Test func readsTheMembersAndToleratesUnknownOnes() throws {
        let data = try parse(
            #"""
            { "type" : "webauthn.get", "challenge":"YWJj", "origin":"https://a.example", "crossOrigin":true,
              "topOrigin":"https://top.example", "x":[1,-2.5e+3,{"y":null},false,"\u00e9\ud83d\ude00\n"], "z":{} }
            """#)
        #expect(data.type == "webauthn.get")
        #expect(data.challenge == "YWJj")
        #expect(data.origin == "https://a.example")
        #expect(data.crossOrigin)
        #expect(data.topOrigin == "https://top.example")
    }

    @Test func decodesEscapesInMembers() throws {
        let data = try parse(#"{"type":"webauthn.\u0067et","challenge":"a\/b","origin":"\u00e9"}"#)
        #expect(data.type == "webauthn.get")
        #expect(data.challenge == "a/b")
        #expect(data.origin == "é")
    }

    @Test(arguments: [
        "", "{", "[]", "null", #"{"type":"webauthn.get","challenge":"a","origin":"o"} x"#,
        #"{"type":"webauthn.get","challenge":"a","origin":"o","type":"webauthn.create"}"#,
        #"{"type":1,"challenge":"a","origin":"o"}"#, #"{"type":"t","challenge":"a"}"#,
        #"{"type":"t","challenge":"a","origin":"o","crossOrigin":"true"}"#,
        #"{"type":"t","challenge":"a","origin":"o",}"#, #"{"type":"t","challenge":"a","origin":"o\u12"}"#,
        #"{"type":"t","challenge":"a","origin":"\ud800"}"#, "{\"type\":\"t\",\"challenge\":\"a\",\"origin\":\"o\u{01}\"}",
        #"{"type":"t","challenge":"a","origin":"o","n":01}"#, #"{"type":"t","challenge":"a","origin":"o","n":1.}"#,
        #"{"type":"t","challenge":"a","origin":"o","n":tru}"#,
        #"{"type":"t","challenge":"a","origin":"o","tokenBinding":{"status":"maybe"}}"#,
        #"{"type":"t","challenge":"a","origin":"o","x":"#.appending(String(repeating: "[", count: 20)),
    ])
    func rejectsMalformedJSON(_ text: String) {
        #expect(throws: VerificationFailure.self) { try parse(text) }
        do { _ = try parse(text) } catch { #expect(error.code == .malformedClientData) }
    }

    @Test func invalidUTF8IsRefused() {
        let bytes: [UInt8] = Array(#"{"type":"t","challenge":"a","origin":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: VerificationFailure.self) { try CollectedClientData.parse(bytes) }
    }

    @Test func oversizeIsRefusedBeforeParsing() {
        let big = "{\"type\":\"" + String(repeating: "a", count: 20_000) + "\"}"
        #expect(throws: VerificationFailure.self) { try parse(big) }
    }
}

@Suite struct Base64URLTests {
    @Test func roundTrips() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
    }

    @Test func refusesOtherAlphabetsAndNonCanonicalForms() {
        #expect(Base64URL.decode("+/8") == nil)
        #expect(Base64URL.decode("a") == nil)
        #expect(Base64URL.decode("-_9") == nil)  // unused bits set
        #expect(Base64URL.decode("YWJj") == Array("abc".utf8))
        #expect(Base64URL.decode("YWI=") == Array("ab".utf8))
        #expect(Base64URL.decode("YW Jj") == nil)
    }
}

@Suite struct OriginMatcherTests {
    @Test func exactEntriesMatchExactly() {
        let matcher = OriginMatcher(entries: ["https://rp.example", "android:apk-key-hash:abc123"])
        #expect(matcher.accepts("https://rp.example"))
        #expect(matcher.accepts("android:apk-key-hash:abc123"))
        #expect(!matcher.accepts("https://rp.example:443"))
        #expect(!matcher.accepts("http://rp.example"))
        #expect(!matcher.accepts("https://sub.rp.example"))
        #expect(!matcher.accepts("https://rp.example.evil"))
    }

    @Test func wildcardIsAnExplicitSubdomainOptIn() {
        let matcher = OriginMatcher(entries: ["https://*.rp.example"])
        #expect(matcher.accepts("https://a.rp.example"))
        #expect(matcher.accepts("https://a.b.rp.example"))
        #expect(!matcher.accepts("https://rp.example"))
        #expect(!matcher.accepts("https://a.rp.example:8443"))
        #expect(!matcher.accepts("https://evilrp.example"))
        #expect(!matcher.accepts("http://a.rp.example"))
        #expect(!matcher.accepts("https://a/b.rp.example"))
    }
}

@Suite struct AuthenticatorDataTests {
    @Test func parsesFlagsAndCounter() throws {
        var bytes = [UInt8](repeating: 0xAB, count: 32)
        bytes += [0x1D, 0x00, 0x00, 0x01, 0x02]
        let data = try AuthenticatorData.parse(bytes)
        #expect(data.flags.userPresent && data.flags.userVerified && data.flags.backupEligible && data.flags.backupState)
        #expect(!data.flags.attestedCredentialData && !data.flags.extensionData)
        #expect(data.signCount == 258)
        #expect(data.attestedCredentialData == nil)
    }

    @Test func errorsNameTheOffset() {
        do {
            _ = try AuthenticatorData.parse([UInt8](repeating: 0, count: 36))
            Issue.record("parsed 36 bytes")
        } catch {
            #expect(error.code == .malformedAuthenticatorData)
            #expect(error.message.contains("at byte 33"))
        }
    }
}
