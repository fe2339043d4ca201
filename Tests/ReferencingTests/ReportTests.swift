@testable import AuthenticatorCatalog
import Foundation
@testable import PSCPolicy
import Testing
import WireFormat

/// The conformity report escapes what lists say (a list is signed, but the report is a page
/// people open) and carries the evaluation faithfully.
struct ReportTests {
    /// An ANS list whose card family is named with markup.
    static func hostileCatalog() throws -> CatalogSnapshot {
        let document = """
            {"schema": "mie-verifier/ans-referencing-list", "version": 1, "listNumber": 7, "issued": "2026-01-01", "nextUpdate": "2027-01-01",
             "issuer": "test", "demo": true, "authenticators": [],
             "cardFamilies": [{"family": "CPS3", "description": "<script>alert('x')</script> | **bold** \\"quoted\\"",
               "decision": {"status": "referenced", "since": "2024-01-01", "reference": "R<1>"},
               "issuerCAs": [], "atrPatterns": [{"atr": "3BAC00402A001225006480000310009000"}]}]}
            """
        let list = try ANSList.read(try JSONValue.parse(Array(document.utf8), document: "test list"), signer: "test")
        let version = VerifiedList.ans(list).version(document: Array(document.utf8))
        return CatalogSnapshot(lists: [(version, .ans(list))])
    }

    @Test func listTextIsEscapedInEveryFormat() throws {
        let evaluation = PolicyEngine.evaluate(
            .card(PolicyEngineTests.card()), catalog: try Self.hostileCatalog(), profile: PolicyEngineTests.profile, at: TestData.demoTime)
        let html = try ConformityReport.render(evaluation, format: .html, tool: "test")
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
        #expect(html.contains("R&lt;1&gt;"))
        let markdown = try ConformityReport.render(evaluation, format: .markdown, tool: "test")
        #expect(!markdown.contains("<script>"))
        #expect(markdown.contains("\\<script\\>"))
        #expect(markdown.contains("\\| \\*\\*bold\\*\\*"))
    }

    @Test func onlyDataImagesAreShownAsIcons() {
        #expect(ConformityReport.safeIcon("data:image/png;base64,iVBORw0KGgo=") != nil)
        #expect(ConformityReport.safeIcon("data:image/png;base64,AAA\" onerror=\"alert(1)") == nil)
        #expect(ConformityReport.safeIcon("https://tracker.example/icon.png") == nil)
        #expect(ConformityReport.safeIcon("data:text/html;base64,PHNjcmlwdD4=") == nil)
        #expect(ConformityReport.safeIcon(nil) == nil)
    }

    @Test func theReportSaysWhatTheEvaluationSays() throws {
        let catalog = try PolicyEngineTests.storedCatalog()
        let registration = try RegistrationVector.generated("gen-reg-packed-x5c-ES256").verify(trust: catalog)
        let evaluation = PolicyEngine.evaluate(.fido(FIDOFacts(registration: registration)), catalog: catalog, profile: PolicyEngineTests.profile, at: TestData.demoTime)
        let html = try ConformityReport.render(evaluation, format: .html, tool: "test")
        #expect(html.contains("class=\"verdict accepted\""))
        for result in evaluation.criteria {
            #expect(html.contains(result.criterion.id))
        }
        #expect(html.components(separatedBy: "<rect ").count - 1 == evaluation.authenticator.chain.count)
        #expect(html.contains("<code>hwk</code> <code>pin</code> <code>mfa</code>"))
        #expect(html.contains("DEMO DATA"))
    }
}
