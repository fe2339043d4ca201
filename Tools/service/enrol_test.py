#!/usr/bin/env python3
"""Card-bound enrolment end to end: `mie-probe enrol` against a running `mie-verifier serve`, with
the virtual CPS card and the virtual FIDO2 NFC authenticator on the real pcscd (run under
Tools/virtualcard/with-virtual-cards.sh, which exports MIE_VIRTUAL_CARD_READER and
MIE_VIRTUAL_FIDO_READER).

- success: the card proves the holder, the key is registered for the card's national id with the
  evidence `proven-by-card`, and the audit trail shows the card's proof and the binding;
- wrong PIN: the tries left are shown, and the last try is never spent without --force;
- a card whose issuer is not among the service's anchors (the real IGC-Santé test CAs from
  ../shared/pki, which did not issue the virtual card) is refused with its reason;
- an API key without the enrolment role is refused.

Exit 0 when every check passed; 1 otherwise (a missing reader is a failure, not a skip).
"""
import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

ROOT = harness.ROOT
PROBE = str(ROOT / ".build/debug/mie-probe")
NATIONAL_ID = "810003456786"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"), help="the shared folder (IGC-Santé test CAs)")
    args = parser.parse_args()
    checks = harness.Checks("card-bound enrolment test")
    card_reader = os.environ.get("MIE_VIRTUAL_CARD_READER")
    fido_reader = os.environ.get("MIE_VIRTUAL_FIDO_READER")
    if not card_reader or not fido_reader:
        print("no virtual card readers: run under Tools/virtualcard/with-virtual-cards.sh", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="mie-enrol-"))

    def enrol(service, key_file, pin, *extra):
        command = [PROBE, "enrol", "--server", f"http://127.0.0.1:{service.port}", "--api-key-file", str(key_file),
                   "--reader", card_reader, "--fido-reader", fido_reader, "--pin-for-testing", pin, "--json", *extra]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        return result.returncode, result.stdout, result.stderr.strip()

    def tries_left():
        result = subprocess.run([PROBE, "card", "--reader", card_reader, "--json"], capture_output=True, text=True, timeout=30)
        try:
            return json.loads(result.stdout).get("pinTriesLeft")
        except json.JSONDecodeError:
            return None

    service = harness.Service("--demo")
    try:
        service.ready()
        key_file = work / "desk.key"
        key_file.write_text(service.demo_key() + "\n")
        status, out, err = enrol(service, key_file, "1234")
        answer = json.loads(out) if out.strip() else {}
        checks.expect(answer.get("registered") is True, f"the key is registered (exit {status}): {err[-300:]}")
        checks.expect(answer.get("holder", {}).get("id") == NATIONAL_ID, f"for the national id the card proves: {answer.get('holder')}")
        fi25 = [c for c in answer.get("criteria", []) if c.get("id") == "EXI EDC PSC FI 25"]
        checks.expect(bool(fi25) and fi25[0]["status"] == "satisfied", f"FI 25 satisfied by the card's proof: {fi25}")
        checks.expect(status == (0 if answer.get("verdict") == "accepted" else 1), f"the exit status follows the verdict ({answer.get('verdict')}, {status})")

        status, out, err = enrol(service, key_file, "0000")
        checks.expect(status == 1 and "wrong PIN, 2 tries left" in err, f"a wrong PIN says the tries left: {err!r}")
        status, out, err = enrol(service, key_file, "0000")
        checks.expect(status == 1 and "wrong PIN, 1 try left" in err, f"then one try left: {err!r}")
        status, out, err = enrol(service, key_file, "0000")
        checks.expect(status == 1 and "one PIN try left" in err and "--force" in err, f"the last try is not spent without --force: {err!r}")
        checks.expect(tries_left() == 1, "the card still has its last try")
        status, out, err = enrol(service, key_file, "1234", "--force")
        checks.expect(json.loads(out or "{}").get("registered") is True, f"with --force and the right PIN it enrols: {err[-200:]}")
        checks.expect(tries_left() == 3, "and the right PIN restores the tries")

        # A key that verifies its holder only by its own PIN (the candidate personality): the probe
        # gets a pinUvAuthToken (CTAP PIN/UV auth protocol) and the key sets UV.
        control = os.environ.get("MIE_VIRTUAL_FIDO_CONTROL")
        Path(control).write_text(json.dumps({"mode": "candidate"}))
        status, out, err = enrol(service, key_file, "1234", "--key-pin-for-testing", "000000")
        checks.expect(status == 1 and "wrong key PIN, 7 tries left" in err, f"a wrong key PIN says the tries left: {err!r}")
        status, out, err = enrol(service, key_file, "1234", "--key-pin-for-testing", "123456")
        answer = json.loads(out or "{}")
        fi20 = [c for c in answer.get("criteria", []) if c.get("id") == "EXI EDC PSC FI 20"]
        uv = [c["status"] for c in (fi20[0]["checks"] if fi20 else []) if c["check"] == "flags.user-verified"]
        checks.expect(answer.get("registered") is True and uv == ["satisfied"],
                      f"a PIN-only key is enrolled with its PIN, the UV flag set: {uv} {err[-200:]}")
        Path(control).write_text("{}")

        verifier = subprocess.run([str(ROOT / ".build/debug/mie-verifier"), "clients", "add", "iam", "--role", "verifier",
                                   "--database", str(service.database)], capture_output=True, text=True).stdout.strip()
        verifier_file = work / "verifier.key"
        verifier_file.write_text(verifier)
        status, out, err = enrol(service, verifier_file, "1234")
        checks.expect(status == 2 and "enrolment role" in err, f"a verifier key cannot enrol: {err!r}")
    finally:
        code = service.stop()
    checks.expect(code == 0, "the service stops cleanly")
    database = sqlite3.connect(service.database)
    rows = database.execute("SELECT holder_id, identity_evidence FROM credentials").fetchall()
    checks.expect(len(rows) == 3 and all(row == (NATIONAL_ID, "proven-by-card") for row in rows), f"stored as proven by card: {rows}")
    events = [json.loads(row[0]) for row in database.execute("SELECT event FROM audit_events ORDER BY seq")]
    proofs = [e for e in events if e["action"] == "enrolment.card" and e["holder"] == NATIONAL_ID and e["result"] == "accepted"]
    bindings = [e for e in events if e["action"] == "registration" and e["holder"] == NATIONAL_ID and e["detail"].startswith("identity proven-by-card")]
    checks.expect(len(proofs) == 4 and len(bindings) == 3, f"the audit trail shows each card proof and binding ({len(proofs)}, {len(bindings)})")

    anchors = Path(args.shared) / "pki/igc-sante/bundle-test-igc-sante-ca.pem"
    checks.expect(anchors.exists(), f"the IGC-Santé test CAs are at {anchors}")
    config = work / "foreign.json"
    config.write_text(json.dumps({"database": str(work / "foreign.sqlite"), "cardAnchors": str(anchors)}))
    foreign = harness.Service("--demo", "--config", str(config))
    try:
        foreign.ready()
        key_file = work / "foreign.key"
        key_file.write_text(foreign.demo_key())
        status, out, err = enrol(foreign, key_file, "1234")
        checks.expect(status == 1 and "card refused" in err and "card.chain" in err, f"a card from a foreign issuer is refused: {err!r}")
    finally:
        foreign.stop()
    count = sqlite3.connect(work / "foreign.sqlite").execute("SELECT count(*) FROM credentials").fetchone()[0]
    checks.expect(count == 0, "nothing enrolled with the foreign card")
    return checks.finish(service.log_path)


if __name__ == "__main__":
    sys.exit(main())
