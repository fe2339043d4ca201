import AuthenticatorCatalog
import Ceremonies
import Crypto
import Foundation
import Logging
import ServiceLifecycle
import SignatureVerification
import Storage
import Synchronization
import WireFormat

/// What the referencing operations (MDS refresh, re-judging, the webhook) did last: readiness,
/// metrics and the log read it.
package final class ReferencingStatus: Sendable {
    package struct MDS: Sendable {
        package var lastAttempt: Date?
        package var lastSuccess: Date?
        package var lastError: (code: String, message: String)?
        package var nextAttempt: Date?
        /// Failed attempts in a row (the backoff's exponent).
        package var failures = 0
        package var results: [String: UInt64] = [:]
    }

    package struct Webhook: Sendable {
        package var delivered: UInt64 = 0
        package var failed: UInt64 = 0
        package var undelivered = 0
        package var lastError: String?
    }

    package struct Rejudging: Sendable {
        /// The judgement key the last complete pass reached.
        package var completedKey: String?
        package var unjudged = 0
    }

    private let mdsState = Mutex(MDS())
    private let webhookState = Mutex(Webhook())
    private let rejudgingState = Mutex(Rejudging())

    package var mds: MDS { mdsState.withLock { $0 } }
    package var webhook: Webhook { webhookState.withLock { $0 } }
    package var rejudging: Rejudging { rejudgingState.withLock { $0 } }

    func updateMDS(_ body: (inout MDS) -> Void) { mdsState.withLock { body(&$0) } }
    func updateWebhook(_ body: (inout Webhook) -> Void) { webhookState.withLock { body(&$0) } }
    func updateRejudging(_ body: (inout Rejudging) -> Void) { rejudgingState.withLock { body(&$0) } }

    /// The text exposition of these figures.
    func render(mdsInForce: ListVersion?, now: Date, configured: (mds: Bool, webhook: Bool)) -> String {
        var out = ""
        if configured.mds {
            let mds = self.mds
            out += "# HELP mie_mds_refresh_total FIDO MDS refresh attempts by result (imported, unchanged, or a failure code).\n# TYPE mie_mds_refresh_total counter\n"
            for (result, count) in mds.results.sorted(by: { $0.key < $1.key }) {
                out += "mie_mds_refresh_total{result=\"\(ServiceMetrics.escape(result))\"} \(count)\n"
            }
            out += "# HELP mie_mds_age_seconds Time since the FIDO MDS in force was last confirmed current (fetched and verified).\n# TYPE mie_mds_age_seconds gauge\n"
            let confirmed = mds.lastSuccess ?? mdsInForce?.importedAt.flatMap(RFC3339.secondsSince1970).map(Date.init(timeIntervalSince1970:))
            out += "mie_mds_age_seconds \(confirmed.map { Int(now.timeIntervalSince($0)) } ?? -1)\n"
            out += "# HELP mie_mds_next_update_seconds The nextUpdate of the FIDO MDS in force (Unix time).\n# TYPE mie_mds_next_update_seconds gauge\n"
            out += "mie_mds_next_update_seconds \(Int(mdsInForce?.nextUpdateDate?.timeIntervalSince1970 ?? 0))\n"
            out += "# HELP mie_mds_next_attempt_seconds When the service fetches the FIDO MDS next (Unix time).\n# TYPE mie_mds_next_attempt_seconds gauge\n"
            out += "mie_mds_next_attempt_seconds \(Int(mds.nextAttempt?.timeIntervalSince1970 ?? 0))\n"
            out += "# HELP mie_mds_last_error_info The last refresh's failure (none when it succeeded).\n# TYPE mie_mds_last_error_info gauge\n"
            out += "mie_mds_last_error_info{code=\"\(ServiceMetrics.escape(mds.lastError?.code ?? "none"))\"} 1\n"
        }
        let rejudging = self.rejudging
        out += "# HELP mie_credentials_unjudged Stored credentials not yet judged under the lists in force.\n# TYPE mie_credentials_unjudged gauge\n"
        out += "mie_credentials_unjudged \(rejudging.unjudged)\n"
        if configured.webhook {
            let webhook = self.webhook
            out += "# HELP mie_webhook_deliveries_total Verdict changes POSTed to the webhook, by result.\n# TYPE mie_webhook_deliveries_total counter\n"
            out += "mie_webhook_deliveries_total{result=\"delivered\"} \(webhook.delivered)\n"
            out += "mie_webhook_deliveries_total{result=\"failed\"} \(webhook.failed)\n"
            out += "# HELP mie_webhook_undelivered Verdict changes not yet delivered.\n# TYPE mie_webhook_undelivered gauge\n"
            out += "mie_webhook_undelivered \(webhook.undelivered)\n"
        }
        return out
    }
}

/// What a refresh of the FIDO MDS came to.
package enum MDSRefreshResult: Sendable, Equatable {
    /// A newer BLOB verified, stored and put in force.
    case imported(String)
    /// The server has the BLOB in force.
    case unchanged(String)
    /// Nothing changed: the list in force stays. The code is an `http.*` or `import.*` code.
    case failed(code: String, message: String)

    var metricLabel: String {
        switch self {
        case .imported: "imported"
        case .unchanged: "unchanged"
        case .failed(let code, _): code
        }
    }
}

extension ServiceState {
    /// The FIDO MDS in force (the newest if several roots are configured).
    var mdsInForce: ListVersion? { current.catalog.lists.last { $0.kind == .mds } }

    // MARK: MDS refresh

    /// Fetches the BLOB (and the CRLs of its chain), verifies it as an import does and puts
    /// it in force if it is newer. On any failure the list in force stays, and readiness,
    /// metrics and the log say why; an unverified BLOB is never used.
    package func refreshMDS() async -> MDSRefreshResult {
        guard let settings = configuration.mdsRefresh else { return .failed(code: "mds.not-configured", message: "no mdsRefresh in the configuration") }
        let started = clock()
        let result: MDSRefreshResult
        do {
            let blob = try await HTTPFetch.get(settings.url, timeout: settings.timeout, limit: configuration.maximumListSize)
            guard ListKind.detect(blob) == .mds else {
                throw ImportFailure(.unknownKind, "\(settings.url) did not send an MDS3 BLOB (a compact JWS)")
            }
            let digest = Hex.string(Digest.sha256(blob))
            if let inForce = current.catalog.lists.first(where: { $0.kind == .mds && $0.sha256 == digest }) {
                result = .unchanged(inForce.label)
            } else {
                var crls: [CertificateRevocationList] = []
                for source in settings.crlSources {
                    let bytes: [UInt8]
                    if source.hasPrefix("http://") || source.hasPrefix("https://") {
                        bytes = try await HTTPFetch.get(source, timeout: settings.timeout, limit: CertificateRevocationList.maximumSize)
                    } else {
                        guard let data = FileManager.default.contents(atPath: source) else {
                            throw ImportFailure(.crlNotCurrent, "the CRL file \(source) cannot be read")
                        }
                        bytes = Array(data)
                    }
                    do {
                        crls += try CertificateRevocationList.load(file: bytes)
                    } catch {
                        throw ImportFailure(.crlNotCurrent, "\(source) is not a CRL: \(error)")
                    }
                }
                let trust = ReferencingTrust(mdsRoots: mdsRefreshRoots, crls: crls)
                let outcome = try await io { [stores] in stores.referencing.importList(blob, signature: nil, trust: trust, at: started) }
                switch outcome {
                case .imported(let version, _):
                    try await io { [operations] in try operations.reloadLists() }
                    result = .imported(version.label)
                case .refused(let failure):
                    result = .failed(code: failure.code.rawValue, message: failure.message)
                }
            }
        } catch let failure as HTTPFetch.Failure {
            result = .failed(code: failure.code, message: failure.message)
        } catch let failure as ImportFailure {
            result = .failed(code: failure.code.rawValue, message: failure.message)
        } catch {
            result = .failed(code: "store.unavailable", message: "\(error)")
        }
        recordRefresh(result, at: started, settings: settings)
        return result
    }

    private func recordRefresh(_ result: MDSRefreshResult, at now: Date, settings: MDSRefreshSettings) {
        let stale = mdsInForce?.isStale(at: now) ?? true
        var next = now
        referencingStatus.updateMDS { mds in
            mds.lastAttempt = now
            mds.results[result.metricLabel, default: 0] += 1
            if case .failed(let code, let message) = result {
                mds.lastError = (code, message)
            } else {
                mds.lastError = nil
                mds.lastSuccess = now
            }
            // A failure, or a server with nothing newer than a stale list: try again soon,
            // backing off. Otherwise before the list's next update, and at least daily.
            if mds.lastError != nil || stale {
                mds.failures += 1
                let delay = min(settings.maximumRetry, settings.minimumRetry * pow(2, Double(min(mds.failures - 1, 30))))
                next = now.addingTimeInterval(delay * Double.random(in: 0.75...1))
            } else {
                mds.failures = 0
                next = Self.scheduledRefresh(after: now, nextUpdate: mdsInForce?.nextUpdateDate, settings: settings)
            }
            mds.nextAttempt = next
        }
        switch result {
        case .imported(let label):
            logger.notice("FIDO MDS refreshed: \(label) verified and in force\(stale ? ", but already past its nextUpdate" : ""); next check \(next.formatted(.iso8601))")
        case .unchanged(let label):
            if stale {
                logger.warning("FIDO MDS: \(settings.url) still serves \(label), past its nextUpdate; next attempt \(next.formatted(.iso8601))")
            } else {
                logger.info("FIDO MDS unchanged (\(label)); next check \(next.formatted(.iso8601))")
            }
        case .failed(let code, let message):
            logger.error("FIDO MDS refresh failed, the list in force stays (\(mdsInForce?.label ?? "none")): \(code): \(message); next attempt \(next.formatted(.iso8601))")
        }
    }

    /// Before `nextUpdate` (a random part of the last 12 hours before it, so that many nodes do
    /// not fetch at once), and no later than `checkInterval` from now.
    static func scheduledRefresh(after now: Date, nextUpdate: Date?, settings: MDSRefreshSettings) -> Date {
        var next = now.addingTimeInterval(settings.checkInterval * Double.random(in: 0.9...1))
        if let nextUpdate {
            let lead = min(12 * 3600, max(0, nextUpdate.timeIntervalSince(now)) / 2)
            next = min(next, nextUpdate.addingTimeInterval(-lead * Double.random(in: 0.5...1)))
        }
        return max(next, now.addingTimeInterval(settings.minimumRetry))
    }

    /// Why readiness is `degraded` on the referencing side (empty: it is not).
    func referencingDegradations(at now: Date) -> [String] {
        var reasons: [String] = []
        if configuration.mdsRefresh != nil, let error = referencingStatus.mds.lastError {
            reasons.append("mds refresh failing (\(error.code): \(error.message)); the list in force stays")
        }
        if let mds = mdsInForce, mds.isStale(at: now) {
            reasons.append("\(mds.label) is past its nextUpdate (\(mds.nextUpdate ?? "?"))")
        }
        return reasons
    }

    // MARK: Re-judging (FI 46)

    /// Judges every stored credential not yet judged under the lists in force, in batches
    /// (each its own transaction, the service answering in between). Returns the changes.
    @discardableResult
    package func rejudgeStoredCredentials() async throws -> [VerdictChange] {
        var after: [UInt8]? = nil
        var passKey: String? = nil
        var changes: [VerdictChange] = []
        var judged = 0
        let started = ContinuousClock.now
        let share = min(1, max(0.05, configuration.rejudgeShare))
        while true {
            let batchStarted = ContinuousClock.now
            let batch = try await io { [operations, configuration, after] in
                try operations.rejudge(after: after, limit: configuration.rejudgeBatchSize)
            }
            let restarted = passKey != nil && batch.key != passKey
            passKey = batch.key
            judged += batch.judged
            changes += batch.changes
            // The lists changed under the pass: this batch stands, the pass starts again.
            if restarted {
                after = nil
                continue
            }
            guard batch.judged > 0 else { break }
            after = batch.last
            // Leave the core to requests between batches, for the configured share.
            let took = ContinuousClock.now - batchStarted
            if share < 1 { try? await Task.sleep(for: took * ((1 - share) / share)) } else { await Task.yield() }
        }
        let backlog = try await io { [stores, passKey] in try stores.verdicts.backlog(key: passKey ?? "") }
        referencingStatus.updateRejudging {
            $0.completedKey = passKey
            $0.unjudged = backlog.unjudged
        }
        referencingStatus.updateWebhook { $0.undelivered = backlog.undelivered }
        if judged > 0 {
            logger.notice(
                "re-judged \(judged) stored credentials under \(current.catalog.lists.map(\.label).joined(separator: ", ")) in \(ContinuousClock.now - started): \(changes.count) changed verdict or AMR")
        }
        return changes
    }

    // MARK: Webhook

    /// POSTs the verdict changes due now, oldest first; a change is delivered when the receiver
    /// answers 2xx, else retried later (2, 4, 8… seconds). Never on a request's path. Returns
    /// how many were delivered.
    @discardableResult
    package func deliverVerdictChanges() async -> Int {
        guard let settings = configuration.webhook, let secret = webhookSecret else { return 0 }
        let due: [VerdictChange]
        do {
            due = try await io { [stores, clock] in try stores.verdicts.dueDeliveries(at: clock(), lease: settings.timeout * 3, limit: 50) }
        } catch {
            logger.warning("the webhook's outbox cannot be read: \(error)")
            return 0
        }
        var delivered = 0
        for change in due {
            let body = WebhookBody.json(change)
            let now = clock()
            let stamp = String(Int64(now.timeIntervalSince1970))
            let mac = HMAC<SHA256>.authenticationCode(for: Array((stamp + ".").utf8) + body, using: SymmetricKey(data: secret))
            let headers = [
                ("Content-Type", "application/json"), ("MIE-Event", "credential.verdict-changed"), ("MIE-Delivery", String(change.id)),
                ("MIE-Signature", "t=\(stamp),v1=\(Hex.string(Array(mac)))"),
            ]
            var failure: String?
            do {
                let reply = try await HTTPFetch.send(settings.url, method: "POST", body: body, headers: headers, timeout: settings.timeout, limit: 64 * 1024)
                if !(200..<300).contains(reply.status) { failure = "HTTP \(reply.status)" }
            } catch {
                failure = error.description
            }
            do {
                if let failure {
                    let delay = min(settings.maximumRetry, pow(2, Double(min(change.attempts + 1, 30))))
                    try await io { [stores] in try stores.verdicts.deliveryFailed(change.id, retryAt: now.addingTimeInterval(delay), error: failure) }
                    referencingStatus.updateWebhook {
                        $0.failed += 1
                        $0.lastError = failure
                    }
                    logger.warning("webhook: change \(change.id) not delivered (\(failure)); retried in \(Int(delay)) s")
                    // The receiver is down or refusing: the rest waits for the next round.
                    break
                }
                try await io { [stores] in try stores.verdicts.delivered(change.id, at: now) }
                referencingStatus.updateWebhook {
                    $0.delivered += 1
                    $0.lastError = nil
                }
                delivered += 1
            } catch {
                logger.warning("webhook: the delivery of change \(change.id) could not be recorded: \(error)")
                break
            }
        }
        if !due.isEmpty, let backlog = try? await io({ [stores] in try stores.verdicts.backlog(key: "") }) {
            referencingStatus.updateWebhook { $0.undelivered = backlog.undelivered }
        }
        return delivered
    }
}

/// The body POSTed for one verdict change (and what `GET /v1/credentials` shows of it).
package enum WebhookBody {
    package static func change(_ change: VerdictChange) -> JSONValue {
        .object([
            ("id", .integer(change.id)), ("at", .string(change.at)), ("credentialId", .string(Base64URL.encode(change.credentialID))),
            ("rpId", .string(change.rpID)), ("holderId", .string(change.holderID)), ("aaguid", .string(change.aaguid)),
            ("authenticator", .string(change.authenticator)),
            ("old", .object([("verdict", .string(change.oldVerdict)), ("pscAcceptable", .bool(change.oldVerdict == "accepted")), ("amr", .strings(change.oldAMR))])),
            ("new", .object([("verdict", .string(change.newVerdict)), ("pscAcceptable", .bool(change.newVerdict == "accepted")), ("amr", .strings(change.newAMR))])),
            ("cause", .string(change.cause)), ("lists", .strings(change.lists)),
        ])
    }

    static func json(_ change: VerdictChange) -> [UInt8] {
        JSONValue.object([("event", .string("credential.verdict-changed")), ("change", Self.change(change))]).json
    }
}

/// Refreshes the FIDO MDS on its schedule: at start when the copy in force is stale (or there
/// is none), then before its next update.
struct MDSRefresher: Service {
    let state: ServiceState

    func run() async throws {
        guard let settings = state.configuration.mdsRefresh else { return try await gracefulShutdown() }
        await cancelWhenGracefulShutdown {
            let now = state.clock()
            var next = now
            if let inForce = state.mdsInForce, !inForce.isStale(at: now) {
                next = ServiceState.scheduledRefresh(after: now, nextUpdate: inForce.nextUpdateDate, settings: settings)
                state.referencingStatus.updateMDS { $0.nextAttempt = next }
                state.logger.info("FIDO MDS in force (\(inForce.label)) is current; first check \(next.formatted(.iso8601))")
            }
            while !Task.isCancelled {
                let wait = next.timeIntervalSince(state.clock())
                if wait > 0 { try? await Task.sleep(for: .milliseconds(Int64(min(wait, 86_400 * 30) * 1000))) }
                guard !Task.isCancelled else { return }
                _ = await state.refreshMDS()
                next = state.referencingStatus.mds.nextAttempt ?? state.clock().addingTimeInterval(settings.minimumRetry)
            }
        }
    }
}

/// Judges stored credentials again whenever the lists in force change (an import here, on
/// another node, or a refresh), and at start for those never judged by this version.
struct Rejudger: Service {
    let state: ServiceState

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if state.operations.currentJudge.key != state.referencingStatus.rejudging.completedKey {
                    do {
                        try await state.rejudgeStoredCredentials()
                    } catch is CancellationError {
                        return
                    } catch {
                        state.logger.error("re-judging the stored credentials failed (tried again shortly): \(error)")
                        try? await Task.sleep(for: .seconds(5))
                    }
                }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}

/// Sends the recorded verdict changes to the configured webhook.
struct WebhookSender: Service {
    let state: ServiceState

    func run() async throws {
        guard let settings = state.configuration.webhook else { return try await gracefulShutdown() }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await state.deliverVerdictChanges()
                try? await Task.sleep(for: .milliseconds(Int64(settings.pollInterval * 1000)))
            }
        }
    }
}
