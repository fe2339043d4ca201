#!/usr/bin/env python3
"""`mie-probe candidate` against the virtual candidate key (Tools/virtualcard/fido_card.py) on the
real pcscd: run under Tools/virtualcard/with-virtual-cards.sh, which exports the FIDO reader and
the control file that chooses the key's personality.

The honest key passes every check (JSON and the HTML report); each fault is started on purpose
and must be named by the battery; a wrong PIN stops it with the tries left; a key with few tries
left is not touched; no authenticator is exit 3. Exit 0 when every check passed."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tools" / "service"))
import harness  # noqa: E402

PROBE = str(ROOT / ".build/debug/mie-probe")
STATEMENT = str(ROOT / "TestVectors/candidate/statement.json")

FAULTS = {
    "aaguid-mismatch": {"info.aaguid", "registration.aaguid"},
    "counter-stuck": {"assertion.counter"},
    "counter-backwards": {"assertion.counter"},
    "uv-never": {"claims.uv", "registration.uv", "assertion.uv"},
    "foreign-root": {"registration.chain"},
    "algorithm": {"registration.algorithm", "info.algorithms-stated"},
}


def main() -> int:
    reader = os.environ.get("MIE_VIRTUAL_FIDO_READER")
    control = os.environ.get("MIE_VIRTUAL_FIDO_CONTROL")
    if not reader or not control:
        print("no virtual FIDO reader: run under Tools/virtualcard/with-virtual-cards.sh", file=sys.stderr)
        return 1
    checks = harness.Checks("candidate battery test")
    expect = checks.expect

    def device(**settings):
        Path(control).write_text(json.dumps({"mode": "candidate", **settings}))

    def battery(*extra, pin="123456"):
        result = subprocess.run([PROBE, "candidate", "--statement", STATEMENT, "--reader", reader, "--pin-for-testing", pin, *extra],
                                capture_output=True, text=True, timeout=120)
        return result.returncode, result.stdout, result.stderr.strip()

    device()
    status, out, err = battery()
    report = json.loads(out or "{}")
    failed = [c["id"] for c in report.get("checks", []) if c["status"] == "failed"]
    expect(status == 0 and report.get("passed") is True and not failed, f"the honest key passes every check ({status}, {failed}, {err[-200:]})")
    ids = {c["id"] for c in report.get("checks", [])}
    for required in ("pin.protocol-1", "pin.protocol-2", "registration.chain", "assertion.counter", "assertion.discoverable",
                     "extensions.credProtect", "extensions.hmac-secret", "info.upv", "claims.matcher-protection"):
        expect(required in ids, f"the battery ran {required}")
    expect(len(report.get("transcriptSHA256", "")) == 64, "the CTAP transcript's digest is reported")
    expect(report.get("psc", {}).get("criteria") is not None, "with the PSC evaluation of the registration")

    html = Path(tempfile.mkdtemp(prefix="mie-candidate-")) / "dossier.html"
    device()
    status, _, err = battery("--format", "html", "--output", str(html))
    text = html.read_text() if html.exists() else ""
    expect(status == 0 and "Candidate battery" in text and "registration.chain" in text and "EXI EDC PSC FI 22" in text,
           f"the HTML report has the criteria and the battery ({status} {err[-200:]})")

    for fault, named in FAULTS.items():
        device(fault=fault)
        status, out, err = battery()
        report = json.loads(out or "{}")
        failed = {c["id"] for c in report.get("checks", []) if c["status"] == "failed"}
        expect(status == 1 and named <= failed, f"fault {fault}: named by {sorted(named)}, failed {sorted(failed)}")

    device()
    status, out, err = battery(pin="000000")
    expect(status == 2 and "wrong PIN, 7 tries left" in err, f"a wrong PIN stops the battery with the tries left: {err!r}")
    device(retries=2)
    status, out, err = battery()
    expect(status == 2 and "only 2 PIN tries left" in err, f"a key with 2 tries left is not touched: {err!r}")
    status, out, err = battery()
    expect(status == 2 and "only 2 PIN tries left" in err, "and still has them")

    result = subprocess.run([PROBE, "candidate", "--statement", STATEMENT, "--reader", "No Such Reader 00 00"], capture_output=True, text=True)
    expect(result.returncode == 3, f"no authenticator: exit 3 ({result.returncode})")
    result = subprocess.run([PROBE, "candidate", "--statement", "/nonexistent.json", "--reader", reader], capture_output=True, text=True)
    expect(result.returncode == 2, "an unreadable statement: exit 2")
    Path(control).write_text("{}")
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
