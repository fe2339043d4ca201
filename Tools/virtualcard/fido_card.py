#!/usr/bin/env python3
"""A virtual FIDO2 authenticator reached over NFC/contact ISO 7816 through vpcd.

Answers SELECT of the FIDO AID with "FIDO_2_0", and CTAP2 commands in `80 10 00 00` APDUs:
authenticatorGetInfo and authenticatorMakeCredential (a fresh ES256 software key, packed self
attestation; NFC presence counts as user presence). Long answers come back in 61 xx chunks.

  fido_card.py [--port 35964]
"""
import argparse
import hashlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "vectorgen"))
sys.path.insert(0, str(HERE.parents[0] / "fuzz"))
sys.path.insert(0, str(HERE))
from cps_card import serve  # noqa: E402
from generate import cbor  # noqa: E402
from minicbor import loads  # noqa: E402

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

AID = bytes.fromhex("A0000006472F0001")
ATR = bytes.fromhex("3B8080010101")
AAGUID = bytes.fromhex("4d49452d5669727475616c2d4e464321")  # "MIE-Virtual-NFC!"


def get_info() -> bytes:
    return cbor({
        1: ["FIDO_2_0", "FIDO_2_1"],
        2: ["credProtect", "hmac-secret"],
        3: AAGUID,
        4: {"rk": True, "up": True, "uv": True, "plat": False, "clientPin": True},
        5: 1200,
        6: [2, 1],
        9: ["nfc"],
        10: [{"alg": -7, "type": "public-key"}, {"alg": -8, "type": "public-key"}],
        13: 6,
        14: 0x050102,
        19: {"FIDO": 2},
    })


def make_credential(parameters: bytes) -> bytes:
    request = loads(parameters)
    client_data_hash = request[1]
    rp_id = request[2]["id"]
    if not any(p.get("alg") == -7 for p in request[4]):
        raise ValueError("ES256 only")
    key = ec.generate_private_key(ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    cose = cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
    credential_id = os.urandom(32)
    auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([0x45]) + (0).to_bytes(4, "big") + AAGUID
                 + len(credential_id).to_bytes(2, "big") + credential_id + cose)
    signature = key.sign(auth_data + client_data_hash, ec.ECDSA(hashes.SHA256()))
    return cbor({1: "packed", 2: auth_data, 3: {"alg": -7, "sig": signature}})


class FidoCard:
    def __init__(self):
        self.reset()

    def reset(self):
        self.selected = False
        self.pending = b""

    def answer(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return b"\x67\x00"
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        if len(body) > 3 and body[0] == 0:  # extended length: Lc on two bytes (CTAP requests over 255 bytes)
            data = body[3:3 + (body[1] << 8 | body[2])]
        else:
            data = body[1:1 + body[0]] if len(body) > 1 else b""
        if ins == 0xC0:
            chunk, self.pending = self.pending[:256], self.pending[256:]
            return chunk + (bytes([0x61, min(len(self.pending), 255) % 256]) if self.pending else b"\x90\x00")
        if ins == 0xA4 and p1 == 0x04:
            if data == AID:
                self.selected = True
                return b"FIDO_2_0\x90\x00"
            return b"\x6a\x82"
        if cla == 0x80 and ins == 0x10:
            if not self.selected or not data:
                return b"\x69\x85"
            command, parameters = data[0], data[1:]
            try:
                if command == 0x04:
                    reply = b"\x00" + get_info()
                elif command == 0x01:
                    reply = b"\x00" + make_credential(parameters)
                else:
                    reply = b"\x01"  # CTAP1_ERR_INVALID_COMMAND
            except Exception:
                reply = b"\x12"  # CTAP2_ERR_INVALID_CBOR
            if len(reply) > 200:
                self.pending = reply
                return bytes([0x61, 0x00])
            return reply + b"\x90\x00"
        return b"\x6d\x00"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=35964)
    args = parser.parse_args()
    serve(args.port, FidoCard(), ATR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
