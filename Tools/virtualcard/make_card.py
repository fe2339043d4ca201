#!/usr/bin/env python3
"""Writes the test PKI of the virtual CPS card (TestVectors/cards/cps-test/), deterministically.

An IGC-Santé-like *test* hierarchy of our own (root, "PERSONNES" intermediate), a card
authentication certificate (EKU clientAuth, RPPS with a valid Luhn digit, UPN) and a
signature certificate. The card's private keys are never written: cps_card.py derives them from
the same seeds. Run: python3 Tools/virtualcard/make_card.py
"""
import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vectorgen"))
from generate import CredentialKey, seeded_rsa_key  # noqa: E402

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

OUT = Path(__file__).resolve().parents[2] / "TestVectors" / "cards" / "cps-test"
START = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
END = datetime.datetime(2044, 1, 1, tzinfo=datetime.timezone.utc)
RPPS_BASE = "1000345678"


def luhn_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits + "0")):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


RPPS = RPPS_BASE + luhn_digit(RPPS_BASE)
NATIONAL_ID = "8" + RPPS


def ca_name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MIE VERIFIER TESTS"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IGC-SANTE TEST"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def sign(builder, key):
    return builder.sign(key, hashes.SHA256())


def card_keys():
    """The card's authentication and signature keys (RSA-2048), from fixed seeds."""
    return seeded_rsa_key("card/cps-test/auth"), seeded_rsa_key("card/cps-test/sign")


def build():
    root_key = seeded_rsa_key("card/pki/root")
    ca_key = seeded_rsa_key("card/pki/personnes")
    auth_key, sign_key = card_keys()
    root_name = ca_name("MIE TEST AC RACINE IGC-SANTE-LIKE")
    ca_name_ = ca_name("MIE TEST AC IGC-SANTE-LIKE PERSONNES")

    def base(subject, issuer, public_key, serial, ca):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                   .serial_number(serial).not_valid_before(START).not_valid_after(END)
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        return builder

    root = sign(base(root_name, root_name, root_key.public_key(), 1, True), root_key)
    ca = sign(base(ca_name_, root_name, ca_key.public_key(), 2, True), root_key)
    holder = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.TITLE, "Médecin"),
        x509.NameAttribute(NameOID.SURNAME, "DUPONT"),
        x509.NameAttribute(NameOID.GIVEN_NAME, "JEANNE"),
        x509.NameAttribute(NameOID.COMMON_NAME, NATIONAL_ID),
    ])
    upn = x509.OtherName(ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"),
                         b"\x0c" + bytes([len(f"8.{RPPS}@carte-cps.fr")]) + f"8.{RPPS}@carte-cps.fr".encode())
    auth = sign(base(holder, ca_name_, auth_key.public_key(), 0x1001, False)
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH,
                                                      ObjectIdentifier("1.3.6.1.4.1.311.20.2.2")]), critical=False)
                .add_extension(x509.SubjectAlternativeName([upn]), critical=False), ca_key)
    signature = sign(base(holder, ca_name_, sign_key.public_key(), 0x1002, False)
                     .add_extension(x509.KeyUsage(False, True, False, False, False, False, False, False, False), critical=True),
                     ca_key)
    revoked_crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_name_).last_update(START)
                   .next_update(END).add_revoked_certificate(
                       x509.RevokedCertificateBuilder().serial_number(0x1001).revocation_date(START).build())
                   .sign(ca_key, hashes.SHA256()))
    # The same issuer's CRL before anything was revoked: a card checked against it is "good".
    current_crl = (x509.CertificateRevocationListBuilder().issuer_name(ca_name_).last_update(START)
                   .next_update(END).sign(ca_key, hashes.SHA256()))
    return root, ca, auth, signature, revoked_crl, current_crl


def main() -> int:
    root, ca, auth, signature, crl, current_crl = build()
    OUT.mkdir(parents=True, exist_ok=True)
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    der = lambda c: c.public_bytes(serialization.Encoding.DER)  # noqa: E731
    (OUT / "anchors-test.pem").write_bytes(pem(root) + pem(ca))
    (OUT / "auth.der").write_bytes(der(auth))
    (OUT / "sign.der").write_bytes(der(signature))
    (OUT / "ca.der").write_bytes(der(ca))
    (OUT / "crl-auth-revoked.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    (OUT / "crl-current.pem").write_bytes(current_crl.public_bytes(serialization.Encoding.PEM))
    # Possession-proof answers for a fixed challenge, for the scripted CPS3 and CPS4 tests.
    auth_private = card_keys()[0].private_numbers()
    n, d = auth_private.public_numbers.n, auth_private.d
    challenge = bytes([0x42]) * 32
    block = b"\x00\x01" + b"\xff" * (256 - 3 - len(challenge)) + b"\x00" + challenge
    raw = pow(int.from_bytes(block, "big"), d, n).to_bytes(256, "big")
    # The same block signed by another key of the card (its signature key): a real signature
    # that must not count as proof of the authentication key.
    sign_private = card_keys()[1].private_numbers()
    other = pow(int.from_bytes(block, "big"), sign_private.d, sign_private.public_numbers.n).to_bytes(256, "big")
    import json
    (OUT / "possession-transcripts.json").write_text(json.dumps({
        "challenge": challenge.hex(),
        "cps3_internal_authenticate": raw.hex(),
        "cps4_pso_decipher": raw.hex(),
        "cps3_internal_authenticate_other_key": other.hex(),
        "note": "CPS3 signs the PKCS#1 type-1 padded challenge (INTERNAL AUTHENTICATE); CPS4 applies raw RSA "
                "to the same padded block sent by the host (PSO DECIPHER, key reference 0x20)",
    }, indent=1) + "\n")
    (OUT / "README.md").write_text(
        "# Virtual CPS card, test PKI\n\nWritten by `Tools/virtualcard/make_card.py` (fixed seeds). "
        f"The holder's national id is `{NATIONAL_ID}` (RPPS `{RPPS}`, Luhn-valid), PIN `1234` "
        "(test only). `anchors-test.pem` is our own IGC-Santé-*like* test root and intermediate "
        "(OU `IGC-SANTE TEST`), not ANS's. `crl-auth-revoked.pem` revokes the authentication "
        "certificate; `crl-current.pem` is the same CA's CRL with nothing revoked. The card's private keys are derived by `cps_card.py` from the same seeds and "
        "are never stored.\n")
    print(f"card PKI written to {OUT}; national id {NATIONAL_ID}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
