#!/usr/bin/env python3
"""Request files for the end-to-end benchmarks: JSON lines as an IAM would send them.

Every line is a distinct, valid request signed by the project's software authenticator
(Tools/vectorgen): ES256 assertions from many credentials with fresh challenges and growing
counters, and registrations (none, packed x5c, tpm, android-key) each with its own credential
key. Deterministic: the same arguments give the same bytes.

  python3 Benchmarks/requests.py OUT_DIR [--assertions N] [--registrations N]
"""
import argparse
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "Tools" / "vectorgen"))
import generate as g  # noqa: E402

ORIGINS = [g.ORIGIN]
REQUEST_TIME = "2026-11-29T00:00:00Z"


def credential_json(credential_id: bytes, response: dict) -> dict:
    return {"id": g.b64u(credential_id), "rawId": g.b64u(credential_id), "type": "public-key", "response": response,
            "clientExtensionResults": {}, "authenticatorAttachment": "cross-platform"}


def assertions(count: int, credentials: int):
    keys = [g.CredentialKey("ES256", f"bench/assertion/{i}") for i in range(credentials)]
    cose = [k.cose() for k in keys]
    per_key = max(1, count // credentials)
    for j in range(per_key):
        for i, key in enumerate(keys):
            challenge = g.seed_bytes(f"bench/assertion/{i}/{j}", 32)
            cd = g.client_data("webauthn.get", challenge)
            ad = g.auth_data(g.UP | g.UV, j + 1)
            signature = key.sign(ad + hashlib.sha256(cd).digest())
            credential_id = g.seed_bytes(f"bench/assertion/{i}/id", 32)
            yield {
                "response": credential_json(credential_id, {"clientDataJSON": g.b64u(cd), "authenticatorData": g.b64u(ad),
                                                            "signature": g.b64u(signature)}),
                "expected": {"challenge": g.b64u(challenge), "origins": ORIGINS, "rpId": g.RP_ID,
                             "userVerification": "required",
                             "credential": {"id": g.b64u(credential_id), "publicKey": g.b64u(cose[i]), "signCount": j,
                                            "backupEligible": False}},
            }


def registrations(kind: str, count: int, pki: "g.TestPKI", root_der: bytes):
    for i in range(count):
        label = f"bench/{kind}/{i}"
        key = g.CredentialKey("ES256", label)
        challenge = g.seed_bytes(label + "/challenge", 32)
        credential_id = g.seed_bytes(label + "/id", 32)
        cd = g.client_data("webauthn.create", challenge)
        ad = g.auth_data(g.UP | g.UV | g.AT, 0, attested=g.attested_data(credential_id, key.cose()))
        cdh = hashlib.sha256(cd).digest()
        if kind == "none":
            fmt, stmt = "none", {}
        elif kind == "packed":
            fmt = "packed"
            stmt = {"alg": -7, "sig": pki.leaf_signer.sign(ad + cdh), "x5c": [g.der(pki.leaf), g.der(pki.ca)]}
        elif kind == "tpm":
            fmt = "tpm"
            # Scheme NULL: the layout py_webauthn's fixed-offset pubArea parser reads.
            pub = g.tpm_pub_area(key, ecc_scheme_null=True)
            info = g.tpm_cert_info(hashlib.sha256(ad + cdh).digest(), pub)
            aik = BENCH_AIK.setdefault("aik", g.aik_certificate(pki, 36, manufacturer="id:4E544300"))
            stmt = {"ver": "2.0", "alg": -257, "x5c": [g.der(aik), g.der(pki.ca)], "sig": pki.aik_signer.sign(info),
                    "certInfo": info, "pubArea": pub}
        else:
            fmt = "android-key"
            name = g.x509.Name([g.x509.NameAttribute(g.NameOID.COMMON_NAME, "Android Keystore Key")])
            cert = g.leaf_for_key(pki, key.private.public_key(), 1000 + i, name,
                                  [("1.3.6.1.4.1.11129.2.1.17", g.key_description(cdh))])
            stmt = {"alg": -7, "sig": key.sign(ad + cdh), "x5c": [g.der(cert), g.der(pki.ca), g.der(pki.root)]}
        obj = g.cbor({"fmt": fmt, "attStmt": stmt, "authData": ad})
        request = {
            "response": credential_json(credential_id, {"clientDataJSON": g.b64u(cd), "attestationObject": g.b64u(obj),
                                                        "transports": ["usb"]}),
            "expected": {"challenge": g.b64u(challenge), "origins": ORIGINS, "rpId": g.RP_ID, "userVerification": "required"},
            "at": REQUEST_TIME,
        }
        if kind == "none":
            request["policy"] = {"attestation": "any"}
        else:
            request["trustAnchors"] = [g.b64u(root_der)]
        yield request


BENCH_AIK: dict = {}


def write(path: Path, requests) -> int:
    count = 0
    with open(path, "w") as f:
        for request in requests:
            f.write(json.dumps(request, separators=(",", ":")) + "\n")
            count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--assertions", type=int, default=100_000)
    parser.add_argument("--credentials", type=int, default=1000)
    parser.add_argument("--registrations", type=int, default=5000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pki = g.TestPKI()
    root_der = g.der(pki.root)
    (args.out / "root.der").write_bytes(root_der)
    n = write(args.out / "assertion-es256.jsonl", assertions(args.assertions, args.credentials))
    print(f"requests: {n} ES256 assertions from {args.credentials} credentials")
    for kind in ("none", "packed", "tpm", "android-key"):
        # none is cheap to verify: more lines keep the timer's resolution and the start-up cost small.
        count = {"none": args.registrations * 5, "packed": args.registrations}.get(kind, args.registrations // 5)
        n = write(args.out / f"registration-{kind}.jsonl", registrations(kind, count, pki, root_der))
        print(f"requests: {n} {kind} registrations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
