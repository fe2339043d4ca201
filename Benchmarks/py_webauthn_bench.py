#!/usr/bin/env python3
"""py_webauthn on the same generated inputs as mie-bench, one thread, median of batches.

Run through Benchmarks/run.sh, which installs py_webauthn 3.0.1 in Benchmarks/.venv.
Prints one line per case and, with --json FILE, writes the rates for the ratio table.
"""
import argparse
import base64
import json
import statistics
import sys
import time
from pathlib import Path

import webauthn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from webauthn.helpers import parse_authentication_credential_json, parse_registration_credential_json
from webauthn.helpers.structs import AttestationFormat

ROOT = Path(__file__).resolve().parents[1] / "TestVectors" / "generated"


def b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load() -> dict:
    with open(ROOT / "vectors.jsonl") as f:
        return {v["id"]: v for v in map(json.loads, f)}


def measure(name: str, body, seconds: float) -> float:
    for _ in range(50):
        body()
    batch = 16
    while True:
        start = time.perf_counter()
        for _ in range(batch):
            body()
        if time.perf_counter() - start > 0.1:
            break
        batch *= 2
    rates = []
    for _ in range(max(5, int(seconds / 0.1))):
        start = time.perf_counter()
        for _ in range(batch):
            body()
        rates.append(batch / (time.perf_counter() - start))
    median = statistics.median(rates)
    print(f"{name:<44} {median:10.0f} ops/s")
    return median


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    vectors = load()
    anchors = json.loads((ROOT / "trust_anchors.json").read_text())
    root_der = b64(anchors["mie-test-attestation-root"]["der_b64url"])
    # py_webauthn compares PEM bytes for android-key roots: use the usual 64-column PEM.
    root_pem = x509.load_der_x509_certificate(root_der).public_bytes(serialization.Encoding.PEM)

    a = vectors["gen-auth-ES256"]
    assertion = parse_authentication_credential_json(json.dumps({
        "id": a["credential_id_b64url"], "rawId": a["credential_id_b64url"], "type": "public-key",
        "response": {"clientDataJSON": a["client_data_json_b64url"], "authenticatorData": a["authenticator_data_b64url"],
                     "signature": a["signature_b64url"]}}))
    public_key = b64(a["credential_public_key_cose_b64url"])

    def verify_assertion():
        webauthn.verify_authentication_response(
            credential=assertion, expected_challenge=b64(a["challenge_b64url"]), expected_rp_id="mie.example",
            expected_origin="https://mie.example", credential_public_key=public_key, credential_current_sign_count=6,
            require_user_verification=True)

    def registration(vid: str):
        v = vectors[vid]
        credential = parse_registration_credential_json(json.dumps({
            "id": v["credential_id_b64url"], "rawId": v["credential_id_b64url"], "type": "public-key",
            "response": {"clientDataJSON": v["client_data_json_b64url"],
                         "attestationObject": v["attestation_object_b64url"]}}))

        def verify():
            webauthn.verify_registration_response(
                credential=credential, expected_challenge=b64(v["challenge_b64url"]), expected_rp_id="mie.example",
                expected_origin="https://mie.example", require_user_verification=True,
                pem_root_certs_bytes_by_fmt={AttestationFormat.PACKED: [root_pem], AttestationFormat.TPM: [root_pem],
                                             AttestationFormat.ANDROID_KEY: [root_pem]})
        return verify

    print(f"py_webauthn {webauthn.__version__} (Python {sys.version.split()[0]}): one thread; median of batches")
    results = {
        "assertion-es256-prepared-key": measure("py_webauthn assertion ES256", verify_assertion, args.seconds),
        "registration-packed-x5c-es256": measure("py_webauthn registration packed x5c", registration("gen-reg-packed-x5c-ES256"), args.seconds),
        "registration-none-es256": measure("py_webauthn registration none", registration("gen-reg-none-ES256"), args.seconds),
        "registration-tpm-rs256": measure("py_webauthn registration tpm", registration("gen-reg-tpm-nuvoton"), args.seconds),
        "registration-android-key-es256": measure("py_webauthn registration android-key",
                                                  registration("gen-reg-android-key-ES256"), args.seconds),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
