import Testing
import WireFormat

@_spi(Internals) @testable import AuthenticatorVerification

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
        // Labels are ASCII letters, digits and hyphens: no Unicode look-alikes, no empty labels.
        #expect(!matcher.accepts("https://é.rp.example"))
        #expect(!matcher.accepts("https://a١.rp.example"))
        #expect(!matcher.accepts("https://a..rp.example"))
        #expect(!matcher.accepts("https://a_b.rp.example"))
        #expect(!matcher.accepts("https://.rp.example"))
    }

    /// (entry, its normal form or nil when refused)
    static let entries: [(String, String?)] = [
        ("https://rp.example", "https://rp.example"),
        ("http://localhost:8100/", "http://localhost:8100"),
        ("HTTPS://RP.Example:443", "https://rp.example"),
        ("http://rp.example:80", "http://rp.example"),
        ("https://rp.example:8443", "https://rp.example:8443"),
        ("https://*.rp.example/", "https://*.rp.example"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("android:apk-key-hash:abc123", "android:apk-key-hash:abc123"),
        ("https://rp.example/login", nil),
        ("https://rp.example?x=1", nil),
        ("https://rp.example#f", nil),
        ("https://user@rp.example", nil),
        ("https://rp.example//", nil),
        ("https://rp.example:0", nil),
        ("https://rp.example:65536", nil),
        ("https://rp.example:", nil),
        ("https://ré.example", nil),
        ("https://", nil),
        ("rp.example", nil),
        ("", nil),
    ]

    @Test(arguments: entries)
    func expectedOriginsAreNormalisedOrRefused(_ entry: String, _ normal: String?) {
        #expect((try? ExpectedOrigin.normalise(entry)) == normal, "\(entry)")
    }

    @Test func aTrailingSlashNoLongerHidesAMatch() {
        #expect(OriginMatcher(entries: ["http://localhost:8100/"]).accepts("http://localhost:8100"))
        #expect(!OriginMatcher(entries: ["https://rp.example/login"]).accepts("https://rp.example"))
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
