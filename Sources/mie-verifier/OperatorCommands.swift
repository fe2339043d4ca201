import ArgumentParser
import Foundation
import Storage

/// `mie-verifier operators add|code|list|revoke`: the enrolment desk's staff.
struct Operators: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add, list and revoke the enrolment desk's operators.",
        discussion: """
            An operator signs in at /enrol with their own FIDO2 key. `add` prints a one-time code
            (valid 24 hours, stored hashed) that the operator redeems on the desk page by
            registering their key; `code` prints a fresh one for another key.
            """,
        subcommands: [Add.self, Code.self, List.self, Revoke.self])

    static func store(_ path: String) throws -> OperatorStore {
        do {
            return OperatorStore(database: try SQLiteDatabase(path: path, migrations: StorageSchema.migrations))
        } catch {
            throw CLIFailure(error.description)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an operator and print their one-time code (shown once).")
        @Argument(help: "The operator's name (letters, digits, '.', '-', '_', '@').") var name: String
        @Option(name: .long, help: "Hours the code stays valid.") var hours = 24
        @Option(name: .long, help: "The SQLite database file.") var database: String

        func run() throws {
            try runReporting {
                guard (1...168).contains(hours) else { throw CLIFailure("--hours is 1 to 168") }
                do {
                    let (added, code) = try Operators.store(database).add(name: name, lifetime: TimeInterval(hours * 3600), at: Date())
                    print(code)
                    FileHandle.standardError.write(
                        Data("operator \(added.name) added; they redeem the code above at /enrol within \(hours) h (shown once)\n".utf8))
                } catch let error as StoreError {
                    throw CLIFailure(error.description)
                }
            }
        }
    }

    struct Code: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a fresh one-time code for an operator's other key.")
        @Argument(help: "The operator's name.") var name: String
        @Option(name: .long, help: "Hours the code stays valid.") var hours = 24
        @Option(name: .long, help: "The SQLite database file.") var database: String

        func run() throws {
            try runReporting {
                guard (1...168).contains(hours) else { throw CLIFailure("--hours is 1 to 168") }
                do {
                    print(try Operators.store(database).issueCode(name: name, lifetime: TimeInterval(hours * 3600), at: Date()))
                } catch let error as StoreError {
                    throw CLIFailure(error.description)
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the operators and how many keys each has.")
        @Option(name: .long, help: "The SQLite database file.") var database: String

        func run() throws {
            try runReporting {
                do {
                    let store = try Operators.store(database)
                    for found in try store.list() {
                        let keys = try store.credentials(operator: found.id).count
                        print("\(found.name)\t\(keys) key\(keys == 1 ? "" : "s")\t\(found.revokedAt.map { "revoked \($0)" } ?? "active since \(found.createdAt)")")
                    }
                } catch let error as StoreError {
                    throw CLIFailure(error.description)
                }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an operator: their keys stop signing in and their sessions end.")
        @Argument(help: "The operator's name.") var name: String
        @Option(name: .long, help: "The SQLite database file.") var database: String

        func run() throws {
            try runReporting {
                do {
                    guard try Operators.store(database).revoke(name: name, at: Date()) else { throw CLIFailure("no active operator named \(name)") }
                    print("revoked \(name)")
                } catch let error as StoreError {
                    throw CLIFailure(error.description)
                }
            }
        }
    }
}
