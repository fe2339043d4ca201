import Hummingbird

/// The OpenAPI 3.1 description of the API, served at `GET /v1/openapi.json` (no key needed).
/// `Tests/VerificationAPITests` checks that it names every route the router serves, and
/// `Tools/service/api_fuzz.sh` has schemathesis hold every response to it.
enum OpenAPIDocument {
    static func register(on router: Router<APIRequestContext>) {
        router.get("/v1/openapi.json") { _, _ in jsonResponse(Array(text.utf8)) }
    }

    static let text = #"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "MIE Verifier",
            "version": "1",
            "description": "Verifies WebAuthn registrations and assertions and CPS-family authentication means for Pro Santé Connect, and says which are PSC-acceptable (EXI EDC PSC FI 19-25, 41-46) and which AMR they carry. Trust (the referencing lists), policy (the PSC profile) and time (the server's clock) are the service's: clients send ceremony data only. Failed verifications are 200 with verified false and a stable code; refusals of the API itself are RFC 9457 problems with a stable code. Who sees what: a holder and their credentials belong to one relying party, the one of the client that enrolled them; a client reaches only its own relying party's holders and credentials, and one of another party is answered exactly as one that does not exist (404). Identity evidence only strengthens (proven-by-card > asserted-by-operator > asserted-by-client, a client's word counting only for that client): a weaker request can neither change a holder's identity nor add a key to them (409 holder.evidence-weaker)."
          },
          "servers": [{"url": "/"}],
          "security": [{"apiKey": []}],
          "paths": {
            "/health/live": {
              "get": {
                "summary": "The process answers", "security": [], "operationId": "live",
                "responses": {"200": {"description": "Live", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}}},
                              "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/health/ready": {
              "get": {
                "summary": "The database answers and a referencing list is loaded", "security": [], "operationId": "ready",
                "responses": {"200": {"description": "Ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}}},
                              "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/metrics": {
              "get": {
                "summary": "Prometheus text exposition", "security": [], "operationId": "metrics",
                "responses": {"200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}},
                              "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/openapi.json": {
              "get": {
                "summary": "This document", "security": [], "operationId": "openapi",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/registrations/verify": {
              "post": {
                "summary": "Verify a registration the IAM ran, and judge it (role verifier or enrolment)", "operationId": "verifyRegistration",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StatelessRegistration"}}}},
                "responses": {"200": {"description": "Verified and judged, or refused with a code",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JudgedRegistration"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "413": {"$ref": "#/components/responses/Problem"},
                              "415": {"$ref": "#/components/responses/Problem"}, "429": {"$ref": "#/components/responses/Problem"},
                              "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/assertions/verify": {
              "post": {
                "summary": "Verify an assertion against the credential the IAM stored (role verifier or enrolment)", "operationId": "verifyAssertion",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StatelessAssertion"}}}},
                "responses": {"200": {"description": "Verified with its AMR, or refused with a code",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StatelessAssertionResult"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "413": {"$ref": "#/components/responses/Problem"},
                              "415": {"$ref": "#/components/responses/Problem"}, "429": {"$ref": "#/components/responses/Problem"},
                              "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/registrations/options": {
              "post": {
                "summary": "Open a registration ceremony for a holder (role enrolment)", "operationId": "registrationOptions",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RegistrationOptionsRequest"}}}},
                "responses": {"200": {"description": "Options for PublicKeyCredential.parseCreationOptionsFromJSON",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreationCeremony"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"},
                              "409": {"$ref": "#/components/responses/Problem"}, "410": {"$ref": "#/components/responses/Problem"},
                              "413": {"$ref": "#/components/responses/Problem"}, "415": {"$ref": "#/components/responses/Problem"},
                              "422": {"$ref": "#/components/responses/Problem"}, "429": {"$ref": "#/components/responses/Problem"},
                              "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/registrations": {
              "post": {
                "summary": "Finish a registration ceremony: verify, judge, store (role enrolment)", "operationId": "register",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CeremonyResponse"}}}},
                "responses": {"200": {"description": "Registered or not, with the verification and the PSC verdict",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RegistrationResult"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"},
                              "409": {"$ref": "#/components/responses/Problem"}, "410": {"$ref": "#/components/responses/Problem"},
                              "413": {"$ref": "#/components/responses/Problem"}, "415": {"$ref": "#/components/responses/Problem"},
                              "429": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/assertions/options": {
              "post": {
                "summary": "Open a sign-in ceremony, for a holder or for a discoverable credential (role enrolment)", "operationId": "assertionOptions",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AssertionOptionsRequest"}}}},
                "responses": {"200": {"description": "Options for PublicKeyCredential.parseRequestOptionsFromJSON",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RequestCeremony"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"},
                              "413": {"$ref": "#/components/responses/Problem"}, "415": {"$ref": "#/components/responses/Problem"},
                              "429": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/assertions": {
              "post": {
                "summary": "Finish a sign-in: verify against the stored credential, move its counter (role enrolment)", "operationId": "signIn",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CeremonyResponse"}}}},
                "responses": {"200": {"description": "Signed in with the holder and AMR, or refused with a code",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignInResult"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"},
                              "409": {"$ref": "#/components/responses/Problem"}, "410": {"$ref": "#/components/responses/Problem"},
                              "413": {"$ref": "#/components/responses/Problem"}, "415": {"$ref": "#/components/responses/Problem"},
                              "429": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/cards/challenges": {
              "post": {
                "summary": "A challenge for a card's possession proof (role verifier or enrolment)", "operationId": "cardChallenge",
                "responses": {"200": {"description": "32 random bytes, single use, expiring",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CardChallenge"}}}},
                              "401": {"$ref": "#/components/responses/Problem"}, "403": {"$ref": "#/components/responses/Problem"},
                              "429": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/cards/verify": {
              "post": {
                "summary": "Is this CPS-family card an accepted MIE? Chain, revocation, identity, possession, PSC verdict (role verifier or enrolment)", "operationId": "verifyCard",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CardRequest"}}}},
                "responses": {"200": {"description": "The card's facts and the PSC verdict",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CardResult"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"},
                              "409": {"$ref": "#/components/responses/Problem"}, "410": {"$ref": "#/components/responses/Problem"},
                              "413": {"$ref": "#/components/responses/Problem"}, "415": {"$ref": "#/components/responses/Problem"},
                              "429": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/credentials": {
              "get": {
                "summary": "A holder's credentials (role enrolment or operator)", "operationId": "listCredentials",
                "parameters": [{"name": "holder", "in": "query", "required": true, "schema": {"$ref": "#/components/schemas/Text64"}},
                               {"name": "deleted", "in": "query", "required": false, "schema": {"type": "string", "enum": ["true", "false"]}}],
                "responses": {"200": {"description": "The holder and their credentials",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CredentialList"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"},
                              "429": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/credentials/{id}": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{2,1364}$"}, "description": "The credential ID, base64url"}],
              "get": {
                "summary": "One credential (role enrolment or operator)", "operationId": "getCredential",
                "responses": {"200": {"description": "The credential", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Credential"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"},
                              "429": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}}
              },
              "delete": {
                "summary": "Delete a credential, kept in the audit trail (role operator)", "operationId": "deleteCredential",
                "responses": {"204": {"description": "Deleted"},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"},
                              "429": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/referencing": {
              "get": {
                "summary": "The referencing lists and profile in force", "operationId": "referencing",
                "responses": {"200": {"description": "Lists, counts, staleness, profile",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Referencing"}}}},
                              "401": {"$ref": "#/components/responses/Problem"}, "403": {"$ref": "#/components/responses/Problem"},
                              "429": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/verdict-changes": {
              "get": {
                "summary": "Changes list updates made to the verdicts of this relying party's credentials, newest first (role enrolment or operator)",
                "operationId": "verdictChanges",
                "parameters": [{"name": "limit", "in": "query", "required": false, "schema": {"type": "string", "pattern": "^[0-9]{1,4}$"}}],
                "responses": {"200": {"description": "The changes",
                                      "content": {"application/json": {"schema": {"type": "object", "required": ["changes"],
                                        "properties": {"changes": {"type": "array", "items": {"$ref": "#/components/schemas/VerdictChange"}}}}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "429": {"$ref": "#/components/responses/Problem"},
                              "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/referencing/export": {
              "get": {
                "summary": "The models the lists in force accept, as the configuration of an IAM (Entra, Okta, Keycloak)", "operationId": "exportPolicy",
                "parameters": [{"name": "for", "in": "query", "required": true, "schema": {"type": "string", "enum": ["entra", "okta", "keycloak"]}}],
                "responses": {"200": {"description": "The IAM's configuration with the lists it comes from",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IAMPolicy"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "429": {"$ref": "#/components/responses/Problem"},
                              "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/referencing/import": {
              "post": {
                "summary": "Import an MDS3 BLOB or an ANS list (role operator)", "operationId": "importList",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ImportRequest"}}}},
                "responses": {"200": {"description": "Imported and in force", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ImportResult"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "413": {"$ref": "#/components/responses/Problem"},
                              "415": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"},
                              "429": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/authenticators/{aaguid}": {
              "parameters": [{"name": "aaguid", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"}, "description": "8-4-4-4-12 hexadecimal"}],
              "get": {
                "summary": "One authenticator model of the catalog", "operationId": "authenticator",
                "responses": {"200": {"description": "The model, its statuses and the ANS decision", "content": {"application/json": {"schema": {"type": "object"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"},
                              "429": {"$ref": "#/components/responses/Problem"}, "503": {"$ref": "#/components/responses/Problem"}}
              }
            },
            "/v1/evaluations": {
              "post": {
                "summary": "A vendor's candidate registration judged criterion by criterion (role verifier or operator)", "operationId": "evaluate",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CandidateRegistration"}}}},
                "responses": {"200": {"description": "The report",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Evaluation"}},
                                                  "text/html": {"schema": {"type": "string"}}}},
                              "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"},
                              "403": {"$ref": "#/components/responses/Problem"}, "413": {"$ref": "#/components/responses/Problem"},
                              "415": {"$ref": "#/components/responses/Problem"}, "429": {"$ref": "#/components/responses/Problem"},
                              "503": {"$ref": "#/components/responses/Problem"}}
              }
            }
          },
          "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "mie_ followed by 43 base64url characters, from mie-verifier clients add"}},
            "responses": {
              "Problem": {"description": "An RFC 9457 problem with a stable code",
                          "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            },
            "schemas": {
              "Problem": {
                "type": "object", "required": ["type", "title", "status", "code", "detail"],
                "properties": {
                  "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
                  "code": {"type": "string", "enum": ["request.malformed", "request.too-large", "request.unsupported-media-type", "auth.missing", "auth.invalid", "auth.forbidden", "not-found", "method-not-allowed", "ceremony.unknown", "ceremony.replayed", "ceremony.expired", "conflict", "referencing.refused", "rate-limited", "overloaded", "unavailable", "internal"]},
                  "reason": {"type": "string"}
                }
              },
              "Status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"},
                "degraded": {"type": "array", "items": {"type": "string"}}, "referencing": {"type": "object"},
                "cardCRLs": {"type": "array", "items": {"type": "object", "properties": {"issuer": {"type": "string"}, "nextUpdate": {"type": ["string", "null"]}, "expired": {"type": "boolean"}}}}}},
              "Base64URL": {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
              "Challenge": {"type": "string", "pattern": "^[A-Za-z0-9_-]{22,86}$", "description": "16 to 64 bytes, base64url"},
              "Text64": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]+$"},
              "RegistrationResponseJSON": {
                "type": "object", "required": ["id", "rawId", "type", "response"],
                "properties": {
                  "id": {"$ref": "#/components/schemas/Base64URL"}, "rawId": {"$ref": "#/components/schemas/Base64URL"}, "type": {"const": "public-key"},
                  "response": {"type": "object", "required": ["clientDataJSON", "attestationObject"],
                               "properties": {"clientDataJSON": {"$ref": "#/components/schemas/Base64URL"}, "attestationObject": {"$ref": "#/components/schemas/Base64URL"}}}
                }
              },
              "AssertionResponseJSON": {
                "type": "object", "required": ["id", "rawId", "type", "response"],
                "properties": {
                  "id": {"$ref": "#/components/schemas/Base64URL"}, "rawId": {"$ref": "#/components/schemas/Base64URL"}, "type": {"const": "public-key"},
                  "response": {"type": "object", "required": ["clientDataJSON", "authenticatorData", "signature"],
                               "properties": {"clientDataJSON": {"$ref": "#/components/schemas/Base64URL"}, "authenticatorData": {"$ref": "#/components/schemas/Base64URL"},
                                              "signature": {"$ref": "#/components/schemas/Base64URL"}, "userHandle": {"oneOf": [{"$ref": "#/components/schemas/Base64URL"}, {"type": "null"}]}}}
                }
              },
              "StatelessRegistration": {
                "type": "object", "required": ["response", "challenge"], "additionalProperties": false,
                "properties": {"response": {"$ref": "#/components/schemas/RegistrationResponseJSON"}, "challenge": {"$ref": "#/components/schemas/Challenge"},
                               "profile": {"type": "string"}}
              },
              "StatelessAssertion": {
                "type": "object", "required": ["response", "challenge", "credential"], "additionalProperties": false,
                "properties": {
                  "response": {"$ref": "#/components/schemas/AssertionResponseJSON"}, "challenge": {"$ref": "#/components/schemas/Challenge"}, "profile": {"type": "string"},
                  "credential": {"type": "object", "required": ["publicKey", "signCount"], "additionalProperties": false,
                                 "properties": {"publicKey": {"$ref": "#/components/schemas/Base64URL"}, "signCount": {"type": "integer", "minimum": 0, "maximum": 4294967295},
                                                "backupEligible": {"type": "boolean"}, "id": {"$ref": "#/components/schemas/Base64URL"}, "userHandle": {"$ref": "#/components/schemas/Base64URL"}}}
                }
              },
              "Verification": {
                "type": "object", "required": ["verified", "ceremony"],
                "properties": {"verified": {"type": "boolean"}, "ceremony": {"enum": ["registration", "assertion"]},
                               "error": {"$ref": "#/components/schemas/CeremonyFailure"}}
              },
              "Verdict": {"enum": ["accepted", "refused", "indeterminate"]},
              "AMR": {"type": "array", "items": {"type": "string"}},
              "JudgedRegistration": {
                "type": "object", "required": ["verification"],
                "properties": {"verification": {"$ref": "#/components/schemas/Verification"}, "verdict": {"$ref": "#/components/schemas/Verdict"},
                               "criteria": {"type": "array", "items": {"type": "object"}}, "amr": {"$ref": "#/components/schemas/AMR"}}
              },
              "StatelessAssertionResult": {
                "type": "object", "required": ["verification", "amr"],
                "properties": {"verification": {"$ref": "#/components/schemas/Verification"}, "amr": {"$ref": "#/components/schemas/AMR"}}
              },
              "Holder": {
                "type": "object", "required": ["id", "name"], "additionalProperties": false,
                "properties": {"id": {"$ref": "#/components/schemas/Text64"}, "name": {"$ref": "#/components/schemas/Text64"},
                               "displayName": {"$ref": "#/components/schemas/Text64"}, "rpps": {"type": "string", "pattern": "^[0-9]{11}$", "description": "with a valid Luhn key"}}
              },
              "HolderView": {
                "type": "object", "required": ["id", "name", "displayName", "rpps"],
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "displayName": {"type": "string"}, "rpps": {"type": ["string", "null"]},
                               "identityEvidence": {"$ref": "#/components/schemas/IdentityEvidence"}}
              },
              "IdentityEvidence": {"enum": ["asserted-by-client", "asserted-by-operator", "proven-by-card"], "description": "How the holder's identity was established, weakest first"},
              "RegistrationOptionsRequest": {
                "type": "object", "additionalProperties": false,
                "description": "A typed identity (holder) or a card-bound enrolment (card: the holder is who the card proves, its signature over a challenge of /v1/cards/challenges required); one of the two.",
                "properties": {"holder": {"$ref": "#/components/schemas/Holder"}, "profile": {"type": "string"},
                               "card": {"allOf": [{"$ref": "#/components/schemas/CardRequest"}, {"required": ["challengeId", "signature"]}]}},
                "oneOf": [{"required": ["holder"]}, {"required": ["card"]}]
              },
              "AssertionOptionsRequest": {
                "type": "object", "additionalProperties": false, "properties": {"holder": {"$ref": "#/components/schemas/Text64"}}
              },
              "Descriptor": {"type": "object", "required": ["type", "id"], "properties": {"type": {"const": "public-key"}, "id": {"$ref": "#/components/schemas/Base64URL"}}},
              "CreationCeremony": {
                "type": "object", "required": ["ceremonyId", "expiresAt", "publicKey"],
                "properties": {
                  "ceremonyId": {"type": "string"}, "expiresAt": {"type": "string", "format": "date-time"},
                  "holder": {"type": "object"}, "identityEvidence": {"enum": ["asserted-by-client", "asserted-by-operator", "proven-by-card"]},
                  "origins": {"type": "array", "items": {"type": "string"}, "description": "The relying party's origins, for a client that is not a browser"},
                  "publicKey": {"type": "object", "required": ["rp", "user", "challenge", "pubKeyCredParams"],
                                "properties": {"rp": {"type": "object"}, "user": {"type": "object"}, "challenge": {"$ref": "#/components/schemas/Base64URL"},
                                               "pubKeyCredParams": {"type": "array"}, "timeout": {"type": "integer"},
                                               "excludeCredentials": {"type": "array", "items": {"$ref": "#/components/schemas/Descriptor"}},
                                               "authenticatorSelection": {"type": "object"}, "attestation": {"type": "string"}}}
                }
              },
              "RequestCeremony": {
                "type": "object", "required": ["ceremonyId", "expiresAt", "publicKey"],
                "properties": {
                  "ceremonyId": {"type": "string"}, "expiresAt": {"type": "string", "format": "date-time"},
                  "publicKey": {"type": "object", "required": ["challenge", "rpId"],
                                "properties": {"challenge": {"$ref": "#/components/schemas/Base64URL"}, "rpId": {"type": "string"}, "timeout": {"type": "integer"},
                                               "allowCredentials": {"type": "array", "items": {"$ref": "#/components/schemas/Descriptor"}},
                                               "userVerification": {"type": "string"}}}
                }
              },
              "CeremonyResponse": {
                "type": "object", "required": ["ceremonyId", "response"], "additionalProperties": false,
                "properties": {"ceremonyId": {"type": "string", "maxLength": 64},
                               "response": {"anyOf": [{"$ref": "#/components/schemas/RegistrationResponseJSON"}, {"$ref": "#/components/schemas/AssertionResponseJSON"}]}}
              },
              "RegistrationResult": {
                "type": "object", "required": ["registered", "verification"],
                "properties": {"registered": {"type": "boolean"}, "holder": {"$ref": "#/components/schemas/HolderView"}, "credentialId": {"$ref": "#/components/schemas/Base64URL"},
                               "verification": {"$ref": "#/components/schemas/Verification"}, "verdict": {"$ref": "#/components/schemas/Verdict"},
                               "criteria": {"type": "array"}, "amr": {"$ref": "#/components/schemas/AMR"},
                               "error": {"$ref": "#/components/schemas/CeremonyFailure"}}
              },
              "CeremonyFailure": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                                  "description": "Why a ceremony failed: the same shape in every answer that reports one"},
              "SignInResult": {
                "type": "object", "required": ["verified"],
                "properties": {"verified": {"type": "boolean"}, "holder": {"$ref": "#/components/schemas/HolderView"}, "credentialId": {"$ref": "#/components/schemas/Base64URL"},
                               "authenticator": {"type": "string"}, "aaguid": {"type": "string"}, "verdict": {"$ref": "#/components/schemas/Verdict"},
                               "pscAcceptable": {"type": "boolean"}, "amr": {"$ref": "#/components/schemas/AMR"}, "signCount": {"type": "integer"},
                               "userVerified": {"type": "boolean"}, "identityEvidence": {"$ref": "#/components/schemas/IdentityEvidence"},
                               "error": {"$ref": "#/components/schemas/CeremonyFailure"}}
              },
              "Credential": {
                "type": "object", "required": ["id", "holder", "aaguid", "verdict", "amr", "signCount", "createdAt"],
                "properties": {"id": {"$ref": "#/components/schemas/Base64URL"}, "holder": {"oneOf": [{"$ref": "#/components/schemas/HolderView"}, {"type": "string"}]},
                               "identityEvidence": {"type": "string"}, "aaguid": {"type": "string"}, "authenticator": {"type": "string"}, "algorithm": {"type": "string"},
                               "verdict": {"$ref": "#/components/schemas/Verdict"}, "amr": {"$ref": "#/components/schemas/AMR"}, "signCount": {"type": "integer"},
                               "backupEligible": {"type": "boolean"}, "rpId": {"type": "string"}, "createdAt": {"type": "string"},
                               "lastUsedAt": {"type": ["string", "null"]}, "deletedAt": {"type": ["string", "null"]},
                               "pscAcceptable": {"type": "boolean"}, "lists": {"type": "array", "items": {"type": "string"}},
                               "verdictChanges": {"type": "array", "items": {"$ref": "#/components/schemas/VerdictChange"}}}
              },
              "VerdictChange": {
                "type": "object", "required": ["id", "at", "credentialId", "rpId", "holderId", "old", "new", "cause", "lists"],
                "properties": {"id": {"type": "integer"}, "at": {"type": "string"}, "credentialId": {"$ref": "#/components/schemas/Base64URL"},
                               "rpId": {"type": "string"}, "holderId": {"type": "string"}, "aaguid": {"type": "string"}, "authenticator": {"type": "string"},
                               "old": {"$ref": "#/components/schemas/Standing"}, "new": {"$ref": "#/components/schemas/Standing"},
                               "cause": {"type": "string"}, "lists": {"type": "array", "items": {"type": "string"}}}
              },
              "Standing": {
                "type": "object", "required": ["verdict", "pscAcceptable", "amr"],
                "properties": {"verdict": {"$ref": "#/components/schemas/Verdict"}, "pscAcceptable": {"type": "boolean"}, "amr": {"$ref": "#/components/schemas/AMR"}}
              },
              "IAMPolicy": {
                "type": "object", "required": ["format", "for", "generatedAt", "lists", "accepted", "excluded", "requests", "notes"],
                "properties": {"format": {"type": "string"}, "for": {"type": "string", "enum": ["entra", "okta", "keycloak"]}, "generatedAt": {"type": "string"},
                               "lists": {"type": "array"}, "accepted": {"type": "array"}, "excluded": {"type": "array"},
                               "requests": {"type": "array", "items": {"type": "object", "required": ["method", "path", "body"]}},
                               "notes": {"type": "array", "items": {"type": "string"}}}
              },
              "CredentialList": {
                "type": "object", "required": ["holder", "credentials"],
                "properties": {"holder": {"$ref": "#/components/schemas/HolderView"}, "credentials": {"type": "array", "items": {"$ref": "#/components/schemas/Credential"}}}
              },
              "Referencing": {
                "type": "object", "required": ["lists", "authenticators", "cardFamilies", "stale", "profile"],
                "properties": {"lists": {"type": "array", "items": {"type": "object"}}, "authenticators": {"type": "integer"}, "cardFamilies": {"type": "integer"},
                               "stale": {"type": "boolean"}, "profile": {"type": "object", "required": ["id", "version", "sha256"]}}
              },
              "ImportRequest": {
                "type": "object", "required": ["document"], "additionalProperties": false,
                "properties": {"document": {"$ref": "#/components/schemas/Base64URL"}, "signature": {"type": "string", "description": "The detached JWS of an ANS list"}}
              },
              "ImportResult": {"type": "object", "required": ["result", "list"], "properties": {"result": {"const": "imported"}, "list": {"type": "object"}}},
              "CandidateRegistration": {
                "type": "object", "required": ["response", "expected"], "additionalProperties": false,
                "properties": {"response": {"$ref": "#/components/schemas/RegistrationResponseJSON"},
                               "expected": {"type": "object", "required": ["challenge", "origins", "rpId"],
                                            "properties": {"challenge": {"$ref": "#/components/schemas/Base64URL"}, "origins": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                                                           "rpId": {"type": "string"}, "userVerification": {"enum": ["required", "preferred", "discouraged"]}}}}
              },
              "CardChallenge": {
                "type": "object", "required": ["challengeId", "challenge", "expiresAt"],
                "properties": {"challengeId": {"type": "string"}, "challenge": {"$ref": "#/components/schemas/Base64URL"}, "expiresAt": {"type": "string", "format": "date-time"}}
              },
              "CardRequest": {
                "type": "object", "required": ["certificates"], "additionalProperties": false,
                "properties": {
                  "certificates": {"type": "array", "minItems": 1, "maxItems": 8, "items": {"$ref": "#/components/schemas/Base64URL"}, "description": "DER, the authentication certificate and its CAs"},
                  "atr": {"type": "string", "pattern": "^[0-9A-Fa-f ]+$", "description": "The card's ATR in hexadecimal"},
                  "serialNumber": {"type": "string", "pattern": "^[0-9A-Fa-f ]+$", "description": "EF.SN.ICC in hexadecimal"},
                  "challengeId": {"type": "string"}, "signature": {"$ref": "#/components/schemas/Base64URL"}
                },
                "dependentRequired": {"challengeId": ["signature"], "signature": ["challengeId"]}
              },
              "CardResult": {
                "type": "object", "required": ["card", "verdict", "amr"],
                "properties": {"card": {"type": "object", "required": ["generation", "identity", "chain", "possessionProven"]},
                               "verdict": {"$ref": "#/components/schemas/Verdict"}, "criteria": {"type": "array"}, "amr": {"$ref": "#/components/schemas/AMR"}}
              },
              "Evaluation": {
                "type": "object", "required": ["verification", "verdict", "amr"],
                "properties": {"verification": {"$ref": "#/components/schemas/Verification"}, "verdict": {"$ref": "#/components/schemas/Verdict"},
                               "criteria": {"type": "array"}, "amr": {"$ref": "#/components/schemas/AMR"}, "reason": {"type": "string"}}
              }
            }
          }
        }
        """#
}
