import ArgumentParser
import Foundation
import PostgresStorage
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

    struct Database: ParsableArguments {
        @Option(name: .long, help: "The SQLite database file, or a postgres:// URL.") var database: String

        func store() throws -> OperatorStore {
            OperatorStore(database: try openDatabase(database))
        }
    }

    /// What `add` and `code` share: the operator, how long the code lives, the database.
    struct CodeOptions: ParsableArguments {
        @Argument(help: "The operator's name (letters, digits, '.', '-', '_', '@').") var name: String
        @Option(name: .long, help: "Hours the code stays valid (1 to 168).") var hours = 24
        @OptionGroup var database: Database

        func lifetime() throws -> TimeInterval {
            guard (1...168).contains(hours) else { throw CLIFailure("--hours is 1 to 168") }
            return TimeInterval(hours * 3600)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an operator and print their one-time code (shown once).")
        @OptionGroup var options: CodeOptions

        func run() throws {
            try runReporting {
                let (added, code) = try options.database.store().add(name: options.name, lifetime: try options.lifetime(), at: Date())
                print(code)
                FileHandle.standardError.write(
                    Data("operator \(added.name) added; they redeem the code above at /enrol within \(options.hours) h (shown once)\n".utf8))
            }
        }
    }

    struct Code: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a fresh one-time code for an operator's other key.")
        @OptionGroup var options: CodeOptions

        func run() throws {
            try runReporting {
                print(try options.database.store().issueCode(name: options.name, lifetime: try options.lifetime(), at: Date()))
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the operators and how many keys each has.")
        @OptionGroup var database: Database

        func run() throws {
            try runReporting {
                let store = try database.store()
                for found in try store.list() {
                    let keys = try store.credentials(operator: found.id).count
                    print("\(found.name)\t\(keys) key\(keys == 1 ? "" : "s")\t\(found.revokedAt.map { "revoked \($0)" } ?? "active since \(found.createdAt)")")
                }
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an operator: their keys stop signing in and their sessions end.")
        @Argument(help: "The operator's name.") var name: String
        @OptionGroup var database: Database

        func run() throws {
            try runReporting {
                guard try database.store().revoke(name: name, at: Date()) else { throw CLIFailure("no active operator named \(name)") }
                print("revoked \(name)")
            }
        }
    }
}
