/// Why an operation was refused, with a stable code (the API's problem code of the same name;
/// `APIError` converts it once, at the edge).
package struct OperationError: Error, Sendable, CustomStringConvertible {
    package enum Code: String, Sendable, CaseIterable {
        case malformed = "request.malformed"
        case notFound = "not-found"
        case ceremonyUnknown = "ceremony.unknown"
        case ceremonyReplayed = "ceremony.replayed"
        case ceremonyExpired = "ceremony.expired"
        case conflict = "conflict"
        case cardRefused = "card.refused"
        case listRefused = "referencing.refused"
        case operatorCodeInvalid = "operator.code-invalid"
        case invalidCredentials = "auth.invalid"
        /// The request's identity evidence is weaker than what set the holder's identity.
        case evidenceWeaker = "holder.evidence-weaker"
        /// The audit trail cannot take the event now: nothing is acknowledged without it.
        case unavailable = "unavailable"
    }

    package let code: Code
    package let message: String
    /// A finer stable code where one exists (the failing check of a refused card, the import
    /// failure of a refused list).
    package let reason: String?

    package init(_ code: Code, _ message: String, reason: String? = nil) {
        self.code = code
        self.message = message
        self.reason = reason
    }

    package var description: String { "\(code.rawValue): \(message)" }
}
