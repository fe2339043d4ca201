import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import PSCPolicy
import Storage
import WireFormat

/// The desk's HTML, CSS and script: Mustache templates and files of `Desk/`, rendered with the
/// words of `DeskText` in the operator's language. Mustache escapes every value; the script
/// writes text nodes only.
enum DeskPages {
    static let languageCookie = "mie_lang"

    /// Script, styles and images from this origin only (icons are `data:` images from signed
    /// statements); no framing, no plugins, forms post nowhere else.
    static let securityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func language(_ request: Request) -> DeskLanguage {
        DeskLanguage.pick(
            query: request.uri.queryParameters.get("lang"), cookie: request.cookies[languageCookie]?.value,
            acceptLanguage: request.headers[.acceptLanguage])
    }

    static let templates: [String: MustacheTemplate] = {
        var templates: [String: MustacheTemplate] = [:]
        for name in ["desk", "receipt", "signin"] {
            guard let url = Bundle.module.url(forResource: name, withExtension: "mustache", subdirectory: "Desk"),
                let data = FileManager.default.contents(atPath: url.path),
                let template = try? MustacheTemplate(string: String(decoding: data, as: UTF8.self))
            else { continue }
            templates[name] = template
        }
        return templates
    }()

    static func render(_ name: String, _ context: [String: Any]) throws(APIError) -> String {
        guard let template = templates[name] else { throw APIError(.internalError, "the \(name) template is missing from this build") }
        return template.render(context)
    }

    static func html(_ text: String, language: DeskLanguage? = nil) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.contentSecurityPolicy] = securityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        var response = Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        if let language {
            // Read by the server only, but nothing secret: not HttpOnly.
            response.setCookie(
                Cookie(name: languageCookie, value: language.rawValue, maxAge: 31_536_000, path: "/enrol", httpOnly: false, sameSite: .strict))
        }
        return response
    }

    static func redirect(to path: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = path
        headers[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: headers)
    }

    /// The script and the styles, read once.
    static let assets: [String: [UInt8]] = {
        var assets: [String: [UInt8]] = [:]
        for file in ["desk.js", "desk.css", "signin.js"] {
            let parts = file.split(separator: ".").map(String.init)
            guard let url = Bundle.module.url(forResource: parts[0], withExtension: parts[1], subdirectory: "Desk"),
                let data = FileManager.default.contents(atPath: url.path)
            else { continue }
            assets[file] = Array(data)
        }
        return assets
    }()

    static func asset(_ file: String, type: String) -> Response {
        guard let bytes = assets[file] else { return Response(status: .notFound) }
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.xContentTypeOptions] = "nosniff"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The words and the language switch every page carries.
    static func common(_ language: DeskLanguage) -> [String: Any] {
        [
            "lang": language.rawValue, "t": DeskText.context(language),
            "languages": DeskLanguage.allCases.map { ["code": $0.rawValue, "label": $0 == .fr ? "Français" : "English", "current": $0 == language] },
        ]
    }

    static func desk(_ request: Request, state: ServiceState) throws -> Response {
        let language = language(request)
        var context = common(language)
        context["strings"] = String(decoding: JSONValue.object(DeskText.context(language).sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }).json, as: UTF8.self)
        context["demo"] = state.configuration.demoListsDirectory != nil
        let chosen = request.uri.queryParameters.get("lang").flatMap(DeskLanguage.init(rawValue:))
        return html(try render("desk", context), language: chosen)
    }

    static func receipt(_ record: StoredCredentialRecord, holder: Holder?, language: DeskLanguage) throws -> Response {
        var context = common(language)
        let date = (try? Date(record.createdAt, strategy: .iso8601)) ?? Date(timeIntervalSince1970: 0)
        let shown = date.formatted(Date.FormatStyle(date: .long, time: .shortened).locale(Locale(identifier: language == .fr ? "fr_FR" : "en_GB")))
        context["receipt"] = [
            "holder": holder?.displayName ?? record.holderID, "nationalId": holder?.id ?? record.holderID, "rpps": holder?.rpps ?? "—",
            "model": record.authenticator, "aaguid": record.aaguid, "credentialId": Base64URL.encode(record.id), "date": shown,
            "dateISO": record.createdAt, "operator": record.enrolledBy ?? "—", "verdict": DeskText.phrase("verdict.\(record.verdict)", language),
            "accepted": record.verdict == Verdict.accepted.rawValue, "amr": record.amr.isEmpty ? DeskText.phrase("none", language) : record.amr.joined(separator: " "),
            "evidence": DeskText.phrase("evidence.\(record.identityEvidence)", language), "lists": record.lists, "profile": record.profile ?? "—",
            "revoked": record.deletedAt != nil,
        ] as [String: Any]
        return html(try render("receipt", context))
    }
}
