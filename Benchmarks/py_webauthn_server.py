#!/usr/bin/env python3
"""The peers of the HTTP benchmark: py_webauthn 3.0.1 answering the same stateless assertion
bodies as `POST /v1/assertions/verify` for the relying party the benchmark uses, behind three
servers (all run with Benchmarks/.venv/bin/python):

  py_webauthn_server.py PORT                         Python's standard HTTP server (a thread per
                                                     connection, HTTP/1.1 keep-alive)
  uvicorn py_webauthn_server:asgi --port PORT        an ASGI server (uvloop, httptools)
  gunicorn py_webauthn_server:wsgi -k gthread ...    a pre-fork WSGI server, several workers
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


def verify(data: bytes) -> bytes:
    """One request body in, the JSON answer out: verified, or why not (a normal answer)."""
    body = json.loads(data)
    try:
        verified = webauthn.verify_authentication_response(
            credential=body["response"], expected_challenge=b64(body["challenge"]), expected_rp_id=RP_ID,
            expected_origin=ORIGIN, credential_public_key=b64(body["credential"]["publicKey"]),
            credential_current_sign_count=body["credential"]["signCount"], require_user_verification=True)
        answer = {"verified": True, "signCount": verified.new_sign_count}
    except Exception as error:  # py_webauthn raises for every refusal
        answer = {"verified": False, "error": str(error)}
    return json.dumps(answer).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle and delayed ACKs add 40 ms.
    disable_nagle_algorithm = True

    def do_POST(self):  # noqa: N802 (the standard library's name)
        data = verify(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


async def asgi(scope, receive, send):
    """The ASGI application (uvicorn): the body read whole, then answered."""
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    data = verify(b"".join(chunks))
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def wsgi(environ, start_response):
    """The WSGI application (gunicorn)."""
    data = verify(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
