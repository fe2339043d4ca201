#!/usr/bin/env python3
"""The virtual candidate FIDO2 key's vendor PKI and metadata statement (TestVectors/candidate/):
a vendor test root and the model's attestation certificate (packed, basic_full, carrying the
AAGUID extension 1.3.6.1.4.1.45724.1.1.4), a foreign root and attestation certificate (for the
"root not in the statement" fault), their private keys (test keys of a virtual device), and the
MDS3 statement a vendor would hand in. Keys are derived from fixed scalars; run once, committed.

  python3 Tools/virtualcard/make_candidate.py
"""
import base64
import datetime
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

OUT = Path(__file__).resolve().parents[2] / "TestVectors" / "candidate"
AAGUID = b"MIE-Candidate-01"
NOT_BEFORE = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2046, 1, 1, tzinfo=datetime.timezone.utc)


def key(scalar: int):
    return ec.derive_private_key(scalar, ec.SECP256R1())


def name(cn: str, ou: str = None):
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MIE Verifier test vendor")]
    if ou:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(parts)


def root(cn: str, private):
    return (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn)).public_key(private.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(private.public_key()), critical=False)
            .sign(private, hashes.SHA256()))


def attestation(issuer_cert, issuer_key, private, cn: str):
    aaguid_extension = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4"), b"\x04\x10" + AAGUID)
    return (x509.CertificateBuilder().subject_name(name(cn, "Authenticator Attestation")).issuer_name(issuer_cert.subject)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(aaguid_extension, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
            .sign(issuer_key, hashes.SHA256()))


def pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def private_pem(private) -> bytes:
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    vendor_key, foreign_key = key(0xC0FFEE01), key(0xC0FFEE02)
    vendor_root, foreign_root = root("MIE Test Vendor Root", vendor_key), root("Some Other Vendor Root", foreign_key)
    attestation_key, foreign_attestation_key = key(0xA77E5701), key(0xA77E5702)
    (OUT / "vendor-root.pem").write_bytes(pem(vendor_root))
    (OUT / "attestation.pem").write_bytes(pem(attestation(vendor_root, vendor_key, attestation_key, "MIE Candidate Key attestation")))
    (OUT / "attestation-key.pem").write_bytes(private_pem(attestation_key))
    (OUT / "foreign-root.pem").write_bytes(pem(foreign_root))
    (OUT / "foreign-attestation.pem").write_bytes(pem(attestation(foreign_root, foreign_key, foreign_attestation_key, "Other attestation")))
    (OUT / "foreign-attestation-key.pem").write_bytes(private_pem(foreign_attestation_key))
    aaguid = AAGUID.hex()
    dashed = f"{aaguid[:8]}-{aaguid[8:12]}-{aaguid[12:16]}-{aaguid[16:20]}-{aaguid[20:]}"
    statement = {
        "legalHeader": "Test statement of a virtual key: not a real product.",
        "aaguid": dashed, "description": "MIE Candidate Key (virtual)", "authenticatorVersion": 0x050102,
        "protocolFamily": "fido2", "schema": 3, "upv": [{"major": 1, "minor": 1}, {"major": 1, "minor": 0}],
        "authenticationAlgorithms": ["secp256r1_ecdsa_sha256_raw"], "publicKeyAlgAndEncodings": ["cose"],
        "attestationTypes": ["basic_full"],
        "userVerificationDetails": [[{"userVerificationMethod": "passcode_external"}, {"userVerificationMethod": "presence_internal"}]],
        "keyProtection": ["hardware", "secure_element"], "matcherProtection": ["on_chip"], "cryptoStrength": 128,
        "attachmentHint": ["external", "wireless", "nfc"], "tcDisplay": [],
        "attestationRootCertificates": [base64.b64encode(vendor_root.public_bytes(serialization.Encoding.DER)).decode()],
        "authenticatorGetInfo": {
            "versions": ["FIDO_2_0", "FIDO_2_1"], "extensions": ["credProtect", "hmac-secret"], "aaguid": aaguid,
            "options": {"rk": True, "up": True, "plat": False, "clientPin": True, "pinUvAuthToken": True},
            "maxMsgSize": 1200, "pinUvAuthProtocols": [2, 1], "transports": ["nfc"],
            "algorithms": [{"type": "public-key", "alg": -7}], "minPINLength": 4, "firmwareVersion": 0x050102,
        },
    }
    (OUT / "statement.json").write_text(json.dumps(statement, indent=1) + "\n")


if __name__ == "__main__":
    main()
