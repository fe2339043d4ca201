#!/usr/bin/env python3
"""Writes the demo referencing lists of MIE Verifier (TestVectors/referencing/).

Everything here is DEMO data made by this project, never the ANS's or the FIDO Alliance's:

  demo-ans-key.pem              public key that signs the demo ANS list (configure it with --ans-key)
  demo-ans-list.json(.jws)      demo ANS referencing list no 1 and its detached JWS
  demo-ans-list-no2.json(.jws)  no 2: a later version (a key withdrawn, CPS4 suspended, a CA
                                taken off) for `referencing diff` and the FI 46 alert feed
  demo-mds-root.pem             root of a demo FIDO MDS signing PKI (configure it with --root)
  demo-mds-blob-no1.jwt         demo MDS3 BLOB no 1: statements for the project's software
                                authenticator (Tools/vectorgen) and its U2F key
  demo-mds-blob-no2.jwt         no 2: the software authenticator reported USER_VERIFICATION_BYPASS
  invalid/*                     validly signed lists that must still be refused (schema version,
                                malformed member, unknown member, other key) for the import tests

The demo ANS list names real authenticator models by AAGUID and description (from the 2021
production BLOB in ../shared/vectors/external/mds3, read in place); their metadata statements
are not copied: they come from importing that BLOB.

Keys come from fixed seeds and ECDSA signs per RFC 6979, so running this twice gives the same
bytes. The private keys are not written anywhere; this script derives them again.

Run: python3 Tools/referencing/make_lists.py [--shared ../shared]
"""

import argparse
import base64
import datetime
import hashlib
import json
import struct
import sys
import zlib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "TestVectors" / "referencing"
sys.path.insert(0, str(ROOT / "Tools" / "vectorgen"))
import generate as vectorgen  # noqa: E402  (the software authenticator's PKI and AAGUID)

PRODUCTION_BLOB = "vectors/external/mds3/webauthn4j-production-blob-no9.jwt"

# Real models named by the demo ANS list: AAGUID -> (demo decision, reference, notes).
DEMO_DECISIONS = {
    "2fc0579f-8113-47ea-b116-bb5a8db9202a": ("referenced", "DEMO-2026-002", None),
    "c5ef55ff-ad9a-4b9f-b580-adebafe026d0": ("referenced", "DEMO-2026-003", None),
    "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73": ("referenced", "DEMO-2026-004", None),
    "f8a011f3-8c0a-4d15-8006-17111f9edc7d": ("suspended", "DEMO-2026-005", "demo: suspended pending a firmware review"),
    "e1a96183-5016-4f24-b55b-e3ae23614cc6": ("referenced", "DEMO-2026-006", None),
    "08987058-cadc-4b81-b6e1-30de50dcbe96": ("withdrawn", "DEMO-2026-007", "demo: a platform authenticator, not a security key"),
    "b93fd961-f2e6-462f-b122-82002247de78": ("withdrawn", "DEMO-2026-008", "demo: SafetyNet attestation is retired"),
}

# IGC-Santé person CAs (fingerprints from ../shared/pki/igc-sante/README.md) and the project's
# own IGC-Santé-like test CA that issues the virtual CPS card (TestVectors/cards/cps-test).
IGC_SANTE_PERSON_CAS = [
    ("AC IGC-SANTE FORT PERSONNES", "38284E4F6107456E70C7439C85DA7D564D0FE1FE1A968C9EB6D43E1FC0D63C3A"),
    ("AC IGC-SANTE STANDARD PERSONNES", "6C339EBCB3E1B0102B143C9694225C2A4AB2EF6FEDF7D364DA8DB305E7F7D997"),
    ("AC IGC-SANTE ELEMENTAIRE PERSONNES", "19C1EAEAB477B6FBC233CDA3B53FBDBC3F4E9BF6CF6973E46F7DFAEF89C06C6C"),
    ("TEST AC IGC-SANTE STANDARD PERSONNES", "D4562312535334D8F7C885C6F5A8B3DF0CF7BB3CD0B32954EC0CE4D82939A3F2"),
    ("TEST AC IGC-SANTE ELEMENTAIRE PERSONNES", "67BE67DF1673552A6C2C110F6603309C4B68FD7B7A2BBA847EC87DC5D7C71B1F"),
]

# ATRs from ANS's middleware (DOMAIN.md §4).
CPS3_ATRS = [
    ("3BAC00402A001225006480000310009000", "FF00000000FFFFFFFFFFFF000000FFFFFF"),
    ("3B8F80010031B86404B0ECC1739401808290000E", None),
]
CPS4_ATRS = [
    ("3B9B188001001225006480040100009044", None),
    ("3BDC18FF00001225006480000401009000", None),
]


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def seeded_key(label: str) -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(hashlib.sha512(f"mie-verifier/referencing/{label}".encode()).digest(), "big")
    return ec.derive_private_key(scalar % (1 << 255) + 1, ec.SECP256R1())


def es256(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """JWS ES256: r || s, 32 bytes each."""
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True)))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def spki(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def pem_public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def canonical_json(value) -> bytes:
    return (json.dumps(value, indent=1, ensure_ascii=False) + "\n").encode()


def detached_jws(document: bytes, key, kid: str) -> bytes:
    header = b64u(json.dumps({"alg": "ES256", "kid": kid}, separators=(",", ":")).encode())
    signature = es256(key, (header + "." + b64u(document)).encode())
    return (header + ".." + b64u(signature) + "\n").encode()


def png_icon(rgb: tuple) -> str:
    """A 32x32 PNG of one colour with a lighter frame, as a data: URL."""
    rows = b""
    for y in range(32):
        rows += b"\x00"
        for x in range(32):
            frame = x < 3 or y < 3 or x > 28 or y > 28
            rows += bytes(min(255, c + 80) if frame else c for c in rgb)
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode()


# ---------------------------------------------------------------------------------------------
# Demo FIDO MDS PKI and BLOBs.

def mds_pki():
    root_key = seeded_key("mds/root")
    signer_key = seeded_key("mds/signer")
    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MIE Verifier Tests"),
                          x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "DEMO Metadata Service"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    end = datetime.datetime(2045, 1, 1, tzinfo=datetime.timezone.utc)
    root = (x509.CertificateBuilder().subject_name(name("MIE DEMO MDS Root")).issuer_name(name("MIE DEMO MDS Root"))
            .public_key(root_key.public_key()).serial_number(1).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(root_key, hashes.SHA256(), ecdsa_deterministic=True))
    signer = (x509.CertificateBuilder().subject_name(name("MIE DEMO MDS BLOB Signer")).issuer_name(root.subject)
              .public_key(signer_key.public_key()).serial_number(2).not_valid_before(start).not_valid_after(end)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .sign(root_key, hashes.SHA256(), ecdsa_deterministic=True))
    return root, signer, signer_key


def software_statement(pki) -> dict:
    aaguid = vectorgen.AAGUID
    text = str(__import__("uuid").UUID(bytes=aaguid))
    return {
        "legalHeader": "DEMO statement written by MIE Verifier for its test software authenticator; not a FIDO Alliance statement.",
        "aaguid": text,
        "description": "MIE Verifier software authenticator (DEMO)",
        "authenticatorVersion": 5,
        "protocolFamily": "fido2",
        "schema": 3,
        "upv": [{"major": 1, "minor": 1}, {"major": 1, "minor": 0}],
        "authenticationAlgorithms": ["secp256r1_ecdsa_sha256_raw", "ed25519_eddsa_sha512_raw", "rsassa_pkcsv15_sha256_raw"],
        "publicKeyAlgAndEncodings": ["cose"],
        "attestationTypes": ["basic_full"],
        "userVerificationDetails": [[{"userVerificationMethod": "passcode_internal"}]],
        "keyProtection": ["hardware", "secure_element"],
        "matcherProtection": ["on_chip"],
        "cryptoStrength": 128,
        "attachmentHint": ["external", "wired", "nfc"],
        "tcDisplay": [],
        "attestationRootCertificates": [base64.b64encode(vectorgen.der(pki.root)).decode()],
        "icon": png_icon((30, 90, 160)),
        "authenticatorGetInfo": {
            "versions": ["FIDO_2_0", "FIDO_2_1"],
            "extensions": ["credProtect", "hmac-secret"],
            "aaguid": aaguid.hex(),
            "options": {"plat": False, "rk": True, "clientPin": True, "up": True, "uv": True},
            "maxMsgSize": 1200,
            "pinUvAuthProtocols": [2, 1],
            "algorithms": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -8}],
            "firmwareVersion": 5,
        },
    }


def u2f_statement(pki, key_identifier: str) -> dict:
    return {
        "legalHeader": "DEMO statement written by MIE Verifier; not a FIDO Alliance statement.",
        "attestationCertificateKeyIdentifiers": [key_identifier],
        "description": "MIE Verifier software U2F key (DEMO)",
        "authenticatorVersion": 2,
        "protocolFamily": "u2f",
        "schema": 3,
        "upv": [{"major": 1, "minor": 1}],
        "authenticationAlgorithms": ["secp256r1_ecdsa_sha256_raw"],
        "publicKeyAlgAndEncodings": ["ecc_x962_raw"],
        "attestationTypes": ["basic_full"],
        "userVerificationDetails": [[{"userVerificationMethod": "presence_internal"}]],
        "keyProtection": ["hardware", "secure_element", "remote_handle"],
        "matcherProtection": ["on_chip"],
        "attachmentHint": ["external", "wired"],
        "tcDisplay": [],
        "attestationRootCertificates": [base64.b64encode(vectorgen.der(pki.root)).decode()],
    }


VIRTUAL_NFC_AAGUID = bytes.fromhex("4d49452d5669727475616c2d4e464321")  # Tools/virtualcard/fido_card.py
VIRTUAL_NFC_FIRMWARE = 0x050102


def virtual_nfc_statement() -> dict:
    """The virtual NFC authenticator of the card tests, described as it behaves: software keys,
    self attestation. Listed so that `mie-probe fido info` has a statement to compare with."""
    import uuid
    return {
        "legalHeader": "DEMO statement written by MIE Verifier for its virtual NFC authenticator; not a FIDO Alliance statement.",
        "aaguid": str(uuid.UUID(bytes=VIRTUAL_NFC_AAGUID)),
        "description": "MIE Verifier virtual NFC authenticator (DEMO)",
        "authenticatorVersion": VIRTUAL_NFC_FIRMWARE,
        "protocolFamily": "fido2",
        "schema": 3,
        "upv": [{"major": 1, "minor": 1}],
        "authenticationAlgorithms": ["secp256r1_ecdsa_sha256_raw", "ed25519_eddsa_sha512_raw"],
        "publicKeyAlgAndEncodings": ["cose"],
        "attestationTypes": ["basic_surrogate"],
        "userVerificationDetails": [[{"userVerificationMethod": "passcode_external"}]],
        "keyProtection": ["software"],
        "matcherProtection": ["software"],
        "attachmentHint": ["external", "nfc"],
        "tcDisplay": [],
        "attestationRootCertificates": [],
        "authenticatorGetInfo": {
            "versions": ["FIDO_2_0", "FIDO_2_1"],
            "extensions": ["credProtect", "hmac-secret"],
            "aaguid": VIRTUAL_NFC_AAGUID.hex(),
            "options": {"rk": True, "up": True, "uv": True, "plat": False, "clientPin": True},
            "maxMsgSize": 1200,
            "pinUvAuthProtocols": [2, 1],
            "algorithms": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -8}],
            "firmwareVersion": VIRTUAL_NFC_FIRMWARE,
        },
    }


def mds_blob(number: int, next_update: str, entries: list, signer, signer_key) -> bytes:
    header = {"alg": "ES256", "typ": "JWT", "x5c": [base64.b64encode(signer.public_bytes(serialization.Encoding.DER)).decode()]}
    payload = {"legalHeader": "DEMO metadata BLOB written by MIE Verifier for its tests; not the FIDO Metadata Service.",
               "no": number, "nextUpdate": next_update, "entries": entries}
    signing_input = b64u(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64u(json.dumps(payload, separators=(",", ":")).encode())
    return (signing_input + "." + b64u(es256(signer_key, signing_input.encode())) + "\n").encode()


# ---------------------------------------------------------------------------------------------
# Demo ANS list.

def decision(status, since, reference, until=None, firmware=None, notes=None) -> dict:
    d = {"status": status, "since": since, "reference": reference}
    if until:
        d["until"] = until
    if firmware is not None:
        d["acceptedFirmware"] = firmware
    if notes:
        d["notes"] = notes
    return d


def card_families(cps4_status="referenced", drop_ca=None) -> list:
    virtual_ca = hashlib.sha256((ROOT / "TestVectors/cards/cps-test/ca.der").read_bytes()).hexdigest().upper()
    cas = [{"name": n, "sha256": f} for n, f in IGC_SANTE_PERSON_CAS if n != drop_ca]
    cas.append({"name": "MIE TEST AC IGC-SANTE-LIKE PERSONNES (virtual card, DEMO)", "sha256": virtual_ca})
    def patterns(atrs):
        return [{"atr": a, **({"mask": m} if m else {})} for a, m in atrs]
    return [
        {"family": "CPS3", "description": "Carte CPS 3e génération (IAS-ECC)",
         "decision": decision("referenced", "2024-01-01", "DEMO-CARD-CPS3"), "issuerCAs": cas, "atrPatterns": patterns(CPS3_ATRS)},
        {"family": "CPS4", "description": "Carte CPS 4e génération (ChipDoc)",
         "decision": decision(cps4_status, "2025-01-01", "DEMO-CARD-CPS4"), "issuerCAs": cas, "atrPatterns": patterns(CPS4_ATRS)},
        {"family": "PSI", "description": "Carte Pro Santé Identité (ATR not public: matched by issuer only)",
         "decision": decision("referenced", "2026-01-01", "DEMO-CARD-PSI",
                              notes="demo: no public ATR; reported as an unknown card until one is published"),
         "issuerCAs": cas, "atrPatterns": []},
    ]


def ans_list(number: int, issued: str, next_update: str, production: dict, u2f_id: str, *, withdraw=None,
             cps4_status="referenced", drop_ca=None) -> dict:
    authenticators = [
        {"aaguid": str(__import__("uuid").UUID(bytes=vectorgen.AAGUID)),
         "description": "MIE Verifier software authenticator (DEMO)",
         "decision": decision("referenced", "2024-06-01", "DEMO-2026-001", firmware=[5])},
        {"aaguid": str(__import__("uuid").UUID(bytes=VIRTUAL_NFC_AAGUID)),
         "description": "MIE Verifier virtual NFC authenticator (DEMO)",
         "decision": decision("referenced", "2024-06-01", "DEMO-2026-010", firmware=[VIRTUAL_NFC_FIRMWARE],
                              notes="demo: listed to compare getInfo with its statement; self attestation keeps it refused")},
        {"attestationCertificateKeyIdentifiers": [u2f_id], "description": "MIE Verifier software U2F key (DEMO)",
         "decision": decision("referenced", "2024-06-01", "DEMO-2026-009",
                              notes="demo: U2F keys cannot verify a user; listed to show the FI 20 refusal")},
    ]
    for aaguid, (status, reference, notes) in DEMO_DECISIONS.items():
        if aaguid == withdraw:
            status, notes = "withdrawn", "demo: withdrawn in list no 2"
        entry = production.get(aaguid)
        description = entry["metadataStatement"]["description"] if entry else aaguid
        authenticators.append({"aaguid": aaguid, "description": description,
                               "decision": decision(status, "2021-06-01", reference, notes=notes)})
    return {
        "schema": "mie-verifier/ans-referencing-list",
        "version": 1,
        "listNumber": number,
        "issued": issued,
        "nextUpdate": next_update,
        "issuer": "MIE Verifier DEMO referencing list (not published by the ANS)",
        "demo": True,
        "authenticators": authenticators,
        "cardFamilies": card_families(cps4_status, drop_ca),
        "notes": "DEMO data for MIE Verifier's tests and README. The ANS's official list format is not public.",
    }


def production_entries(shared: Path) -> dict:
    path = shared / PRODUCTION_BLOB
    if not path.exists():
        sys.exit(f"the production BLOB sample is not at {path} (pass --shared)")
    payload = json.loads(base64.urlsafe_b64decode(path.read_text().strip().split(".")[1] + "=="))
    return {e["aaguid"]: e for e in payload["entries"] if "aaguid" in e}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = parser.parse_args()
    production = production_entries(Path(args.shared))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "invalid").mkdir(exist_ok=True)

    pki = vectorgen.TestPKI()
    u2f_point = pki.u2f_signer.private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    u2f_id = hashlib.sha1(u2f_point).hexdigest()

    # The software authenticator's attestation key and chain, for tests that register through
    # the service with a fresh challenge (a DEMO key: anyone can sign as this model with it).
    (OUT / "demo-authenticator-attestation.pem").write_bytes(
        pki.leaf_signer.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
        + pki.leaf.public_bytes(serialization.Encoding.PEM) + pki.ca.public_bytes(serialization.Encoding.PEM))

    # MDS BLOBs.
    root, signer, signer_key = mds_pki()
    (OUT / "demo-mds-root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
    certified = {"status": "FIDO_CERTIFIED_L2", "effectiveDate": "2024-03-01", "certificateNumber": "DEMO-FIDO20020240301001",
                 "certificationDescriptor": "MIE Verifier software authenticator (DEMO)"}
    software = {"aaguid": software_statement(pki)["aaguid"], "metadataStatement": software_statement(pki),
                "statusReports": [{"status": "FIDO_CERTIFIED", "effectiveDate": "2024-02-01"}, certified],
                "timeOfLastStatusChange": "2024-03-01"}
    u2f = {"attestationCertificateKeyIdentifiers": [u2f_id], "metadataStatement": u2f_statement(pki, u2f_id),
           "statusReports": [{"status": "FIDO_CERTIFIED_L1", "effectiveDate": "2024-03-01"}],
           "timeOfLastStatusChange": "2024-03-01"}
    virtual_nfc = {"aaguid": virtual_nfc_statement()["aaguid"], "metadataStatement": virtual_nfc_statement(),
                   "statusReports": [{"status": "NOT_FIDO_CERTIFIED", "effectiveDate": "2024-06-01"}],
                   "timeOfLastStatusChange": "2024-06-01"}
    (OUT / "demo-mds-blob-no1.jwt").write_bytes(mds_blob(1, "2027-06-01", [software, u2f, virtual_nfc], signer, signer_key))
    bypass = dict(software, statusReports=software["statusReports"] + [
        {"status": "USER_VERIFICATION_BYPASS", "effectiveDate": "2026-06-01",
         "url": "https://example.invalid/demo-advisory"}], timeOfLastStatusChange="2026-06-01")
    (OUT / "demo-mds-blob-no2.jwt").write_bytes(mds_blob(2, "2027-06-01", [bypass, u2f, virtual_nfc], signer, signer_key))

    # ANS lists.
    ans_key = seeded_key("ans/demo-list")
    kid = hashlib.sha256(spki(ans_key)).hexdigest()
    (OUT / "demo-ans-key.pem").write_bytes(pem_public(ans_key))
    def write_list(stem: str, document: dict, key=ans_key, key_id=kid, raw: bytes = None):
        body = raw if raw is not None else canonical_json(document)
        (OUT / f"{stem}.json").write_bytes(body)
        (OUT / f"{stem}.json.jws").write_bytes(detached_jws(body, key, key_id))
    write_list("demo-ans-list", ans_list(1, "2026-09-01", "2027-03-01", production, u2f_id))
    write_list("demo-ans-list-no2", ans_list(2, "2026-11-01", "2027-05-01", production, u2f_id,
                                             withdraw="c5ef55ff-ad9a-4b9f-b580-adebafe026d0", cps4_status="suspended",
                                             drop_ca="AC IGC-SANTE ELEMENTAIRE PERSONNES"))

    # Signed, and still to be refused.
    v3 = ans_list(3, "2026-11-15", "2027-05-15", production, u2f_id)
    write_list("invalid/schema-version-2", dict(v3, version=2))
    write_list("invalid/unknown-member", dict(v3, acceptEverything=True))
    broken = dict(v3)
    broken["authenticators"] = [dict(broken["authenticators"][0], decision={"status": "maybe", "since": "2026-01-01",
                                                                             "reference": "X"})]
    write_list("invalid/bad-decision", broken)
    write_list("invalid/not-json", None, raw=b'{"schema": "mie-verifier/ans-referencing-list", "version": 1,}\n')
    other = seeded_key("ans/other-key")
    write_list("invalid/other-key", v3, key=other, key_id=hashlib.sha256(spki(other)).hexdigest())
    print(f"wrote {len(list(OUT.rglob('*')))} files to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
