import Foundation
import Storage

/// A relying party: the WebAuthn RP ID, the origins its pages are served from, the name
/// authenticators show. Holders and credentials belong to exactly one.
package struct RelyingParty: Sendable, Equatable {
    package var id: String
    package var origins: [String]
    /// What authenticators show during registration.
    package var name: String

    package init(id: String, origins: [String], name: String? = nil) {
        self.id = id
        self.origins = origins
        self.name = name ?? id
    }
}

/// Who asks for an operation: an API client with the relying party it is registered for, or the
/// enrolment desk on behalf of a signed-in operator. Every operation takes one explicitly and
/// reaches only that relying party's holders and credentials; what it answers about another
/// party's is what it answers about nothing at all.
package struct Caller: Sendable {
    package let client: APIClient
    package let party: RelyingParty
    /// The desk operator acting (desk requests); nil for an API client.
    package let deskOperator: String?
    /// Who the service acts for through one of its own clients (the OpenID Provider's sign-ins:
    /// `oidc:<client_id>`); nil otherwise.
    package let actingFor: String?

    package init(client: APIClient, party: RelyingParty, deskOperator: String? = nil, actingFor: String? = nil) {
        self.client = client
        self.party = party
        self.deskOperator = deskOperator
        self.actingFor = actingFor
    }

    /// The name audit events record.
    package var auditName: String { deskOperator.map { "desk:\($0)" } ?? actingFor ?? client.name }
}
