#!/usr/bin/env python3
"""Structure-aware fuzzing that re-signs: mutations inside signed structures reach every check.

A byte-level fuzzer that flips a bit inside a SafetyNet payload or a TPM certInfo stops at the
signature check and never reaches the code behind it. This one starts from the valid requests
of the software authenticator (Tools/vectorgen), changes one field *inside* a signed structure
to an extreme value (±1e300, 2^63, -1, empty, huge, the wrong JSON or CBOR type, a duplicate
member), signs it again with the vector's own test keys (credential keys, attestation leaf,
test CA, TPM AIK, SafetyNet key), and runs the batch through `mie-verifier verify … --jsonl`.

It fails when:
  - the verifier dies (a trap, a signal) or does not answer every line with JSON;
  - an answer carries a code `mie-verifier codes` does not list, or `internal`;
  - a mutation that breaks what a signature binds (a nonce, a challenge, extraData, the key
    the attestation certifies) still verifies.
A batch that kills the process is narrowed by bisection, each half kept only when it fails
again; a line that kills it alone is written to TestVectors/fuzz-regressions/resign/<sha1>.json
(replayed by FuzzRegressionTests), anything else (lines that fail only together, a fault that
depends on timing) to /tmp, and the report carries a failing run's backtrace.

  Tools/fuzz/resign.py [--seconds S] [--seed N] [--verifier PATH] [--batch N]
"""
import argparse
import base64
import hashlib
import json
import random
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "Tools" / "vectorgen"))
import generate as g  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.x509.oid import NameOID, ObjectIdentifier  # noqa: E402

REGRESSIONS = ROOT / "TestVectors" / "fuzz-regressions" / "resign"
REQUEST_TIME = g.VERIFICATION_TIME

# Extreme values, by the kind of field they go into.
JSON_EXTREMES = [0, -1, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64,
                 -2 ** 63, -2 ** 63 - 1, 10 ** 30, 1e300, -1e300, 1.5, 0.0, -0.0, 5e-324, "", "x" * 4096, "1e300",
                 None, True, False, [], {}, [1, [2, [3]]], {"a": {"b": None}}]
CBOR_EXTREMES = [0, -1, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 63 - 1, 2 ** 64 - 1, -2 ** 63,
                 -2 ** 64, b"", b"\x00" * 1024, "", "x" * 300, None, True, False, [], {}, {1: 2}, [b"\x00", "a", -1]]
UINT16 = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF]
UINT32 = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
UINT64 = [0, 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64 - 1]


class Case:
    """One mutated request: the JSON line, what was changed, and whether it must be refused."""

    def __init__(self, ceremony: str, request: dict, mutation: str, must_reject: bool):
        self.ceremony = ceremony
        self.request = request
        self.mutation = mutation
        self.must_reject = must_reject

    def line(self) -> str:
        return json.dumps(self.request, separators=(",", ":"))


class Forge:
    """Builds valid-then-mutated requests for every format, re-signed with the test keys."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.pki = g.TestPKI()
        self.root = g.der(self.pki.root)
        self.es256 = g.CredentialKey("ES256", "resign/es256")
        self.eddsa = g.CredentialKey("EdDSA", "resign/eddsa")
        self.aik = g.aik_certificate(self.pki, 90)

    # -- shared pieces ---------------------------------------------------------------------------

    def pick(self, values):
        return self.rng.choice(values)

    def client_data(self, kind: str, challenge: bytes) -> tuple[bytes, str | None, bool]:
        """clientDataJSON, sometimes with one member changed: (bytes, mutation, must_reject)."""
        base = {"type": kind, "challenge": g.b64u(challenge), "origin": g.ORIGIN, "crossOrigin": False}
        if self.rng.random() < 0.8:
            return json.dumps(base, separators=(",", ":")).encode(), None, False
        member = self.pick(["type", "challenge", "origin", "crossOrigin", "topOrigin", "tokenBinding", "extra", "duplicate"])
        value = self.pick(JSON_EXTREMES)
        if member == "duplicate":
            text = json.dumps(base, separators=(",", ":"))[:-1] + ',"challenge":"AAAA"}'
            return text.encode(), "clientData: challenge twice", True
        base[member] = value
        must = member in ("type", "challenge", "origin") or (member == "crossOrigin" and value is not False)
        must = must or member == "topOrigin" or (member == "tokenBinding" and isinstance(value, dict) and value)
        return json.dumps(base, separators=(",", ":")).encode(), f"clientData.{member} = {str(value)[:40]}", must

    def extensions(self) -> tuple[bytes, str]:
        choice = self.rng.random()
        if choice < 0.5:
            return g.cbor({"credProtect": self.pick(CBOR_EXTREMES)}), "extension value"
        if choice < 0.7:
            return g.cbor({self.pick([1, -1, b"k", 2 ** 63]): True}), "non-text extension identifier"
        if choice < 0.85:
            return g.cbor({"x": g.nested_arrays(self.rng.randint(1, 20))}), "deep extension value"
        return bytes([0xA1, 0x61, 0x78]) + self.pick([b"\xff", b"\x9a\xff\xff\xff\xff", b"\x5b" + b"\x7f" * 8]), "broken extension CBOR"

    def auth_data(self, attested: bytes) -> tuple[bytes, str | None, bool]:
        flags = g.UP | g.UV | (g.AT if attested else 0)
        count = 0 if attested else 7
        mutation, must = None, False
        extensions = b""
        roll = self.rng.random()
        if roll < 0.25:
            flags = self.rng.randrange(256) | (g.AT if attested else 0)
            if attested:
                flags |= g.AT
            else:
                flags &= ~g.AT
            mutation = f"flags {flags:#04x}"
            must = not (flags & g.UP) or not (flags & g.UV) or (flags & g.BS and not flags & g.BE)
            if flags & g.ED:
                extensions, what = self.extensions()
                mutation += f" with {what}"
        elif roll < 0.45:
            count = self.pick(UINT32)
            mutation = f"signCount {count}"
        elif roll < 0.6:
            flags |= g.ED
            extensions, mutation = self.extensions()
        return g.auth_data(flags, count, attested=attested, extensions=extensions), mutation, must

    def request(self, credential_id: bytes, cd: bytes, challenge: bytes, response: dict, trusted: bool = True) -> dict:
        body = {"id": g.b64u(credential_id), "rawId": g.b64u(credential_id), "type": "public-key", "response": response}
        request = {"response": body, "expected": {"challenge": g.b64u(challenge), "origins": [g.ORIGIN], "rpId": g.RP_ID},
                   "at": REQUEST_TIME}
        if trusted:
            request["trustAnchors"] = [g.b64u(self.root)]
        else:
            request["policy"] = {"attestation": "any"}
        return request

    def leaf(self, key_public, extensions=(), name=None, validity=None, issuer_signs=True):
        """An attestation leaf issued by the test CA, possibly with odd validity or extensions."""
        name = name or g.name("MIE Resign Leaf", ou="Authenticator Attestation")
        not_before, not_after = validity or (g.NOT_BEFORE, g.NOT_AFTER)
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(self.pki.ca.subject)
                   .public_key(key_public).serial_number(self.rng.randrange(1, 2 ** 63))
                   .not_valid_before(not_before).not_valid_after(not_after)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
        for oid, value, critical in extensions:
            builder = builder.add_extension(x509.UnrecognizedExtension(ObjectIdentifier(oid), value), critical=critical)
        return builder.sign(self.pki.ca_key, hashes.SHA256(), ecdsa_deterministic=True)

    def validity(self):
        import datetime
        utc = datetime.timezone.utc
        return self.pick([
            (datetime.datetime(1950, 1, 1, tzinfo=utc), datetime.datetime(9999, 12, 31, tzinfo=utc)),
            (datetime.datetime(2049, 12, 31, tzinfo=utc), datetime.datetime(2050, 1, 2, tzinfo=utc)),
            (datetime.datetime(2026, 11, 29, tzinfo=utc), datetime.datetime(2026, 11, 29, 0, 0, 1, tzinfo=utc)),
            (datetime.datetime(1970, 1, 1, tzinfo=utc), datetime.datetime(1970, 1, 1, 0, 0, 1, tzinfo=utc)),
        ])

    def plain_parts(self):
        """An unmutated registration's challenge, credential ID, clientDataJSON, authData and
        clientDataHash, for formats whose own statement is what gets mutated."""
        challenge = self.rng.randbytes(32)
        credential_id = self.rng.randbytes(32)
        cd = json.dumps({"type": "webauthn.create", "challenge": g.b64u(challenge), "origin": g.ORIGIN,
                         "crossOrigin": False}, separators=(",", ":")).encode()
        ad = g.auth_data(g.UP | g.UV | g.AT, 0, attested=g.attested_data(credential_id, self.es256.cose()))
        return challenge, credential_id, cd, ad, hashlib.sha256(cd).digest()

    def registration_request(self, credential_id, cd, challenge, fmt, stmt, ad, trusted=True) -> dict:
        obj = g.cbor({"fmt": fmt, "attStmt": stmt, "authData": ad})
        return self.request(credential_id, cd, challenge, {"clientDataJSON": g.b64u(cd), "attestationObject": g.b64u(obj)},
                            trusted=trusted)

    # -- formats ---------------------------------------------------------------------------------

    def packed(self) -> Case:
        challenge = self.rng.randbytes(32)
        credential_id = self.rng.randbytes(self.pick([16, 32, 64, 1023]))
        cd, cd_mutation, cd_must = self.client_data("webauthn.create", challenge)
        ad, ad_mutation, ad_must = self.auth_data(g.attested_data(credential_id, self.es256.cose()))
        cdh = hashlib.sha256(cd).digest()
        mutation, must = cd_mutation or ad_mutation or "none", cd_must or ad_must
        extensions = [("1.3.6.1.4.1.45724.1.1.4", b"\x04\x10" + g.AAGUID, False)]
        validity = None
        roll = self.rng.random()
        if roll < 0.15:
            value = self.pick([b"", b"\x04\x00", b"\x04\x10" + bytes(16), b"\x04\x11" + bytes(17), b"\x04\x81\x10" + g.AAGUID,
                               b"\x30\x00", b"\x04" + b"\xff" * 20])
            extensions = [("1.3.6.1.4.1.45724.1.1.4", value, self.rng.random() < 0.3)]
            mutation, must = f"AAGUID extension {value[:6].hex()}", value != b"\x04\x10" + g.AAGUID
        elif roll < 0.3:
            validity = self.validity()
            mutation = f"leaf validity {validity[0].year}-{validity[1].year}"
            must = not (validity[0] <= g.datetime.datetime(2026, 11, 29, tzinfo=g.datetime.timezone.utc) <= validity[1])
        leaf = self.leaf(self.pki.leaf_signer.private.public_key(), extensions, validity=validity)
        alg = -7
        if self.rng.random() < 0.1:
            alg = self.pick([-8, -35, -9, -257, 0, 2 ** 31, -2 ** 63])
            mutation, must = f"packed alg {alg}", alg not in (-7, -9)
        stmt = {"alg": alg, "sig": self.pki.leaf_signer.sign(ad + cdh), "x5c": [g.der(leaf), g.der(self.pki.ca)]}
        return Case("registration", self.registration_request(credential_id, cd, challenge, "packed", stmt, ad),
                    f"packed: {mutation}", must)

    def safetynet(self) -> Case:
        challenge, credential_id, cd, ad, cdh = self.plain_parts()
        cert = g.leaf_for_key(self.pki, self.pki.safetynet_signer.private.public_key(), 61,
                              x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attest.android.com")]), san="attest.android.com")
        now_ms = int(g.datetime.datetime.fromisoformat(REQUEST_TIME.replace("Z", "+00:00")).timestamp() * 1000)
        payload = {"nonce": base64.b64encode(hashlib.sha256(ad + cdh).digest()).decode(), "timestampMs": now_ms,
                   "apkPackageName": "com.google.android.gms", "ctsProfileMatch": True, "basicIntegrity": True}
        member = self.pick(["nonce", "timestampMs", "ctsProfileMatch", "basicIntegrity", "apkPackageName", "extra", "duplicate"])
        suffix = ""
        if member == "duplicate":
            suffix = self.pick([',"nonce":"AAAA"', ',"timestampMs":0', ',"ctsProfileMatch":false'])
            mutation, must = f"payload duplicate {suffix}", True
        else:
            value = self.pick(JSON_EXTREMES + [now_ms - 3_600_000, now_ms + 3_600_000, now_ms])
            payload[member] = value
            mutation = f"payload {member} = {str(value)[:40]}"
            must = member == "nonce" or (member == "ctsProfileMatch" and value is not True)
            must = must or (member == "timestampMs" and not (isinstance(value, int) and not isinstance(value, bool)
                                                             and now_ms - 120_000 <= value <= now_ms + 60_000))
        header = {"alg": "RS256", "x5c": [base64.b64encode(g.der(cert)).decode(), base64.b64encode(g.der(self.pki.ca)).decode()]}
        response_jws = g.jws(header, payload, self.pki.safetynet_signer, payload_suffix=suffix)
        request = self.registration_request(credential_id, cd, challenge, "android-safetynet",
                                            {"ver": "1", "response": response_jws}, ad)
        return Case("registration", request, f"safetynet: {mutation}", must)

    def tpm(self) -> Case:
        challenge, credential_id, cd, ad, cdh = self.plain_parts()
        numbers = self.es256.private.public_key().public_numbers()
        fields = {"type": 0x0023, "nameAlg": 0x000B, "attributes": 0x00060472, "policy": b"", "symmetric": 0x0010,
                  "scheme": 0x0010, "curve": 0x0003, "kdf": 0x0010, "x": numbers.x.to_bytes(32, "big"),
                  "y": numbers.y.to_bytes(32, "big")}
        info = {"magic": g.TPM_GENERATED_VALUE, "type": g.TPM_ST_ATTEST_CERTIFY, "signer": b"\x00\x0b" + bytes(32),
                "extra": None, "clock": struct.pack(">QIIB", 1, 2, 3, 1), "firmware": 0x0002000100040000, "name": None,
                "qualified": b"\x00\x0b" + bytes(32)}
        mutation, must = "none", False
        target = self.pick(["pub", "pub", "info", "info", "none"])
        if target == "pub":
            name = self.pick(list(fields))
            if isinstance(fields[name], bytes):
                fields[name] = self.pick([b"", b"\x00", fields[name] + b"\x00", b"\xff" * 300, fields[name][:31]])
            else:
                fields[name] = self.pick(UINT16 if name != "attributes" else UINT32)
            mutation = f"pubArea.{name}"
            must = name in ("type", "curve", "x", "y") or (name == "nameAlg" and fields[name] not in (0x0004, 0x000B, 0x000C, 0x000D))
            must = must or (name in ("symmetric", "scheme", "kdf") and fields[name] != 0x0010)
        elif target == "info":
            name = self.pick(list(info))
            if name in ("magic",):
                info[name] = self.pick(UINT32)
            elif name == "type":
                info[name] = self.pick(UINT16)
            elif name == "firmware":
                info[name] = self.pick(UINT64)
            else:
                info[name] = self.pick([b"", b"\x00", b"\xff" * 64, b"\x00\x0b" + bytes(32), bytes(300)])
            mutation = f"certInfo.{name}"
            must = name in ("magic", "type", "extra", "name") and info[name] != {"magic": g.TPM_GENERATED_VALUE,
                                                                                    "type": g.TPM_ST_ATTEST_CERTIFY}.get(name)
            if name == "clock" and len(info[name]) != 17:
                must = True
        pub = struct.pack(">HHI", fields["type"], fields["nameAlg"], fields["attributes"]) + g.tpm2b(fields["policy"])
        pub += struct.pack(">HHHH", fields["symmetric"], fields["scheme"], fields["curve"], fields["kdf"])
        pub += g.tpm2b(fields["x"]) + g.tpm2b(fields["y"])
        extra = info["extra"] if info["extra"] is not None else hashlib.sha256(ad + cdh).digest()
        attested_name = info["name"] if info["name"] is not None else b"\x00\x0b" + hashlib.sha256(pub).digest()
        cert_info = (struct.pack(">IH", info["magic"], info["type"]) + g.tpm2b(info["signer"]) + g.tpm2b(extra) + info["clock"]
                     + struct.pack(">Q", info["firmware"]) + g.tpm2b(attested_name) + g.tpm2b(info["qualified"]))
        stmt = {"ver": "2.0", "alg": -257, "x5c": [g.der(self.aik), g.der(self.pki.ca)], "sig": self.pki.aik_signer.sign(cert_info),
                "certInfo": cert_info, "pubArea": pub}
        request = self.registration_request(credential_id, cd, challenge, "tpm", stmt, ad)
        return Case("registration", request, f"tpm: {mutation}", must)

    def android_key(self) -> Case:
        challenge, credential_id, cd, ad, cdh = self.plain_parts()
        version, level, km_level, km_version = 3, 1, 4, 1
        attestation_challenge = cdh
        purposes, origin = (2,), 0
        field = self.pick(["version", "level", "km", "challenge", "purposes", "origin", "raw", "none"])
        big = [0, -1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, 2 ** 64, 10 ** 40, -10 ** 40]
        must = False
        if field == "version":
            version = self.pick(big)
        elif field == "level":
            level = self.pick(big)
        elif field == "km":
            km_level = self.pick(big)
        elif field == "challenge":
            attestation_challenge = self.pick([b"", cdh[:31], cdh + b"\x00", bytes(4096)])
            must = True
        elif field == "purposes":
            purposes = tuple(self.pick([[], [3], [2 ** 63], [-1], [2] * 200]))
            must = 2 not in purposes
        elif field == "origin":
            origin = self.pick([1, 2, -1, 2 ** 63, None])
            must = origin != 0

        def integer(value, tag=0x02):
            length = max(1, (value.bit_length() + 8) // 8)
            return g.der_tlv(tag, value.to_bytes(length, "big", signed=True))

        entries = b""
        entries += g.der_tlv(g.context_tag(1), g.der_tlv(0x31, b"".join(integer(p) for p in purposes)))
        if origin is not None:
            entries += g.der_tlv(g.context_tag(702), integer(origin))
        description = g.der_tlv(0x30, integer(version) + integer(level, 0x0A) + integer(km_version) + integer(km_level, 0x0A)
                                + g.der_tlv(0x04, attestation_challenge) + g.der_tlv(0x04, b"") + g.der_tlv(0x30, b"")
                                + g.der_tlv(0x30, entries))
        if field == "raw":
            description = self.pick([b"", b"\x30\x80\x00\x00", description[:-3], description + b"\x00", b"\x30\x03\x02\x01"])
            must = True
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Android Keystore Key")])
        cert = self.leaf(self.es256.private.public_key(), [("1.3.6.1.4.1.11129.2.1.17", description, False)], name=name)
        stmt = {"alg": -7, "sig": self.es256.sign(ad + cdh), "x5c": [g.der(cert), g.der(self.pki.ca)]}
        request = self.registration_request(credential_id, cd, challenge, "android-key", stmt, ad)
        return Case("registration", request, f"android-key: {field}", must)

    def none_or_self(self) -> Case:
        challenge = self.rng.randbytes(32)
        credential_id = self.rng.randbytes(32)
        key = self.pick([self.es256, self.eddsa])
        cose = key.cose()
        mutation, must = "none", False
        if self.rng.random() < 0.3:
            # A COSE key with one parameter changed (and the self signature made anyway).
            parameter = self.pick([1, 3, -1, -2, -3, -4, 4, 99])
            value = self.pick(CBOR_EXTREMES)
            decoded = {1: 2, 3: -7, -1: 1} if key is self.es256 else {1: 1, 3: -8, -1: 6}
            cose = bytes(cose)
            fields = dict(decoded)
            fields[parameter] = value
            cose = g.cbor(fields) if parameter not in (-2, -3) else g.cbor({**fields})
            mutation, must = f"COSE key {parameter} = {str(value)[:30]}", True
        cd, cd_mutation, cd_must = self.client_data("webauthn.create", challenge)
        ad, ad_mutation, ad_must = self.auth_data(g.attested_data(credential_id, cose))
        mutation = cd_mutation or ad_mutation or mutation
        must = must or cd_must or ad_must
        if self.rng.random() < 0.5:
            obj = g.cbor({"fmt": "none", "attStmt": {}, "authData": ad})
            fmt = "none"
        else:
            obj = g.cbor({"fmt": "packed", "attStmt": {"alg": key.alg, "sig": key.sign(ad + hashlib.sha256(cd).digest())},
                          "authData": ad})
            fmt = "packed self"
        request = self.request(credential_id, cd, challenge, {"clientDataJSON": g.b64u(cd), "attestationObject": g.b64u(obj)},
                               trusted=False)
        return Case("registration", request, f"{fmt}: {mutation}", must)

    def assertion(self) -> Case:
        challenge = self.rng.randbytes(32)
        credential_id = g.seed_bytes("resign/es256/id", 32)
        cd, cd_mutation, cd_must = self.client_data("webauthn.get", challenge)
        ad, ad_mutation, ad_must = self.auth_data(b"")
        stored = self.pick([0, 6, 2 ** 32 - 1])
        count = struct.unpack(">I", ad[33:37])[0]
        must = cd_must or ad_must or ((count != 0 or stored != 0) and count <= stored)
        signature = self.es256.sign(ad + hashlib.sha256(cd).digest())
        request = {"response": {"id": g.b64u(credential_id), "rawId": g.b64u(credential_id), "type": "public-key",
                                "response": {"clientDataJSON": g.b64u(cd), "authenticatorData": g.b64u(ad),
                                             "signature": g.b64u(signature)}},
                   "expected": {"challenge": g.b64u(challenge), "origins": [g.ORIGIN], "rpId": g.RP_ID,
                                "credential": {"publicKey": g.b64u(self.es256.cose()), "signCount": stored}}}
        return Case("assertion", request, f"assertion: {cd_mutation or ad_mutation or 'none'} (stored {stored})", must)

    def next(self) -> Case:
        return self.pick([self.packed, self.safetynet, self.tpm, self.android_key, self.none_or_self, self.assertion])()


def run_batch(verifier: str, ceremony: str, cases: list[Case], backtrace: bool = False) -> tuple[int, list[str], str]:
    """The verifier's exit status, its answer lines and its standard error. With `backtrace`,
    a crash prints the Swift runtime's backtrace of every thread on standard error."""
    text = "".join(case.line() + "\n" for case in cases)
    setting = "enable=yes,interactive=no,threads=all" if backtrace else "enable=no"
    process = subprocess.run([verifier, "verify", ceremony, "--jsonl"], input=text.encode(), capture_output=True,
                             env={"SWIFT_BACKTRACE": setting})
    return process.returncode, process.stdout.decode(errors="replace").splitlines(), process.stderr.decode(errors="replace")


def died(status: int, lines: list[str], cases: list[Case]) -> bool:
    """A trap or a signal, or lines left unanswered."""
    return status not in (0, 1, 2) or len(lines) != len(cases)


def dies(verifier: str, ceremony: str, cases: list[Case]) -> bool:
    status, lines, _ = run_batch(verifier, ceremony, cases)
    return died(status, lines, cases)


def find_killer(verifier: str, ceremony: str, cases: list[Case], tries: int = 3) -> list[Case]:
    """The smallest failing subset bisection reaches, each step checked: a half is kept only
    when it fails again (up to `tries` runs), so a crash that does not come back for one line
    ends with the set that still failed, never with an arbitrary line named the killer. An
    empty list: the whole batch did not fail again (the crash depends on timing)."""
    def fails(subset: list[Case]) -> bool:
        return any(dies(verifier, ceremony, subset) for _ in range(tries))

    if not fails(cases):
        return []
    while len(cases) > 1:
        half = len(cases) // 2
        if fails(cases[:half]):
            cases = cases[:half]
        elif fails(cases[half:]):
            cases = cases[half:]
        else:
            break
    return cases


def report_death(verifier: str, ceremony: str, cases: list[Case], status: int, answered: int) -> str:
    """Narrows a batch that killed the verifier (or left lines unanswered), saves what still
    fails, and describes it with the backtrace of a failing run."""
    killers = find_killer(verifier, ceremony, cases)
    what = f"the verifier died (status {status}, {answered} of {len(cases)} lines answered)"
    if len(killers) == 1:
        killer = killers[0]
        REGRESSIONS.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(killer.line().encode()).hexdigest()
        (REGRESSIONS / f"{digest}.json").write_text(json.dumps({"ceremony": ceremony, "request": killer.request}) + "\n")
        what += f" on {killer.mutation}, alone; saved {digest}.json"
    else:
        # No single line: the failure needs several lines, or timing. Keep the batch to replay.
        kept = killers or cases
        text = "".join(case.line() + "\n" for case in kept)
        digest = hashlib.sha1(text.encode()).hexdigest()
        path = Path("/tmp") / f"resign-{ceremony}-{digest}.jsonl"
        path.write_text(text)
        what += (f"; {len(kept)} lines still fail together, saved {path}" if killers else
                 f"; the same batch did not fail again in 3 runs (a timing-dependent fault), saved {path}")
    for _ in range(3):
        again, _, errors = run_batch(verifier, ceremony, killers or cases, backtrace=True)
        if again not in (0, 1, 2):
            trace = errors.strip().splitlines()[-80:] or ["(nothing on standard error)"]
            return what + "\n  standard error of a failing run (SWIFT_BACKTRACE on):\n    " + "\n    ".join(trace)
    return what


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--verifier", default=str(ROOT / ".build" / "debug" / "mie-verifier"))
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    codes = {line.split("\t")[0] for line in subprocess.run([args.verifier, "codes"], capture_output=True, text=True).stdout.splitlines()}
    codes.discard("internal")
    rng = random.Random(args.seed)
    forge = Forge(rng)
    deadline = time.monotonic() + args.seconds
    totals = {"cases": 0, "verified": 0, "refused": 0}
    failures: list[str] = []
    by_code: dict[str, int] = {}
    print(f"resign: seed {args.seed}, {args.seconds:.0f} s, verifier {args.verifier}")
    while time.monotonic() < deadline and not failures:
        batch = [forge.next() for _ in range(args.batch)]
        for ceremony in ("registration", "assertion"):
            cases = [case for case in batch if case.ceremony == ceremony]
            if not cases:
                continue
            status, lines, _ = run_batch(args.verifier, ceremony, cases)
            if died(status, lines, cases):
                failures.append(report_death(args.verifier, ceremony, cases, status, len(lines)))
                break
            for case, line in zip(cases, lines):
                totals["cases"] += 1
                try:
                    result = json.loads(line)
                except json.JSONDecodeError:
                    failures.append(f"not JSON for {case.mutation}: {line[:200]}")
                    continue
                if result.get("verified") is True:
                    totals["verified"] += 1
                    if case.must_reject:
                        failures.append(f"verified although it must be refused: {case.mutation}\n  {case.line()[:300]}")
                else:
                    totals["refused"] += 1
                    code = result.get("error", {}).get("code")
                    by_code[code] = by_code.get(code, 0) + 1
                    if code not in codes:
                        failures.append(f"unknown or internal code {code!r} for {case.mutation}: {line[:300]}")
    print(f"resign: {totals['cases']} cases, {totals['verified']} verified, {totals['refused']} refused")
    for code, count in sorted(by_code.items(), key=lambda item: -item[1]):
        print(f"resign:   {count:6} {code}")
    for failure in failures[:20]:
        print(f"resign: FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
