#!/usr/bin/env python3
"""MIE Verifier software authenticator: writes deterministic WebAuthn test vectors.

Every key, certificate and signature below comes from fixed seeds, so running this twice gives
the same bytes (RSA keys are grown from a seeded prime search; ECDSA signs per RFC 6979; PSS
salts are derived from the seed). Output, committed under TestVectors/generated/:

  vectors.jsonl       registration and assertion vectors, valid ones and "valid + one mutation"
                      negatives, in the schema of the external corpus (see TestVectors/README.md)
  trust_anchors.json  the test attestation root and an unrelated root, by name
  cbor.jsonl          hostile and edge-case CBOR items for the decoder's own tests
  ../samples/*.json   CLI requests for the README and `make run`

Needs only the `cryptography` package (pip). Run: python3 Tools/vectorgen/generate.py
"""

import base64
import datetime
import hashlib
import json
import random
import struct
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, mldsa, padding, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "TestVectors" / "generated"
SAMPLES = ROOT / "TestVectors" / "samples"
SOURCE = "MIE Verifier Tools/vectorgen/generate.py (software authenticator, fixed seeds)"

RP_ID = "mie.example"
ORIGIN = "https://mie.example"
AAGUID = bytes.fromhex("4d49452d56657269666965722d546573")  # "MIE-Verifier-Tes"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def seed_bytes(label: str, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha512(f"mie-verifier/{label}/{counter}".encode()).digest()
        counter += 1
    return out[:length]


# ---------------------------------------------------------------------------------------------
# CBOR (RFC 8949) encoding: definite lengths, maps in the order given.

class Raw(bytes):
    """Bytes inserted into CBOR output as they are (for hand-made hostile items)."""


def cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    if value < 0x100:
        return bytes([major << 5 | 24, value])
    if value < 0x10000:
        return bytes([major << 5 | 25]) + struct.pack(">H", value)
    if value < 0x100000000:
        return bytes([major << 5 | 26]) + struct.pack(">I", value)
    return bytes([major << 5 | 27]) + struct.pack(">Q", value)


def cbor(value) -> bytes:
    if isinstance(value, Raw):
        return bytes(value)
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if value is None:
        return b"\xf6"
    if isinstance(value, int):
        return cbor_head(0, value) if value >= 0 else cbor_head(1, -1 - value)
    if isinstance(value, (bytes, bytearray)):
        return cbor_head(2, len(value)) + bytes(value)
    if isinstance(value, str):
        encoded = value.encode()
        return cbor_head(3, len(encoded)) + encoded
    if isinstance(value, list):
        return cbor_head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        return cbor_head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError(type(value))


# ---------------------------------------------------------------------------------------------
# Deterministic keys.

def _is_probable_prime(n: int, rng: random.Random) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(40):
        a = rng.randrange(2, n - 2)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def seeded_rsa_key(label: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    rng = random.Random(seed_bytes(label, 32))
    e = 65537

    def prime() -> int:
        while True:
            candidate = rng.getrandbits(bits // 2) | (3 << (bits // 2 - 2)) | 1
            if (candidate - 1) % e != 0 and _is_probable_prime(candidate, rng):
                return candidate

    p = prime()
    q = prime()
    while q == p:
        q = prime()
    n = p * q
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p, q=q, d=d, dmp1=d % (p - 1), dmq1=d % (q - 1), iqmp=pow(q, -1, p),
        public_numbers=rsa.RSAPublicNumbers(e, n))
    return numbers.private_key()


CURVES = {
    "P-256": (ec.SECP256R1(), 1, 32),
    "P-384": (ec.SECP384R1(), 2, 48),
    "P-521": (ec.SECP521R1(), 3, 66),
    "secp256k1": (ec.SECP256K1(), 8, 32),
}

HASHES = {"SHA1": hashes.SHA1, "SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}


class CredentialKey:
    """A credential key pair that signs like an authenticator and exports its COSE_Key."""

    # name: (COSE alg, kind, parameter, hash)
    ALGORITHMS = {
        "ES256": (-7, "ec", "P-256", "SHA256"),
        "ESP256": (-9, "ec", "P-256", "SHA256"),
        "ES384": (-35, "ec", "P-384", "SHA384"),
        "ES512": (-36, "ec", "P-521", "SHA512"),
        "ESP384": (-51, "ec", "P-384", "SHA384"),
        "ESP512": (-52, "ec", "P-521", "SHA512"),
        "ES256K": (-47, "ec", "secp256k1", "SHA256"),
        "EdDSA": (-8, "okp", "Ed25519", None),
        "Ed25519": (-19, "okp", "Ed25519", None),
        "Ed448": (-53, "okp", "Ed448", None),
        "RS256": (-257, "rsa", "pkcs1", "SHA256"),
        "RS384": (-258, "rsa", "pkcs1", "SHA384"),
        "RS512": (-259, "rsa", "pkcs1", "SHA512"),
        "RS1": (-65535, "rsa", "pkcs1", "SHA1"),
        "PS256": (-37, "rsa", "pss", "SHA256"),
        "PS384": (-38, "rsa", "pss", "SHA384"),
        "PS512": (-39, "rsa", "pss", "SHA512"),
        "ML-DSA-65": (-49, "mldsa", "65", None),
        "ML-DSA-87": (-50, "mldsa", "87", None),
    }

    def __init__(self, name: str, label: str):
        self.name = name
        self.alg, self.kind, self.param, self.hash = self.ALGORITHMS[name]
        self.label = label
        if self.kind == "ec":
            curve, _, size = CURVES[self.param]
            scalar = int.from_bytes(seed_bytes(label, size + 8), "big") % (1 << (curve.key_size - 1)) + 1
            self.private = ec.derive_private_key(scalar, curve)
        elif self.param == "Ed25519":
            self.private = ed25519.Ed25519PrivateKey.from_private_bytes(seed_bytes(label, 32))
        elif self.param == "Ed448":
            self.private = ed448.Ed448PrivateKey.from_private_bytes(seed_bytes(label, 57))
        elif self.kind == "mldsa":
            cls = mldsa.MLDSA65PrivateKey if self.param == "65" else mldsa.MLDSA87PrivateKey
            self.private = cls.from_seed_bytes(seed_bytes(label, 32))
        else:
            self.private = seeded_rsa_key(label)

    def cose(self) -> bytes:
        public = self.private.public_key()
        if self.kind == "ec":
            _, crv, size = CURVES[self.param]
            numbers = public.public_numbers()
            return cbor({1: 2, 3: self.alg, -1: crv, -2: numbers.x.to_bytes(size, "big"),
                         -3: numbers.y.to_bytes(size, "big")})
        if self.kind == "okp":
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return cbor({1: 1, 3: self.alg, -1: 6 if self.param == "Ed25519" else 7, -2: raw})
        if self.kind == "mldsa":
            # AKP key (draft-ietf-cose-dilithium): kty 7, pub (-1).
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return cbor({1: 7, 3: self.alg, -1: raw})
        numbers = public.public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        return cbor({1: 3, 3: self.alg, -1: n, -2: numbers.e.to_bytes(3, "big")})

    def sign(self, message: bytes) -> bytes:
        if self.kind == "ec":
            return self.private.sign(message, ec.ECDSA(HASHES[self.hash](), deterministic_signing=True))
        if self.kind in ("okp", "mldsa"):
            # ML-DSA signing is hedged (FIPS 204 default): its signatures change on every run.
            return self.private.sign(message)
        if self.param == "pkcs1":
            return self.private.sign(message, padding.PKCS1v15(), HASHES[self.hash]())
        return pss_sign(self.private, message, self.hash, seed_bytes(self.label + "/salt/" + message.hex()[:64], 64))


def pss_sign(key: rsa.RSAPrivateKey, message: bytes, hash_name: str, salt_seed: bytes) -> bytes:
    """RSASSA-PSS (RFC 8017 §8.1) with MGF1 and a salt as long as the digest, from a seed."""
    h = getattr(hashlib, hash_name.lower())
    h_len = h().digest_size
    salt = salt_seed[:h_len]
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    em_bits = n.bit_length() - 1
    em_len = (em_bits + 7) // 8
    m_hash = h(message).digest()
    m_prime = b"\x00" * 8 + m_hash + salt
    digest = h(m_prime).digest()
    ps = b"\x00" * (em_len - len(salt) - h_len - 2)
    db = ps + b"\x01" + salt
    mask = b""
    counter = 0
    while len(mask) < len(db):
        mask += h(digest + counter.to_bytes(4, "big")).digest()
        counter += 1
    masked = bytes(a ^ b for a, b in zip(db, mask))
    masked = bytes([masked[0] & (0xFF >> (8 * em_len - em_bits))]) + masked[1:]
    em = masked + digest + b"\xbc"
    signature = pow(int.from_bytes(em, "big"), numbers.d, n)
    return signature.to_bytes((n.bit_length() + 7) // 8, "big")


# ---------------------------------------------------------------------------------------------
# Test PKI (attestation CAs).

NOT_BEFORE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2045, 1, 1, tzinfo=datetime.timezone.utc)
VERIFICATION_TIME = "2026-11-29T00:00:00Z"
EXPIRED_TIME = "2046-01-01T00:00:00Z"


def name(cn: str, ou: str = "MIE Verifier Test PKI", org: str = "MIE Verifier Tests") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def certificate(subject, subject_key, issuer, issuer_key, serial, ca, aaguid=None, aaguid_critical=False,
                not_after=NOT_AFTER) -> x509.Certificate:
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer)
               .public_key(subject_key.public_key())
               .serial_number(serial)
               .not_valid_before(NOT_BEFORE).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None if ca else None), critical=True))
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False), critical=True)
    if aaguid is not None:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4"), b"\x04\x10" + aaguid),
            critical=aaguid_critical)
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        return builder.sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=True)
    return builder.sign(issuer_key, hashes.SHA256())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


class TestPKI:
    def __init__(self):
        self.root_key = CredentialKey("ES256", "pki/root").private
        self.root = certificate(name("MIE Verifier Test Attestation Root CA"), self.root_key,
                                name("MIE Verifier Test Attestation Root CA"), self.root_key, 1, ca=True)
        self.ca_key = CredentialKey("ES256", "pki/intermediate").private
        self.ca = certificate(name("MIE Verifier Test Attestation CA 1"), self.ca_key, self.root.subject,
                              self.root_key, 2, ca=True)
        self.unrelated_key = CredentialKey("ES256", "pki/unrelated-root").private
        self.unrelated = certificate(name("Unrelated Test Root CA"), self.unrelated_key,
                                     name("Unrelated Test Root CA"), self.unrelated_key, 3, ca=True)
        attestation_name = name("MIE Verifier Test Authenticator", ou="Authenticator Attestation")
        self.leaf_signer = CredentialKey("ES256", "pki/packed-leaf")
        self.leaf = certificate(attestation_name, self.leaf_signer.private, self.ca.subject, self.ca_key, 10,
                                ca=False, aaguid=AAGUID)
        self.leaf_other_aaguid = certificate(attestation_name, self.leaf_signer.private, self.ca.subject,
                                             self.ca_key, 11, ca=False, aaguid=bytes(16))
        self.leaf_ca_true = certificate(attestation_name, self.leaf_signer.private, self.ca.subject,
                                        self.ca_key, 12, ca=True, aaguid=AAGUID)
        self.rsa_leaf_signer = CredentialKey("RS256", "pki/packed-rsa-leaf")
        self.rsa_leaf = certificate(attestation_name, self.rsa_leaf_signer.private, self.ca.subject, self.ca_key,
                                    13, ca=False, aaguid=AAGUID)
        self.p384_leaf_signer = CredentialKey("ES384", "pki/packed-p384-leaf")
        self.p384_leaf = certificate(attestation_name, self.p384_leaf_signer.private, self.ca.subject, self.ca_key,
                                     15, ca=False, aaguid=AAGUID)
        self.u2f_signer = CredentialKey("ES256", "pki/u2f-leaf")
        # U2F attestation certificates predate the packed subject rules; fido-u2f allows one
        # certificate only, so the root issues it directly.
        self.u2f_leaf = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MIE Verifier Test U2F")]),
                                    self.u2f_signer.private, self.root.subject, self.root_key, 14, ca=False)

        self.aik_signer = CredentialKey("RS256", "pki/tpm-aik")
        self.aik_ecc_signer = CredentialKey("ES256", "pki/tpm-aik-ecc")
        self.aik_rs1_signer = CredentialKey("RS1", "pki/tpm-aik")
        self.safetynet_signer = CredentialKey("RS256", "pki/safetynet")

    def anchors(self) -> dict:
        return {
            "mie-test-attestation-root": {"der_b64url": b64u(der(self.root)), "note": "root of the generated test PKI"},
            "mie-unrelated-root": {"der_b64url": b64u(der(self.unrelated)), "note": "a root that issued none of the vectors"},
        }


# ---------------------------------------------------------------------------------------------
# Ceremonies.

UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80


def client_data(ceremony_type: str, challenge: bytes, origin: str = ORIGIN, cross_origin: bool = False,
                top_origin: str | None = None, extra: str = "") -> bytes:
    text = '{"type":"%s","challenge":"%s","origin":"%s","crossOrigin":%s' % (
        ceremony_type, b64u(challenge), origin, "true" if cross_origin else "false")
    if top_origin:
        text += ',"topOrigin":"%s"' % top_origin
    return (text + extra + "}").encode()


def auth_data(flags: int, count: int, rp_id: str = RP_ID, attested: bytes = b"", extensions: bytes = b"") -> bytes:
    return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", count) + attested + extensions


def attested_data(credential_id: bytes, cose_key: bytes, aaguid: bytes = AAGUID) -> bytes:
    return aaguid + struct.pack(">H", len(credential_id)) + credential_id + cose_key


class Vectors:
    def __init__(self):
        self.items = []
        self.crls = {}
        self.pki = TestPKI()

    def add(self, vector: dict):
        assert not any(v["id"] == vector["id"] for v in self.items), vector["id"]
        base = {"source_repo": "mie-verifier", "source_path": SOURCE, "source_commit": None}
        base.update(vector)
        self.items.append(base)

    # -- registration ---------------------------------------------------------------------------

    def registration(self, vid: str, key: CredentialKey, fmt: str, *, flags: int = UP | UV | AT, count: int = 0,
                     credential_id: bytes | None = None, cd: bytes | None = None, challenge: bytes | None = None,
                     expected: str = "valid", notes: str = "", trust_anchor: str | None = None,
                     att_stmt: dict | None = None, authenticator_data: bytes | None = None,
                     attestation_object: bytes | None = None, extra: dict | None = None, x5c_leaf=None,
                     cose: bytes | None = None) -> dict:
        challenge = challenge if challenge is not None else seed_bytes(vid + "/challenge", 32)
        credential_id = credential_id if credential_id is not None else seed_bytes(vid + "/id", 32)
        cd = cd if cd is not None else client_data("webauthn.create", challenge)
        cose = cose if cose is not None else key.cose()
        ad = authenticator_data if authenticator_data is not None else auth_data(
            flags, count, attested=attested_data(credential_id, cose) if flags & AT else b"")
        cdh = hashlib.sha256(cd).digest()
        if att_stmt is None:
            att_stmt = self.statement(fmt, key, ad, cdh, credential_id, x5c_leaf)
        obj = attestation_object if attestation_object is not None else cbor(
            {"fmt": fmt, "attStmt": att_stmt, "authData": ad})
        vector = {
            "id": vid, "ceremony": "registration", "rp_id": RP_ID, "origin": ORIGIN,
            "challenge_b64url": b64u(challenge), "client_data_json_b64url": b64u(cd),
            "attestation_object_b64url": b64u(obj), "expected": expected, "fmt": fmt, "alg": key.name,
            "credential_id_b64url": b64u(credential_id), "credential_public_key_cose_b64url": b64u(cose),
            "verification_time": VERIFICATION_TIME, "require_user_verification": True, "notes": notes,
        }
        if trust_anchor:
            vector["trust_anchor"] = trust_anchor
        vector.update(extra or {})
        self.add(vector)
        return vector

    def statement(self, fmt: str, key: CredentialKey, ad: bytes, cdh: bytes, credential_id: bytes, leaf=None) -> dict:
        if fmt == "none":
            return {}
        if fmt == "packed-self":
            raise ValueError("use packed with leaf=None")
        if fmt == "packed":
            if leaf is None:
                return {"alg": key.alg, "sig": key.sign(ad + cdh)}
            cert, signer, chain = leaf
            return {"alg": signer.alg, "sig": signer.sign(ad + cdh), "x5c": [der(cert)] + [der(c) for c in chain]}
        if fmt == "fido-u2f":
            numbers = key.private.public_key().public_numbers()
            point = b"\x04" + numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")
            data = b"\x00" + ad[:32] + cdh + credential_id + point
            return {"sig": self.pki.u2f_signer.sign(data), "x5c": [der(self.pki.u2f_leaf)]}
        raise ValueError(fmt)

    # -- assertion ------------------------------------------------------------------------------

    def assertion(self, vid: str, key: CredentialKey, *, flags: int = UP | UV, count: int = 1, before: int = 0,
                  cd: bytes | None = None, challenge: bytes | None = None, rp_id: str = RP_ID,
                  expected: str = "valid", notes: str = "", extra: dict | None = None,
                  authenticator_data: bytes | None = None, signature: bytes | None = None,
                  cose: bytes | None = None, credential_id: bytes | None = None) -> dict:
        challenge = challenge if challenge is not None else seed_bytes(vid + "/challenge", 32)
        credential_id = credential_id if credential_id is not None else seed_bytes(key.label + "/id", 32)
        cd = cd if cd is not None else client_data("webauthn.get", challenge)
        ad = authenticator_data if authenticator_data is not None else auth_data(flags, count, rp_id=rp_id)
        sig = signature if signature is not None else key.sign(ad + hashlib.sha256(cd).digest())
        vector = {
            "id": vid, "ceremony": "authentication", "rp_id": RP_ID, "origin": ORIGIN,
            "challenge_b64url": b64u(challenge), "client_data_json_b64url": b64u(cd),
            "authenticator_data_b64url": b64u(ad), "signature_b64url": b64u(sig),
            "credential_public_key_cose_b64url": b64u(cose if cose is not None else key.cose()),
            "credential_id_b64url": b64u(credential_id), "sign_count_before": before,
            "expected": expected, "fmt": None, "alg": key.name, "require_user_verification": True, "notes": notes,
        }
        vector.update(extra or {})
        self.add(vector)
        return vector


def flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def nested_arrays(count: int) -> Raw:
    """`count` arrays, each holding the next, the innermost holding 0."""
    return Raw(b"\x81" * count + b"\x00")


# ---------------------------------------------------------------------------------------------
# DER by hand, for the extensions cryptography does not build (KeyDescription, Apple nonce).

def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_tlv(tag: int | bytes, content: bytes) -> bytes:
    tag_bytes = bytes([tag]) if isinstance(tag, int) else tag
    return tag_bytes + der_length(len(content)) + content


def der_int(value: int, tag: int = 0x02) -> bytes:
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return der_tlv(tag, body)


def context_tag(number: int) -> bytes:
    """The identifier of [number] EXPLICIT (context-specific, constructed)."""
    if number < 31:
        return bytes([0xA0 | number])
    digits = []
    while number:
        digits.insert(0, number & 0x7F)
        number >>= 7
    return bytes([0xBF] + [d | 0x80 for d in digits[:-1]] + [digits[-1]])


def key_description(challenge: bytes, *, origin: int | None = 0, purposes=(2,), all_applications=False,
                    in_tee: bool = True) -> bytes:
    """Android Keystore KeyDescription (attestation version 3, TEE)."""
    entries = b""
    if purposes is not None:
        entries += der_tlv(context_tag(1), der_tlv(0x31, b"".join(der_int(p) for p in purposes)))
    if all_applications:
        entries += der_tlv(context_tag(600), der_tlv(0x05, b""))
    if origin is not None:
        entries += der_tlv(context_tag(702), der_int(origin))
    authorizations = der_tlv(0x30, entries)
    empty = der_tlv(0x30, b"")
    software, tee = (empty, authorizations) if in_tee else (authorizations, empty)
    return der_tlv(0x30, der_int(3) + der_int(1, 0x0A) + der_int(4) + der_int(1, 0x0A) + der_tlv(0x04, challenge)
               + der_tlv(0x04, b"") + software + tee)


def apple_nonce_extension(nonce: bytes) -> bytes:
    return der_tlv(0x30, der_tlv(context_tag(1), der_tlv(0x04, nonce)))


# ---------------------------------------------------------------------------------------------
# TPM 2.0 structures.

TPM_GENERATED_VALUE = 0xFF544347
TPM_ST_ATTEST_CERTIFY = 0x8017
TPM_ALG = {"SHA1": 0x0004, "SHA256": 0x000B, "SHA384": 0x000C, "SHA512": 0x000D}


def tpm2b(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def tpm_pub_area(key: "CredentialKey", name_alg: str = "SHA256", key_bits: int | None = None,
                 ecc_scheme_null: bool = False) -> bytes:
    attributes = struct.pack(">I", 0x00060472)
    head = struct.pack(">HH", 0x0001 if key.kind == "rsa" else 0x0023, TPM_ALG[name_alg]) + attributes + tpm2b(b"")
    numbers = key.private.public_key().public_numbers()
    if key.kind == "rsa":
        modulus = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        # symmetric NULL, scheme NULL, keyBits, exponent 0 (= 65537), unique.
        bits = key_bits if key_bits is not None else numbers.n.bit_length()
        return head + struct.pack(">HHHI", 0x0010, 0x0010, bits, 0) + tpm2b(modulus)
    curve_id = {"P-256": 0x0003, "P-384": 0x0004, "P-521": 0x0005}[key.param]
    size = CURVES[key.param][2]
    if ecc_scheme_null:
        # symmetric NULL, scheme NULL, curve, kdf NULL, unique x and y.
        return (head + struct.pack(">HHHH", 0x0010, 0x0010, curve_id, 0x0010)
                + tpm2b(numbers.x.to_bytes(size, "big")) + tpm2b(numbers.y.to_bytes(size, "big")))
    # symmetric NULL, scheme ECDSA with SHA-256, curve, kdf NULL, unique x and y.
    return (head + struct.pack(">HHHHH", 0x0010, 0x0018, 0x000B, curve_id, 0x0010)
            + tpm2b(numbers.x.to_bytes(size, "big")) + tpm2b(numbers.y.to_bytes(size, "big")))


def tpm_cert_info(extra_data: bytes, pub_area: bytes, name_alg: str = "SHA256", magic: int = TPM_GENERATED_VALUE) -> bytes:
    name = struct.pack(">H", TPM_ALG[name_alg]) + getattr(hashlib, name_alg.lower())(pub_area).digest()
    signer = struct.pack(">H", 0x000B) + hashlib.sha256(b"mie test TPM signer").digest()
    clock = struct.pack(">QIIB", 12345678, 3, 4, 1)
    return (struct.pack(">IH", magic, TPM_ST_ATTEST_CERTIFY) + tpm2b(signer) + tpm2b(extra_data) + clock
            + struct.pack(">Q", 0x0002000100040000) + tpm2b(name) + tpm2b(signer))


def aik_certificate(pki, serial: int, *, manufacturer: str = "id:FFFFF1D0", eku: str = "2.23.133.8.3",
                    subject: x509.Name | None = None, ca: bool = False, signer=None,
                    san_critical: bool | None = None) -> x509.Certificate:
    signer = signer or pki.aik_signer
    tpm_name = x509.Name([
        x509.NameAttribute(ObjectIdentifier("2.23.133.2.1"), manufacturer),
        x509.NameAttribute(ObjectIdentifier("2.23.133.2.2"), "MIE-TPM"),
        x509.NameAttribute(ObjectIdentifier("2.23.133.2.3"), "id:13"),
    ])
    builder = (x509.CertificateBuilder()
               .subject_name(subject or x509.Name([])).issuer_name(pki.ca.subject)
               .public_key(signer.private.public_key()).serial_number(serial)
               .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectAlternativeName([x509.DirectoryName(tpm_name)]),
                              critical=subject is None if san_critical is None else san_critical)
               .add_extension(x509.ExtendedKeyUsage([ObjectIdentifier(eku)]), critical=False)
               .add_extension(x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4"), b"\x04\x10" + AAGUID),
                              critical=False))
    return builder.sign(pki.ca_key, hashes.SHA256(), ecdsa_deterministic=True)


def leaf_for_key(pki, public_key, serial: int, name_: x509.Name, extensions=(), san=None) -> x509.Certificate:
    builder = (x509.CertificateBuilder()
               .subject_name(name_).issuer_name(pki.ca.subject).public_key(public_key).serial_number(serial)
               .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True))
    for oid, value in extensions:
        builder = builder.add_extension(x509.UnrecognizedExtension(ObjectIdentifier(oid), value), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    return builder.sign(pki.ca_key, hashes.SHA256(), ecdsa_deterministic=True)


def jws(header: dict, payload: dict, signer: "CredentialKey", corrupt: bool = False, payload_suffix: str = "") -> bytes:
    """A compact JWS. `payload_suffix` is spliced in before the payload's closing brace (raw JSON
    members, duplicates included), and the whole is signed as written."""
    payload_text = json.dumps(payload, separators=(",", ":"))
    if payload_suffix:
        payload_text = payload_text[:-1] + payload_suffix + "}"
    signing_input = (b64u(json.dumps(header, separators=(",", ":")).encode()) + "." +
                     b64u(payload_text.encode())).encode()
    signature = signer.sign(signing_input)
    if corrupt:
        signature = flip_last(signature)
    return signing_input + b"." + b64u(signature).encode()


def add_format_vectors(v: "Vectors", keys: dict) -> None:
    """tpm, android-key, apple, android-safetynet and compound, each valid and mutated."""
    pki = v.pki
    es256, rs256 = keys["ES256"], keys["RS256"]
    anchor = "mie-test-attestation-root"
    ca_der = der_cert(pki.ca)

    def registration_parts(vid: str, key, flags=UP | UV | AT):
        challenge = seed_bytes(vid + "/challenge", 32)
        credential_id = seed_bytes(vid + "/id", 32)
        cd = client_data("webauthn.create", challenge)
        ad = auth_data(flags, 0, attested=attested_data(credential_id, key.cose()))
        return challenge, credential_id, cd, ad, hashlib.sha256(cd).digest()

    def emit(vid, key, fmt, stmt, parts, expected="valid", notes="", extra=None, trust=anchor):
        challenge, credential_id, cd, ad, _ = parts
        v.registration(vid, key, fmt, challenge=challenge, credential_id=credential_id, cd=cd, authenticator_data=ad,
                       att_stmt=stmt, expected=expected, notes=notes, trust_anchor=trust, extra=extra)

    # -- tpm ------------------------------------------------------------------------------------
    aik = aik_certificate(pki, 30)

    def tpm_statement(key, parts, *, aik_cert=aik, alg_key=None, extra_data=None, pub_area=None, magic=TPM_GENERATED_VALUE,
                      ver="2.0", corrupt=False):
        signer = alg_key or pki.aik_signer
        _, _, _, ad, cdh = parts
        pub = pub_area or tpm_pub_area(key)
        digest = getattr(hashlib, signer.hash.lower())(ad + cdh).digest()
        info = tpm_cert_info(extra_data if extra_data is not None else digest, pub, magic=magic)
        sig = signer.sign(info)
        stmt = {"ver": ver, "alg": signer.alg, "x5c": [der_cert(aik_cert), ca_der],
                "sig": flip_last(sig) if corrupt else sig, "certInfo": info, "pubArea": pub}
        return stmt

    for label, key in (("RS256", rs256), ("ES256", es256)):
        parts = registration_parts(f"gen-reg-tpm-{label}", key)
        emit(f"gen-reg-tpm-{label}", key, "tpm", tpm_statement(key, parts), parts,
             notes=f"TPM attestation of a {label} credential by an RSA AIK (manufacturer id:FFFFF1D0)")
    parts = registration_parts("gen-reg-tpm-ecc-aik", es256)
    ecc_aik = aik_certificate(pki, 31, signer=pki.aik_ecc_signer)
    emit("gen-reg-tpm-ecc-aik", es256, "tpm", tpm_statement(es256, parts, aik_cert=ecc_aik, alg_key=pki.aik_ecc_signer),
         parts, notes="TPM attestation signed ES256 by an ECC AIK")
    nuvoton_aik = aik_certificate(pki, 36, manufacturer="id:4E544300")
    parts = registration_parts("gen-reg-tpm-nuvoton", rs256)
    emit("gen-reg-tpm-nuvoton", rs256, "tpm", tpm_statement(rs256, parts, aik_cert=nuvoton_aik), parts,
         notes="TPM attestation naming a listed TCG vendor (id:4E544300); used by the benchmarks")
    unknown_aik = aik_certificate(pki, 32, manufacturer="id:00000000")
    parts = registration_parts("gen-reg-tpm-unknown-manufacturer", rs256)
    emit("gen-reg-tpm-unknown-manufacturer", rs256, "tpm", tpm_statement(rs256, parts, aik_cert=unknown_aik), parts,
         notes="manufacturer id:00000000 is not a TCG vendor: accepted with a warning by default")
    parts = registration_parts("gen-reg-neg-tpm-unknown-manufacturer-refused", rs256)
    emit("gen-reg-neg-tpm-unknown-manufacturer-refused", rs256, "tpm", tpm_statement(rs256, parts, aik_cert=unknown_aik),
         parts, expected="invalid:untrusted.attestation-certificate",
         notes="unknown manufacturer under a policy that requires a known one",
         extra={"policy": {"require_known_tpm_manufacturer": True}})
    tpm_negatives = [
        ("tpm-bad-signature", {"corrupt": True}, "mismatch.attestation-signature", "certInfo signature with a bit flipped"),
        ("tpm-extra-data", {"extra_data": hashlib.sha256(b"other registration").digest()}, "mismatch.attestation-signature",
         "certInfo.extraData hashes other data"),
        ("tpm-pub-area-other-key", {"pub_area": tpm_pub_area(keys["PS256"])}, "mismatch.attested-key",
         "pubArea describes another RSA key"),
        ("tpm-key-bits", {"pub_area": tpm_pub_area(rs256, key_bits=4096)}, "mismatch.attested-key",
         "pubArea keyBits 4096 for a 2048-bit modulus"),
        ("tpm-san-not-critical", {"aik_cert": aik_certificate(pki, 37, san_critical=False)}, "untrusted.attestation-certificate",
         "AIK subjectAltName not critical although the subject is empty (RFC 5280 4.2.1.6)"),
        ("tpm-magic", {"magic": 0xFF544348}, "malformed.attestation-statement", "certInfo.magic is not TPM_GENERATED_VALUE"),
        ("tpm-ver", {"ver": "1.0"}, "malformed.attestation-statement", "ver is 1.0"),
        ("tpm-eku", {"aik_cert": aik_certificate(pki, 33, eku="1.3.6.1.5.5.7.3.2")}, "untrusted.attestation-certificate",
         "AIK certificate without tcg-kp-AIKCertificate"),
        ("tpm-aik-subject", {"aik_cert": aik_certificate(pki, 34, subject=name("AIK with a subject"))},
         "untrusted.attestation-certificate", "AIK certificate with a non-empty subject"),
        ("tpm-aik-ca", {"aik_cert": aik_certificate(pki, 35, ca=True)}, "untrusted.attestation-certificate",
         "AIK certificate says CA=true"),
        ("tpm-sha1", {"alg_key": pki.aik_rs1_signer}, "policy.algorithm-not-allowed",
         "certInfo signed RS1 under the default policy"),
    ]
    for suffix, options, code, notes in tpm_negatives:
        vid = f"gen-reg-neg-{suffix}"
        parts = registration_parts(vid, rs256)
        emit(vid, rs256, "tpm", tpm_statement(rs256, parts, **options), parts, expected=f"invalid:{code}", notes=notes)
    parts = registration_parts("gen-reg-tpm-sha1-allowed", rs256)
    emit("gen-reg-tpm-sha1-allowed", rs256, "tpm", tpm_statement(rs256, parts, alg_key=pki.aik_rs1_signer), parts,
         notes="certInfo signed RS1 under a policy that allows SHA-1 attestation",
         extra={"policy": {"allow_sha1_attestation": True}})

    # -- android-key ----------------------------------------------------------------------------
    android_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Android Keystore Key")])

    def android_statement(key, parts, *, description=None, cert_key=None, corrupt=False):
        _, _, _, ad, cdh = parts
        ext = description if description is not None else key_description(cdh)
        cert = leaf_for_key(pki, (cert_key or key).private.public_key(), 40, android_name,
                            [("1.3.6.1.4.1.11129.2.1.17", ext)])
        signer = cert_key or key
        sig = signer.sign(ad + cdh)
        # Android devices send the whole chain, root included.
        return {"alg": signer.alg, "sig": flip_last(sig) if corrupt else sig,
                "x5c": [der_cert(cert), ca_der, der_cert(pki.root)]}

    parts = registration_parts("gen-reg-android-key-ES256", es256)
    emit("gen-reg-android-key-ES256", es256, "android-key", android_statement(es256, parts), parts,
         notes="Android Keystore key (TEE) attested by the test CA")
    android_negatives = [
        ("android-key-challenge", lambda cdh: {"description": key_description(hashlib.sha256(b"x").digest())},
         "mismatch.attestation-nonce", "attestationChallenge is not the clientDataHash"),
        ("android-key-all-applications", lambda cdh: {"description": key_description(cdh, all_applications=True)},
         "untrusted.attestation-certificate", "allApplications present"),
        ("android-key-imported", lambda cdh: {"description": key_description(cdh, origin=2)},
         "untrusted.attestation-certificate", "origin is KM_ORIGIN_IMPORTED"),
        ("android-key-verify-only", lambda cdh: {"description": key_description(cdh, purposes=(3,))},
         "untrusted.attestation-certificate", "purpose is VERIFY only"),
        ("android-key-other-key", lambda cdh: {"cert_key": keys["ESP256"]}, "mismatch.attested-key",
         "the certificate holds another key than the credential"),
        ("android-key-bad-signature", lambda cdh: {"corrupt": True}, "mismatch.attestation-signature",
         "signature with a bit flipped"),
    ]
    for suffix, options, code, notes in android_negatives:
        vid = f"gen-reg-neg-{suffix}"
        parts = registration_parts(vid, es256)
        emit(vid, es256, "android-key", android_statement(es256, parts, **options(parts[4])), parts,
             expected=f"invalid:{code}", notes=notes)
    vid = "gen-reg-neg-android-key-software-under-tee-policy"
    parts = registration_parts(vid, es256)
    emit(vid, es256, "android-key", android_statement(es256, parts, description=key_description(parts[4], in_tee=False)),
         parts, expected="invalid:untrusted.attestation-certificate",
         notes="origin and purpose only software-enforced, policy requires TEE", extra={"policy": {"android_key_authorization": "teeEnforced"}})
    vid = "gen-reg-android-key-software-enforced"
    parts = registration_parts(vid, es256)
    emit(vid, es256, "android-key", android_statement(es256, parts, description=key_description(parts[4], in_tee=False)),
         parts, notes="origin and purpose software-enforced: accepted under the default (either list)")

    # -- apple ----------------------------------------------------------------------------------
    apple_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MIE Apple-style credential")])

    def apple_statement(key, parts, *, nonce=None, cert_key=None, with_extension=True):
        _, _, _, ad, cdh = parts
        value = nonce if nonce is not None else hashlib.sha256(ad + cdh).digest()
        extensions = [("1.2.840.113635.100.8.2", apple_nonce_extension(value))] if with_extension else []
        cert = leaf_for_key(pki, (cert_key or key).private.public_key(), 50, apple_name, extensions)
        return {"x5c": [der_cert(cert), ca_der]}

    parts = registration_parts("gen-reg-apple-ES256", es256)
    emit("gen-reg-apple-ES256", es256, "apple", apple_statement(es256, parts), parts, notes="Apple-style anonymous attestation")
    for suffix, options, code, notes in [
        ("apple-nonce", {"nonce": hashlib.sha256(b"other").digest()}, "mismatch.attestation-nonce", "nonce of other data"),
        ("apple-other-key", {"cert_key": keys["ESP256"]}, "mismatch.attested-key", "certificate key is not the credential's"),
        ("apple-no-nonce", {"with_extension": False}, "untrusted.attestation-certificate", "nonce extension missing"),
    ]:
        vid = f"gen-reg-neg-{suffix}"
        parts = registration_parts(vid, es256)
        emit(vid, es256, "apple", apple_statement(es256, parts, **options), parts, expected=f"invalid:{code}", notes=notes)
    vid = "gen-reg-neg-apple-untrusted-root"
    parts = registration_parts(vid, es256)
    emit(vid, es256, "apple", apple_statement(es256, parts), parts, expected="invalid:untrusted.attestation-chain",
         notes="chain checked against an unrelated root", trust="mie-unrelated-root")

    # -- android-safetynet ----------------------------------------------------------------------
    def safetynet_statement(parts, *, host="attest.android.com", cts=True, age_ms=0, nonce=None, corrupt=False,
                            payload_patch=None, payload_suffix=""):
        _, _, _, ad, cdh = parts
        cert = leaf_for_key(pki, pki.safetynet_signer.private.public_key(), 60,
                            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]), san=host)
        timestamp = int(datetime.datetime.fromisoformat(VERIFICATION_TIME.replace("Z", "+00:00")).timestamp() * 1000) - age_ms
        payload = {"nonce": base64.b64encode(nonce or hashlib.sha256(ad + cdh).digest()).decode(), "timestampMs": timestamp,
                   "apkPackageName": "com.google.android.gms", "ctsProfileMatch": cts, "basicIntegrity": True}
        payload.update(payload_patch or {})
        header = {"alg": "RS256", "x5c": [base64.b64encode(der_cert(cert)).decode(), base64.b64encode(ca_der).decode()]}
        return {"ver": "214815000",
                "response": jws(header, payload, pki.safetynet_signer, corrupt, payload_suffix=payload_suffix)}

    parts = registration_parts("gen-reg-android-safetynet-ES256", es256)
    emit("gen-reg-android-safetynet-ES256", es256, "android-safetynet", safetynet_statement(parts), parts,
         notes="SafetyNet JWS (RS256) from a test 'attest.android.com' certificate, fresh timestamp")
    for suffix, options, code, notes, extra in [
        ("safetynet-hostname", {"host": "attest.evil.example"}, "untrusted.attestation-certificate", "leaf issued to another host", None),
        ("safetynet-cts", {"cts": False}, "policy.safetynet-integrity", "ctsProfileMatch false", None),
        ("safetynet-stale", {"age_ms": 3_600_000}, "policy.safetynet-stale", "timestamp an hour before the verification", None),
        ("safetynet-nonce", {"nonce": hashlib.sha256(b"other").digest()}, "mismatch.attestation-nonce", "nonce of other data", None),
        ("safetynet-bad-signature", {"corrupt": True}, "mismatch.attestation-signature", "JWS signature with a bit flipped", None),
        ("safetynet-format-not-allowed", {}, "policy.attestation-format-not-allowed", "policy lists packed and tpm only",
         {"policy": {"allowed_formats": ["packed", "tpm"]}}),
        # Extreme values inside the signed payload: each is refused with a code, never a crash.
        ("safetynet-timestamp-1e300", {"payload_patch": {"timestampMs": 1e300}}, "malformed.attestation-statement",
         "timestampMs 1e300 (a Double -> Int trap once killed the process here)", None),
        ("safetynet-timestamp-fraction", {"payload_patch": {"timestampMs": 1764374400000.5}},
         "malformed.attestation-statement", "timestampMs with a fraction", None),
        ("safetynet-timestamp-2-63", {"payload_patch": {"timestampMs": 2 ** 63}}, "malformed.attestation-statement",
         "timestampMs 2^63, beyond a signed 64-bit count", None),
        ("safetynet-timestamp-max", {"payload_patch": {"timestampMs": 2 ** 63 - 1}}, "policy.safetynet-stale",
         "timestampMs Int64.max: far in the future", None),
        ("safetynet-timestamp-min", {"payload_patch": {"timestampMs": -2 ** 63}}, "policy.safetynet-stale",
         "timestampMs Int64.min: the age overflows", None),
        ("safetynet-timestamp-string", {"payload_patch": {"timestampMs": "1764374400000"}},
         "malformed.attestation-statement", "timestampMs as a string", None),
        ("safetynet-cts-one", {"payload_patch": {"ctsProfileMatch": 1}}, "malformed.attestation-statement",
         "ctsProfileMatch 1 is not true", None),
        ("safetynet-cts-string", {"payload_patch": {"ctsProfileMatch": "true"}}, "malformed.attestation-statement",
         "ctsProfileMatch \"true\" is not true", None),
        ("safetynet-duplicate-nonce", {"payload_suffix": ',"nonce":"AAAA"'}, "malformed.attestation-statement",
         "nonce twice in the payload (parsers could disagree on which counts)", None),
        ("safetynet-duplicate-cts", {"cts": False, "payload_suffix": ',"ctsProfileMatch":true'},
         "malformed.attestation-statement", "ctsProfileMatch false then true", None),
    ]:
        vid = f"gen-reg-neg-{suffix}"
        parts = registration_parts(vid, es256)
        emit(vid, es256, "android-safetynet", safetynet_statement(parts, **options), parts, expected=f"invalid:{code}",
             notes=notes, extra=extra)
    vid = "gen-reg-android-safetynet-stale-allowed"
    parts = registration_parts(vid, es256)
    emit(vid, es256, "android-safetynet", safetynet_statement(parts, age_ms=3_600_000), parts,
         notes="an hour-old timestamp under a policy allowing two hours", extra={"policy": {"safetynet_max_age": 7200}})

    # -- compound -------------------------------------------------------------------------------
    def compound_parts(vid):
        parts = registration_parts(vid, es256)
        _, credential_id, _, ad, cdh = parts
        self_stmt = {"fmt": "packed", "attStmt": {"alg": es256.alg, "sig": es256.sign(ad + cdh)}}
        full = v.statement("packed", es256, ad, cdh, credential_id, (pki.leaf, pki.leaf_signer, [pki.ca]))
        return parts, self_stmt, {"fmt": "packed", "attStmt": full}

    parts, self_stmt, full_stmt = compound_parts("gen-reg-compound")
    emit("gen-reg-compound", es256, "compound", [full_stmt, self_stmt], parts, trust=None,
         notes="compound: packed x5c and packed self about one credential (attestation any)")
    parts, self_stmt, full_stmt = compound_parts("gen-reg-compound-trusted")
    emit("gen-reg-compound-trusted", es256, "compound", [full_stmt, full_stmt], parts,
         notes="compound of two trusted statements under the trusted policy")
    parts, self_stmt, full_stmt = compound_parts("gen-reg-neg-compound-self-under-trusted")
    emit("gen-reg-neg-compound-self-under-trusted", es256, "compound", [full_stmt, self_stmt], parts,
         expected="invalid:policy.attestation-required", notes="one self statement while trusted attestation is required")
    parts, self_stmt, full_stmt = compound_parts("gen-reg-neg-compound-bad-part")
    bad = {"fmt": "packed", "attStmt": dict(self_stmt["attStmt"], sig=flip_last(self_stmt["attStmt"]["sig"]))}
    emit("gen-reg-neg-compound-bad-part", es256, "compound", [full_stmt, bad], parts, trust=None,
         expected="invalid:mismatch.attestation-signature", notes="second statement's signature flipped")
    parts, self_stmt, full_stmt = compound_parts("gen-reg-neg-compound-single")
    emit("gen-reg-neg-compound-single", es256, "compound", [self_stmt], parts, trust=None,
         expected="invalid:malformed.attestation-statement", notes="a single statement")
    parts, self_stmt, full_stmt = compound_parts("gen-reg-neg-compound-nested")
    emit("gen-reg-neg-compound-nested", es256, "compound", [self_stmt, {"fmt": "compound", "attStmt": [self_stmt, self_stmt]}],
         parts, trust=None, expected="invalid:malformed.attestation-statement", notes="a compound inside a compound")


def crl(issuer_cert, issuer_key, revoked_serials=(), next_update=NOT_AFTER) -> bytes:
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer_cert.subject).last_update(NOT_BEFORE).next_update(next_update))
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOT_BEFORE).build())
    return builder.sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=True).public_bytes(serialization.Encoding.DER)


def add_revocation_vectors(v: "Vectors", keys: dict) -> dict:
    """Packed registrations checked against generated CRLs; returns the CRLs by name."""
    pki = v.pki
    crls = {
        "ca-revokes-packed-leaf": crl(pki.ca, pki.ca_key, revoked_serials=(10,)),
        "ca-revokes-nothing": crl(pki.ca, pki.ca_key),
        "root-revokes-nothing": crl(pki.root, pki.root_key),
    }
    leaf = (pki.leaf, pki.leaf_signer, [pki.ca])
    es256 = keys["ES256"]
    v.registration("gen-reg-packed-crl-checked", es256, "packed", x5c_leaf=leaf, trust_anchor="mie-test-attestation-root",
                   extra={"crls": ["ca-revokes-nothing", "root-revokes-nothing"]},
                   notes="packed x5c with CRLs for every certificate of the path: revocation checked")
    v.registration("gen-reg-packed-crl-partial", es256, "packed", x5c_leaf=leaf, trust_anchor="mie-test-attestation-root",
                   extra={"crls": ["ca-revokes-nothing"]}, notes="a CRL for the leaf only: revocation partial")
    v.registration("gen-reg-neg-packed-revoked-leaf", es256, "packed", x5c_leaf=leaf,
                   trust_anchor="mie-test-attestation-root", expected="invalid:untrusted.certificate-revoked",
                   extra={"crls": ["ca-revokes-packed-leaf", "root-revokes-nothing"]},
                   notes="the CA's CRL lists the packed leaf (serial 10)")
    v.registration("gen-reg-neg-packed-revoked-leaf-untrusted-policy", es256, "packed", x5c_leaf=leaf,
                   trust_anchor="mie-test-attestation-root", expected="invalid:untrusted.certificate-revoked",
                   extra={"crls": ["ca-revokes-packed-leaf"], "policy": {"attestation": "any"}},
                   notes="a revoked leaf is refused even when untrusted attestation is accepted")
    return {name: {"der_b64url": b64u(data)} for name, data in crls.items()}


def der_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)



def build() -> Vectors:
    v = Vectors()
    pki = v.pki
    keys = {name: CredentialKey(name, f"credential/{name}") for name in CredentialKey.ALGORITHMS}
    es256 = keys["ES256"]
    packed_leaf = (pki.leaf, pki.leaf_signer, [pki.ca])

    # Valid registrations: every algorithm with none, packed self and packed x5c attestation.
    for alg, key in keys.items():
        policy = {"allowed_algs": [key.alg]} if alg == "RS1" else None
        extra = {"policy": policy} if policy else None
        v.registration(f"gen-reg-none-{alg}", key, "none", notes=f"{alg} credential, none attestation", extra=extra,
                       credential_id=seed_bytes(key.label + "/id", 32))
        v.registration(f"gen-reg-packed-self-{alg}", key, "packed", notes=f"{alg} credential, packed self attestation",
                       extra=extra)
        v.registration(f"gen-reg-packed-x5c-{alg}", key, "packed", x5c_leaf=packed_leaf,
                       trust_anchor="mie-test-attestation-root",
                       notes=f"{alg} credential, packed full attestation by the test CA (ES256 leaf)", extra=extra)
    v.registration("gen-reg-packed-x5c-rsa-leaf", es256, "packed",
                   x5c_leaf=(pki.rsa_leaf, pki.rsa_leaf_signer, [pki.ca]), trust_anchor="mie-test-attestation-root",
                   notes="packed full attestation signed RS256 by an RSA-2048 leaf")
    v.registration("gen-reg-fido-u2f-ES256", es256, "fido-u2f", flags=UP | AT, trust_anchor="mie-test-attestation-root",
                   notes="U2F authenticator (no UV) through fido-u2f attestation",
                   extra={"require_user_verification": False})
    v.registration("gen-reg-packed-x5c-extensions", es256, "packed", x5c_leaf=packed_leaf,
                   trust_anchor="mie-test-attestation-root", flags=UP | UV | AT | ED,
                   authenticator_data=auth_data(UP | UV | AT | ED, 0,
                                                attested=attested_data(seed_bytes("gen-reg-packed-x5c-extensions/id", 32),
                                                                       es256.cose()),
                                                extensions=cbor({"credProtect": 2})),
                   notes="authenticator extension outputs (credProtect) after the credential")
    v.registration("gen-reg-none-indefinite-map", es256, "none",
                   attestation_object=Raw(b"\xbf" + cbor("fmt") + cbor("none") + cbor("attStmt") + b"\xbf\xff" +
                                          cbor("authData") + cbor(auth_data(UP | UV | AT, 0, attested=attested_data(
                                              seed_bytes("gen-reg-none-indefinite-map/id", 32), es256.cose()))) +
                                          b"\xff"),
                   notes="attestation object as an indefinite-length map, as some authenticators emit")
    v.registration("gen-reg-none-long-credential-id", es256, "none", credential_id=seed_bytes("long-id", 1023),
                   notes="credential ID of 1023 bytes, the longest allowed")
    v.registration("gen-reg-none-be-bs", es256, "none", flags=UP | UV | AT | BE | BS,
                   notes="backup eligible and backed up (a synced passkey)")
    v.registration("gen-reg-none-cross-origin-allowed", es256, "none",
                   cd=client_data("webauthn.create", seed_bytes("gen-reg-none-cross-origin-allowed/challenge", 32),
                                  cross_origin=True, top_origin="https://portal.example"),
                   extra={"top_origin": "https://portal.example",
                          "policy": {"allow_cross_origin": True, "top_origins": ["https://portal.example"]}},
                   notes="cross-origin iframe ceremony under a policy that allows it")
    v.registration("gen-reg-none-unknown-client-data-members", es256, "none",
                   cd=client_data("webauthn.create", seed_bytes("gen-reg-none-unknown-client-data-members/challenge", 32),
                                  extra=',"other_keys_can_be_added_here":"do not compare clientDataJSON against a '
                                        'template","nested":{"a":[1,2.5e3,null,true]},"esc":"\\u00e9\\ud83d\\ude00"'),
                   notes="unknown clientDataJSON members of every JSON type are tolerated")

    # Registration negatives: the valid vector above, one mutation each.
    def reg_neg(suffix: str, code: str, notes: str, key=es256, fmt="none", **kw):
        return v.registration(f"gen-reg-neg-{suffix}", key, fmt, expected=f"invalid:{code}", notes=notes, **kw)

    reg_neg("wrong-challenge", "mismatch.challenge", "expected challenge differs from clientData's",
            cd=client_data("webauthn.create", b"another challenge, 32 bytes long"))
    reg_neg("wrong-origin", "mismatch.origin", "clientData origin is another site",
            cd=client_data("webauthn.create", seed_bytes("gen-reg-neg-wrong-origin/challenge", 32),
                           origin="https://evil.example"))
    reg_neg("origin-subdomain", "mismatch.origin", "a subdomain without a wildcard entry",
            cd=client_data("webauthn.create", seed_bytes("gen-reg-neg-origin-subdomain/challenge", 32),
                           origin="https://sub.mie.example"))
    reg_neg("origin-port", "mismatch.origin", "same host on another port",
            cd=client_data("webauthn.create", seed_bytes("gen-reg-neg-origin-port/challenge", 32),
                           origin="https://mie.example:8443"))
    reg_neg("wrong-rp-id", "mismatch.rp-id", "authData rpIdHash is for another RP ID",
            authenticator_data=auth_data(UP | UV | AT, 0, rp_id="other.example",
                                         attested=attested_data(seed_bytes("gen-reg-neg-wrong-rp-id/id", 32), es256.cose())))
    reg_neg("type-get", "mismatch.type", "clientData type is webauthn.get",
            cd=client_data("webauthn.get", seed_bytes("gen-reg-neg-type-get/challenge", 32)))
    reg_neg("up-cleared", "policy.user-not-present", "UP flag not set", flags=UV | AT)
    reg_neg("uv-cleared", "policy.user-not-verified", "UV flag not set while required", flags=UP | AT)
    reg_neg("bs-without-be", "malformed.backup-state-without-eligibility", "BS set, BE not", flags=UP | UV | AT | BS)
    reg_neg("no-attested-data", "malformed.no-attested-credential-data", "AT flag and credential data absent",
            flags=UP | UV)
    reg_neg("ed-without-extensions", "malformed.authenticator-data", "ED flag set, nothing follows the key",
            flags=UP | UV | AT | ED)
    good = auth_data(UP | UV | AT, 0, attested=attested_data(seed_bytes("gen-reg-neg-authdata-trailing/id", 32), es256.cose()))
    reg_neg("authdata-trailing", "malformed.authenticator-data", "two bytes after the COSE key",
            authenticator_data=good + b"\x00\x00")
    reg_neg("authdata-truncated", "malformed.authenticator-data", "authData cut inside the AAGUID",
            authenticator_data=good[:45])
    reg_neg("authdata-short", "malformed.authenticator-data", "authData shorter than 37 bytes",
            authenticator_data=good[:36])
    reg_neg("credential-id-1024", "malformed.credential-id", "credential ID of 1024 bytes",
            credential_id=seed_bytes("oversize-id", 1024))
    reg_neg("credential-id-length-beyond-data", "malformed.authenticator-data",
            "credentialIdLength claims more bytes than authData has",
            authenticator_data=good[:53] + b"\x03\xff" + good[55:])
    reg_neg("cose-key-bad-curve", "malformed.cose-key", "EC2 key claiming curve 2 (P-384) with alg ES256",
            cose=cbor({1: 2, 3: -7, -1: 2, -2: bytes(32), -3: bytes(32)}))
    reg_neg("cose-key-not-on-curve", "malformed.cose-key", "P-256 point that is not on the curve",
            cose=cbor({1: 2, 3: -7, -1: 1, -2: bytes(31) + b"\x01", -3: bytes(31) + b"\x01"}))
    reg_neg("cose-key-missing-alg", "malformed.cose-key", "COSE key without alg",
            cose=cbor({1: 2, -1: 1, -2: bytes(32), -3: bytes(32)}))
    reg_neg("cose-key-ml-dsa", "alg.unsupported", "AKP key with ML-DSA-44 (OpenSSL 3.0 has no ML-DSA)",
            cose=cbor({1: 7, 3: -48, -1: bytes(1312)}))
    reg_neg("rs1-not-allowed", "policy.algorithm-not-allowed", "RS1 credential under the default algorithms",
            key=keys["RS1"])
    reg_neg("alg-not-in-policy", "policy.algorithm-not-allowed", "RS256 credential, policy allows ES256 only",
            key=keys["RS256"], extra={"policy": {"allowed_algs": [-7]}})
    ad_unknown = auth_data(UP | UV | AT, 0, attested=attested_data(seed_bytes("gen-reg-neg-fmt-unknown/id", 32), es256.cose()))
    reg_neg("fmt-unknown", "attestation.format-unsupported", "fmt is not a registered format",
            authenticator_data=ad_unknown, attestation_object=cbor({"fmt": "mie-unknown", "attStmt": {}, "authData": ad_unknown}))
    reg_neg("none-with-statement", "malformed.attestation-statement", "none attestation with a non-empty attStmt",
            att_stmt={"sig": b"\x00"})
    reg_neg("none-under-trusted-policy", "policy.attestation-required",
            "none attestation when the policy requires trusted attestation",
            extra={"policy": {"attestation": "trusted"}})
    reg_neg("rawid-mismatch", "mismatch.credential-id", "response rawId differs from authData's credential ID",
            extra={"raw_id_b64url": b64u(b"another credential id")})
    reg_neg("cross-origin", "policy.cross-origin", "crossOrigin true under the default policy",
            cd=client_data("webauthn.create", seed_bytes("gen-reg-neg-cross-origin/challenge", 32), cross_origin=True))
    reg_neg("top-origin-not-listed", "policy.top-origin", "cross-origin allowed but topOrigin is not listed",
            cd=client_data("webauthn.create", seed_bytes("gen-reg-neg-top-origin-not-listed/challenge", 32),
                           cross_origin=True, top_origin="https://evil.example"),
            extra={"policy": {"allow_cross_origin": True, "top_origins": ["https://portal.example"]}})
    reg_neg("client-data-not-json", "malformed.client-data", "clientDataJSON is not JSON", cd=b"type=webauthn.create")
    reg_neg("client-data-duplicate-challenge", "malformed.client-data",
            "clientDataJSON names challenge twice (parsers could disagree on which counts)",
            cd=client_data("webauthn.create", seed_bytes("gen-reg-neg-client-data-duplicate-challenge/challenge", 32),
                           extra=',"challenge":"AAAA"'))
    reg_neg("client-data-missing-origin", "malformed.client-data", "clientDataJSON without origin",
            cd=b'{"type":"webauthn.create","challenge":"%s"}' %
               b64u(seed_bytes("gen-reg-neg-client-data-missing-origin/challenge", 32)).encode())
    reg_neg("token-binding-bad-status", "malformed.client-data", "Level 2 tokenBinding with an unknown status",
            cd=client_data("webauthn.create", seed_bytes("gen-reg-neg-token-binding-bad-status/challenge", 32),
                           extra=',"tokenBinding":{"status":"bogus"}'))

    # CBOR-level attacks on the attestation object.
    ad_cbor = auth_data(UP | UV | AT, 0, attested=attested_data(seed_bytes("cbor/id", 32), es256.cose()))
    valid_obj = cbor({"fmt": "none", "attStmt": {}, "authData": ad_cbor})
    cbor_cases = [
        ("trailing-bytes", valid_obj + b"\x00", "one byte after the attestation object"),
        ("truncated", valid_obj[:-10], "attestation object cut short"),
        ("hostile-array-header", b"\x9a\x10\x00\x00\x00", "array header claiming 2^28 items (cbor_load costs ~2 GB)"),
        ("hostile-array-header-2", b"\x9a\x26\x21\x21\x21", "array header claiming ~640M items"),
        ("hostile-map-header", b"\xbb\x00\x00\x00\x01\x00\x00\x00\x00", "map header claiming 2^32 pairs"),
        ("hostile-bytes-header", b"\xa1\x63fmt\x5b\x7f\xff\xff\xff\xff\xff\xff\xff", "byte string claiming 2^63 bytes"),
        ("depth-17", cbor({"fmt": "none", "attStmt": {"x": nested_arrays(15)}, "authData": ad_cbor}),
         "two maps and 15 nested arrays: depth 17"),
        ("duplicate-key", Raw(b"\xa4") + cbor("fmt") + cbor("none") + cbor("attStmt") + cbor({}) + cbor("authData") +
         cbor(ad_cbor) + cbor("fmt") + cbor("packed"), "fmt twice in the attestation object"),
        ("reserved-additional-info", b"\xa3\x1c", "reserved additional information 28"),
        ("unexpected-break", b"\xa1" + cbor("fmt") + b"\xff", "a break code where a map value belongs"),
        ("invalid-utf8-key", b"\xa1\x62\xff\xfe\x00", "text key that is not UTF-8"),
        ("empty", b"", "no bytes at all"),
    ]
    for suffix, blob, notes in cbor_cases:
        v.registration(f"gen-reg-neg-cbor-{suffix}", es256, "none", expected="invalid:malformed.cbor", notes=notes,
                       attestation_object=Raw(blob))
    v.registration("gen-reg-neg-attestation-object-not-map", es256, "none",
                   expected="invalid:malformed.attestation-object", attestation_object=cbor([1, 2, 3]),
                   notes="attestation object is an array")
    v.registration("gen-reg-neg-attestation-object-no-authdata", es256, "none",
                   expected="invalid:malformed.attestation-object",
                   attestation_object=cbor({"fmt": "none", "attStmt": {}}), notes="authData missing")

    # Packed and fido-u2f negatives.
    cid = seed_bytes("gen-reg-neg-packed-bad-signature/id", 32)
    ad_p = auth_data(UP | UV | AT, 0, attested=attested_data(cid, es256.cose()))
    ch = seed_bytes("gen-reg-neg-packed-bad-signature/challenge", 32)
    cdh = hashlib.sha256(client_data("webauthn.create", ch)).digest()
    good_stmt = v.statement("packed", es256, ad_p, cdh, cid, packed_leaf)
    reg_neg("packed-bad-signature", "mismatch.attestation-signature", "packed x5c signature with one bit flipped",
            fmt="packed", trust_anchor="mie-test-attestation-root", credential_id=cid, challenge=ch,
            authenticator_data=ad_p, att_stmt=dict(good_stmt, sig=flip_last(good_stmt["sig"])))
    reg_neg("packed-self-bad-signature", "mismatch.attestation-signature", "packed self signature over other data",
            fmt="packed", att_stmt={"alg": -7, "sig": es256.sign(b"something else")})
    reg_neg("packed-self-alg-mismatch", "mismatch.attestation-algorithm", "self attestation alg differs from the key's",
            fmt="packed", att_stmt={"alg": -257, "sig": b"\x00" * 256})
    reg_neg("packed-alg-not-integer", "malformed.attestation-statement", "packed alg is a string",
            fmt="packed", att_stmt={"alg": "ES256", "sig": b"\x00"})
    reg_neg("packed-x5c-empty", "malformed.attestation-statement", "packed x5c is an empty array",
            fmt="packed", att_stmt={"alg": -7, "sig": b"\x00", "x5c": []})
    reg_neg("packed-x5c-garbage", "malformed.attestation-statement", "packed x5c entry is not a certificate",
            fmt="packed", att_stmt={"alg": -7, "sig": b"\x00", "x5c": [b"\x30\x03\x02\x01\x01"]})
    reg_neg("packed-untrusted-root", "untrusted.attestation-chain", "chain verified against an unrelated root",
            fmt="packed", x5c_leaf=packed_leaf, trust_anchor="mie-unrelated-root")
    reg_neg("packed-no-anchor", "untrusted.attestation-chain", "trusted attestation required, no anchor known",
            fmt="packed", x5c_leaf=packed_leaf, extra={"policy": {"attestation": "trusted"}})
    reg_neg("packed-expired-chain", "untrusted.attestation-chain", "verified after the certificates expired",
            fmt="packed", x5c_leaf=packed_leaf, trust_anchor="mie-test-attestation-root",
            extra={"verification_time": EXPIRED_TIME})
    reg_neg("packed-aaguid-extension-mismatch", "mismatch.aaguid", "leaf AAGUID extension is all zeros",
            fmt="packed", x5c_leaf=(pki.leaf_other_aaguid, pki.leaf_signer, [pki.ca]),
            trust_anchor="mie-test-attestation-root")
    reg_neg("packed-leaf-is-ca", "untrusted.attestation-certificate", "leaf certificate says CA=true",
            fmt="packed", x5c_leaf=(pki.leaf_ca_true, pki.leaf_signer, [pki.ca]),
            trust_anchor="mie-test-attestation-root")
    reg_neg("packed-leaf-subject", "untrusted.attestation-certificate",
            "leaf subject OU is not \"Authenticator Attestation\"", fmt="packed",
            x5c_leaf=(pki.u2f_leaf, pki.u2f_signer, [pki.ca]), trust_anchor="mie-test-attestation-root")
    reg_neg("packed-self-under-trusted", "policy.attestation-required", "self attestation, trusted attestation required",
            fmt="packed", extra={"policy": {"attestation": "trusted"}})
    cid = seed_bytes("gen-reg-neg-u2f-bad-signature/id", 32)
    ad_u = auth_data(UP | AT, 0, attested=attested_data(cid, es256.cose()))
    ch = seed_bytes("gen-reg-neg-u2f-bad-signature/challenge", 32)
    u2f = v.statement("fido-u2f", es256, ad_u, hashlib.sha256(client_data("webauthn.create", ch)).digest(), cid)
    reg_neg("u2f-bad-signature", "mismatch.attestation-signature", "fido-u2f signature with one bit flipped",
            fmt="fido-u2f", credential_id=cid, challenge=ch, authenticator_data=ad_u, flags=UP | AT,
            att_stmt=dict(u2f, sig=flip_last(u2f["sig"])), trust_anchor="mie-test-attestation-root",
            extra={"require_user_verification": False})
    reg_neg("u2f-two-certificates", "malformed.attestation-statement", "fido-u2f x5c with two certificates",
            fmt="fido-u2f", flags=UP | AT, extra={"require_user_verification": False},
            att_stmt={"sig": b"\x00", "x5c": [der(pki.u2f_leaf), der(pki.ca)]})
    reg_neg("u2f-rsa-credential", "malformed.attestation-statement", "fido-u2f with an RSA credential key",
            key=keys["RS256"], fmt="fido-u2f", flags=UP | AT, extra={"require_user_verification": False},
            att_stmt={"sig": b"\x00", "x5c": [der(pki.u2f_leaf)]})

    # Valid assertions for every algorithm.
    for alg, key in keys.items():
        extra = {"policy": {"allowed_algs": [key.alg]}} if alg == "RS1" else None
        v.assertion(f"gen-auth-{alg}", key, count=7, before=6, notes=f"{alg} assertion, counter 6 -> 7", extra=extra)
    v.assertion("gen-auth-zero-counters", es256, count=0, before=0, notes="authenticator without a counter (0 and 0)")
    v.assertion("gen-auth-user-handle", es256, notes="userHandle returned and matching",
                extra={"user_handle_b64url": b64u(b"user-42"), "expected_user_handle_b64url": b64u(b"user-42")})
    v.assertion("gen-auth-be-bs", es256, flags=UP | UV | BE | BS, notes="backed-up credential, BE unchanged",
                extra={"backup_eligible_before": True})
    v.assertion("gen-auth-uv-preferred", es256, flags=UP, notes="UV not set when only preferred",
                extra={"require_user_verification": False})

    def auth_neg(suffix: str, code: str, notes: str, key=es256, **kw):
        return v.assertion(f"gen-auth-neg-{suffix}", key, expected=f"invalid:{code}", notes=notes, **kw)

    ch = seed_bytes("gen-auth-neg-bad-signature/challenge", 32)
    cd = client_data("webauthn.get", ch)
    ad = auth_data(UP | UV, 1)
    auth_neg("bad-signature", "mismatch.signature", "signature with one bit flipped", challenge=ch, cd=cd,
             authenticator_data=ad, signature=flip_last(es256.sign(ad + hashlib.sha256(cd).digest())))
    auth_neg("signature-empty", "mismatch.signature", "empty signature", signature=b"")
    auth_neg("signature-raw-rs", "mismatch.signature", "raw r||s instead of DER", signature=bytes(64))
    auth_neg("wrong-key", "mismatch.signature", "verified with another credential's key",
             cose=CredentialKey("ES256", "credential/other").cose())
    auth_neg("rsa-bad-signature", "mismatch.signature", "RS256 signature over other data", key=keys["RS256"],
             signature=keys["RS256"].sign(b"other data"))
    auth_neg("eddsa-bad-signature", "mismatch.signature", "Ed25519 signature over other data", key=keys["EdDSA"],
             signature=keys["EdDSA"].sign(b"other data"))
    auth_neg("wrong-challenge", "mismatch.challenge", "clientData challenge is not the expected one",
             cd=client_data("webauthn.get", b"some other challenge of 32 bytes"))
    auth_neg("wrong-origin", "mismatch.origin", "clientData origin is another site",
             cd=client_data("webauthn.get", seed_bytes("gen-auth-neg-wrong-origin/challenge", 32), origin="https://evil.example"))
    auth_neg("wrong-rp-id", "mismatch.rp-id", "authData rpIdHash is for another RP ID", rp_id="other.example")
    auth_neg("type-create", "mismatch.type", "clientData type is webauthn.create",
             cd=client_data("webauthn.create", seed_bytes("gen-auth-neg-type-create/challenge", 32)))
    auth_neg("up-cleared", "policy.user-not-present", "UP flag not set (re-signed)", flags=UV)
    auth_neg("uv-cleared", "policy.user-not-verified", "UV flag not set while required (re-signed)", flags=UP)
    auth_neg("bs-without-be", "malformed.backup-state-without-eligibility", "BS set, BE not (re-signed)",
             flags=UP | UV | BS)
    auth_neg("be-changed", "mismatch.backup-eligibility", "BE set although the credential was registered without it",
             flags=UP | UV | BE, extra={"backup_eligible_before": False})
    auth_neg("counter-regression", "mismatch.sign-count", "counter 5 after a stored 10", count=5, before=10)
    auth_neg("counter-equal", "mismatch.sign-count", "counter equal to the stored one", count=10, before=10)
    auth_neg("counter-zero-after-nonzero", "mismatch.sign-count", "counter 0 after a stored 3", count=0, before=3)
    auth_neg("credential-id-mismatch", "mismatch.credential-id", "rawId is not the stored credential's ID",
             extra={"expected_credential_id_b64url": b64u(b"the credential the RP looked up")})
    auth_neg("user-handle-mismatch", "mismatch.user-handle", "userHandle of another user",
             extra={"user_handle_b64url": b64u(b"user-43"), "expected_user_handle_b64url": b64u(b"user-42")})
    auth_neg("authdata-truncated", "malformed.authenticator-data", "authData of 36 bytes",
             authenticator_data=auth_data(UP | UV, 1)[:36])
    auth_neg("authdata-trailing", "malformed.authenticator-data", "a byte after the counter",
             authenticator_data=auth_data(UP | UV, 1) + b"\x00")
    auth_neg("rs1-not-allowed", "policy.algorithm-not-allowed", "RS1 credential under the default algorithms",
             key=keys["RS1"])
    auth_neg("stored-key-ml-dsa", "alg.unsupported", "stored ML-DSA-44 key",
             cose=cbor({1: 7, 3: -48, -1: bytes(1312)}))
    auth_neg("stored-key-hostile-cbor", "malformed.cose-key", "stored key is a hostile CBOR header",
             cose=b"\x9a\x10\x00\x00\x00")
    auth_neg("client-data-not-object", "malformed.client-data", "clientDataJSON is a JSON array", cd=b"[1,2]")
    auth_neg("cross-origin", "policy.cross-origin", "crossOrigin true under the default policy",
             cd=client_data("webauthn.get", seed_bytes("gen-auth-neg-cross-origin/challenge", 32), cross_origin=True))
    add_format_vectors(v, keys)
    add_edge_vectors(v, keys)
    v.crls = add_revocation_vectors(v, keys)
    return v


# Points of small order and non-canonical encodings (RFC 8032; libsodium refuses the same).
ED25519_P = 2 ** 255 - 19
ED448_P = 2 ** 448 - 2 ** 224 - 1


def ed25519_encoding(y: int, sign: int = 0) -> bytes:
    return (y | sign << 255).to_bytes(32, "little")


def ed448_encoding(y: int, last: int = 0) -> bytes:
    return y.to_bytes(56, "little") + bytes([last])


def okp_cose(alg: int, crv: int, x: bytes) -> bytes:
    return cbor({1: 1, 3: alg, -1: crv, -2: x})


def strict_der_variants(cert: x509.Certificate, signer_key) -> dict:
    """BER spellings of a certificate: the same content with an indefinite outer length, a
    non-minimal length, and a re-signed TBS whose BOOLEAN is 01 instead of FF."""
    encoded = der_cert(cert)
    # Outer SEQUENCE 30 82 LL LL: strip the header.
    assert encoded[0] == 0x30 and encoded[1] == 0x82
    content = encoded[4:]
    indefinite = b"\x30\x80" + content + b"\x00\x00"
    non_minimal = b"\x30\x83\x00" + encoded[2:4] + content
    tbs = cert.tbs_certificate_bytes
    loose_tbs = tbs.replace(b"\x01\x01\xff", b"\x01\x01\x01", 1)
    assert loose_tbs != tbs
    signature = signer_key.sign(loose_tbs, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    algorithm = der_tlv(0x30, der_tlv(0x06, bytes.fromhex("2a8648ce3d040302")))
    loose = der_tlv(0x30, loose_tbs + algorithm + der_tlv(0x03, b"\x00" + signature))
    return {"indefinite-length": indefinite, "non-minimal-length": non_minimal, "boolean-01": loose}


def add_edge_vectors(v: "Vectors", keys: dict) -> None:
    """The classes of defects issue #7 named, each as a valid vector plus one mutation."""
    pki = v.pki
    es256 = keys["ES256"]
    anchor = "mie-test-attestation-root"

    def reg_neg(suffix: str, code: str, notes: str, key=es256, fmt="none", **kw):
        return v.registration(f"gen-reg-neg-{suffix}", key, fmt, expected=f"invalid:{code}", notes=notes, **kw)

    # EdDSA keys: small order, non-canonical, off the curve.
    identity = ed25519_encoding(1)
    forged = identity + bytes(32)  # R = identity, S = 0 verifies over any message with the identity key
    reg_neg("ed25519-identity-self-forged", "malformed.cose-key",
            "packed self attestation forged with the Ed25519 identity key and the fixed signature (R = identity, S = 0)",
            key=keys["EdDSA"], fmt="packed", cose=okp_cose(-8, 6, identity), att_stmt={"alg": -8, "sig": forged})
    v.assertion("gen-auth-neg-ed25519-identity-forged", keys["EdDSA"], expected="invalid:malformed.cose-key",
                cose=okp_cose(-8, 6, identity), signature=forged,
                notes="stored Ed25519 identity key: its fixed signature verifies over any assertion")
    order8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
    for suffix, x, notes in [
        ("ed25519-order-2", ed25519_encoding(ED25519_P - 1), "the point of order 2 (y = -1)"),
        ("ed25519-order-4", ed25519_encoding(0), "a point of order 4 (y = 0)"),
        ("ed25519-order-8", ed25519_encoding(order8), "a point of order 8"),
        ("ed25519-order-8-negated", ed25519_encoding(ED25519_P - order8, 1), "another point of order 8"),
        ("ed25519-y-is-p", ed25519_encoding(ED25519_P), "y = p: a non-canonical spelling of y = 0"),
        ("ed25519-y-is-p-plus-1", ed25519_encoding(ED25519_P + 1), "y = p + 1: the identity, non-canonically"),
        ("ed25519-x-zero-sign", ed25519_encoding(1, 1), "the identity with the sign bit set (x = 0 has no sign)"),
        ("ed25519-off-curve", ed25519_encoding(2), "y = 2: no x satisfies the curve equation"),
    ]:
        reg_neg(suffix, "malformed.cose-key", f"Ed25519 credential key: {notes}", key=keys["Ed25519"],
                cose=okp_cose(-19, 6, x))
    for suffix, x, notes in [
        ("ed448-identity", ed448_encoding(1), "the identity"),
        ("ed448-order-2", ed448_encoding(ED448_P - 1), "the point of order 2"),
        ("ed448-order-4", ed448_encoding(0), "a point of order 4 (y = 0)"),
        ("ed448-y-is-p", ed448_encoding(ED448_P), "y = p"),
        ("ed448-last-byte", ed448_encoding(5, 0x01), "low bits of the last byte set"),
        ("ed448-off-curve", ed448_encoding(2), "y = 2: not on the curve"),
    ]:
        reg_neg(suffix, "malformed.cose-key", f"Ed448 credential key: {notes}", key=keys["Ed448"], cose=okp_cose(-53, 7, x))

    # Private key material in a COSE key.
    numbers = es256.private.public_key().public_numbers()
    d = es256.private.private_numbers().private_value.to_bytes(32, "big")
    reg_neg("cose-key-with-d", "malformed.cose-key", "EC2 credential key carrying its private scalar d (-4)",
            cose=cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big"), -4: d}))
    ed_raw = keys["EdDSA"].private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    reg_neg("cose-key-okp-with-d", "malformed.cose-key", "OKP credential key carrying d (-4)", key=keys["EdDSA"],
            cose=cbor({1: 1, 3: -8, -1: 6, -2: ed_raw, -4: bytes(32)}))
    rsa_numbers = keys["RS256"].private.private_numbers()
    n = rsa_numbers.public_numbers.n.to_bytes(256, "big")
    reg_neg("cose-key-rsa-with-d", "malformed.cose-key", "RSA credential key carrying d (-3)", key=keys["RS256"],
            cose=cbor({1: 3, 3: -257, -1: n, -2: b"\x01\x00\x01", -3: rsa_numbers.d.to_bytes(256, "big")}))

    # Credential IDs.
    reg_neg("credential-id-empty", "malformed.credential-id", "credential ID of zero bytes", credential_id=b"")
    v.assertion("gen-auth-neg-credential-id-empty", es256, expected="invalid:malformed.credential-id", credential_id=b"",
                notes="assertion whose rawId is empty")

    # Extension identifiers must be text; outputs are reported faithfully.
    def with_extensions(vid, extensions):
        return auth_data(UP | UV | AT | ED, 0, attested=attested_data(seed_bytes(vid + "/id", 32), es256.cose()),
                         extensions=extensions)
    vid = "gen-reg-neg-extension-integer-identifier"
    reg_neg("extension-integer-identifier", "malformed.authenticator-data", "extension identifier 1 (an integer)",
            flags=UP | UV | AT | ED, authenticator_data=with_extensions(vid, cbor({1: 2})))
    vid = "gen-reg-neg-extension-colliding-identifiers"
    reg_neg("extension-colliding-identifiers", "malformed.authenticator-data",
            "identifiers 1 and \"1\": once rendered as the same JSON key",
            flags=UP | UV | AT | ED, authenticator_data=with_extensions(vid, cbor({1: 2, "1": 3})))
    vid = "gen-reg-extensions-nested-values"
    v.registration(vid, es256, "none", flags=UP | UV | AT | ED,
                   authenticator_data=with_extensions(vid, cbor({"credProtect": 2, "hmac-secret": True,
                                                                 "mie-nested": {1: "a", "1": b"b"}})),
                   notes="extension outputs with a nested map whose keys 1 and \"1\" must stay apart in the report")

    # Attestation algorithm and certificate key must agree.
    for suffix, alg in (("es256", -7), ("esp256", -9)):
        cid = seed_bytes(f"gen-reg-neg-packed-{suffix}-p384-leaf/id", 32)
        ch = seed_bytes(f"gen-reg-neg-packed-{suffix}-p384-leaf/challenge", 32)
        ad = auth_data(UP | UV | AT, 0, attested=attested_data(cid, es256.cose()))
        cdh = hashlib.sha256(client_data("webauthn.create", ch)).digest()
        # A P-384 key signing with SHA-256: a valid ECDSA signature under a mislabelled alg.
        sig = pki.p384_leaf_signer.private.sign(ad + cdh, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        reg_neg(f"packed-{suffix}-p384-leaf", "mismatch.attestation-algorithm",
                f"packed alg {suffix.upper()} with a P-384 attestation key", fmt="packed", credential_id=cid, challenge=ch,
                authenticator_data=ad, trust_anchor=anchor,
                att_stmt={"alg": alg, "sig": sig, "x5c": [der_cert(pki.p384_leaf), der_cert(pki.ca)]})
    v.registration("gen-reg-packed-x5c-p384-leaf", es256, "packed", x5c_leaf=(pki.p384_leaf, pki.p384_leaf_signer, [pki.ca]),
                   trust_anchor=anchor, notes="packed full attestation signed ES384 by a P-384 leaf")
    reg_neg("packed-es384-p256-leaf", "mismatch.attestation-algorithm", "packed alg ES384 with a P-256 attestation key",
            fmt="packed", trust_anchor=anchor,
            att_stmt={"alg": -35, "sig": b"\x30\x06\x02\x01\x01\x02\x01\x01", "x5c": [der_cert(pki.leaf), der_cert(pki.ca)]})

    # Certificates must be DER: the same leaf spelt in BER is refused, not trusted and echoed.
    for suffix, encoded in strict_der_variants(pki.leaf, pki.ca_key).items():
        cid = seed_bytes(f"gen-reg-neg-x5c-ber-{suffix}/id", 32)
        ch = seed_bytes(f"gen-reg-neg-x5c-ber-{suffix}/challenge", 32)
        ad = auth_data(UP | UV | AT, 0, attested=attested_data(cid, es256.cose()))
        cdh = hashlib.sha256(client_data("webauthn.create", ch)).digest()
        stmt = v.statement("packed", es256, ad, cdh, cid, (pki.leaf, pki.leaf_signer, [pki.ca]))
        stmt["x5c"] = [encoded] + stmt["x5c"][1:]
        reg_neg(f"x5c-ber-{suffix}", "malformed.attestation-statement", f"packed x5c leaf in BER ({suffix})",
                fmt="packed", credential_id=cid, challenge=ch, authenticator_data=ad, att_stmt=stmt, trust_anchor=anchor)

    # fido-u2f: the AAGUID is not signed; any value is accepted but never reported as attested.
    cid = seed_bytes("gen-reg-fido-u2f-chosen-aaguid/id", 32)
    ch = seed_bytes("gen-reg-fido-u2f-chosen-aaguid/challenge", 32)
    ad = auth_data(UP | AT, 0, attested=attested_data(cid, es256.cose(), aaguid=bytes.fromhex("ee882879721c491397753dfcce97072a")))
    stmt = v.statement("fido-u2f", es256, ad, hashlib.sha256(client_data("webauthn.create", ch)).digest(), cid)
    v.registration("gen-reg-fido-u2f-chosen-aaguid", es256, "fido-u2f", flags=UP | AT, credential_id=cid, challenge=ch,
                   authenticator_data=ad, att_stmt=stmt, trust_anchor=anchor, extra={"require_user_verification": False},
                   notes="fido-u2f whose authData carries another model's AAGUID: verified, identified by its certificate")

    # clientDataJSON duplicates at any depth.
    reg_neg("client-data-nested-duplicate", "malformed.client-data", "a member named twice inside a nested object",
            cd=client_data("webauthn.create", seed_bytes("gen-reg-neg-client-data-nested-duplicate/challenge", 32),
                           extra=',"nested":{"a":1,"a":2}'))
    reg_neg("client-data-trailing-comma", "malformed.client-data", "a trailing comma",
            cd=client_data("webauthn.create", seed_bytes("gen-reg-neg-client-data-trailing-comma/challenge", 32), extra=","))


def cbor_cases() -> list:
    """Decoder-level cases: hex input, expected outcome (ok or a CBORDecodingError reason)."""
    return [
        {"id": "uint-0", "hex": "00", "expected": "ok"},
        {"id": "uint-max", "hex": "1bffffffffffffffff", "expected": "ok"},
        {"id": "negint-min", "hex": "3bffffffffffffffff", "expected": "ok"},
        {"id": "definite-map", "hex": cbor({1: 2, "a": b"\x01"}).hex(), "expected": "ok"},
        {"id": "indefinite-array", "hex": "9f0102ff", "expected": "ok"},
        {"id": "indefinite-map", "hex": "bf6161f5ff", "expected": "ok"},
        {"id": "indefinite-bytes", "hex": "5f4201024103ff", "expected": "ok"},
        {"id": "indefinite-text", "hex": "7f616161626163ff", "expected": "ok"},
        {"id": "tag", "hex": "c11a514b67b0", "expected": "ok"},
        # Tags 6 to 20 in the initial byte are well-formed; libcbor 0.8 alone refuses them.
        {"id": "tag-6-to-20-in-the-initial-byte", "hex": "83c600d1a0d4f6", "expected": "ok"},
        {"id": "floats", "hex": "83f93c00fa47c35000fb3ff199999999999a", "expected": "ok"},
        {"id": "simple-values", "hex": "84f4f5f6f7", "expected": "ok"},
        # Depth counts nested containers (arrays, maps, tags); 16 is the limit.
        {"id": "depth-16", "hex": "81" * 16 + "00", "expected": "ok"},
        {"id": "depth-17", "hex": "81" * 17 + "00", "expected": "depth-exceeded"},
        {"id": "tag-depth-17", "hex": "c1" * 17 + "00", "expected": "depth-exceeded"},
        {"id": "map-depth-17", "hex": "a100" * 17 + "00", "expected": "depth-exceeded"},
        {"id": "empty", "hex": "", "expected": "empty"},
        {"id": "trailing", "hex": "0000", "expected": "trailing-bytes"},
        {"id": "truncated-uint", "hex": "19", "expected": "truncated"},
        {"id": "truncated-array", "hex": "820102"[:4], "expected": "length-exceeds-input"},
        {"id": "truncated-array-2", "hex": "83010203"[:6], "expected": "length-exceeds-input"},
        {"id": "truncated-bytes", "hex": "4401", "expected": "truncated"},
        {"id": "hostile-array-2^28", "hex": "9a10000000", "expected": "length-exceeds-input"},
        {"id": "hostile-array-2^64", "hex": "9bffffffffffffffff", "expected": "length-exceeds-input"},
        {"id": "hostile-map-2^32", "hex": "bb0000000100000000", "expected": "length-exceeds-input"},
        # Regression: a count above Int.max arrived negative and crashed the map builder
        # (found by CBORDecoderTests.randomInputIsRejectedCleanly).
        {"id": "hostile-map-count-above-int-max", "hex": "bbda3a1dedfbb86c9357da1f0e15aca8a4c16b",
         "expected": "length-exceeds-input"},
        {"id": "hostile-array-count-above-int-max", "hex": "9b8000000000000001" + "00" * 8,
         "expected": "length-exceeds-input"},
        {"id": "hostile-bytes-2^63", "hex": "5b7fffffffffffffff", "expected": "truncated"},
        {"id": "hostile-text-2^32", "hex": "7b0000000100000000", "expected": "truncated"},
        {"id": "duplicate-int-key", "hex": "a201020103", "expected": "duplicate-map-key"},
        {"id": "duplicate-text-key", "hex": "a2616101616102", "expected": "duplicate-map-key"},
        {"id": "duplicate-key-indefinite", "hex": "bf01020103ff", "expected": "duplicate-map-key"},
        {"id": "duplicate-key-large-map", "hex": "b818" + "".join(cbor(i).hex() + "00" for i in range(23)) + "0000",
         "expected": "duplicate-map-key"},
        {"id": "same-value-different-type-keys", "hex": "a20100410100", "expected": "ok"},
        {"id": "break-outside", "hex": "ff", "expected": "unexpected-break"},
        {"id": "break-in-definite", "hex": "8201ff", "expected": "unexpected-break"},
        {"id": "indefinite-map-odd", "hex": "bf01ff", "expected": "malformed"},
        {"id": "indefinite-bytes-bad-chunk", "hex": "5f01ff", "expected": "invalid-indefinite-chunk"},
        {"id": "indefinite-text-bytes-chunk", "hex": "7f4101ff", "expected": "invalid-indefinite-chunk"},
        {"id": "indefinite-unterminated", "hex": "9f0102", "expected": "truncated"},
        {"id": "reserved-ai-28", "hex": "1c", "expected": "malformed"},
        {"id": "invalid-utf8", "hex": "62c328", "expected": "invalid-utf8"},
        {"id": "invalid-utf8-indefinite", "hex": "7f61c3ff", "expected": "invalid-utf8"},
        {"id": "too-many-items", "hex": "9f" + "00" * 4096 + "ff", "expected": "too-many-items"},
        {"id": "many-items-within-limit", "hex": "9f" + "00" * 4094 + "ff", "expected": "ok"},
    ]


def sample_request(vector: dict, anchors: dict, ceremony: str) -> dict:
    if ceremony == "registration":
        response = {"clientDataJSON": vector["client_data_json_b64url"],
                    "attestationObject": vector["attestation_object_b64url"], "transports": ["usb"]}
    else:
        response = {"clientDataJSON": vector["client_data_json_b64url"],
                    "authenticatorData": vector["authenticator_data_b64url"], "signature": vector["signature_b64url"]}
    request = {
        "response": {"id": vector["credential_id_b64url"], "rawId": vector["credential_id_b64url"], "type": "public-key",
                     "response": response, "clientExtensionResults": {}, "authenticatorAttachment": "cross-platform"},
        "expected": {"challenge": vector["challenge_b64url"], "origins": [ORIGIN], "rpId": RP_ID,
                     "userVerification": "required"},
        "at": VERIFICATION_TIME,
    }
    if ceremony == "registration":
        request["policy"] = {"attestation": "trusted"}
        request["trustAnchors"] = [anchors[vector["trust_anchor"]]["der_b64url"]]
    else:
        request["expected"]["credential"] = {"publicKey": vector["credential_public_key_cose_b64url"],
                                             "signCount": vector["sign_count_before"], "backupEligible": False}
    return request


def main() -> int:
    vectors = build()
    OUT.mkdir(parents=True, exist_ok=True)
    SAMPLES.mkdir(parents=True, exist_ok=True)
    with open(OUT / "vectors.jsonl", "w") as f:
        for item in vectors.items:
            f.write(json.dumps(item, sort_keys=True) + "\n")
    anchors = vectors.pki.anchors()
    (OUT / "trust_anchors.json").write_text(json.dumps(anchors, indent=1, sort_keys=True) + "\n")
    (OUT / "crls.json").write_text(json.dumps(vectors.crls, indent=1, sort_keys=True) + "\n")
    with open(OUT / "cbor.jsonl", "w") as f:
        for case in cbor_cases():
            f.write(json.dumps(case, sort_keys=True) + "\n")
    by_id = {v["id"]: v for v in vectors.items}
    samples = {
        "registration-packed-es256.json": sample_request(by_id["gen-reg-packed-x5c-ES256"], anchors, "registration"),
        "assertion-es256.json": sample_request(by_id["gen-auth-ES256"], anchors, "assertion"),
    }
    for file, request in samples.items():
        (SAMPLES / file).write_text(json.dumps(request, indent=2) + "\n")
    print(f"{len(vectors.items)} vectors, {len(cbor_cases())} CBOR cases, {len(samples)} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
