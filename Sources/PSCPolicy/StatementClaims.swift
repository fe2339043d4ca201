import AuthenticatorCatalog

/// What a candidate's metadata statement claims, judged against what the key did when the
/// candidate battery exercised it. The battery reads the key and reports facts; these decide
/// whether each claim holds (nil: the battery could not tell), the same way for every caller.
package enum StatementClaims {
    package struct Judgement: Sendable, Equatable {
        package let holds: Bool?
        package let detail: String
    }

    /// getInfo claims built-in user verification: UV must be set on the registration and on
    /// every assertion.
    package static func builtInUserVerification(registrationUV: Bool, everyAssertionUV: Bool) -> Judgement {
        Judgement(holds: registrationUV && everyAssertionUV, detail: "registration UV \(registrationUV), assertions UV \(everyAssertionUV)")
    }

    /// userVerificationDetails must name a method that verifies the user (not presence alone).
    package static func userVerificationDetails(_ statement: MetadataStatement) -> Judgement {
        let verifying = statement.userVerificationMethods.subtracting(["presence_internal", "none"])
        return Judgement(holds: !verifying.isEmpty, detail: statement.userVerificationMethods.sorted().joined(separator: ", "))
    }

    /// A key that takes a client PIN must declare passcode_external.
    package static func clientPINDeclared(_ statement: MetadataStatement) -> Judgement {
        Judgement(
            holds: statement.userVerificationMethods.contains("passcode_external"), detail: statement.userVerificationMethods.sorted().joined(separator: ", "))
    }

    /// matcherProtection declared, and not software alone for a key whose keys are not in software.
    package static func matcherProtection(_ statement: MetadataStatement) -> Judgement {
        let matchers = Set(statement.matcherProtection)
        return Judgement(
            holds: !matchers.isEmpty && (matchers != ["software"] || !Set(statement.keyProtection).isDisjoint(with: ["software"])),
            detail: matchers.isEmpty ? "none declared" : statement.matcherProtection.joined(separator: ", "))
    }

    /// keyProtection hardware, a secure element or a TEE.
    package static func keyProtection(_ statement: MetadataStatement) -> Judgement {
        Judgement(
            holds: !Set(statement.keyProtection).isDisjoint(with: ["hardware", "secure_element", "tee"]), detail: statement.keyProtection.joined(separator: ", "))
    }

    /// The credential is device-bound: a synced (backup eligible) one is not a hardware MIE.
    package static func deviceBound(backupEligible: Bool) -> Judgement {
        Judgement(holds: !backupEligible, detail: backupEligible ? "backup eligible: a synced credential" : "BE flag clear")
    }
}
