#!/usr/bin/env python3
"""Mutual TLS end to end: a throwaway PKI (a server certificate for localhost, a client CA with
two client certificates, and a foreign CA with one), `mie-verifier serve` configured with
`tls: {certificate, privateKey, clientCAs}`, and real TLS connections from Python's ssl module:

  - without a client certificate: the handshake is refused;
  - with a certificate from a CA the service does not trust: the handshake is refused;
  - with a trusted CA's certificate that is not on the allow-list: 401;
  - with the allow-listed certificate: admitted as its client, with no API key;
  - that certificate with another client's API key: 401;
  - TLS below 1.2: refused.

Exit 0 when every check passed; 1 otherwise.
"""
import argparse
import warnings
import datetime
import http.client
import json
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
warnings.filterwarnings("ignore", category=DeprecationWarning)  # TLS 1.1 is named on purpose


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MIE Verifier mTLS test"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue(subject: str, key, issuer_name, issuer_key, ca: bool, usage=None, san=None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def write(path: Path, *items) -> Path:
    data = b""
    for item in items:
        if isinstance(item, x509.Certificate):
            data += item.public_bytes(serialization.Encoding.PEM)
        else:
            data += item.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(data)
    return path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(ROOT / ".build/debug/mie-verifier"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mie-mtls-"))

    server_ca_key, client_ca_key, foreign_ca_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    server_ca = issue("Server CA", server_ca_key, name("Server CA"), server_ca_key, True)
    client_ca = issue("Client CA", client_ca_key, name("Client CA"), client_ca_key, True)
    foreign_ca = issue("Foreign CA", foreign_ca_key, name("Foreign CA"), foreign_ca_key, True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = issue("localhost", server_key, server_ca.subject, server_ca_key, False, ExtendedKeyUsageOID.SERVER_AUTH,
                   [x509.DNSName("localhost"), x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))])
    clients = {}
    for label, ca, ca_key in (("allowed", client_ca, client_ca_key), ("unlisted", client_ca, client_ca_key),
                              ("foreign", foreign_ca, foreign_ca_key)):
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = issue(f"iam-{label}", key, ca.subject, ca_key, False, ExtendedKeyUsageOID.CLIENT_AUTH)
        clients[label] = (write(work / f"{label}.pem", certificate), write(work / f"{label}.key", key))

    database = work / "mie.sqlite"
    subprocess.run([args.binary, "clients", "add", "iam", "--role", "verifier", "--certificate", str(clients["allowed"][0]),
                    "--database", str(database)], check=True, capture_output=True, cwd=ROOT)
    other_key = subprocess.run([args.binary, "clients", "add", "other", "--role", "verifier", "--database", str(database)],
                               check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip()
    port = harness.free_port()
    config = work / "service.json"
    config.write_text(json.dumps({"port": port, "database": str(database), "tls": {
        "certificate": str(write(work / "server.pem", server, server_ca)), "privateKey": str(write(work / "server.key", server_key)),
        "clientCAs": [str(write(work / "client-ca.pem", client_ca))]}}))
    service = harness.Service("--config", str(config), "--demo-lists", "TestVectors/referencing", binary=args.binary, port=port, work=work)
    server_ca_file = write(work / "server-ca.pem", server_ca)
    checks = harness.Checks("mtls test")
    expect = checks.expect

    def call(client: str = None, key: str = None, maximum=None):
        context = ssl.create_default_context(cafile=str(server_ca_file))
        if client:
            context.load_cert_chain(*map(str, clients[client]))
        if maximum:
            context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            context.maximum_version = maximum
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=5)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        connection.request("GET", "/v1/referencing", headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    def refused(**kwargs) -> bool:
        try:
            call(**kwargs)
            return False
        except (ssl.SSLError, ConnectionError, OSError):
            return True

    try:
        service.ready(tls_probe=lambda: call("allowed")[0] == 200)
        expect(refused(), "no client certificate: the handshake is refused")
        expect(refused(client="foreign"), "a certificate from an untrusted CA: the handshake is refused")
        status, body = call("unlisted")
        expect(status == 401 and body.get("code") == "auth.invalid", f"a trusted CA's certificate not on the allow-list: 401 ({status} {body.get('code')})")
        status, body = call("allowed")
        expect(status == 200 and "lists" in body, f"the allow-listed certificate is admitted without an API key ({status})")
        status, body = call("allowed", key=other_key)
        expect(status == 401, f"that certificate with another client's API key: 401 ({status})")
        expect(refused(client="allowed", maximum=ssl.TLSVersion.TLSv1_1), "TLS 1.1: refused")
    finally:
        code = service.stop()
    expect(code == 0, "the service stops cleanly")
    return checks.finish(service.log_path)


if __name__ == "__main__":
    sys.exit(main())
