import Ceremonies
import Storage
import Foundation
import Hummingbird
import Synchronization

/// Prometheus metrics kept in memory: requests by route, method and status, latency histograms
/// by route, verifications by result code. Read at `GET /metrics` (text format 0.0.4) with the
/// lists and profile in force.
package final class ServiceMetrics: OperationObserver, Sendable {
    /// Latency bucket bounds, in seconds.
    static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    struct Histogram {
        var buckets = [UInt64](repeating: 0, count: ServiceMetrics.bounds.count)
        var count: UInt64 = 0
        var sum: Double = 0

        mutating func observe(_ seconds: Double) {
            if let index = ServiceMetrics.bounds.firstIndex(where: { seconds <= $0 }) { buckets[index] += 1 }
            count += 1
            sum += seconds
        }
    }

    struct RequestKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    struct State {
        var requests: [RequestKey: UInt64] = [:]
        var latency: [String: Histogram] = [:]
        var verifications: [String: UInt64] = [:]
        var cardCRLReloads: UInt64 = 0
        var cardCRLReloadFailures: UInt64 = 0
        var rejudged: UInt64 = 0
        var hotPathAnswers: UInt64 = 0
        var leanPathAnswers: UInt64 = 0
        var verdictChanges: [String: UInt64] = [:]
    }

    private let state = Mutex(State())

    package init() {}

    /// One answered request; `hotPath`: answered without the router (by `HotPathHandler`, or by
    /// `LeanHTTP1Handler` from the bytes: `lean`).
    func request(route: String, method: String, status: Int, seconds: Double, hotPath: Bool = false, lean: Bool = false) {
        state.withLock { state in
            state.requests[RequestKey(route: route, method: method, status: status), default: 0] += 1
            state.latency[route, default: Histogram()].observe(seconds)
            if hotPath { state.hotPathAnswers += 1 }
            if lean { state.leanPathAnswers += 1 }
        }
    }

    /// One verification's outcome: `verified`, a PSC verdict or a failure code.
    package func verification(_ ceremony: String, _ result: String) {
        state.withLock { $0.verifications["\(ceremony)\u{0}\(result)", default: 0] += 1 }
    }

    /// Stored credentials judged again after a list change, and the changes by new verdict.
    package func rejudged(_ count: Int, changes: [VerdictChange]) {
        state.withLock { state in
            state.rejudged += UInt64(count)
            for change in changes { state.verdictChanges["\(change.oldVerdict)\u{0}\(change.newVerdict)", default: 0] += 1 }
        }
    }

    func cardCRLReloaded() { state.withLock { $0.cardCRLReloads += 1 } }
    func cardCRLReloadFailed() { state.withLock { $0.cardCRLReloadFailures += 1 } }

    /// The text exposition.
    func render(
        lists: [(label: String, stale: Bool)], profile: (id: String, version: String), cardCRLs: [(issuer: String, nextUpdate: Date?)] = [],
        auditPending: Int = 0
    ) -> String {
        let snapshot = state.withLock { $0 }
        var out = ""
        out += "# HELP mie_http_requests_total Requests answered, by route, method and status.\n# TYPE mie_http_requests_total counter\n"
        for (key, value) in snapshot.requests.sorted(by: { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }) {
            out += "mie_http_requests_total{route=\"\(Self.escape(key.route))\",method=\"\(key.method)\",status=\"\(key.status)\"} \(value)\n"
        }
        out += "# HELP mie_http_request_duration_seconds Time from request head to response, by route.\n# TYPE mie_http_request_duration_seconds histogram\n"
        for (route, histogram) in snapshot.latency.sorted(by: { $0.key < $1.key }) {
            let label = "route=\"\(Self.escape(route))\""
            var cumulative: UInt64 = 0
            for (bound, count) in zip(Self.bounds, histogram.buckets) {
                cumulative += count
                out += "mie_http_request_duration_seconds_bucket{\(label),le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "mie_http_request_duration_seconds_bucket{\(label),le=\"+Inf\"} \(histogram.count)\n"
            out += "mie_http_request_duration_seconds_sum{\(label)} \(histogram.sum)\n"
            out += "mie_http_request_duration_seconds_count{\(label)} \(histogram.count)\n"
        }
        out += "# HELP mie_http_hot_path_answers_total Requests answered on the event loop without the router (HotPathHandler or LeanHTTP1Handler).\n# TYPE mie_http_hot_path_answers_total counter\n"
        out += "mie_http_hot_path_answers_total \(snapshot.hotPathAnswers)\n"
        out += "# HELP mie_http_lean_path_answers_total Requests of the hot path's answered from the bytes, without an HTTP/1 decoder (LeanHTTP1Handler).\n# TYPE mie_http_lean_path_answers_total counter\n"
        out += "mie_http_lean_path_answers_total \(snapshot.leanPathAnswers)\n"
        out += "# HELP mie_verifications_total Verifications by ceremony and result (verified, a PSC verdict, or a failure code).\n# TYPE mie_verifications_total counter\n"
        out += Self.pairs("mie_verifications_total", ("ceremony", "result"), snapshot.verifications)
        out += "# HELP mie_referencing_list_info The referencing lists in force (1), stale or not.\n# TYPE mie_referencing_list_info gauge\n"
        for list in lists {
            out += "mie_referencing_list_info{list=\"\(Self.escape(list.label))\",stale=\"\(list.stale)\"} 1\n"
        }
        out += "# HELP mie_profile_info The PSC profile in force.\n# TYPE mie_profile_info gauge\n"
        out += "mie_profile_info{id=\"\(Self.escape(profile.id))\",version=\"\(Self.escape(profile.version))\"} 1\n"
        out += "# HELP mie_card_crl_next_update_seconds When each card CRL in force must be replaced (Unix time); past it, cards of its CA are refused.\n# TYPE mie_card_crl_next_update_seconds gauge\n"
        for crl in cardCRLs {
            out += "mie_card_crl_next_update_seconds{issuer=\"\(Self.escape(crl.issuer))\"} \(Int(crl.nextUpdate?.timeIntervalSince1970 ?? 0))\n"
        }
        out += "# HELP mie_card_crl_reloads_total Card CRL files read again and put in force.\n# TYPE mie_card_crl_reloads_total counter\n"
        out += "mie_card_crl_reloads_total \(snapshot.cardCRLReloads)\n"
        out += "# HELP mie_card_crl_reload_failures_total Card CRL files that could not be read again (those in force stayed).\n# TYPE mie_card_crl_reload_failures_total counter\n"
        out += "mie_card_crl_reload_failures_total \(snapshot.cardCRLReloadFailures)\n"
        out += "# HELP mie_credentials_rejudged_total Stored credentials judged again after a list change (FI 46).\n# TYPE mie_credentials_rejudged_total counter\n"
        out += "mie_credentials_rejudged_total \(snapshot.rejudged)\n"
        out += "# HELP mie_verdict_changes_total Stored credentials whose verdict or AMR a list change moved, by old and new verdict.\n# TYPE mie_verdict_changes_total counter\n"
        out += Self.pairs("mie_verdict_changes_total", ("from", "to"), snapshot.verdictChanges)
        out += "# HELP mie_audit_pending_events Stateless verifications' audit events not written yet.\n# TYPE mie_audit_pending_events gauge\n"
        out += "mie_audit_pending_events \(auditPending)\n"
        return out
    }

    /// A counter with two labels, its keys `first\0second`, in key order.
    static func pairs(_ name: String, _ labels: (String, String), _ counts: [String: UInt64]) -> String {
        var out = ""
        for (key, value) in counts.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false)
            out += "\(name){\(labels.0)=\"\(escape(String(parts[0])))\",\(labels.1)=\"\(escape(String(parts.last ?? "")))\"} \(value)\n"
        }
        return out
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// Times every request and counts it by route (the route's pattern, never the raw path, so
/// the label set stays bounded) and status.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let metrics: ServiceMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        metrics.request(
            route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: response.status.code,
            seconds: (ContinuousClock.now - start).seconds)
        return response
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
