import Foundation
import Hummingbird
import HummingbirdTesting
import Storage
import Synchronization
import Testing
import VerificationAPI

/// The FIDO MDS fetched by the service from a real local HTTP server: newer, unchanged,
/// tampered, older, refused by the server, too slow, past its nextUpdate. The list in force
/// stays on every failure, and readiness, metrics and the schedule say so.
@Suite struct MDSRefreshTests {
    static let external: URL? = {
        if let path = ProcessInfo.processInfo.environment["MIE_EXTERNAL_VECTORS"], !path.isEmpty {
            return URL(fileURLWithPath: path, relativeTo: packageRoot).standardizedFileURL
        }
        let sibling = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/vectors/external")
        return FileManager.default.fileExists(atPath: sibling.path) ? sibling : nil
    }()

    static func corpus(_ name: String) throws -> URL {
        let folder = try #require(external, "the external corpus (MIE_EXTERNAL_VECTORS) is needed").appendingPathComponent("mds3")
        return folder.appendingPathComponent(name)
    }

    /// What the server answers, changed by the test between refreshes.
    final class Served: Sendable {
        let answer = Mutex(LocalHTTPServer.Answer())
        func set(_ answer: LocalHTTPServer.Answer) { self.answer.withLock { $0 = answer } }
        func set(_ body: [UInt8]) { set(.init(status: .ok, body: body)) }
    }

    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    /// Readiness as `GET /health/ready` answers it: 503 when it throws.
    static func ready(_ harness: ServiceHarness) throws -> (status: Int, json: [String: Any]) {
        do {
            let value = try harness.state.readiness()
            return (200, (try JSONSerialization.jsonObject(with: Data(value.json))) as? [String: Any] ?? [:])
        } catch {
            return (503, [:])
        }
    }

    @Test func theDemoBLOBIsRefreshedAndEveryFailureKeepsTheListInForce() async throws {
        let served = Served()
        let server = try await LocalHTTPServer { request in request.path == "/blob" ? served.answer.withLock { $0 } : .init(status: .notFound) }
        defer { server.stop() }
        let no1 = try ReferencingOperationsTests.demo("demo-mds-blob-no1.jwt")
        let no2 = try ReferencingOperationsTests.demo("demo-mds-blob-no2.jwt")
        let clock = HandClock()
        let harness = try ServiceHarness(
            configure: { configuration in
                var refresh = MDSRefreshSettings(
                    url: server.url("/blob"), rootFiles: [ReferencingOperationsTests.referencing.appendingPathComponent("demo-mds-root.pem").path])
                // Long enough that a loaded machine (the whole suite runs in parallel on two
                // cores) answers the other failures in time; the slow answer is well past it.
                refresh.timeout = 4
                configuration.mdsRefresh = refresh
            }, clock: clock.read)
        let key = harness.keys["enrolment"]
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            _ = try await CeremonyTests.enrol(client, key: key, authenticator: authenticator, holder: ReferencingOperationsTests.holder("holder-1"))
        }
        func inForce() -> [String] { harness.state.current.catalog.lists.map(\.label) }

        // The server has the BLOB in force.
        served.set(no1)
        #expect(await harness.state.refreshMDS() == .unchanged("FIDO MDS no 1"))
        #expect(try Self.ready(harness).json["status"] as? String == "ready")
        let scheduled = try #require(harness.state.referencingStatus.mds.nextAttempt)
        #expect(scheduled > clock.read().addingTimeInterval(3600), "a current list is checked again later, not at once")

        // Failures: nothing changes, readiness says why (degraded, not down), retries back off.
        var tampered = no2
        let dot = try #require(tampered.firstIndex(of: UInt8(ascii: ".")))
        tampered[dot + 400] = tampered[dot + 400] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let failures: [(LocalHTTPServer.Answer, String)] = [
            (.init(status: .ok, body: tampered), "import.signature-invalid"),
            (.init(status: .internalServerError, body: Array("oops".utf8)), "http.status"),
            (.init(status: .ok, body: no2, delay: .seconds(12)), "http.timeout"),
            (.init(status: .ok, body: Array("<html>maintenance</html>".utf8)), "import.unknown-kind"),
        ]
        var previousDelay: TimeInterval = 0
        for (answer, code) in failures {
            served.set(answer)
            guard case .failed(let found, _) = await harness.state.refreshMDS() else {
                Issue.record("\(code): the refresh did not fail")
                continue
            }
            #expect(found == code)
            #expect(inForce().contains("FIDO MDS no 1"))
            let ready = try Self.ready(harness)
            #expect(ready.status == 200)
            #expect(ready.json["status"] as? String == "degraded")
            #expect((ready.json["degraded"] as? [String])?.first?.contains(code) == true, "\(ready.json)")
            let delay = try #require(harness.state.referencingStatus.mds.nextAttempt).timeIntervalSince(clock.read())
            #expect(delay >= 45 && delay > previousDelay * 1.4, "\(code): retry in \(delay) s after \(previousDelay) s")
            previousDelay = delay
        }
        let metrics = harness.state.metricsText()
        #expect(metrics.contains(#"mie_mds_last_error_info{code="import.unknown-kind"} 1"#))
        #expect(metrics.contains(#"mie_mds_refresh_total{result="http.timeout"} 1"#))
        #expect(metrics.contains("mie_mds_age_seconds "))

        // A newer BLOB: verified, stored, in force; the stored credential is judged again.
        served.set(no2)
        #expect(await harness.state.refreshMDS() == .imported("FIDO MDS no 2"))
        #expect(inForce().contains("FIDO MDS no 2") && !inForce().contains("FIDO MDS no 1"))
        #expect(try Self.ready(harness).json["status"] as? String == "ready")
        #expect(harness.state.referencingStatus.mds.failures == 0)
        let changes = try await harness.state.rejudgeStoredCredentials()
        #expect(changes.map(\.holderID) == ["holder-1"])
        #expect(changes.first?.newVerdict == "refused")

        // An older `no` from the same root: a rollback, refused.
        served.set(no1)
        #expect(await harness.state.refreshMDS() == .failed(code: "import.rollback", message: "FIDO MDS number 1 does not exceed number 2 already imported from this source"))
        #expect(inForce().contains("FIDO MDS no 2"))
    }

    @Test func theProductionBLOBIsVerifiedAgainstItsRootAndCRLs() async throws {
        let blob = Array(try Data(contentsOf: try Self.corpus("webauthn4j-production-blob-no9.jwt")))
        let crl = Array(try Data(contentsOf: try Self.corpus("globalsign-root-r3.crl")))
        let server = try await LocalHTTPServer { request in
            switch request.path {
            case "/blob": .init(status: .ok, body: blob)
            case "/root-r3.crl": .init(status: .ok, body: crl)
            default: .init(status: .notFound)
            }
        }
        defer { server.stop() }
        let clock = HandClock(Self.date("2021-11-15T00:00:00Z"))
        let root = try Self.corpus("globalsign-root-r3.crt").path

        // CRLs named: fetched, and one from another time is not current: refused.
        let checked = try ServiceHarness(
            configure: { configuration in
                configuration.demoListsDirectory = nil
                var refresh = MDSRefreshSettings(url: server.url("/blob"), rootFiles: [root])
                refresh.crlSources = [server.url("/root-r3.crl")]
                configuration.mdsRefresh = refresh
            }, clock: clock.read)
        guard case .failed(let code, _) = await checked.state.refreshMDS() else { throw Expectation.failed("a CRL from another time was accepted") }
        #expect(code == "import.crl-not-current")
        #expect(checked.state.current.catalog.lists.isEmpty)
        #expect(server.requests.contains { $0.path == "/root-r3.crl" })

        // No list yet: not ready; after the refresh, FIDO MDS no 9 is in force, checked again
        // before its nextUpdate (2021-12-01).
        let harness = try ServiceHarness(
            configure: { configuration in
                configuration.demoListsDirectory = nil
                configuration.mdsRefresh = MDSRefreshSettings(url: server.url("/blob"), rootFiles: [root])
            }, clock: clock.read)
        #expect(try Self.ready(harness).status == 503)
        #expect(await harness.state.refreshMDS() == .imported("FIDO MDS no 9"))
        #expect(harness.state.current.catalog.entryCount > 90)
        #expect(try Self.ready(harness).json["status"] as? String == "ready")
        let next = try #require(harness.state.referencingStatus.mds.nextAttempt)
        #expect(next < Self.date("2021-12-01T00:00:00Z") && next > clock.read())

        // Past its nextUpdate, the server still has no 9: the list stays, readiness says it is
        // stale, and the service asks again soon.
        clock.advance(25 * 86_400)
        #expect(await harness.state.refreshMDS() == .unchanged("FIDO MDS no 9"))
        let ready = try Self.ready(harness)
        #expect(ready.json["status"] as? String == "degraded")
        #expect((ready.json["degraded"] as? [String])?.contains { $0.contains("past its nextUpdate") } == true, "\(ready.json)")
        let soon = try #require(harness.state.referencingStatus.mds.nextAttempt).timeIntervalSince(clock.read())
        #expect(soon <= 60)

        // A first start past nextUpdate: the BLOB is verified and used (nothing newer exists), stale.
        let late = try ServiceHarness(
            configure: { configuration in
                configuration.demoListsDirectory = nil
                configuration.mdsRefresh = MDSRefreshSettings(url: server.url("/blob"), rootFiles: [root])
            }, clock: clock.read)
        #expect(await late.state.refreshMDS() == .imported("FIDO MDS no 9"))
        #expect(try Self.ready(late).json["status"] as? String == "degraded")
    }

    /// The background tasks as `serve` runs them: a service with no list fetches the BLOB at
    /// start; a list that changed is followed by the stored credentials judged again.
    @Test func theServiceRefreshesAtStartAndJudgesAgainByItself() async throws {
        let served = Served()
        let no1 = try ReferencingOperationsTests.demo("demo-mds-blob-no1.jwt")
        served.set(no1)
        let server = try await LocalHTTPServer { _ in served.answer.withLock { $0 } }
        defer { server.stop() }
        let harness = try ServiceHarness { configuration in
            configuration.runsReferencingTasks = true
            configuration.mdsRefresh = MDSRefreshSettings(
                url: server.url("/blob"), rootFiles: [ReferencingOperationsTests.referencing.appendingPathComponent("demo-mds-root.pem").path])
        }
        let key = harness.keys["enrolment"]
        let authenticator = try SoftwareAuthenticator(origin: ServiceHarness.origin)
        try await harness.test { client in
            // The demo lists were imported at start, before the service ran: its copy is current,
            // so the first fetch waits for the schedule.
            _ = try await CeremonyTests.enrol(client, key: key, authenticator: authenticator, holder: ReferencingOperationsTests.holder("holder-1"))
            try await ReferencingOperationsTests.importList(client, harness, "demo-mds-blob-no2.jwt")
            var judged: StoredCredentialRecord?
            for _ in 0..<100 {
                judged = try harness.state.credentials.credentials(holder: "holder-1").first
                if judged?.verdict == "refused" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(judged?.verdict == "refused", "the background re-judging did not reach the credential")
            #expect(server.requests.isEmpty)
            #expect(harness.state.referencingStatus.mds.nextAttempt != nil)
        }
        // No list at all: fetched at start.
        let empty = try ServiceHarness { configuration in
            configuration.runsReferencingTasks = true
            configuration.demoListsDirectory = nil
            configuration.mdsRefresh = MDSRefreshSettings(
                url: server.url("/blob"), rootFiles: [ReferencingOperationsTests.referencing.appendingPathComponent("demo-mds-root.pem").path])
        }
        try await empty.test { _ in
            for _ in 0..<100 where empty.state.current.catalog.lists.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            #expect(empty.state.current.catalog.lists.map(\.label) == ["FIDO MDS no 1"])
        }
    }

    /// A server sending more than the service takes is cut off while it sends: the body is
    /// never held whole.
    @Test func aBodyPastTheLimitIsRefused() async throws {
        let server = try await LocalHTTPServer { _ in .init(status: .ok, body: [UInt8](repeating: UInt8(ascii: "e"), count: 4 * 1024 * 1024)) }
        defer { server.stop() }
        let harness = try ServiceHarness { configuration in
            configuration.maximumListSize = 64 * 1024
            configuration.mdsRefresh = MDSRefreshSettings(
                url: server.url("/blob"), rootFiles: [ReferencingOperationsTests.referencing.appendingPathComponent("demo-mds-root.pem").path])
        }
        guard case .failed(let code, _) = await harness.state.refreshMDS() else { throw Expectation.failed("a 4 MiB body was taken") }
        #expect(code == "http.too-large")
        #expect(harness.state.current.catalog.lists.map(\.label).contains("FIDO MDS no 1"))
    }

    @Test func aRefreshNamesItsRoots() throws {
        #expect(throws: ConfigurationError.self) {
            _ = try ServiceHarness { $0.mdsRefresh = MDSRefreshSettings(url: "http://127.0.0.1:9/blob", rootFiles: []) }
        }
        #expect(throws: ConfigurationError.self) {
            _ = try ServiceHarness { $0.mdsRefresh = MDSRefreshSettings(url: "http://127.0.0.1:9/blob", rootFiles: ["/nonexistent.pem"]) }
        }
    }
}

enum Expectation: Error {
    case failed(String)
}
