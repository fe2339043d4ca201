#!/usr/bin/env python3
"""Writes libFuzzer seed corpora from TestVectors/ (one file per input, per target)."""
import base64
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from minicbor import loads as cbor_loads  # noqa: E402


def b64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main(root: str, here: str) -> None:
    vectors = [json.loads(line) for line in open(Path(root) / "TestVectors/generated/vectors.jsonl")]
    cbor_cases = [json.loads(line) for line in open(Path(root) / "TestVectors/generated/cbor.jsonl")]
    seeds = {name: [] for name in ("cbor", "authenticator-data", "cose-key", "attestation-object", "client-data",
                                   "tpm-attest", "tpm-public", "key-description", "safetynet-jws", "request-json",
                                   "certificate", "referencing-list")}
    for v in vectors:
        if v.get("attestation_object_b64url"):
            seeds["attestation-object"].append(b64(v["attestation_object_b64url"]))
            seeds["cbor"].append(b64(v["attestation_object_b64url"]))
        if v.get("authenticator_data_b64url"):
            seeds["authenticator-data"].append(b64(v["authenticator_data_b64url"]))
        if v.get("credential_public_key_cose_b64url"):
            seeds["cose-key"].append(b64(v["credential_public_key_cose_b64url"]))
        if v.get("client_data_json_b64url"):
            seeds["client-data"].append(b64(v["client_data_json_b64url"]))
    seeds["cbor"] += [bytes.fromhex(c["hex"]) for c in cbor_cases]
    for sample in sorted((Path(root) / "TestVectors/samples").glob("*.json")):
        seeds["request-json"].append(json.dumps(json.load(open(sample)), separators=(",", ":")).encode())
    # Referencing lists (ANS JSON, MDS BLOBs) and the PSC profile.
    for path in sorted((Path(root) / "TestVectors/referencing").rglob("*")):
        if path.suffix in (".json", ".jwt"):
            seeds["referencing-list"].append(path.read_bytes())
    seeds["referencing-list"].append((Path(root) / "Profiles/psc-2026.json").read_bytes())
    for name in ("trust_anchors.json", "crls.json"):
        for entry in json.load(open(Path(root) / "TestVectors/generated" / name)).values():
            seeds["certificate"].append(b64(entry["der_b64url"]))
    # Statement members of the generated tpm, android-key and SafetyNet registrations.
    for v in vectors:
        if v.get("fmt") not in ("tpm", "android-key", "android-safetynet") or not v.get("attestation_object_b64url"):
            continue
        try:
            statement = cbor_loads(b64(v["attestation_object_b64url"]))["attStmt"]
        except Exception:
            continue
        if v["fmt"] == "tpm":
            seeds["tpm-attest"].append(statement.get("certInfo", b""))
            seeds["tpm-public"].append(statement.get("pubArea", b""))
        elif v["fmt"] == "android-safetynet":
            seeds["safetynet-jws"].append(statement.get("response", b""))
        else:
            leaf = statement.get("x5c", [b""])[0]
            marker = bytes.fromhex("2b06010401d679020111")  # the KeyDescription OID
            at = leaf.find(marker)
            if at >= 0:
                seeds["key-description"].append(leaf[at + len(marker) + 2:])
    for name, items in seeds.items():
        folder = Path(here) / f"corpus-{name}"
        folder.mkdir(exist_ok=True)
        for item in items[:400]:
            (folder / hashlib.sha1(item).hexdigest()).write_bytes(item)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
