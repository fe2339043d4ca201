#!/usr/bin/env python3
"""The peer for the HTTP benchmark: py_webauthn 3.0.1 behind Python's standard HTTP server
(HTTP/1.1 keep-alive, one thread per connection), answering the same stateless assertion
bodies as `POST /v1/assertions/verify` for the relying party the benchmark uses.

  py_webauthn_server.py PORT       (run with Benchmarks/.venv/bin/python)
"""
import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import webauthn

RP_ID = "mie.example"
ORIGIN = "https://mie.example"


def b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle and delayed ACKs add 40 ms.
    disable_nagle_algorithm = True

    def do_POST(self):  # noqa: N802 (the standard library's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        try:
            verified = webauthn.verify_authentication_response(
                credential=body["response"], expected_challenge=b64(body["challenge"]), expected_rp_id=RP_ID,
                expected_origin=ORIGIN, credential_public_key=b64(body["credential"]["publicKey"]),
                credential_current_sign_count=body["credential"]["signCount"], require_user_verification=True)
            status, answer = 200, {"verified": True, "signCount": verified.new_sign_count}
        except Exception as error:  # py_webauthn raises for every refusal
            status, answer = 200, {"verified": False, "error": str(error)}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
