import AuthenticatorVerification
import CBORDecoding
import SignatureVerification
import WireFormat

/// The JSON result printed by the CLI and returned by the HTTP API (README, "Result").
/// Written with `JSONWriter`, members in alphabetical order.
public enum VerificationResult: Sendable {
    case registration(VerifiedRegistration)
    case assertion(VerifiedAssertion)
    case rejected(code: String, message: String, ceremony: Ceremony)

    public var isVerified: Bool {
        if case .rejected = self { return false }
        return true
    }

    /// The message of a rejection.
    public var failureMessage: String? {
        if case .rejected(_, let message, _) = self { return message }
        return nil
    }

    /// The stable code of a rejection.
    public var failureCode: String? {
        if case .rejected(let code, _, _) = self { return code }
        return nil
    }

    public func write(to w: inout JSONWriter) {
        switch self {
        case .registration(let r): Self.write(r, to: &w)
        case .assertion(let a): Self.write(a, to: &w)
        case .rejected(let code, let message, let ceremony):
            w.object { w in
                w.key("ceremony")
                w.string(ceremony.rawValue)
                w.key("error")
                w.object { w in
                    w.key("code")
                    w.string(code)
                    w.key("message")
                    w.string(message)
                }
                w.key("verified")
                w.bool(false)
            }
        }
    }

    static func write(_ r: VerifiedRegistration, to w: inout JSONWriter) {
        w.object { w in
            w.key("attestation")
            writeAttestation(r.attestation, to: &w)
            w.key("ceremony")
            w.string("registration")
            w.key("credential")
            w.object { w in
                w.key("aaguid")
                w.string(AAGUIDText.string(r.aaguid))
                if r.claimedAAGUID != r.aaguid {
                    // Not covered by the attestation: shown apart, never as the model.
                    w.key("unattestedAAGUID")
                    w.string(AAGUIDText.string(r.claimedAAGUID))
                }
                w.key("alg")
                w.string(r.publicKey.algorithm.name)
                w.key("backupEligible")
                w.bool(r.flags.backupEligible)
                w.key("backupState")
                w.bool(r.flags.backupState)
                w.key("id")
                w.base64URL(r.credentialID)
                w.key("publicKey")
                w.base64URL(r.publicKey.encoded)
                w.key("signCount")
                w.integer(r.signCount)
            }
            writeExtensions(r.extensions, to: &w)
            w.key("flags")
            writeFlags(r.flags, to: &w)
            w.key("verified")
            w.bool(true)
        }
    }

    static func write(_ a: VerifiedAssertion, to w: inout JSONWriter) {
        w.object { w in
            w.key("backupState")
            w.bool(a.backupState)
            w.key("ceremony")
            w.string("assertion")
            writeExtensions(a.extensions, to: &w)
            w.key("flags")
            writeFlags(a.flags, to: &w)
            w.key("signCount")
            w.integer(a.signCount)
            w.key("userVerified")
            w.bool(a.userVerified)
            w.key("verified")
            w.bool(true)
        }
    }

    static func writeFlags(_ flags: AuthenticatorData.Flags, to w: inout JSONWriter) {
        w.object { w in
            w.key("be")
            w.bool(flags.backupEligible)
            w.key("bs")
            w.bool(flags.backupState)
            w.key("up")
            w.bool(flags.userPresent)
            w.key("uv")
            w.bool(flags.userVerified)
        }
    }

    /// `extensions`: each output under its identifier, CBOR shown as JSON (`CBORJSON`);
    /// `extensionsCBOR`: the exact bytes the authenticator sent, for a lossless record.
    static func writeExtensions(_ extensions: AuthenticatorExtensions?, to w: inout JSONWriter) {
        guard let extensions else { return }
        w.key("extensions")
        w.object { w in
            for entry in extensions.outputs.entries {
                guard let name = entry.key.text else { continue }
                w.key(name)
                CBORJSON.write(entry.value, to: &w)
            }
        }
        w.key("extensionsCBOR")
        w.base64URL(extensions.encoded)
    }

    static func writeAttestation(_ a: AttestationResult, to w: inout JSONWriter) {
        w.object { w in
            if let authenticator = a.authenticator {
                w.key("authenticator")
                w.object { w in
                    switch authenticator {
                    case .aaguid(let bytes):
                        w.key("aaguid")
                        w.string(AAGUIDText.string(bytes))
                    case .certificateKeyIdentifier(let bytes):
                        w.key("certificateKeyIdentifier")
                        w.string(Hex.string(bytes))
                    }
                }
            }
            if !a.components.isEmpty {
                w.key("components")
                w.array { w in
                    for component in a.components { writeAttestation(component, to: &w) }
                }
            }
            if !a.evidence.isEmpty {
                w.key("evidence")
                w.array { w in
                    for item in a.evidence { writeEvidence(item, to: &w) }
                }
            }
            w.key("format")
            w.string(a.format)
            w.key("revocation")
            w.string(a.revocation.rawValue)
            w.key("trustPath")
            w.array { w in
                for certificate in a.certificates { w.base64URL(certificate.der) }
            }
            w.key("trusted")
            w.bool(a.isTrusted)
            w.key("type")
            w.string(a.type.rawValue)
            if !a.isTrusted, let reason = a.untrustedReason {
                w.key("untrustedReason")
                w.string(reason)
            }
            let warnings = a.warnings
            if !warnings.isEmpty {
                w.key("warnings")
                w.array { w in
                    for warning in warnings { w.string(warning.summary) }
                }
            }
        }
    }

    static func writeEvidence(_ item: AttestationEvidence, to w: inout JSONWriter) {
        w.object { w in
            w.key("code")
            w.string(item.code)
            switch item {
            case .tpmManufacturer(let id, let name, let model, let version):
                w.key("id")
                w.string(id)
                if let model {
                    w.key("model")
                    w.string(model)
                }
                if let name {
                    w.key("name")
                    w.string(name)
                }
                if let version {
                    w.key("version")
                    w.string(version)
                }
            case .tpmManufacturerUnknown(let id):
                w.key("id")
                w.string(id)
            case .androidKey(let attestation, let keymaster, let version):
                w.key("attestationSecurityLevel")
                w.string(AttestationEvidence.androidLevel(attestation))
                w.key("attestationVersion")
                w.integer(version)
                w.key("keymasterSecurityLevel")
                w.string(AttestationEvidence.androidLevel(keymaster))
            case .safetyNet(let version, let cts, let basic):
                w.key("basicIntegrity")
                w.bool(basic)
                w.key("ctsProfileMatch")
                w.bool(cts)
                w.key("version")
                w.string(version)
            case .sha1StatementSignature:
                break
            case .weakCertificateSignature(let algorithm):
                w.key("algorithm")
                w.string(algorithm)
            case .deprecatedFormat(let format):
                w.key("format")
                w.string(format)
            }
            w.key("warning")
            w.bool(item.isWarning)
        }
    }
}

/// CBOR shown as JSON for reports. Integers stay exact (any size), byte strings become
/// base64url, text stays text, a map whose keys are all text becomes an object and any other
/// map an array of `[key, value]` pairs (so `1` and `"1"` never collide), a tag becomes
/// `{"tag": n, "value": …}`, undefined becomes null and a non-finite float a string. The exact
/// bytes travel beside it (`extensionsCBOR`).
package enum CBORJSON {
    package static func write(_ value: CBORValue, to w: inout JSONWriter) {
        switch value {
        case .unsigned(let n):
            w.integer(n)
        case .negative(let n):
            // -1 - n, exactly, even for n = 2^64 - 1.
            if n == UInt64.max {
                w.raw(Array("-18446744073709551616".utf8))
            } else {
                w.raw(Array("-\(n + 1)".utf8))
            }
        case .bytes(let b):
            w.base64URL(b)
        case .text(let t):
            w.string(t)
        case .array(let items):
            w.array { w in
                for item in items { write(item, to: &w) }
            }
        case .map(let map):
            if map.entries.allSatisfy({ $0.key.text != nil }) {
                w.object { w in
                    for entry in map.entries {
                        w.key(entry.key.text ?? "")
                        write(entry.value, to: &w)
                    }
                }
            } else {
                w.array { w in
                    for entry in map.entries {
                        w.array { w in
                            write(entry.key, to: &w)
                            write(entry.value, to: &w)
                        }
                    }
                }
            }
        case .tagged(let tag, let inner):
            w.object { w in
                w.key("tag")
                w.integer(tag)
                w.key("value")
                write(inner, to: &w)
            }
        case .bool(let b):
            w.bool(b)
        case .null, .undefined:
            w.null()
        case .float(let d):
            w.number(d)
        }
    }
}
