import AuthenticatorCatalog
import Foundation
import Mustache
import WireFormat

/// The report a vendor hands to an auditor: the evaluation rendered through a template
/// (Reports/report.html.mustache prints on A4; report.md.mustache for dossiers in text).
/// Every value is escaped for its format by the template engine; the page runs no script
/// (its Content-Security-Policy allows only inline style and data: images).
public enum ConformityReport {
    public enum Format: String, Sendable, CaseIterable {
        case html
        case markdown
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    private static let markdownRegistered: Void = MustacheContentTypes.register(MarkdownText(), named: "MARKDOWN")

    /// The checks a candidate battery ran against the device itself (`mie-probe candidate`),
    /// shown beside the criteria.
    public struct Battery: Sendable {
        public struct Check: Sendable {
            public let id: String
            public let title: String
            /// `passed`, `failed` or `not_applicable`.
            public let status: String
            public let detail: String

            public init(id: String, title: String, status: String, detail: String) {
                self.id = id
                self.title = title
                self.status = status
                self.detail = detail
            }
        }

        public let checks: [Check]
        public let device: String
        public let firmware: String
        public let transcriptSHA256: String

        public init(checks: [Check], device: String, firmware: String, transcriptSHA256: String) {
            self.checks = checks
            self.device = device
            self.firmware = firmware
            self.transcriptSHA256 = transcriptSHA256
        }
    }

    public static func render(_ evaluation: Evaluation, format: Format, tool: String, battery: Battery? = nil) throws(Failure) -> String {
        _ = markdownRegistered
        let template = try Self.template(format == .html ? "report.html" : "report.md")
        var values = context(evaluation, tool: tool)
        if let battery {
            values["battery"] = [
                "device": battery.device, "firmware": battery.firmware, "transcript": battery.transcriptSHA256,
                "failed": battery.checks.filter { $0.status == "failed" }.count,
                "checks": battery.checks.map { check -> [String: Any] in
                    let status = check.status == "passed" ? "satisfied" : check.status == "failed" ? "not_satisfied" : "not_applicable"
                    return ["id": check.id, "title": check.title, "status": status, "label": check.status.replacingOccurrences(of: "_", with: " "), "detail": check.detail]
                },
            ] as [String: Any]
        }
        return template.render(values)
    }

    /// A template of Reports/ (`report.html`, `fleet.html`…), parsed.
    static func template(_ name: String) throws(Failure) -> MustacheTemplate {
        guard let url = Bundle.module.url(forResource: name, withExtension: "mustache", subdirectory: "Reports"),
            let data = FileManager.default.contents(atPath: url.path)
        else { throw Failure(message: "the \(name) template is missing from this build") }
        do {
            return try MustacheTemplate(string: String(decoding: data, as: UTF8.self))
        } catch {
            throw Failure(message: "the \(name) template does not parse: \(error)")
        }
    }

    static let statusLabels: [CriterionStatus: String] = [
        .satisfied: "satisfied", .notSatisfied: "not satisfied", .notApplicable: "not applicable", .indeterminate: "indeterminate",
    ]

    /// A `data:` image URL from a statement, or nil when it is anything else (the statement
    /// comes from a signed list, but the report is a document people open).
    public static func safeIcon(_ icon: String?) -> String? {
        guard let icon else { return nil }
        for type in ["png", "jpeg", "gif", "webp"] where icon.hasPrefix("data:image/\(type);base64,") {
            let payload = icon.dropFirst("data:image/\(type);base64,".count)
            guard payload.utf8.allSatisfy({ $0 == 0x2B || $0 == 0x2F || $0 == 0x3D || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
            else { return nil }
            return icon
        }
        return nil
    }

    /// Evidence values as text: strings as they are, the rest as compact JSON.
    static func text(_ value: JSONValue) -> String {
        if case .string(let s) = value { return s }
        return String(decoding: value.json, as: UTF8.self)
    }

    static func context(_ evaluation: Evaluation, tool: String) -> [String: Any] {
        let a = evaluation.authenticator
        let demo = evaluation.lists.filter(\.demo).map(\.label)
        let criteria: [[String: Any]] = evaluation.criteria.map { result in
            [
                "id": result.criterion.id, "title": result.criterion.title, "status": result.status.rawValue,
                "statusLabel": statusLabels[result.status] ?? result.status.rawValue, "reason": result.reason,
                "recommended": result.criterion.severity == .recommended, "hasEvidence": !result.evidence.isEmpty,
                "evidence": result.evidence.map { ["key": $0.0, "value": text($0.1)] },
            ]
        }
        let chain: [[String: Any]] = a.chain.enumerated().map { index, link in
            let y = 10 + index * 70
            let role = index == 0 ? "Leaf" : index == a.chain.count - 1 ? "Root" : "CA"
            return [
                "y": y, "textY": y + 19, "fpY": y + 36, "arrowFrom": y + 46, "arrowTo": y + 80, "arrowHead": y + 72, "role": role,
                "subject": link.subject, "sha256": link.sha256, "last": index == a.chain.count - 1,
                "fill": index == a.chain.count - 1 ? "#eef6ee" : "#f6f8fa",
            ]
        }
        let reports: [[String: Any]] = a.statusReports.enumerated().map { index, report in
            ["status": report.status, "effectiveDate": report.effectiveDate as Any, "last": index == a.statusReports.count - 1]
        }
        var authenticator: [String: Any] = [
            "description": a.description, "kindLabel": a.kind == "card" ? "CPS/CPx smart card" : "FIDO2 authenticator", "attested": a.attested,
            "statusReports": reports, "hasStatusReports": !reports.isEmpty,
        ]
        if let identifier = a.identifier { authenticator["identifier"] = identifier }
        if let icon = safeIcon(a.icon) { authenticator["icon"] = icon }
        if let decision = a.decision {
            authenticator["decision"] = ["status": decision.status, "since": decision.since, "reference": decision.reference, "list": decision.list]
        }
        let warnings = evaluation.warnings.enumerated().map { index, w in
            ["id": w.criterion.id, "last": index == evaluation.warnings.count - 1] as [String: Any]
        }
        let verdictLabels: [Verdict: String] = [.accepted: "accepted MIE", .refused: "refused", .indeterminate: "indeterminate"]
        return [
            "demo": !demo.isEmpty, "demoLists": demo.joined(separator: ", "), "verdict": evaluation.verdict.rawValue,
            "verdictLabel": verdictLabels[evaluation.verdict] ?? evaluation.verdict.rawValue, "authenticator": authenticator,
            "amr": evaluation.amr,
            "amrNote": evaluation.verdict == .accepted ? "no rule matched" : "only an accepted MIE carries AMR values",
            "criteria": criteria, "chain": chain, "hasChain": !chain.isEmpty, "chainHeight": max(60, 20 + chain.count * 70 - 24),
            "warnings": warnings, "hasWarnings": !warnings.isEmpty,
            "lists": evaluation.lists.map { list -> [String: Any] in
                ["label": list.label, "nextUpdate": list.nextUpdate ?? "not given", "sha256": list.sha256, "demo": list.demo,
                 "stale": list.isStale(at: evaluation.time)]
            },
            "profile": ["id": evaluation.profile.id, "version": evaluation.profile.version, "sha256": evaluation.profile.sha256, "note": evaluation.profileNote ?? ""],
            "time": evaluation.time.formatted(.iso8601), "tool": tool,
        ]
    }
}

/// Markdown text: characters that would start markup are escaped, line breaks become spaces
/// (a value stays inside its table cell).
struct MarkdownText: MustacheContentType {
    func escapeText(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "\\", "`", "*", "_", "[", "]", "<", ">", "|", "#", "!": out += "\\\(character)"
            case "\n", "\r": out += " "
            default: out.append(character)
            }
        }
        return out
    }
}

/// The product's version, named by every tool and report.
public enum Product {
    public static let version = "0.4"
}
