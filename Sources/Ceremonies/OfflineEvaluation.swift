import AuthenticatorCatalog
import Foundation
import PSCPolicy
import VerificationRequests
import WireFormat

/// A registration request in the offline format judged as `mie-verifier evaluate` judges it,
/// alone or as a line of `--jsonl`, and the JSON report it writes. `mie-http-floor` answers with
/// the same judgement behind raw SwiftNIO (the registration ceiling of Benchmarks/http_load.py).
package enum OfflineEvaluation {
    /// A registration request verified with the catalog and judged by the profile, or why not.
    package enum Judged {
        case rejected(VerificationOutcome)
        case evaluated(VerificationOutcome, Evaluation)

        /// The exit status: 0 accepted, 1 refused, indeterminate or not verified, 2 malformed.
        package var disposition: VerificationOutcome.Disposition {
            switch self {
            case .rejected(let outcome): outcome.disposition == .badRequest ? .badRequest : .rejected
            case .evaluated(_, let evaluation): evaluation.verdict == .accepted ? .verified : .rejected
            }
        }
    }

    /// One request as `evaluate` judges it, alone or as a line of `--jsonl`: read, verified at
    /// `fixed`, else the request's `at`, else `otherwise`, then evaluated.
    package static func evaluate(
        _ bytes: UnsafeRawBufferPointer, service: VerificationService, catalog: CatalogSnapshot, profile: Profile, at fixed: Date?,
        otherwise: Date
    ) -> Judged {
        var parsed: VerificationRequest
        do throws(RequestError) {
            parsed = try VerificationRequest.read(bytes, ceremony: .registration)
        } catch {
            return .rejected(
                VerificationOutcome(
                    disposition: .badRequest,
                    result: .rejected(code: RequestFailureCode.malformedRequest.rawValue, message: error.message, ceremony: .registration)))
        }
        let time = fixed ?? parsed.at ?? otherwise
        parsed.at = time
        let outcome = service.verify(.registration, request: parsed, now: time)
        guard case .registration(let registration) = outcome.result else { return .rejected(outcome) }
        return .evaluated(outcome, PolicyEngine.evaluate(.fido(FIDOFacts(registration: registration)), catalog: catalog, profile: profile, at: time))
    }

    /// The JSON report: the verification, then the evaluation (the service's
    /// `/v1/registrations/verify` answer has the same members).
    package static func writeReport(_ outcome: VerificationOutcome, _ evaluation: Evaluation, to writer: inout JSONWriter) {
        writer.object { w in
            w.key("verification")
            outcome.write(to: &w)
            evaluation.writeMembers(to: &w)
        }
    }

    /// A registration that did not verify: the verification result, no verdict but refused.
    package static func writeRejected(_ outcome: VerificationOutcome, to writer: inout JSONWriter) {
        writer.object { w in
            w.key("verification")
            outcome.write(to: &w)
            w.key("verdict")
            w.string("refused")
            w.key("reason")
            w.string(outcome.disposition == .badRequest ? "the request is malformed" : "the registration does not verify")
            w.key("amr")
            w.array { _ in }
        }
    }
}
