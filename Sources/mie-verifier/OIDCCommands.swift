import ArgumentParser
import SignatureVerification
import Foundation
import Storage
import VerificationAPI
import WireFormat

/// `mie-verifier oidc clients add|list|revoke` and `oidc keys list|rotate`: the IAMs that
/// delegate the second factor to the service's OpenID Provider, and its signing keys.
struct OIDC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oidc",
        abstract: "The OpenID Provider's clients (the IAMs) and signing keys.",
        discussion: """
            The provider is served by `serve` under the relying party's origin (or the configured \
            oidc.issuer): /.well-known/openid-configuration, /oidc/authorize, /oidc/token, \
            /oidc/jwks, /oidc/userinfo. docs/openid-provider.md says how Entra, Okta and \
            Keycloak are configured with it.
            """,
        subcommands: [Clients.self, Keys.self])

    struct Database: ParsableArguments {
        @Option(name: .long, help: "The SQLite database file, or a postgres:// URL.") var database: String

        func store() throws -> OIDCStore { OIDCStore(database: try openDatabase(database)) }
    }

    struct Clients: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register, list and revoke the IAMs allowed to ask for a sign-in.", subcommands: [Add.self, List.self, Revoke.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Register an IAM; prints its client_id and, for a confidential client, its secret (shown once).",
                discussion: """
                    Redirect URIs are compared exactly. A confidential client authenticates with \
                    client_secret_basic (default) or client_secret_post; --jwks FILE registers its \
                    public keys for private_key_jwt; --public makes a public client (PKCE S256 \
                    required). --hint-issuer and --hint-jwks let it send an id_token_hint (Entra \
                    ID's external authentication methods), whose --hint-subject-claim names the \
                    holder in the service's relying party.
                    """)
            @Argument(help: "What the sign-in page shows (the establishment or IAM).") var name: String
            @Option(name: .customLong("redirect-uri"), help: "A redirect URI (repeat for several).") var redirectURIs: [String] = []
            @Option(name: .customLong("client-id"), help: "The client_id (default: generated).") var clientID: String?
            @Option(name: .long, help: "client_secret_basic or client_secret_post.") var auth = "client_secret_basic"
            @Flag(name: .customLong("public"), help: "A public client: no secret, PKCE S256 required.") var isPublic = false
            @Option(name: .long, help: "The client's JWKS file, for private_key_jwt.") var jwks: String?
            @Option(name: .long, help: "RS256 (default) or ES256: how its id_tokens are signed.") var alg = "RS256"
            @Option(name: .customLong("hint-issuer"), help: "The issuer of the id_token_hint it sends.") var hintIssuer: String?
            @Option(name: .customLong("hint-jwks"), help: "A JWKS file with the hint issuer's keys.") var hintJWKS: String?
            @Option(name: .customLong("hint-subject-claim"), help: "The hint's claim naming the holder (default sub).") var hintSubjectClaim = "sub"
            @OptionGroup var database: Database

            func run() throws {
                try runReporting {
                    guard !redirectURIs.isEmpty else { throw CLIFailure("name at least one --redirect-uri") }
                    for uri in redirectURIs {
                        guard let components = URLComponents(string: uri), let scheme = components.scheme, components.host != nil, components.fragment == nil,
                            scheme == "https" || (scheme == "http" && ["localhost", "127.0.0.1", "[::1]", "::1"].contains(components.host ?? ""))
                        else { throw CLIFailure("\(uri) is not an https URL without fragment (http only for localhost)") }
                    }
                    guard OIDCSigningKeyAlgorithms.contains(alg) else { throw CLIFailure("--alg is RS256 or ES256") }
                    var method: OIDCClientAuthentication
                    switch (isPublic, jwks) {
                    case (true, nil): method = .none
                    case (false, .some): method = .privateKeyJWT
                    case (true, .some): throw CLIFailure("a public client has no keys: --public or --jwks, not both")
                    case (false, nil):
                        guard let chosen = OIDCClientAuthentication(rawValue: auth), chosen == .clientSecretBasic || chosen == .clientSecretPost else {
                            throw CLIFailure("--auth is client_secret_basic or client_secret_post")
                        }
                        method = chosen
                    }
                    let clientJWKS = try jwks.map { try Self.readJWKS($0, "--jwks") }
                    guard (hintIssuer == nil) == (hintJWKS == nil) else { throw CLIFailure("--hint-issuer and --hint-jwks go together") }
                    let hintKeys = try hintJWKS.map { try Self.readJWKS($0, "--hint-jwks") }
                    let id = clientID ?? "mie-" + Base64URL.encode((0..<12).map { _ in UInt8.random(in: 0...255) })
                    guard (1...128).contains(id.utf8.count), id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) else {
                        throw CLIFailure("--client-id is 1 to 128 printable ASCII characters, no colon")
                    }
                    let secret = method == .clientSecretBasic || method == .clientSecretPost
                        ? "mie_cs_" + Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255) }) : nil
                    let record = OIDCClientRecord(
                        clientID: id, name: name, redirectURIs: redirectURIs, authentication: method,
                        secretHash: secret.map { Digest.sha256(Array($0.utf8)) }, jwks: clientJWKS, hintIssuer: hintIssuer, hintJWKS: hintKeys,
                        hintSubjectClaim: hintSubjectClaim, idTokenAlgorithm: alg, createdAt: Date())
                    guard try database.store().add(client: record) else { throw CLIFailure("a client \(id) is already registered") }
                    print("client_id\t\(id)")
                    if let secret { print("client_secret\t\(secret)") }
                    FileHandle.standardError.write(
                        Data("client \(name) registered (\(method.rawValue), id_token \(alg))\(secret == nil ? "" : "; the secret above is shown once")\n".utf8))
                }
            }

            static func readJWKS(_ path: String, _ option: String) throws -> String {
                guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                    throw CLIFailure("\(option): cannot read \(path)")
                }
                do {
                    try OIDCKeyCheck.jwks(text)
                } catch {
                    throw CLIFailure("\(option): \(path) \(error)")
                }
                return text
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the registered IAMs.")
            @OptionGroup var database: Database

            func run() throws {
                try runReporting {
                    for client in try database.store().clients() {
                        let status = client.revokedAt.map { "revoked \($0.formatted(.iso8601))" } ?? "active"
                        print("\(client.clientID)\t\(client.name)\t\(client.authentication.rawValue)\t\(client.redirectURIs.joined(separator: " "))\t\(status)")
                    }
                }
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke an IAM: its requests and codes are refused from now on.")
            @Argument(help: "The client_id.") var clientID: String
            @OptionGroup var database: Database

            func run() throws {
                try runReporting {
                    guard try database.store().revoke(client: clientID, at: Date()) else { throw CLIFailure("no active client \(clientID)") }
                    print("revoked \(clientID)")
                }
            }
        }
    }

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the provider's signing keys, or rotate them now.",
            discussion: "Keys rotate by themselves (oidc.keyRotationDays); a retired key stays in the JWKS a day past the tokens it signed.",
            subcommands: [List.self, Rotate.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the signing keys (kid, algorithm, created, retired).")
            @OptionGroup var database: Database

            func run() throws {
                try runReporting {
                    for key in try database.store().signingKeys() {
                        print("\(key.kid)\t\(key.algorithm)\tcreated \(key.createdAt.formatted(.iso8601))\t\(key.retiredAt.map { "retired \($0.formatted(.iso8601))" } ?? "active")")
                    }
                }
            }
        }

        struct Rotate: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Make a new key for each algorithm now (the old ones retire and stay published).")
            @OptionGroup var database: Database

            func run() throws {
                try runReporting {
                    for kid in try OIDCKeyCheck.rotate(try database.store(), at: Date()) { print("active\t\(kid)") }
                }
            }
        }
    }
}
