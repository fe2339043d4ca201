#!/usr/bin/env python3
"""End to end through a real browser: starts `mie-verifier serve` on a fresh database with the
DEMO lists, then headless Chromium (selenium + chromedriver, Debian's chromium-driver) with a
DevTools virtual authenticator (ctap2, usb, resident key, user verification) opens the service's
own page at http://localhost:PORT/, registers a key for a holder and signs in with it through the
stateful endpoints. Checks what the page shows and what the database then holds (credential,
counter, audit chain), and that the service stops cleanly on SIGTERM.

Exit 0 when every check passed; 1 otherwise. Nothing is skipped: a missing browser, driver or
binary is a failure.
"""
import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited early with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the service did not become ready")


class Checks:
    def __init__(self):
        self.failures = []

    def expect(self, condition: bool, what: str) -> None:
        print(("ok   " if condition else "FAIL ") + what)
        if not condition:
            self.failures.append(what)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(ROOT / ".build/debug/mie-verifier"))
    parser.add_argument("--artifacts", default=str(ROOT / ".build/browser-test"))
    args = parser.parse_args()

    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    artifacts = Path(args.artifacts)
    artifacts.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mie-browser-"))
    database = workdir / "mie.sqlite"
    port = free_port()
    key = subprocess.run(
        [args.binary, "clients", "add", "desk", "--role", "enrolment", "--database", str(database)],
        check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[-1].split()[-1]
    log = open(workdir / "service.log", "w")
    service = subprocess.Popen(
        [args.binary, "serve", "--demo", "--database", str(database), "--port", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    checks = Checks()
    driver = None
    try:
        wait_ready(port, service)
        options = webdriver.ChromeOptions()
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,1400"):
            options.add_argument(flag)
        options.binary_location = "/usr/bin/chromium"
        driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))
        driver.execute_cdp_cmd("WebAuthn.enable", {"enableUI": False})
        authenticator = driver.execute_cdp_cmd("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "usb", "hasResidentKey": True, "hasUserVerification": True,
            "isUserVerified": True, "automaticPresenceSimulation": True}})["authenticatorId"]

        driver.get(f"http://localhost:{port}/")
        checks.expect("MIE Verifier" in driver.title, "the page is served at /")
        driver.find_element(By.ID, "key").send_keys(key)
        holder = driver.find_element(By.ID, "holder")
        holder.clear()
        holder.send_keys("browser-holder")
        driver.find_element(By.ID, "rpps").send_keys("10001234565")
        driver.find_element(By.ID, "register").click()
        status = lambda: driver.find_element(By.ID, "status").text
        WebDriverWait(driver, 20).until(lambda d: status() != "Nothing yet.")
        registered = status()
        driver.save_screenshot(str(artifacts / "registration.png"))
        result = json.loads(driver.find_element(By.ID, "result").text or "{}")
        checks.expect(registered.startswith("Key registered"), f"registration shown on the page: {registered!r}")
        # Chromium's virtual authenticator is not on the demo lists: PSC refuses it, the DEMO
        # service enrols it anyway and says so.
        checks.expect(result.get("verdict") == "refused", "the PSC verdict of an unreferenced key is refused")
        checks.expect(result.get("verification", {}).get("verified") is True, "the registration itself verified")
        credentials = driver.execute_cdp_cmd("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
        checks.expect(len(credentials) == 1, "the virtual authenticator holds one credential")

        driver.find_element(By.ID, "signin").click()
        WebDriverWait(driver, 20).until(lambda d: status() != registered)
        signed = status()
        driver.save_screenshot(str(artifacts / "sign-in.png"))
        result = json.loads(driver.find_element(By.ID, "result").text or "{}")
        checks.expect(signed.startswith("Signed in as Dr Demo"), f"sign-in shown on the page: {signed!r}")
        checks.expect(result.get("pscAcceptable") is False and result.get("amr") == [], "no AMR for a key PSC does not accept")
        checks.expect(result.get("signCount", 0) >= 1, "the counter moved")

        # A replayed sign-in response is refused: replay the last ceremony through fetch.
        replay = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const key = document.getElementById('key').value;
            const call = (path, body) => fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json',
                'Authorization': 'Bearer ' + key}, body: JSON.stringify(body)}).then(r => r.json().then(j => [r.status, j]));
            (async () => {
              const [, options] = await call('/v1/assertions/options', {holder: 'browser-holder'});
              const credential = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey)});
              const body = {ceremonyId: options.ceremonyId, response: credential.toJSON()};
              const first = await call('/v1/assertions', body);
              const second = await call('/v1/assertions', body);
              done([first, second]);
            })().catch(e => done(String(e)));
        """)
        checks.expect(isinstance(replay, list) and replay[0][1].get("verified") is True, f"a fresh sign-in verifies: {replay}")
        checks.expect(isinstance(replay, list) and replay[1][0] == 409 and replay[1][1].get("code") == "ceremony.replayed",
                      "the same ceremony answered twice is refused as a replay")
        bad_key = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/v1/assertions/options', {method: 'POST', headers: {'Content-Type': 'application/json',
                'Authorization': 'Bearer mie_wrong'}, body: '{}'}).then(r => done(r.status));
        """)
        checks.expect(bad_key == 401, "a wrong key is refused with 401")
    finally:
        if driver is not None:
            driver.quit()
        service.send_signal(signal.SIGTERM)
        try:
            code = service.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.kill()
            code = "killed"
        log.close()
    checks.expect(code == 0, f"the service stopped cleanly on SIGTERM (status {code})")

    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT holder_id, verdict, sign_count FROM credentials").fetchall()
        checks.expect(len(rows) == 1 and rows[0][0] == "browser-holder" and rows[0][1] == "refused" and rows[0][2] >= 2,
                      f"the database holds the credential with its verdict and counter: {rows}")
    audit = subprocess.run([args.binary, "audit", "verify", "--database", str(database)], capture_output=True, text=True, cwd=ROOT)
    checks.expect(audit.returncode == 0, f"the audit chain verifies: {audit.stdout.strip()} {audit.stderr.strip()}")
    if checks.failures:
        print((workdir / "service.log").read_text()[-4000:], file=sys.stderr)
        print(f"browser test: {len(checks.failures)} failed", file=sys.stderr)
        return 1
    print(f"browser test: all passed (screenshots in {artifacts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
