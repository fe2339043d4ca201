#!/usr/bin/env python3
"""A virtual CPS3-like card for vpcd (vsmartcard's virtual reader driver for pcscd).

Speaks vpcd's socket protocol: a 2-byte big-endian length, then the message; 1-byte messages
are control (0 power off, 1 power on, 2 reset, 4 ATR), longer ones are APDUs answered with
data || SW1 SW2. Behaves like a CPS3 card: its ATR, EF.SN.ICC with the ANS issuer number, EF.DIR,
a PKCS#15 application (ODF, CDF, certificates from TestVectors/cards/cps-test), a PIN with a tries
counter (63 Cx, 69 83), MSE + INTERNAL AUTHENTICATE with the authentication key, and T=0-style
61 xx chaining for long answers.

  cps_card.py [--port 35963] [--tries 3] [--atr HEX]
"""
import argparse
import socket
import struct
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "vectorgen"))
from generate import seeded_rsa_key  # noqa: E402

CARD = HERE.parents[1] / "TestVectors" / "cards" / "cps-test"
ATR = bytes.fromhex("3BAC00402A001225006480000310009000")
AID = bytes.fromhex("E828BD080F80250000 01FF0010".replace(" ", ""))
PIN = b"1234" + b"\x00" * 4


def tlv(tag: int, value: bytes) -> bytes:
    assert len(value) < 128
    return bytes([tag, len(value)]) + value


def long_tlv(tag: int, value: bytes) -> bytes:
    if len(value) < 128:
        return bytes([tag, len(value)]) + value
    return bytes([tag, 0x82]) + struct.pack(">H", len(value)) + value


def cdf_entry(label: str, identifier: bytes, fid: bytes) -> bytes:
    common = long_tlv(0x30, tlv(0x0C, label.encode()))
    certificate_attributes = long_tlv(0x30, tlv(0x04, identifier))
    typed = long_tlv(0xA1, long_tlv(0x30, long_tlv(0x30, tlv(0x04, fid))))
    return long_tlv(0x30, common + certificate_attributes + typed)


def dodf_entry(label: str, application: str, fid: bytes, private: bool) -> bytes:
    # CommonObjectAttributes { label, flags BIT STRING (private = bit 0), authId if private }
    common = tlv(0x0C, label.encode()) + tlv(0x03, bytes([0x07, 0x80 if private else 0x00]))
    if private:
        common += tlv(0x04, b"\x01")
    return long_tlv(0x30, long_tlv(0x30, common) + long_tlv(0x30, tlv(0x0C, application.encode()))
                    + long_tlv(0xA1, long_tlv(0x30, tlv(0x04, fid))))


class Card:
    def __init__(self, tries: int):
        self.auth_key = seeded_rsa_key("card/cps-test/auth")
        self.mf = {
            b"\xd0\x03": bytes([0x00]) + bytes.fromhex("8025000001") + bytes.fromhex("123456"),  # EF.SN.ICC
            b"\x2f\x00": tlv(0x61, tlv(0x4F, AID) + tlv(0x50, b"CPS3 PKCS#15")),  # EF.DIR
        }
        self.app = {
            # ODF: certificates [4] in C000, data objects [7] in D000; padded.
            b"\x50\x31": long_tlv(0xA4, long_tlv(0x30, tlv(0x04, b"\xc0\x00")))
            + long_tlv(0xA7, long_tlv(0x30, tlv(0x04, b"\xd0\x00"))) + b"\x00" * 8,
            b"\xd0\x00": dodf_entry("CPS_ID_CARD", "CPS", b"\xd0\x01", private=False)
            + dodf_entry("CPS_DATA", "CPS", b"\xd0\x02", private=False)
            + dodf_entry("CPS_PRIVATE", "CPS", b"\xd0\x03", private=True),
            b"\xd0\x01": b"810003456786|DUPONT|JEANNE|CPS",
            b"\xd0\x02": b"10|Medecin|SM26",
            b"\xd0\x03": b"private holder data",
            b"\xc0\x00": cdf_entry("Certificat d'authentification CPS", b"\x01", b"\xc0\x01")
            + cdf_entry("Certificat de signature CPS", b"\x02", b"\xc0\x02")
            + cdf_entry("Certificat de l'AC", b"\x03", b"\xc0\x03"),
            b"\xc0\x01": (CARD / "auth.der").read_bytes(),
            b"\xc0\x02": (CARD / "sign.der").read_bytes(),
            b"\xc0\x03": (CARD / "ca.der").read_bytes(),
        }
        self.tries = tries
        self.reset()

    def reset(self):
        self.in_app = False
        self.current = None
        self.verified = False
        self.security_environment = False
        self.pending = b""

    def files(self):
        return self.app if self.in_app else self.mf

    def answer(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return b"\x67\x00"
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        data = b""
        le = None
        if len(body) == 1:
            le = body[0] or 256
        elif len(body) > 1:
            lc = body[0]
            data = body[1:1 + lc]
            if len(body) > 1 + lc:
                le = body[1 + lc] or 256
        if ins == 0xC0:
            chunk, self.pending = self.pending[:le or 256], self.pending[le or 256:]
            return chunk + (bytes([0x61, min(len(self.pending), 255) % 256]) if self.pending else b"\x90\x00")
        if ins == 0xA4:
            return self.select(p1, data)
        if ins == 0xB0:
            return self.read_binary((p1 << 8 | p2), le or 256)
        if ins == 0x20:
            return self.verify(p2, data)
        if ins == 0x22:
            self.security_environment = True
            return b"\x90\x00"
        if ins == 0x88:
            if not self.verified:
                return b"\x69\x82"
            if not self.security_environment:
                return b"\x69\x85"
            numbers = self.auth_key.private_numbers()
            n = numbers.public_numbers.n
            size = (n.bit_length() + 7) // 8
            block = b"\x00\x01" + b"\xff" * (size - 3 - len(data)) + b"\x00" + data
            signature = pow(int.from_bytes(block, "big"), numbers.d, n).to_bytes(size, "big")
            # Answer as a T=0 card does: 61 xx, then GET RESPONSE.
            self.pending = signature
            return b"\x61\x00"
        return b"\x6d\x00"

    def select(self, p1: int, data: bytes) -> bytes:
        if p1 == 0x04:
            if data == AID:
                self.in_app, self.current = True, None
                return b"\x90\x00"
            return b"\x6a\x82"
        if p1 == 0x08:
            self.in_app = False
            if data in self.mf:
                self.current = data
                return b"\x90\x00"
            return b"\x6a\x82"
        if data == b"\x3f\x00":
            self.in_app, self.current = False, None
            return b"\x90\x00"
        if data in self.files():
            self.current = data
            return b"\x90\x00"
        return b"\x6a\x82"

    def read_binary(self, offset: int, length: int) -> bytes:
        if self.current is None:
            return b"\x69\x86"
        content = self.files()[self.current]
        if offset >= len(content):
            return b"\x6b\x00"
        chunk = content[offset:offset + length]
        return chunk + (b"\x62\x82" if len(chunk) < length else b"\x90\x00")

    def verify(self, reference: int, data: bytes) -> bytes:
        if reference != 0x81:
            return b"\x6a\x88"
        if not data:
            if self.verified:
                return b"\x90\x00"
            return b"\x69\x83" if self.tries == 0 else bytes([0x63, 0xC0 | self.tries])
        if self.tries == 0:
            return b"\x69\x83"
        if data == PIN:
            self.tries, self.verified = 3, True
            return b"\x90\x00"
        self.tries -= 1
        return b"\x69\x83" if self.tries == 0 else bytes([0x63, 0xC0 | self.tries])


def serve(port: int, card: Card, atr: bytes) -> None:
    while True:
        try:
            connection = socket.create_connection(("127.0.0.1", port))
        except OSError:
            time.sleep(0.2)
            continue
        print(f"virtual card connected to vpcd on port {port}", flush=True)
        with connection:
            while True:
                header = connection.recv(2, socket.MSG_WAITALL)
                if len(header) < 2:
                    break
                (length,) = struct.unpack(">H", header)
                message = connection.recv(length, socket.MSG_WAITALL) if length else b""
                if length == 1:
                    control = message[0]
                    if control in (0, 1, 2):
                        card.reset()
                        continue
                    if control == 4:
                        connection.sendall(struct.pack(">H", len(atr)) + atr)
                    continue
                reply = card.answer(message)
                connection.sendall(struct.pack(">H", len(reply)) + reply)
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=35963)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--atr", default=ATR.hex())
    args = parser.parse_args()
    serve(args.port, Card(args.tries), bytes.fromhex(args.atr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
