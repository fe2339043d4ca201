import AuthenticatorCatalog
@_spi(Internals) import AuthenticatorVerification
import Foundation
import PSCPolicy
import SignatureVerification
import WireFormat

extension AuthenticatorInfo {
    /// getInfo as the PSC engine reads it.
    package var policyView: DeviceInfo {
        DeviceInfo(
            aaguid: AAGUIDText.bytes(aaguid), versions: versions, options: options, firmwareVersion: firmwareVersion.map { Int64(clamping: $0) },
            algorithms: algorithms)
    }
}

/// Forwards CTAP commands and keeps a SHA-256 over every command and answer: the transcript's
/// digest goes in the report (the transcript itself holds nothing secret, but the report stays
/// small).
package final class RecordingAuthenticator: CTAPAuthenticator {
    let inner: any CTAPAuthenticator
    private var transcript: [UInt8] = []

    package init(_ inner: any CTAPAuthenticator) {
        self.inner = inner
    }

    package func send(_ command: CTAPCommand, _ parameters: [UInt8]) throws -> [UInt8] {
        transcript += [command.rawValue] + parameters
        do {
            let answer = try inner.send(command, parameters)
            transcript += [0x00] + answer
            return answer
        } catch let error as CTAPError {
            transcript += [error.status]
            throw error
        }
    }

    package var digest: String { Hex.string(Digest.sha256(transcript)) }
}

/// Why the battery stopped before its end: a usage or environment problem (exit 2), never a
/// finding about the device (those are checks).
package struct BatteryStop: Error, CustomStringConvertible {
    package let description: String
}

/// The referencing battery (`mie-probe candidate`): the device against its metadata statement,
/// check by check, over any CTAP transport.
package struct CandidateBattery {
    package enum Status: String, Sendable { case passed, failed, notApplicable = "not_applicable" }

    package struct Check: Sendable {
        package let id: String
        package let title: String
        package let status: Status
        package let detail: String
    }

    package let statement: MetadataStatement
    package let catalog: CatalogSnapshot
    let device: any CTAPAuthenticator
    package let time = Date()
    package var checks: [Check] = []
    package var info: AuthenticatorInfo?
    package var registration: VerifiedRegistration?
    package var deviceInfo: DeviceInfo? { info.map(\.policyView) }

    static let rpID = "candidate.mie-probe.invalid"
    static let origin = "https://candidate.mie-probe.invalid"

    package init(statement: MetadataStatement, catalog: CatalogSnapshot, device: any CTAPAuthenticator) {
        self.statement = statement
        self.catalog = catalog
        self.device = device
    }

    mutating func check(_ id: String, _ title: String, _ passed: Bool?, _ detail: String) {
        checks.append(Check(id: id, title: title, status: passed.map { $0 ? .passed : .failed } ?? .notApplicable, detail: detail))
    }

    /// FIDO registry names (MDS3 authenticationAlgorithms) of COSE algorithms.
    static let algorithmNames: [Int: [String]] = [
        -7: ["secp256r1_ecdsa_sha256_raw", "secp256r1_ecdsa_sha256_der"], -8: ["ed25519_eddsa_sha512_raw"],
        -35: ["secp384r1_ecdsa_sha384_raw", "secp384r1_ecdsa_sha384_der"], -36: ["secp521r1_ecdsa_sha512_raw", "secp521r1_ecdsa_sha512_der"],
        -257: ["rsassa_pkcsv15_sha256_raw"], -37: ["rsassa_pss_sha256_raw"], -258: ["rsassa_pkcsv15_sha384_raw"], -259: ["rsassa_pkcsv15_sha512_raw"],
    ]

    func stated(_ algorithm: Int) -> Bool {
        !(Self.algorithmNames[algorithm] ?? []).filter(statement.authenticationAlgorithms.contains).isEmpty
    }

    static func random(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255) } }

    static func clientData(_ type: String, _ challenge: [UInt8]) -> [UInt8] {
        Array(
            JSONValue.object([
                ("type", .string(type)), ("challenge", .string(Base64URL.encode(challenge))), ("origin", .string(origin)), ("crossOrigin", .bool(false)),
            ]).json)
    }

    /// Runs every check; `pin` is asked only when the key has one.
    package mutating func run(pin: () -> String, assertions count: Int, minimumTries: Int) throws {
        // Discovery and identity: getInfo against the statement.
        let info = try device.info()
        self.info = info
        let statedAAGUID = statement.aaguid.map(AAGUIDText.string) ?? "none"
        checkInfo(info, statedAAGUID: statedAAGUID)
        // User verification: the PIN through the PIN/UV auth protocols the key lists.
        let token = try verifyUser(info, pin: pin, minimumTries: minimumTries)
        let builtInUV = token == nil && info.options["uv"] == true
        let askedUV = token != nil || builtInUV
        // Registration with user verification, verified by the core against the statement's roots.
        guard let (verified, userID) = try register(info, token: token, builtInUV: builtInUV) else { return }
        registration = verified
        checkRegistration(verified, info: info, statedAAGUID: statedAAGUID, askedUV: askedUV)
        // Assertions in a row: signature, flags, counter.
        guard let uvEvery = try signIn(verified, userID: userID, count: count, info: info, token: token, builtInUV: builtInUV, askedUV: askedUV) else { return }
        // Claims against behaviour.
        checkClaims(info, verified: verified, uvEvery: uvEvery)
    }

    /// getInfo field by field against the statement: AAGUID, the device comparison, algorithms,
    /// firmware, PIN length, PIN/UV auth protocols, transports, extensions, upv, attachment.
    mutating func checkInfo(_ info: AuthenticatorInfo, statedAAGUID: String) {
        let statedAAGUID = statement.aaguid.map(AAGUIDText.string) ?? "none"
        check("info.aaguid", "getInfo's AAGUID is the statement's", info.aaguid == statedAAGUID, "getInfo \(info.aaguid), statement \(statedAAGUID)")
        for item in DeviceComparison.compare(info.policyView, catalog: catalog, at: time) where item.check != "ans.decision" && item.check != "aaguid.listed" {
            check("info.\(item.check)", "getInfo as the statement declares it", item.status == .satisfied ? true : item.status == .notSatisfied ? false : nil, item.detail)
        }
        let unstated = info.algorithms.filter { !stated($0) }
        check("info.algorithms-stated", "getInfo's algorithms are in authenticationAlgorithms", unstated.isEmpty,
              unstated.isEmpty ? "\(info.algorithms.map(String.init).joined(separator: ", ")) stated" : "not in the statement: \(unstated.map(String.init).joined(separator: ", "))")
        if let declared = statement.getInfo?["firmwareVersion"]?.integer {
            check("info.firmware", "firmwareVersion as declared", info.firmwareVersion.map(Int64.init) == declared,
                  "device \(info.firmwareVersion.map(String.init) ?? "absent"), statement \(declared)")
        }
        if let declared = statement.getInfo {
            if let minimum = declared["minPINLength"]?.integer {
                check("info.minPINLength", "minPINLength as declared", info.minPINLength.map { Int64($0) } == minimum,
                      "device \(info.minPINLength.map(String.init) ?? "absent"), statement \(minimum)")
            }
            if let protocols = declared["pinUvAuthProtocols"]?.array?.compactMap(\.integer) {
                let device = Set(info.pinUvAuthProtocols.map { Int64($0) })
                check("info.pinUvAuthProtocols", "pinUvAuthProtocols as declared", device == Set(protocols),
                      "device \(info.pinUvAuthProtocols.map(String.init).joined(separator: ", ")), statement \(protocols.map(String.init).joined(separator: ", "))")
            }
            if let declaredTransports = declared["transports"]?.strings {
                check("info.transports-declared", "transports as declared", Set(info.transports) == Set(declaredTransports),
                      "device \(info.transports.joined(separator: ", ")), statement \(declaredTransports.joined(separator: ", "))")
            }
            if let extensions = declared["extensions"]?.strings {
                check("info.extensions", "extensions as declared", Set(info.extensions) == Set(extensions),
                      "device \(info.extensions.joined(separator: ", ")), statement \(extensions.joined(separator: ", "))")
            }
        }
        // upv: each CTAP version getInfo lists (FIDO_2_x) appears as {major 1, minor x}.
        let upv = Set((statement.raw["upv"]?.array ?? []).compactMap { item -> String? in
            guard let major = item["major"]?.integer, let minor = item["minor"]?.integer else { return nil }
            return "\(major).\(minor)"
        })
        let ctapVersions = info.versions.filter { $0.hasPrefix("FIDO_2_") }.map { "1." + $0.dropFirst("FIDO_2_".count) }
        let missingUPV = ctapVersions.filter { !upv.contains($0) }
        check("info.upv", "upv covers the CTAP versions getInfo lists", upv.isEmpty ? false : missingUPV.isEmpty,
              upv.isEmpty ? "the statement has no upv" : missingUPV.isEmpty ? "upv \(upv.sorted().joined(separator: ", "))" : "missing in upv: \(missingUPV.joined(separator: ", "))")
        let transports = Set(info.transports)
        let hints = Set(statement.attachmentHint)
        let hintOK = transports.allSatisfy { hints.contains($0 == "usb" ? "wired" : $0) || ($0 == "nfc" && hints.contains("wireless")) }
        check("info.transports", "transports match attachmentHint", transports.isEmpty ? nil : hintOK,
              "getInfo \(info.transports.joined(separator: ", ")), attachmentHint \(statement.attachmentHint.joined(separator: ", "))")
    }

    /// A pinUvAuthToken through each PIN/UV auth protocol the key lists (the last tries never
    /// risked); nil when the key has no PIN to verify.
    mutating func verifyUser(_ info: AuthenticatorInfo, pin: () -> String, minimumTries: Int) throws -> PINToken? {
        var token: PINToken?
        if info.options["clientPin"] == true {
            let tries = try device.pinRetries(info.pinUvAuthProtocols.contains(2) ? .two : .one)
            guard tries >= minimumTries else {
                throw BatteryStop(
                    description: "only \(tries) PIN tr\(tries == 1 ? "y" : "ies") left: the battery never risks the last ones (minimum \(minimumTries)); reset the PIN first")
            }
            let secret = pin()
            let protocols = info.pinUvAuthProtocols.compactMap(PINProtocol.init(rawValue:)).sorted { $0.rawValue > $1.rawValue }
            check("pin.protocols", "a PIN/UV auth protocol this battery speaks", !protocols.isEmpty,
                  "pinUvAuthProtocols \(info.pinUvAuthProtocols.map(String.init).joined(separator: ", "))")
            let permissions: Int64? = info.options["pinUvAuthToken"] == true ? 0x03 : nil
            for pinProtocol in protocols.reversed() {
                do {
                    token = try device.pinToken(pin: secret, pinProtocol: pinProtocol, permissions: permissions, rpID: Self.rpID)
                    check("pin.protocol-\(pinProtocol.rawValue)", "a pinUvAuthToken through protocol \(pinProtocol.rawValue)", true,
                          permissions == nil ? "getPinToken" : "getPinUvAuthTokenUsingPinWithPermissions (mc, ga)")
                } catch let error as CTAPError where error.status == 0x31 {
                    let left = (try? device.pinRetries(pinProtocol)).map { "\($0) tr\($0 == 1 ? "y" : "ies") left" } ?? "tries unknown"
                    throw BatteryStop(description: "wrong PIN, \(left); the battery stops before spending another")
                } catch let error as CTAPError where error.status == 0x32 || error.status == 0x34 {
                    throw BatteryStop(description: "the key's PIN is blocked (\(error.name)); reset it or power-cycle the key")
                } catch let error as CTAPError {
                    check("pin.protocol-\(pinProtocol.rawValue)", "a pinUvAuthToken through protocol \(pinProtocol.rawValue)", false, error.name)
                }
            }
        } else {
            check("pin.protocols", "a PIN/UV auth protocol this battery speaks", info.options["uv"] == true ? nil : false,
                  info.options["clientPin"] == false ? "the key has no PIN set: set one first" : "no clientPin option")
        }
        return token
    }

    /// makeCredential with user verification, verified by the core against the statement's
    /// roots: the registration and the user handle it was made for, nil when it failed (named).
    mutating func register(_ info: AuthenticatorInfo, token: PINToken?, builtInUV: Bool) throws -> (VerifiedRegistration, [UInt8])? {
        let userID = Self.random(32)
        let challenge = Self.random(32)
        let clientData = Self.clientData("webauthn.create", challenge)
        var request = CredentialRequest(
            clientDataHash: Digest.sha256(clientData), rpID: Self.rpID, userID: userID, userName: "candidate", userDisplayName: "MIE candidate battery")
        request.algorithms = info.algorithms.isEmpty ? [-7] : info.algorithms
        request.residentKey = info.options["rk"] == true
        request.userVerification = builtInUV
        request.pinToken = token
        let claimsCredProtect = info.extensions.contains("credProtect")
        if claimsCredProtect { request.credProtect = 2 }
        request.hmacSecret = info.extensions.contains("hmac-secret")
        let object: [UInt8]
        do {
            object = try device.makeCredential(request)
        } catch let error as CTAPError {
            check("registration.made", "makeCredential with user verification", false, error.name)
            return nil
        }
        let rawID = (try? AttestationObject.parse(object))?.authenticatorData.attestedCredentialData?.credentialID ?? []
        let verified: VerifiedRegistration
        do {
            verified = try RegistrationVerifier.verify(
                RegistrationResponse(rawID: rawID, clientDataJSON: clientData, attestationObject: object),
                expecting: CeremonyExpectation(challenge: challenge, origins: [Self.origin], rpID: Self.rpID, userVerification: .discouraged),
                policy: .acceptUntrustedAttestationForTesting, trust: catalog, at: time)
        } catch {
            check("registration.verified", "the registration verifies (WebAuthn L3 §7.1)", false, "\(error.code): \(error.message)")
            return nil
        }
        return (verified, userID)
    }

    /// The registration against the statement: attestation type, chain, the four AAGUIDs,
    /// algorithm, flags, extensions.
    mutating func checkRegistration(_ verified: VerifiedRegistration, info: AuthenticatorInfo, statedAAGUID: String, askedUV: Bool) {
        let attestation = verified.attestation
        check("registration.verified", "the registration verifies (WebAuthn L3 §7.1)", true, "\(attestation.format), \(attestation.type.rawValue)")
        check("registration.attestation-type", "attestation type as stated", statement.attestationTypes.contains(Self.registryName(attestation.type)),
              "\(Self.registryName(attestation.type)); statement \(statement.attestationTypes.joined(separator: ", "))")
        check("registration.chain", "the attestation chain reaches a root of the statement", attestation.isTrusted,
              attestation.isTrusted ? "verified to \(attestation.verifiedPath.last?.subjectDescription ?? "a statement root")"
                : attestation.untrustedReason ?? "no trusted path")
        let authDataAAGUID = AAGUIDText.string(verified.aaguid)
        let certificateAAGUID = attestation.certificates.first?.extensionValue(oid: "1.3.6.1.4.1.45724.1.1.4").flatMap { ext -> String? in
            guard ext.value.count == 18, ext.value[0] == 0x04, ext.value[1] == 0x10 else { return nil }
            return AAGUIDText.string(Array(ext.value[2...]))
        }
        let agreeing = [authDataAAGUID, info.aaguid, statedAAGUID] + (certificateAAGUID.map { [$0] } ?? [])
        check("registration.aaguid", "certificate, authData, getInfo and statement AAGUIDs agree", Set(agreeing).count == 1,
              "authData \(authDataAAGUID), certificate \(certificateAAGUID ?? "no extension"), getInfo \(info.aaguid), statement \(statedAAGUID)")
        let algorithm = Int(verified.publicKey.algorithm.rawValue)
        check("registration.algorithm", "the credential's algorithm is in authenticationAlgorithms", stated(algorithm),
              "\(verified.publicKey.algorithm.name) (\(algorithm)); statement \(statement.authenticationAlgorithms.joined(separator: ", "))")
        check("registration.uv", "UV set after the PIN or built-in verification", askedUV ? verified.flags.userVerified : nil,
              askedUV ? "flags 0x\(String(verified.flags.rawValue, radix: 16))" : "no way to verify the user")
        check("registration.up", "UP set", verified.flags.userPresent, "flags 0x\(String(verified.flags.rawValue, radix: 16))")
        for name in info.extensions {
            guard name == "credProtect" || name == "hmac-secret" else {
                check("extensions.\(name)", "\(name), listed in getInfo", nil, "not exercised by this battery")
                continue
            }
            let output = verified.extensions?.identifiers.contains(name) == true
            check("extensions.\(name)", "\(name), listed in getInfo, answers", output, output ? "\(name) returned" : "no \(name) output at registration")
        }
    }

    /// Assertions in a row (the last discoverable when rk is claimed): signature, counter, UV,
    /// user handle. Whether UV was set on every one; nil when one could not be made (named).
    mutating func signIn(
        _ verified: VerifiedRegistration, userID: [UInt8], count: Int, info: AuthenticatorInfo, token: PINToken?, builtInUV: Bool, askedUV: Bool
    ) throws -> Bool? {
        var counters: [UInt32] = []
        var signaturesOK = true
        var uvEvery = true
        var handleOK: Bool?
        let stored = StoredCredential(id: verified.credentialID, publicKey: verified.publicKey, signCount: 0, userHandle: userID)
        for index in 0..<count {
            let challenge = Self.random(32)
            let clientData = Self.clientData("webauthn.get", challenge)
            var assertion = AssertionRequest(rpID: Self.rpID, clientDataHash: Digest.sha256(clientData))
            let discoverable = index == count - 1 && info.options["rk"] == true
            if !discoverable { assertion.allow = [verified.credentialID] }
            assertion.userVerification = builtInUV
            if let current = token { assertion.pinToken = current }
            let answer: AssertionResult
            do {
                answer = try device.getAssertion(assertion)
            } catch let error as CTAPError {
                check("assertion.made", "getAssertion", false, "assertion \(index + 1): \(error.name)")
                return nil
            }
            if discoverable { handleOK = answer.userHandle == userID && answer.credentialID == verified.credentialID }
            do {
                let result = try AssertionVerifier.verify(
                    AssertionResponse(
                        rawID: answer.credentialID, clientDataJSON: clientData, authenticatorData: answer.authenticatorData, signature: answer.signature,
                        userHandle: answer.userHandle),
                    expecting: CeremonyExpectation(challenge: challenge, origins: [Self.origin], rpID: Self.rpID, userVerification: .discouraged),
                    credential: stored)
                counters.append(result.signCount)
                if askedUV && !result.userVerified { uvEvery = false }
            } catch {
                signaturesOK = false
                check("assertion.verified", "assertion \(index + 1) verifies", false, "\(error.code): \(error.message)")
            }
        }
        if signaturesOK { check("assertion.verified", "every assertion verifies (signature, rpIdHash, UP)", true, "\(count) assertions") }
        let sequence = ([verified.signCount] + counters).map(String.init).joined(separator: " → ")
        let increasing = zip([verified.signCount] + counters, counters).allSatisfy { $0 < $1 }
        let allZero = verified.signCount == 0 && counters.allSatisfy { $0 == 0 }
        check("assertion.counter", "the counter increases strictly (or stays 0 by design)", counters.count == count ? increasing || allZero : false,
              "\(sequence)\(allZero ? " (no counter)" : increasing ? "" : ": stuck or going backwards, as a cloned key's would")")
        check("assertion.uv", "UV set on every assertion after the PIN or built-in verification", askedUV ? uvEvery : nil,
              askedUV ? (uvEvery ? "UV on every assertion" : "UV missing") : "no way to verify the user")
        check("assertion.discoverable", "rk claimed: the credential is discoverable with its user handle",
              info.options["rk"] == true ? handleOK ?? false : nil, info.options["rk"] == true ? (handleOK == true ? "found without allowList" : "not found or wrong user handle") : "rk not claimed")
        return uvEvery
    }

    /// What the statement claims against what the key did (PSC decides; this names).
    mutating func checkClaims(_ info: AuthenticatorInfo, verified: VerifiedRegistration, uvEvery: Bool) {
        func check(_ id: String, _ title: String, _ judgement: StatementClaims.Judgement) { self.check(id, title, judgement.holds, judgement.detail) }
        if info.options["uv"] == true {
            check(
                "claims.uv", "getInfo claims built-in uv: UV is actually set",
                StatementClaims.builtInUserVerification(registrationUV: registration?.flags.userVerified ?? false, everyAssertionUV: uvEvery))
        }
        check("claims.user-verification-details", "userVerificationDetails name a method that verifies the user", StatementClaims.userVerificationDetails(statement))
        if info.options["clientPin"] != nil {
            check("claims.pin-declared", "a key taking a client PIN declares passcode_external", StatementClaims.clientPINDeclared(statement))
        }
        check("claims.matcher-protection", "matcherProtection declared, on the chip or in a TEE for a hardware key", StatementClaims.matcherProtection(statement))
        check("claims.key-protection", "keyProtection hardware or secure element", StatementClaims.keyProtection(statement))
        check("claims.not-synced", "the credential is device-bound (not backup eligible)", StatementClaims.deviceBound(backupEligible: verified.flags.backupEligible))
    }

    static func registryName(_ type: AttestationResult.AttestationType) -> String {
        switch type {
        case .basic: "basic_full"
        case .self: "basic_surrogate"
        case .attCA: "attca"
        case .anonCA: "anonca"
        case .none: "none"
        case .compound: "compound"
        }
    }

    package func json(device path: String, firmware: String, transcript: String, evaluation: Evaluation?) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("tool", .string("mie-probe \(Product.version) candidate")), ("time", .string(time.formatted(.iso8601))), ("device", .string(path)),
            ("firmwareVersion", .string(firmware)), ("transcriptSHA256", .string(transcript)),
            ("statement", .object([("aaguid", .string(statement.aaguid.map(AAGUIDText.string) ?? "")), ("description", .string(statement.description))])),
            ("passed", .bool(!checks.contains { $0.status == .failed })),
            (
                "checks",
                .array(
                    checks.map {
                        .object([("id", .string($0.id)), ("title", .string($0.title)), ("status", .string($0.status.rawValue)), ("detail", .string($0.detail))])
                    })
            ),
        ]
        if let evaluation, let psc = try? JSONValue.parse(evaluation.json, document: "evaluation") { members.append(("psc", psc)) }
        return .object(members)
    }
}

