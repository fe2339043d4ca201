#!/usr/bin/env python3
"""PIN/UV auth protocol vectors computed by an independent implementation: python-fido2
(Yubico, PyPI `fido2`, version printed into the file) for protocols one and two, from fixed
P-256 keys, a fixed PIN, a fixed token, a fixed message and (protocol two) a fixed IV.

  python3 Tools/vectorgen/pin_vectors.py > TestVectors/ctap/pin-protocol.json

The Swift suite (HardwareProbeTests) recomputes every value with HardwareProbe's PINProtocol."""
import json
import os
from importlib.metadata import version
from unittest import mock

from cryptography.hazmat.primitives.asymmetric import ec
from fido2.ctap2 import pin

AUTHENTICATOR = 0x6F0E5C3A1B2D4E5F60718293A4B5C6D7E8F9011223344556677889900AABBCCD
PLATFORM = 0x1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F809
PIN = "123456"
TOKEN = bytes(range(0x40, 0x60))
MESSAGE = bytes.fromhex("687134968222ec17202e42505f8ed2b16ae22f16bb05b88c25db9e602645f141")  # a clientDataHash
IV = bytes(range(0xA0, 0xB0))


def point(scalar):
    numbers = ec.derive_private_key(scalar, ec.SECP256R1()).public_key().public_numbers()
    return numbers.x.to_bytes(32, "big") + numbers.y.to_bytes(32, "big")


def main():
    authenticator = ec.derive_private_key(AUTHENTICATOR, ec.SECP256R1())
    platform = ec.derive_private_key(PLATFORM, ec.SECP256R1())
    z = platform.exchange(ec.ECDH(), authenticator.public_key())
    pin_hash = __import__("hashlib").sha256(PIN.encode()).digest()[:16]
    vectors = {"provenance": f"computed by python-fido2 {version('fido2')} (fido2.ctap2.pin) with Tools/vectorgen/pin_vectors.py",
               "authenticatorPrivate": f"{AUTHENTICATOR:064x}", "authenticatorPublic": point(AUTHENTICATOR).hex(),
               "platformPrivate": f"{PLATFORM:064x}", "platformPublic": point(PLATFORM).hex(), "z": z.hex(), "pin": PIN,
               "pinHash": pin_hash.hex(), "token": TOKEN.hex(), "message": MESSAGE.hex(), "iv": IV.hex(), "protocols": []}
    for number, protocol in ((1, pin.PinProtocolV1()), (2, pin.PinProtocolV2())):
        secret = protocol.kdf(z)
        with mock.patch.object(os, "urandom", lambda n: IV[:n]):
            pin_hash_enc = protocol.encrypt(secret, pin_hash)
            token_enc = protocol.encrypt(secret, TOKEN)
        vectors["protocols"].append({
            "protocol": number, "sharedSecret": secret.hex(), "pinHashEnc": pin_hash_enc.hex(), "tokenEnc": token_enc.hex(),
            "pinUvAuthParam": protocol.authenticate(TOKEN, MESSAGE).hex(),
        })
        assert protocol.decrypt(secret, token_enc) == TOKEN
    print(json.dumps(vectors, indent=1))


if __name__ == "__main__":
    main()
