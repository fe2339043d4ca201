#!/usr/bin/env python3
"""A virtual FIDO2 authenticator reached over NFC/contact ISO 7816 through vpcd.

Answers SELECT of the FIDO AID with "FIDO_2_0", and CTAP2 commands in `80 10 00 00` APDUs
(short or extended length); long answers come back in 61 xx chunks.

Two personalities, chosen by the JSON control file (--control), read again at each SELECT (a
change resets the device, as a fresh power-up):

- default (no file, or {}): getInfo and makeCredential only, a fresh ES256 key per credential,
  packed self attestation, built-in user verification (the flag UV is set).
- {"mode": "candidate", "fault": null, "pin": "123456", "retries": 8}: the "MIE Candidate Key" of
  TestVectors/candidate (Tools/virtualcard/make_candidate.py): packed basic_full attestation by
  the vendor's attestation certificate, clientPIN with PIN/UV auth protocols one and two
  (getPINRetries, getKeyAgreement, getPinToken, getPinUvAuthTokenUsingPinWithPermissions; a
  wrong PIN costs a try, the last blocks), UV only with a valid pinUvAuthParam, getAssertion
  with per-credential counters, discoverable credentials with user handles, credProtect.
  `fault` makes it misbehave on purpose, for the candidate battery's tests:
    aaguid-mismatch   getInfo announces another AAGUID than the certificate and authData
    counter-stuck     every assertion carries the same non-zero counter
    counter-backwards the counter goes down
    uv-never          getInfo claims built-in uv, but the flag UV is never set
    foreign-root      the attestation certificate chains to a root not in the statement
    algorithm         credentials are Ed25519 (EdDSA), an algorithm the statement does not list

  fido_card.py [--port 35964] [--control FILE]
"""
import argparse
import hashlib
import hmac
import json
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

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: E402

AID = bytes.fromhex("A0000006472F0001")
ATR = bytes.fromhex("3B8080010101")
AAGUID = bytes.fromhex("4d49452d5669727475616c2d4e464321")  # "MIE-Virtual-NFC!"
CANDIDATE = HERE.parents[1] / "TestVectors" / "candidate"
CANDIDATE_AAGUID = b"MIE-Candidate-01"
OTHER_AAGUID = b"MIE-Candidate-99"

# CTAP2 status codes
OK, INVALID_COMMAND, INVALID_PARAMETER, INVALID_CBOR, MISSING_PARAMETER = 0x00, 0x01, 0x02, 0x12, 0x14
UNSUPPORTED_ALGORITHM, NO_CREDENTIALS, PIN_INVALID, PIN_BLOCKED, PIN_AUTH_INVALID = 0x26, 0x2E, 0x31, 0x32, 0x33
PIN_AUTH_BLOCKED, PIN_NOT_SET, PIN_REQUIRED = 0x34, 0x35, 0x36


class CTAPError(Exception):
    def __init__(self, status: int):
        self.status = status


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


class Candidate:
    """The candidate key: a vendor's model under test, honest unless told otherwise."""

    def __init__(self, fault=None, pin="123456", retries=8):
        self.fault = fault
        self.pin_hash = hashlib.sha256(pin.encode()).digest()[:16]
        self.retries = retries
        self.credentials = {}  # id -> dict(key, alg, rp, user, counter, protect, resident)
        self.agreement = ec.generate_private_key(ec.SECP256R1())
        self.token = None
        self.counter = 100 if fault == "counter-backwards" else 0
        foreign = fault == "foreign-root"
        self.certificate = x509.load_pem_x509_certificate((CANDIDATE / ("foreign-attestation.pem" if foreign else "attestation.pem")).read_bytes())
        self.attestation_key = serialization.load_pem_private_key(
            (CANDIDATE / ("foreign-attestation-key.pem" if foreign else "attestation-key.pem")).read_bytes(), None)
        self.mistakes = 0  # wrong PINs since power-up (three in a row need a power cycle)

    def info(self) -> bytes:
        options = {"rk": True, "up": True, "plat": False, "clientPin": True, "pinUvAuthToken": True}
        if self.fault == "uv-never":
            options["uv"] = True
        algorithm = -8 if self.fault == "algorithm" else -7
        return cbor({
            1: ["FIDO_2_0", "FIDO_2_1"], 2: ["credProtect", "hmac-secret"], 3: OTHER_AAGUID if self.fault == "aaguid-mismatch" else CANDIDATE_AAGUID,
            4: options, 5: 1200, 6: [2, 1], 9: ["nfc"], 10: [{"alg": algorithm, "type": "public-key"}], 13: 4, 14: 0x050102,
        })

    # PIN/UV auth protocols (CTAP 2.1 §6.5.6, §6.5.7), the authenticator's side.
    def shared_secret(self, protocol: int, platform_cose: dict) -> bytes:
        peer = ec.EllipticCurvePublicNumbers(int.from_bytes(platform_cose[-2], "big"), int.from_bytes(platform_cose[-3], "big"),
                                             ec.SECP256R1()).public_key()
        z = self.agreement.exchange(ec.ECDH(), peer)
        if protocol == 1:
            return hashlib.sha256(z).digest()
        derive = lambda info: HKDF(hashes.SHA256(), 32, b"\x00" * 32, info).derive(z)  # noqa: E731
        return derive(b"CTAP2 HMAC key") + derive(b"CTAP2 AES key")

    @staticmethod
    def aes(protocol: int, secret: bytes, data: bytes, encrypt: bool) -> bytes:
        key = secret[32:] if protocol == 2 else secret
        if protocol == 2 and encrypt:
            iv = os.urandom(16)
        elif protocol == 2:
            iv, data = data[:16], data[16:]
        else:
            iv = b"\x00" * 16
        cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
        worker = cipher.encryptor() if encrypt else cipher.decryptor()
        out = worker.update(data) + worker.finalize()
        return iv + out if protocol == 2 and encrypt else out

    @staticmethod
    def mac(protocol: int, key: bytes, message: bytes) -> bytes:
        digest = hmac.new(key[:32] if protocol == 2 and len(key) == 64 else key, message, hashlib.sha256).digest()
        return digest[:16] if protocol == 1 else digest

    def client_pin(self, request: dict) -> dict:
        protocol, sub = request.get(1), request.get(2)
        if sub == 0x01:
            return {3: self.retries}
        if protocol not in (1, 2):
            raise CTAPError(INVALID_PARAMETER)
        if sub == 0x02:
            numbers = self.agreement.public_key().public_numbers()
            return {1: {1: 2, 3: -25, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}}
        if sub in (0x05, 0x09):
            if 3 not in request or 6 not in request:
                raise CTAPError(MISSING_PARAMETER)
            if self.retries == 0:
                raise CTAPError(PIN_BLOCKED)
            if self.mistakes >= 3:
                raise CTAPError(PIN_AUTH_BLOCKED)
            secret = self.shared_secret(protocol, request[3])
            sent = self.aes(protocol, secret, request[6], encrypt=False)
            if not hmac.compare_digest(sent, self.pin_hash):
                self.retries -= 1
                self.mistakes += 1
                self.agreement = ec.generate_private_key(ec.SECP256R1())
                raise CTAPError(PIN_BLOCKED if self.retries == 0 else PIN_INVALID)
            self.retries, self.mistakes = 8, 0
            self.token = (protocol, os.urandom(32))
            return {2: self.aes(protocol, secret, self.token[1], encrypt=True)}
        raise CTAPError(INVALID_PARAMETER)

    def verified(self, request: dict, hash_key: int, param_key: int, protocol_key: int) -> bool:
        """Whether the request carries a valid pinUvAuthParam over its clientDataHash."""
        if param_key not in request:
            return False
        if self.token is None or request.get(protocol_key) != self.token[0]:
            raise CTAPError(PIN_AUTH_INVALID)
        if not hmac.compare_digest(self.mac(self.token[0], self.token[1], request[hash_key]), request[param_key]):
            raise CTAPError(PIN_AUTH_INVALID)
        return True

    def flags(self, uv: bool, attested: bool = False, extensions: bool = False) -> int:
        flags = 0x01 | (0x04 if uv and self.fault != "uv-never" else 0)
        return flags | (0x40 if attested else 0) | (0x80 if extensions else 0)

    def make_credential(self, request: dict) -> dict:
        client_data_hash, rp, user, params = request[1], request[2], request[3], request[4]
        uv = self.verified(request, 1, 8, 9)
        algorithm = -8 if self.fault == "algorithm" else -7
        if not any(p.get("alg") == algorithm for p in params):
            raise CTAPError(UNSUPPORTED_ALGORITHM)
        if algorithm == -8:
            key = ed25519.Ed25519PrivateKey.generate()
            raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            cose = cbor({1: 1, 3: -8, -1: 6, -2: raw})
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            numbers = key.public_key().public_numbers()
            cose = cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        asked = request.get(6) or {}
        protect = asked.get("credProtect")
        credential_id = os.urandom(48)
        resident = bool((request.get(7) or {}).get("rk"))
        self.credentials[credential_id] = {"key": key, "alg": algorithm, "rp": rp["id"], "user": user["id"], "counter": 0,
                                           "protect": protect, "resident": resident}
        outputs = {}
        if protect:
            outputs["credProtect"] = protect
        if asked.get("hmac-secret") is True:
            outputs["hmac-secret"] = True
        extensions = cbor(outputs) if outputs else b""
        auth_data = (hashlib.sha256(rp["id"].encode()).digest() + bytes([self.flags(uv, True, bool(outputs))]) + self.next_counter(credential_id)
                     + CANDIDATE_AAGUID + len(credential_id).to_bytes(2, "big") + credential_id + cose + extensions)
        signature = self.attestation_key.sign(auth_data + client_data_hash, ec.ECDSA(hashes.SHA256()))
        x5c = [self.certificate.public_bytes(serialization.Encoding.DER)]
        return {1: "packed", 2: auth_data, 3: {"alg": -7, "sig": signature, "x5c": x5c}}

    def next_counter(self, credential_id: bytes) -> bytes:
        if self.fault == "counter-stuck":
            value = 7
        elif self.fault == "counter-backwards":
            self.counter -= 1
            value = self.counter
        else:
            self.counter += 1
            value = self.counter
        return value.to_bytes(4, "big")

    def get_assertion(self, request: dict) -> dict:
        rp_id, client_data_hash = request[1], request[2]
        uv = self.verified(request, 2, 6, 7)
        allow = [item["id"] for item in request.get(3) or []]
        if allow:
            found = [i for i in allow if i in self.credentials and self.credentials[i]["rp"] == rp_id]
        else:
            found = [i for i, c in self.credentials.items() if c["rp"] == rp_id and c["resident"]
                     and (c["protect"] in (None, 1) or uv)]
        if not found:
            raise CTAPError(NO_CREDENTIALS)
        credential_id = found[-1]
        credential = self.credentials[credential_id]
        if credential["protect"] == 3 and not uv:
            raise CTAPError(NO_CREDENTIALS)
        auth_data = hashlib.sha256(rp_id.encode()).digest() + bytes([self.flags(uv)]) + self.next_counter(credential_id)
        message = auth_data + client_data_hash
        key = credential["key"]
        signature = key.sign(message) if credential["alg"] == -8 else key.sign(message, ec.ECDSA(hashes.SHA256()))
        answer = {1: {"id": credential_id, "type": "public-key"}, 2: auth_data, 3: signature}
        if credential["resident"]:
            answer[4] = {"id": credential["user"]}
        if not allow:
            answer[5] = len(found)
        return answer

    def command(self, code: int, parameters: bytes) -> bytes:
        try:
            if code == 0x04:
                return b"\x00" + self.info()
            request = loads(parameters) if parameters else {}
            if code == 0x01:
                return b"\x00" + cbor(self.make_credential(request))
            if code == 0x02:
                return b"\x00" + cbor(self.get_assertion(request))
            if code == 0x06:
                return b"\x00" + cbor(self.client_pin(request))
            return bytes([INVALID_COMMAND])
        except CTAPError as error:
            return bytes([error.status])
        except (KeyError, TypeError, ValueError, IndexError):
            return bytes([INVALID_CBOR])


class FidoCard:
    def __init__(self, control: Path = None):
        self.control = control
        self.seen = None
        self.candidate = None
        self.reset()

    def reset(self):
        self.selected = False
        self.pending = b""

    def configure(self):
        """Reads the control file; a changed one is a new device."""
        text = self.control.read_text() if self.control and self.control.exists() else ""
        if text == self.seen:
            return
        self.seen = text
        settings = json.loads(text) if text.strip() else {}
        self.candidate = (Candidate(settings.get("fault"), settings.get("pin", "123456"), settings.get("retries", 8))
                          if settings.get("mode") == "candidate" else None)

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
                self.configure()
                self.selected = True
                return b"FIDO_2_0\x90\x00"
            return b"\x6a\x82"
        if cla == 0x80 and ins == 0x10:
            if not self.selected or not data:
                return b"\x69\x85"
            command, parameters = data[0], data[1:]
            if self.candidate is not None:
                reply = self.candidate.command(command, parameters)
            else:
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
    parser.add_argument("--control", type=Path, help="JSON file choosing the personality, read at each SELECT")
    args = parser.parse_args()
    serve(args.port, FidoCard(args.control), ATR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
