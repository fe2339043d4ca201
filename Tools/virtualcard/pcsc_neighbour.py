#!/usr/bin/env python3
"""Another PC/SC program on the same reader: connects to the card in shared mode, asks
it for an application it does not hold (SELECT of the FIDO AID, as `mie-probe fido list` or a
browser looking for a security key does) and disconnects, over and over.

With pcscd 1.9, the end of such a shared connection can power the card down while a second
program is in the middle of a transaction on it; VirtualCardTests runs this beside
`mie-probe card` to show the probe's session survives its neighbours.

  Tools/virtualcard/pcsc_neighbour.py READER [--seconds S] [--until-stdin-closes]
"""
import argparse
import select
import ctypes
import ctypes.util
import sys
import time

SCARD_SCOPE_SYSTEM = 2
SCARD_SHARE_SHARED = 2
SCARD_PROTOCOL_ANY = 3
SCARD_LEAVE_CARD = 0
SELECT_FIDO = bytes.fromhex("00A4040008A0000006472F0001")


class IORequest(ctypes.Structure):
    _fields_ = [("protocol", ctypes.c_ulong), ("length", ctypes.c_ulong)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("reader")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--until-stdin-closes", action="store_true", help="also stop when standard input ends")
    args = parser.parse_args()
    library = ctypes.util.find_library("pcsclite") or "libpcsclite.so.1"
    pcsc = ctypes.CDLL(library)
    # pcsc-lite on Linux: SCARDCONTEXT, SCARDHANDLE and DWORD are unsigned long.
    word = ctypes.c_ulong
    connections = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        if args.until_stdin_closes and select.select([sys.stdin], [], [], 0)[0] and not sys.stdin.buffer.read1(1):
            break
        # A context per connection, as a short-lived program has.
        context = word()
        status = pcsc.SCardEstablishContext(word(SCARD_SCOPE_SYSTEM), None, None, ctypes.byref(context))
        if status != 0:
            print(f"pcsc_neighbour: SCardEstablishContext failed: 0x{status & 0xFFFFFFFF:08X}", file=sys.stderr)
            return 2
        card = word()
        protocol = word()
        status = pcsc.SCardConnect(context, args.reader.encode(), word(SCARD_SHARE_SHARED), word(SCARD_PROTOCOL_ANY),
                                   ctypes.byref(card), ctypes.byref(protocol))
        if status == 0:
            connections += 1
            request = IORequest(protocol.value, ctypes.sizeof(IORequest))
            answer = (ctypes.c_ubyte * 258)()
            length = word(len(answer))
            command = (ctypes.c_ubyte * len(SELECT_FIDO))(*SELECT_FIDO)
            pcsc.SCardTransmit(card, ctypes.byref(request), command, word(len(SELECT_FIDO)), None, answer, ctypes.byref(length))
            pcsc.SCardDisconnect(card, word(SCARD_LEAVE_CARD))
        pcsc.SCardReleaseContext(context)
        time.sleep(0.005)
    print(f"pcsc_neighbour: {connections} shared connections to {args.reader}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
