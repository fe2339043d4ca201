#!/usr/bin/env python3
"""The OpenID Provider through a real browser and a strict OpenID Connect relying party.

Headless Chromium (selenium, DevTools virtual authenticator) runs the whole authorization code
flow against `mie-verifier serve`; Authlib (from PyPI) is the relying party: it reads the
discovery document, builds the request with PKCE S256 and a nonce, redeems the code with
client_secret_basic, and validates the id_token strictly (signature against the JWKS, iss, aud,
exp, iat, nonce, at_hash, auth_time for max_age). The callback is a local HTTP server.

The professional's key is a software P-256 key: registered over the API with `packed`
attestation by the DEMO model's attestation key (TestVectors/referencing), then put in the
browser's virtual authenticator (WebAuthn.addCredential), so the browser signs with a key PSC
accepts. The service runs a profile that takes the API client's word for the holder's identity
(the bundled profile refuses it, FI 25): written here, named RELAXED in its file name.

Then a key PSC does not accept (`none` attestation, an unknown model; DEMO enrols it, marked)
signs in through the same page: the page says why, and the relying party receives
`access_denied` with a description, never a code.

Exit 0 when every check passed.
"""
import argparse
import base64
import hashlib
import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vectorgen"))
import harness  # noqa: E402
import generate as g  # noqa: E402
import softclient  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

ROOT = harness.ROOT
DEMO_AAGUID = b"MIE-Verifier-Tes"


class PackedCredential(softclient.Credential):
    """A software key whose registration is attested (`packed`, x5c) by the DEMO model's key."""

    def __init__(self, origin: str):
        super().__init__(origin)
        pem = (ROOT / "TestVectors/referencing/demo-authenticator-attestation.pem").read_bytes()
        self.attestation_key = serialization.load_pem_private_key(pem, password=None)
        self.chain = [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(pem)]

    def create(self, options: dict) -> dict:
        challenge = softclient.b64d(options["challenge"])
        client_data = g.client_data("webauthn.create", challenge, origin=self.origin)
        attested = g.attested_data(self.id, self.cose(), DEMO_AAGUID)
        auth_data = g.auth_data(g.UP | g.UV | g.AT, 0, rp_id=options["rp"]["id"], attested=attested)
        signature = self.attestation_key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        statement = {"alg": -7, "sig": signature, "x5c": self.chain}
        attestation = g.cbor({"fmt": "packed", "attStmt": statement, "authData": auth_data})
        return self._json({"clientDataJSON": g.b64u(client_data), "attestationObject": g.b64u(attestation)})


class Callback(http.server.BaseHTTPRequestHandler):
    """The relying party's redirect URI: keeps the URL it was called with."""
    received = []

    def do_GET(self):  # noqa: N802
        # The browser asks for /favicon.ico too, whenever it likes: only the callback counts.
        if self.path.startswith("/callback"):
            Callback.received.append(self.path)
        body = b"<!doctype html><title>callback</title><p id=done>back at the relying party</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def relaxed_profile(work: Path) -> Path:
    bundled = (ROOT / "Sources/PSCPolicy/Profiles/psc-2026.json").read_text()
    strict = '"acceptedEvidence": ["proven-by-card", "asserted-by-operator"], "refusedEvidence": ["asserted-by-client"]'
    if strict not in bundled:
        raise SystemExit("the bundled profile's FI 25 check changed: update this test")
    relaxed = bundled.replace(strict, '"acceptedEvidence": ["proven-by-card", "asserted-by-operator", "asserted-by-client"], "refusedEvidence": []')
    path = work / "psc-2026-RELAXED-client-identity.json"
    path.write_text(relaxed)
    return path


def browser():
    from selenium import webdriver
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,1200", "--lang=fr"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))
    driver.execute_cdp_cmd("WebAuthn.enable", {"enableUI": False})
    authenticator = driver.execute_cdp_cmd("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})["authenticatorId"]
    return driver, authenticator


def give_key(driver, authenticator: str, credential: softclient.Credential, rp_id: str) -> None:
    private = credential.private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    driver.execute_cdp_cmd("WebAuthn.addCredential", {"authenticatorId": authenticator, "credential": {
        "credentialId": base64.b64encode(credential.id).decode(), "isResidentCredential": False, "rpId": rp_id,
        "privateKey": base64.b64encode(private).decode(), "signCount": 1}})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=harness.BINARY)
    parser.add_argument("--artifacts", default=None)
    args = parser.parse_args()
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.jose import JsonWebKey, JsonWebToken
    from authlib.oidc.core import CodeIDToken
    import requests
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    checks = harness.Checks("oidc browser")
    work = Path(os.environ.get("MIE_OIDC_WORK") or __import__("tempfile").mkdtemp(prefix="mie-oidc-"))
    artifacts = Path(args.artifacts) if args.artifacts else work
    artifacts.mkdir(parents=True, exist_ok=True)
    port = harness.free_port()
    origin = f"http://localhost:{port}"
    config = work / "service.json"
    config.write_text(json.dumps({"relyingParty": {"id": "localhost", "origins": [origin]}, "profile": str(relaxed_profile(work)),
                                  "database": str(work / "mie.sqlite")}))
    service = harness.Service("--demo", "--config", str(config), binary=args.binary, port=port, work=work).ready()
    callback_port = harness.free_port()
    server = http.server.HTTPServer(("127.0.0.1", callback_port), Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    redirect_uri = f"http://localhost:{callback_port}/callback"
    driver = None
    try:
        key = service.demo_key()
        added = subprocess.run([args.binary, "oidc", "clients", "add", "Keycloak de test", "--redirect-uri", redirect_uri,
                                "--database", str(work / "mie.sqlite")], cwd=ROOT, capture_output=True, text=True, check=True)
        registered = dict(line.split("\t", 1) for line in added.stdout.strip().splitlines())
        client_id, client_secret = registered["client_id"], registered["client_secret"]
        checks.expect(client_id.startswith("mie-") and client_secret.startswith("mie_cs_"), "oidc clients add prints a client id and a secret")

        api = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        accepted = PackedCredential(origin)
        enrolled = softclient.enrol(api, key, "holder-accepted", accepted)
        checks.expect(enrolled.get("verdict") == "accepted", f"the packed DEMO key is enrolled as PSC-accepted ({enrolled.get('verdict')})")
        refused = softclient.Credential(origin)
        enrolled = softclient.enrol(api, key, "holder-refused", refused)
        checks.expect(enrolled.get("registered") is True and enrolled.get("verdict") != "accepted",
                      f"an unreferenced key is enrolled, marked ({enrolled.get('verdict')})")

        discovery = requests.get(f"{origin}/.well-known/openid-configuration", timeout=10).json()
        checks.expect(discovery["issuer"] == origin, "discovery names the issuer")
        jwks = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=10).json())

        driver, authenticator = browser()
        give_key(driver, authenticator, accepted, "localhost")
        give_key(driver, authenticator, refused, "localhost")

        def sign_in(holder: str, shot: str):
            Callback.received.clear()
            session = OAuth2Session(client_id, client_secret, scope="openid", redirect_uri=redirect_uri,
                                    code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
            verifier = base64.urlsafe_b64encode(os.urandom(40)).rstrip(b"=").decode()
            nonce = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
            url, state = session.create_authorization_url(discovery["authorization_endpoint"], nonce=nonce, code_verifier=verifier,
                                                          login_hint=holder, max_age=300, acr_values="eidas1")
            driver.get(url)
            wait = WebDriverWait(driver, 20)
            wait.until(lambda d: d.find_element(By.ID, "signin-button").is_displayed())
            checks.expect(driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr", "the page follows the browser's language (French)")
            checks.expect(driver.switch_to.active_element.get_attribute("id") == "signin-button", "the sign-in button has the keyboard focus")
            driver.switch_to.active_element.send_keys("\n")
            return session, verifier, nonce, state, wait

        # 1. The accepted key: the whole code flow, the id_token validated by Authlib.
        session, verifier, nonce, state, wait = sign_in("holder-accepted", "accepted")
        wait.until(lambda d: Callback.received)
        driver.save_screenshot(str(artifacts / "oidc-callback.png"))
        callback = f"http://localhost:{callback_port}{Callback.received[0]}"
        returned = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
        checks.expect(returned.get("state") == state, "the authorization response carries the state")
        checks.expect(returned.get("iss") == discovery["issuer"], "the authorization response carries iss (RFC 9207)")
        token = session.fetch_token(discovery["token_endpoint"], authorization_response=callback, code_verifier=verifier)
        claims = JsonWebToken(["RS256", "ES256"]).decode(
            token["id_token"], jwks, claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "value": discovery["issuer"]}, "auth_time": {"essential": True}},
            claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"], "max_age": 300})
        try:
            claims.validate(leeway=5)
            checks.expect(True, "Authlib validates the id_token (signature, iss, aud, exp, iat, nonce, at_hash, auth_time)")
        except Exception as error:  # noqa: BLE001
            checks.expect(False, f"Authlib validates the id_token: {error}")
        checks.expect(claims["sub"] == "holder-accepted", "sub is the holder")
        checks.expect("hwk" in claims["amr"] and "mfa" in claims["amr"], f"amr from the engine ({claims['amr']})")
        checks.expect(claims.get("acr") == "eidas1", f"acr from the profile ({claims.get('acr')})")
        checks.expect(claims.get("urn:mie-verifier:authenticator", {}).get("verdict") == "accepted", "the model's verdict is a claim")
        info = requests.get(discovery["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10)
        checks.expect(info.status_code == 200 and info.json().get("sub") == "holder-accepted", "userinfo answers for the access token")
        replay = requests.post(discovery["token_endpoint"], auth=(client_id, client_secret), timeout=10, data={
            "grant_type": "authorization_code", "code": returned["code"], "redirect_uri": redirect_uri, "code_verifier": verifier})
        checks.expect(replay.status_code == 400 and replay.json().get("error") == "invalid_grant", "the code is refused the second time")

        # 2. A key PSC does not accept: the page says why, the relying party gets access_denied.
        session, verifier, nonce, state, wait = sign_in("holder-refused", "refused")
        wait.until(lambda d: d.find_element(By.ID, "refused").is_displayed())
        refusal = driver.find_element(By.ID, "refusal").text
        driver.save_screenshot(str(artifacts / "oidc-refused.png"))
        checks.expect("Pro Santé Connect" in refusal, f"the page says why the key is refused ({refusal!r})")
        checks.expect(not Callback.received, "nothing reaches the relying party before the professional goes back")
        driver.find_element(By.ID, "back").click()
        wait.until(lambda d: Callback.received)
        returned = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(Callback.received[0]).query))
        checks.expect(returned.get("error") == "access_denied" and "code" not in returned, "the relying party receives access_denied, no code")
        checks.expect(bool(returned.get("error_description")), "with a description")
        checks.expect(returned.get("state") == state, "and its state")

        # 3. A request with an unregistered redirect URI: an error page, no redirect.
        Callback.received.clear()
        driver.get(discovery["authorization_endpoint"] + "?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri + "/elsewhere", "scope": "openid"}))
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "error").is_displayed())
        checks.expect(driver.current_url.startswith(origin) and not Callback.received, "a wrong redirect URI stays on the error page")

        # 4. ui_locales=en: the page in English.
        driver.get(discovery["authorization_endpoint"] + "?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "openid", "ui_locales": "en",
            "code_challenge": base64.urlsafe_b64encode(hashlib.sha256(b"x" * 43).digest()).rstrip(b"=").decode(), "code_challenge_method": "S256"}))
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "signin-button").is_displayed())
        checks.expect(driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
                      and "security key" in driver.find_element(By.ID, "signin-button").text, "ui_locales=en gives the page in English")

        audit = subprocess.run([args.binary, "audit", "export", "--database", str(work / "mie.sqlite")], cwd=ROOT, capture_output=True, text=True)
        events = [json.loads(line)["event"] for line in audit.stdout.splitlines() if line.strip()]
        actions = [f"{event['action']}:{event['result']}" for event in events]
        checks.expect("oidc.authorize:code-issued" in actions and "oidc.token:issued" in actions and "oidc.authorize:access_denied" in actions,
                      "each authorization and token is an audit event")
    finally:
        if driver is not None:
            driver.quit()
        server.shutdown()
        status = service.stop()
        checks.expect(status == 0, f"the service stops cleanly ({status})")
    return checks.finish(service.log_path)


if __name__ == "__main__":
    sys.exit(main())
