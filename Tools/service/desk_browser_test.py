#!/usr/bin/env python3
"""The enrolment desk through a real browser: headless Chromium driven by selenium
(chromedriver from Debian) with DevTools virtual authenticators, against `mie-verifier serve`.

Run 1 (DEMO service, which enrols keys PSC does not accept and says so): the desk's first
operator redeems the one-time code the service printed by registering their own key, signs out,
signs in again with it; then, with the holder's authenticator, enrols a professional (typed RPPS),
reads the verdict criterion by criterion and the plain reason, opens and prints the receipt; the
professional signs in through /v1/assertions (the service's try page with an API key); the
operator lists the professional's keys and revokes the key. The database and the audit chain are
checked afterwards.

Run 2 (strict service): the same unreferenced key is not stored and the page says why.

Screenshots and the receipt's PDF go to --artifacts. Exit 0 when every check passed.
"""
import argparse
import base64
import sqlite3
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

ROOT = harness.ROOT
RPPS = "10001234565"


def browser(language: str):
    from selenium import webdriver
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,1500", f"--lang={language}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))
    driver.execute_cdp_cmd("WebAuthn.enable", {"enableUI": False})
    return driver


def add_authenticator(driver) -> str:
    return driver.execute_cdp_cmd("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})["authenticatorId"]


class Desk:
    def __init__(self, driver, port: int, checks: harness.Checks):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        self.By, self.Wait = By, WebDriverWait
        self.driver, self.port, self.checks = driver, port, checks

    def find(self, element_id: str):
        return self.driver.find_element(self.By.ID, element_id)

    def wait(self, condition, what: str, seconds: float = 20) -> bool:
        from selenium.common.exceptions import StaleElementReferenceException

        def holds(_):
            try:
                return condition()
            except StaleElementReferenceException:  # the page replaced the element: look again
                return False
        try:
            self.Wait(self.driver, seconds).until(holds)
            return True
        except Exception:
            self.checks.expect(False, f"{what} (status: {self.find('status').text!r})")
            return False

    def type(self, element_id: str, text: str) -> None:
        field = self.find(element_id)
        field.clear()
        field.send_keys(text)

    def open(self, query: str = "") -> None:
        self.driver.get(f"http://localhost:{self.port}/enrol{query}")
        self.wait(lambda: self.find("signin").is_displayed() or self.find("desk").is_displayed(), "the desk page loads")

    def bootstrap(self, code: str) -> None:
        self.type("code", code)
        self.find("bootstrap-button").click()
        self.wait(lambda: self.find("desk").is_displayed(), "the operator's key is registered and the desk opens")

    def enrol(self, given: str, surname: str, rpps: str) -> None:
        self.type("given", given)
        self.type("surname", surname)
        self.type("rpps", rpps)
        self.find("enrol-button").click()
        self.wait(lambda: self.find("result").is_displayed(), "the enrolment's result is shown")


def run_demo(args, checks: harness.Checks, artifacts: Path) -> None:
    service = harness.Service("--demo", binary=args.binary)
    driver = None
    try:
        service.ready()
        code = service.demo_operator_code()
        api_key = service.demo_key()
        driver = browser("fr-FR")
        desk = Desk(driver, service.port, checks)
        operator_authenticator = add_authenticator(driver)

        desk.open()
        checks.expect(driver.find_element(desk.By.TAG_NAME, "html").get_attribute("lang") == "fr"
                      and "Guichet d'enrôlement" in driver.title, "French from Accept-Language")
        unlabelled = driver.execute_script("""
            return [...document.querySelectorAll('input')].filter(i => i.labels.length === 0).map(i => i.id)
                .concat([...document.querySelectorAll('button')].filter(b => !b.textContent.trim()).map(b => b.id));""")
        checks.expect(unlabelled == [], f"every field has a label and every button a name: {unlabelled}")
        driver.find_element(desk.By.LINK_TEXT, "English").click()
        desk.wait(lambda: "Enrolment desk" in driver.title, "the language switch gives English")
        # Keyboard only: the code field, then Enter submits the bootstrap form.
        from selenium.webdriver.common.keys import Keys
        desk.find("code").send_keys(code + Keys.ENTER)
        desk.wait(lambda: desk.find("desk").is_displayed(), "the operator's key is registered from the keyboard and the desk opens")
        checks.expect(driver.switch_to.active_element.get_attribute("id") == "given", "focus moves to the enrolment form")
        checks.expect(desk.find("who").text == "demo-operator", "signed in as the bootstrapped operator")
        desk.find("signout").click()
        desk.wait(lambda: desk.find("signin").is_displayed(), "signing out shows the sign-in form")
        desk.type("operator", "demo-operator")
        desk.find("signin-button").click()
        desk.wait(lambda: desk.find("desk").is_displayed(), "the operator signs in again with their key")
        desk.open()
        checks.expect(desk.find("desk").is_displayed(), "the session survives a reload (cookie)")

        # The holder's key: the operator's authenticator leaves, the holder's arrives.
        driver.execute_cdp_cmd("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": operator_authenticator})
        holder_authenticator = add_authenticator(driver)
        desk.enrol("Claire", "Martin", RPPS)
        text = desk.find("result").text
        driver.save_screenshot(str(artifacts / "desk-enrolment.png"))
        checks.expect("Key registered for Claire MARTIN" in text, f"the key is registered for the holder: {text[:120]!r}")
        checks.expect(desk.find("verdict").text.endswith("refused"), "the verdict is shown: refused (unreferenced key)")
        checks.expect("This key is not on the ANS referencing list." in text, "the plain reason says why")
        rows = driver.find_elements(desk.By.CSS_SELECTOR, "#criteria tr[data-status]")
        checks.expect(len(rows) == 13, f"every criterion is listed ({len(rows)})")
        checks.expect(any("FI 25" in row.text and row.get_attribute("data-status") == "satisfied" for row in rows),
                      "FI 25 satisfied: the key is bound to the typed RPPS")

        desk.find("receipt-link").click()
        desk.wait(lambda: driver.find_elements(desk.By.ID, "receipt"), "the receipt opens")
        receipt = driver.find_element(desk.By.ID, "receipt").text
        driver.save_screenshot(str(artifacts / "desk-receipt.png"))
        pdf = driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": False})["data"]
        (artifacts / "desk-receipt.pdf").write_bytes(base64.b64decode(pdf))
        for field in ("Claire MARTIN", RPPS, "demo-operator", "refused", "psc-2026"):
            checks.expect(field in receipt, f"the receipt shows {field}")
        checks.expect(driver.find_element(desk.By.ID, "print").is_displayed(), "the receipt has its print button (hidden in print)")

        # The professional signs in through the API (the service's try page, an API key).
        driver.get(f"http://localhost:{service.port}/")
        desk.type("key", api_key)
        desk.type("holder", "8" + RPPS)
        driver.find_element(desk.By.ID, "signin").click()
        desk.wait(lambda: desk.find("status").text.startswith("Signed in as"), "the professional signs in through /v1/assertions")

        desk.open()
        desk.type("holder-rpps", RPPS)
        desk.find("holder-button").click()
        desk.wait(lambda: driver.find_elements(desk.By.CSS_SELECTOR, "#keys tr[data-credential]"), "the professional's keys are listed")
        row = driver.find_element(desk.By.CSS_SELECTOR, "#keys tr[data-credential]")
        checks.expect("never" not in row.text, f"the last use is shown: {row.text!r}")
        row.find_element(desk.By.TAG_NAME, "button").click()
        driver.switch_to.alert.accept()
        desk.wait(lambda: "revoked" in driver.find_element(desk.By.CSS_SELECTOR, "#keys tr[data-credential]").text, "the key is revoked")
        driver.save_screenshot(str(artifacts / "desk-revoked.png"))
        credentials = driver.execute_cdp_cmd("WebAuthn.getCredentials", {"authenticatorId": holder_authenticator})["credentials"]
        checks.expect(len(credentials) == 1, "the holder's authenticator holds the enrolled credential")
    finally:
        if driver:
            driver.quit()
        code_ = service.stop()
    checks.expect(code_ == 0, "the service stops cleanly")
    database = sqlite3.connect(service.database)
    rows = database.execute("SELECT identity_evidence, enrolled_by, deleted_at, last_used_at, holder_id FROM credentials").fetchall()
    checks.expect(len(rows) == 1 and rows[0][0] == "asserted-by-operator" and rows[0][1] == "demo-operator",
                  f"stored with the operator and the evidence: {rows}")
    checks.expect(rows and rows[0][2] is not None and rows[0][3] is not None and rows[0][4] == "8" + RPPS,
                  "used once, then revoked, on the holder's national id")
    events = [row[0] for row in database.execute("SELECT event FROM audit_events ORDER BY seq")]
    for action in ("operator.key", "operator.sign-in", "registration", "assertion", "deletion"):
        checks.expect(any(f'"action":"{action}"' in event for event in events), f"the audit trail has {action}")
    audit = subprocess.run([args.binary, "audit", "verify", "--database", str(service.database)], capture_output=True, text=True)
    checks.expect(audit.returncode == 0, f"the audit chain is intact: {audit.stdout.strip()}")


def run_strict(args, checks: harness.Checks, artifacts: Path) -> None:
    work = Path(harness.tempfile.mkdtemp(prefix="mie-desk-"))
    database = work / "mie.sqlite"
    code = subprocess.run([args.binary, "operators", "add", "desk-1", "--database", str(database)],
                          check=True, capture_output=True, text=True).stdout.strip()
    service = harness.Service("--database", str(database), "--demo-lists", "TestVectors/referencing", binary=args.binary, work=work)
    driver = None
    try:
        service.ready()
        driver = browser("en-GB")
        desk = Desk(driver, service.port, checks)
        operator = add_authenticator(driver)
        desk.open()
        desk.bootstrap(code)
        driver.execute_cdp_cmd("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": operator})
        add_authenticator(driver)
        desk.enrol("Paul", "Durand", "10003456786")
        text = desk.find("result").text
        driver.save_screenshot(str(artifacts / "desk-not-stored.png"))
        checks.expect("Key NOT registered" in text, f"a strict service does not store the unreferenced key: {text[:80]!r}")
        checks.expect("This key is not on the ANS referencing list." in text, "and the page says why")
        checks.expect(not driver.find_elements(desk.By.ID, "receipt-link"), "no receipt for a key not stored")
    finally:
        if driver:
            driver.quit()
        service.stop()
    count = sqlite3.connect(database).execute("SELECT count(*) FROM credentials").fetchone()[0]
    checks.expect(count == 0, "nothing stored")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=harness.BINARY)
    parser.add_argument("--artifacts", default=str(ROOT / ".build/browser-test"))
    args = parser.parse_args()
    artifacts = Path(args.artifacts)
    artifacts.mkdir(parents=True, exist_ok=True)
    checks = harness.Checks("desk browser test")
    run_demo(args, checks, artifacts)
    run_strict(args, checks, artifacts)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
