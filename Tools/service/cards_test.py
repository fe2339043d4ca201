#!/usr/bin/env python3
"""A card's possession proven to the running service: `mie-verifier serve --demo` (the test
IGC-Santé anchors and CRL of TestVectors/cards/cps-test), a challenge from
POST /v1/cards/challenges signed as the virtual CPS card signs it (the raw RSA operation over a
PKCS #1 type 1 block, with the card's key derived from the same seed as Tools/virtualcard), and
POST /v1/cards/verify with the card's ATR and EF.SN.ICC: the card must be an accepted MIE with
its AMR. A signature by the card's other key, and a replayed challenge, must not pass.

Exit 0 when every check passed; 1 otherwise.
"""
import base64
import http.client
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tools" / "virtualcard"))
sys.path.insert(0, str(ROOT / "Tools" / "vectorgen"))
sys.path.insert(0, str(ROOT / "Tools" / "service"))
import harness  # noqa: E402
import make_card  # noqa: E402

CARDS = ROOT / "TestVectors" / "cards" / "cps-test"
ATR = "3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00"
EF_SN_ICC = "00 80 25 00 00 01 12 34 56"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def card_signature(key, challenge: bytes) -> bytes:
    numbers = key.private_numbers()
    size = numbers.public_numbers.n.bit_length() // 8
    block = b"\x00\x01" + b"\xff" * (size - 3 - len(challenge)) + b"\x00" + challenge
    return pow(int.from_bytes(block, "big"), numbers.d, numbers.public_numbers.n).to_bytes(size, "big")


def main() -> int:
    service = harness.Service("--demo")
    checks = harness.Checks("cards test")
    expect = checks.expect
    try:
        service.ready()
        key = service.demo_key()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)

        def post(path: str, body=None):
            connection.request("POST", path, json.dumps(body) if body is not None else None, headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read())

        certificates = [b64u((CARDS / name).read_bytes()) for name in ("auth.der", "ca.der")]
        auth_key, sign_key = make_card.card_keys()
        status, challenge = post("/v1/cards/challenges")
        expect(status == 200, "a challenge is issued")
        body = {"certificates": certificates, "atr": ATR, "serialNumber": EF_SN_ICC, "challengeId": challenge["challengeId"],
                "signature": b64u(card_signature(auth_key, b64d(challenge["challenge"])))}
        status, result = post("/v1/cards/verify", body)
        card = result.get("card", {})
        expect(status == 200 and card.get("possessionProven") is True, f"the card's signature over the challenge proves possession ({status})")
        expect(result.get("verdict") == "accepted", f"the card is an accepted MIE: {result.get('verdict')} "
               f"{[c['id'] + ' ' + c['status'] for c in result.get('criteria', []) if c['status'] != 'satisfied']}")
        expect(bool(result.get("amr")), f"with its AMR: {result.get('amr')}")
        status, replay = post("/v1/cards/verify", body)
        expect(status == 409 and replay.get("code") == "ceremony.replayed", "the same challenge answered twice is refused")
        status, challenge = post("/v1/cards/challenges")
        body.update(challengeId=challenge["challengeId"], signature=b64u(card_signature(sign_key, b64d(challenge["challenge"]))))
        status, result = post("/v1/cards/verify", body)
        expect(result.get("card", {}).get("possessionProven") is False and result.get("verdict") == "refused",
               "a signature by the card's other key proves nothing")
    finally:
        code = service.stop()
    expect(code == 0, "the service stops cleanly")
    return checks.finish(service.log_path)


if __name__ == "__main__":
    sys.exit(main())
