"""A WebAuthn client and software authenticator for scripts that drive the running service:
ceremonies opened over the API, answered with fresh P-256 keys (`none` attestation, an AAGUID of
zeros: a key no list references, enrolled only where the service allows it), built with the
vector generator's CBOR and authenticator-data writers (Tools/vectorgen/generate.py)."""
import base64
import hashlib
import http.client
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vectorgen"))
import generate as g  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class APIError(Exception):
    def __init__(self, status: int, body):
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body


def post(connection: http.client.HTTPConnection, path: str, key: str, body: dict) -> dict:
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    response = connection.getresponse()
    data = json.loads(response.read() or b"{}")
    if response.status != 200:
        raise APIError(response.status, data)
    return data


class Credential:
    def __init__(self, origin: str = g.ORIGIN):
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.id = os.urandom(16)
        self.count = 0
        self.origin = origin

    def cose(self) -> bytes:
        numbers = self.private.public_key().public_numbers()
        return g.cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _json(self, response: dict) -> dict:
        return {"id": g.b64u(self.id), "rawId": g.b64u(self.id), "type": "public-key", "response": response}

    def create(self, options: dict) -> dict:
        """`navigator.credentials.create()` for the service's creation options."""
        challenge = b64d(options["challenge"])
        rp_id = options["rp"]["id"]
        client_data = g.client_data("webauthn.create", challenge, origin=self.origin)
        attested = g.attested_data(self.id, self.cose(), bytes(16))
        auth_data = g.auth_data(g.UP | g.UV | g.AT, 0, rp_id=rp_id, attested=attested)
        attestation = g.cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return self._json({"clientDataJSON": g.b64u(client_data), "attestationObject": g.b64u(attestation)})

    def get(self, options: dict) -> dict:
        """`navigator.credentials.get()` for the service's request options."""
        self.count += 1
        challenge = b64d(options["challenge"])
        client_data = g.client_data("webauthn.get", challenge, origin=self.origin)
        auth_data = g.auth_data(g.UP | g.UV, self.count, rp_id=options["rpId"])
        signature = self.private.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return self._json({"clientDataJSON": g.b64u(client_data), "authenticatorData": g.b64u(auth_data),
                           "signature": g.b64u(signature)})


def enrol(connection, key: str, holder: str, credential: Credential) -> dict:
    """Options, then the registration; the service's answer."""
    options = post(connection, "/v1/registrations/options", key, {"holder": {"id": holder, "name": holder}})
    return post(connection, "/v1/registrations", key,
                {"ceremonyId": options["ceremonyId"], "response": credential.create(options["publicKey"])})


def sign_in_body(connection, key: str, holder: str, credential: Credential) -> dict:
    """A sign-in ceremony opened and answered, not yet sent: `{ceremonyId, response}`."""
    options = post(connection, "/v1/assertions/options", key, {"holder": holder})
    return {"ceremonyId": options["ceremonyId"], "response": credential.get(options["publicKey"])}
