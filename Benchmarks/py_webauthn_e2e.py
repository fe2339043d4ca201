#!/usr/bin/env python3
"""py_webauthn 3.0.1 over the same request files as the end-to-end benchmark, per CPU-second.

For each line: parse the request JSON, call py_webauthn with the same expectations, check the
verdict. Prints the rate per CPU-second (time.process_time) and, with --json, writes them.

  py_webauthn_e2e.py --dir REQUESTS [--limit N] [--json FILE] CASE...
"""
import argparse
import base64
import json
import sys
import time
from pathlib import Path

import webauthn
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from webauthn.helpers.structs import AttestationFormat


def b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def run(path: Path, limit: int, root_pem: bytes) -> tuple[int, float]:
    with open(path) as f:
        lines = [line for _, line in zip(range(limit), f)]
    roots = {AttestationFormat.PACKED: [root_pem], AttestationFormat.TPM: [root_pem], AttestationFormat.ANDROID_KEY: [root_pem]}
    start = time.process_time()
    for line in lines:
        request = json.loads(line)
        expected = request["expected"]
        response = request["response"]
        if "credential" in expected:
            stored = expected["credential"]
            webauthn.verify_authentication_response(
                credential=response, expected_challenge=b64(expected["challenge"]), expected_rp_id=expected["rpId"],
                expected_origin=expected["origins"], credential_public_key=b64(stored["publicKey"]),
                credential_current_sign_count=stored["signCount"], require_user_verification=True)
        else:
            webauthn.verify_registration_response(
                credential=response, expected_challenge=b64(expected["challenge"]), expected_rp_id=expected["rpId"],
                expected_origin=expected["origins"], require_user_verification=True, pem_root_certs_bytes_by_fmt=roots)
    return len(lines), time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=20_000)
    parser.add_argument("--json")
    parser.add_argument("cases", nargs="+")
    args = parser.parse_args()
    root_pem = x509.load_der_x509_certificate((args.dir / "root.der").read_bytes()).public_bytes(serialization.Encoding.PEM)
    results = {}
    print(f"py_webauthn {webauthn.__version__} (Python {sys.version.split()[0]}), per CPU-second")
    for case in args.cases:
        count, seconds = run(args.dir / f"{case}.jsonl", args.limit, root_pem)
        results[case] = count / seconds
        print(f"  {case:<28} {count:>7} requests in {seconds:6.2f} CPU-s: {count / seconds:9.0f}/CPU-s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
