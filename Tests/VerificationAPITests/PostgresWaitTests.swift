import Foundation
import NIOCore
import NIOPosix
import PostgresStorage
import Storage
import Synchronization
import Testing

/// The bound on every wait for PostgreSQL: a future postgres-nio never completes (it left a
/// COMMIT's pending when the server ended the connection in a fast shutdown, and the request
/// hung) fails the call with `store.unavailable` at the limit, and the connection is dropped.
/// No server needed: the futures are the test's own.
struct PostgresWaitTests {
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    @Test func aFutureThatNeverCompletesFailsAtTheLimit() {
        let promise = loop.makePromise(of: Int.self)
        let expired = Atomic<Int>(0)
        let started = ContinuousClock.now
        #expect {
            try PostgresDatabase.answer(of: promise.futureResult, within: 0.3, doing: "running COMMIT") {
                expired.add(1, ordering: .relaxed)
            }
        } throws: { error in
            guard let error = error as? StoreError else { return false }
            return error.code == .unavailable && error.message.contains("running COMMIT") && error.message.contains("no answer within")
        }
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(300) && waited < .seconds(3), "waited \(waited)")
        #expect(expired.load(ordering: .relaxed) == 1)
        // Completing it afterwards is harmless (the waiter has gone).
        promise.succeed(1)
    }

    @Test func anAnswerInTimeIsReturnedAndAFailureKeepsItsCode() throws {
        let answered = loop.makePromise(of: Int.self)
        loop.scheduleTask(in: .milliseconds(50)) { answered.succeed(42) }
        let expired = Atomic<Int>(0)
        #expect(try PostgresDatabase.answer(of: answered.futureResult, within: 5, doing: "a query") { expired.add(1, ordering: .relaxed) } == 42)

        let failed = loop.makePromise(of: Int.self)
        failed.fail(StoreError(.constraint, "duplicate"))
        #expect {
            try PostgresDatabase.answer(of: failed.futureResult, within: 5, doing: "an insert") { expired.add(1, ordering: .relaxed) }
        } throws: { ($0 as? StoreError)?.code == .constraint }
        #expect(expired.load(ordering: .relaxed) == 0)
    }
}
