#!/usr/bin/env python3
"""End-to-end benchmark: JSON lines in, verdicts out, through the release `mie-verifier`.

In one run, side by side on this machine:
  - the raw P-256 verify limit: `openssl speed ecdsap256` (one repeated input), and
    mie-bench's swift-crypto and OpenSSL EVP rates, both on one repeated input and over the
    exact keys, signatures and messages of the assertion file (prepared in memory);
  - `mie-verifier verify … --jsonl` on one pinned core and on two cores, per case: requests/s,
    per CPU-second, peak RSS;
  - py_webauthn 3.0.1 on the same request lines, per CPU-second (Benchmarks/.venv);
  - the moonshot: one million ES256 assertions through --jsonl on both cores.
Prints the table and the ratios issue #7 asks for; writes Benchmarks/results/e2e.json.

  python3 Benchmarks/e2e.py [--assertions N] [--registrations N] [--runs R] [--skip-moonshot]
"""
import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
VERIFIER = ROOT / ".build" / "release" / "mie-verifier"
BENCH = HERE / ".build" / "release" / "mie-bench"
VENV_PYTHON = HERE / ".venv" / "bin" / "python"


def timed(command: list[str]) -> dict:
    """Runs `command` under GNU time: wall seconds, CPU seconds and peak RSS (KiB) of that
    process alone (the rusage of a Python child would include the RSS it forked with)."""
    report = RESULTS / "time.txt"
    process = subprocess.run(["/usr/bin/time", "-o", str(report), "-f", "%e %U %S %M"] + command,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}: {process.stderr.decode()[:500]}")
    wall, user, system, rss = report.read_text().split()[-4:]
    return {"wall": float(wall), "cpu": float(user) + float(system), "rss_kib": int(rss)}


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def verify_outputs(ceremony: str, path: Path) -> None:
    """Every line of the file must verify: a benchmark of rejections would measure nothing."""
    out = subprocess.run([str(VERIFIER), "verify", ceremony, "--jsonl", "--request", str(path)], capture_output=True)
    lines = out.stdout.splitlines()
    good = sum(1 for line in lines if b'"verified":true' in line)
    if good != len(lines) or good != count_lines(path):
        raise SystemExit(f"{path.name}: only {good} of {count_lines(path)} requests verified")


def verifier_rate(ceremony: str, path: Path, cores: str, runs: int) -> dict:
    n = count_lines(path)
    samples = [timed(["taskset", "-c", cores, str(VERIFIER), "verify", ceremony, "--jsonl", "--request", str(path)])
               for _ in range(runs)]
    return {
        "requests": n,
        "rate": statistics.median(n / s["wall"] for s in samples),
        "per_cpu_second": statistics.median(n / s["cpu"] for s in samples),
        "rss_mib": max(s["rss_kib"] for s in samples) / 1024,
    }


def openssl_speed() -> float:
    out = subprocess.run(["taskset", "-c", "0", "openssl", "speed", "-seconds", "3", "ecdsap256"],
                         capture_output=True, text=True).stdout
    match = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+\S+\s+(\S+)", out)
    return float(match.group(1)) if match else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assertions", type=int, default=100_000)
    parser.add_argument("--registrations", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-moonshot", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    requests = RESULTS / "requests"
    stamp = requests / f"made-{args.assertions}-{args.registrations}"
    if not stamp.exists():
        subprocess.run([sys.executable, str(HERE / "requests.py"), str(requests), "--assertions", str(args.assertions),
                        "--registrations", str(args.registrations)], check=True)
        stamp.touch()
    cases = [("assertion", "assertion-es256"), ("registration", "registration-none"),
             ("registration", "registration-packed"), ("registration", "registration-tpm"),
             ("registration", "registration-android-key")]
    for ceremony, name in cases:
        verify_outputs(ceremony, requests / f"{name}.jsonl")

    print("== raw P-256 verify limit (one core)")
    raw_openssl = openssl_speed()
    raw_json = RESULTS / "raw.json"
    subprocess.run(["taskset", "-c", "0", str(BENCH), "--raw-from", str(requests / "assertion-es256.jsonl"), "--seconds", "4",
                    "--json", str(raw_json)], check=True)
    raw = json.loads(raw_json.read_text())
    single_json = RESULTS / "raw-single.json"
    subprocess.run(["taskset", "-c", "0", str(BENCH), "--only", "p256-verify", "--seconds", "3", "--json", str(single_json)],
                   check=True, stdout=subprocess.DEVNULL)
    single = {m["name"]: m["opsPerSecond"] for m in json.loads(single_json.read_text())}
    limit_distinct = max(raw["swiftCrypto"], raw["openSSLEVP"])
    limit_single = max(single.get("p256-verify-swift-crypto-prepared-key", 0), raw_openssl)
    print(f"openssl speed ecdsap256 (one repeated input): {raw_openssl:,.0f}/s")
    print(f"swift-crypto, one repeated input: {single.get('p256-verify-swift-crypto-prepared-key', 0):,.0f}/s")

    print("\n== mie-verifier --jsonl, one core (taskset -c 0)")
    ours = {}
    for ceremony, name in cases:
        ours[name] = verifier_rate(ceremony, requests / f"{name}.jsonl", "0", args.runs)
        r = ours[name]
        print(f"{name:<28} {r['requests']:>7} requests  {r['rate']:>9,.0f}/s  {r['per_cpu_second']:>9,.0f}/CPU-s  RSS {r['rss_mib']:.0f} MiB")
    two = verifier_rate("assertion", requests / "assertion-es256.jsonl", "0,1", args.runs)
    print(f"{'assertion-es256, 2 cores':<28} {two['requests']:>7} requests  {two['rate']:>9,.0f}/s  RSS {two['rss_mib']:.0f} MiB")

    print("\n== py_webauthn on the same requests (one core, per CPU-second)")
    if not VENV_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(HERE / ".venv")], check=True)
    subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "-q", "webauthn==3.0.1", "cryptography==50.0.2"], check=True)
    py_json = RESULTS / "py_webauthn_e2e.json"
    subprocess.run(["taskset", "-c", "0", str(VENV_PYTHON), str(HERE / "py_webauthn_e2e.py"), "--dir", str(requests),
                    "--limit", "20000", "--json", str(py_json)] + [name for _, name in cases], check=True)
    py = json.loads(py_json.read_text())

    moonshot = None
    if not args.skip_moonshot:
        million = RESULTS / "million.jsonl"
        if not million.exists():
            with open(million, "wb") as out:
                source = (requests / "assertion-es256.jsonl").read_bytes()
                copies = -(-1_000_000 // count_lines(requests / "assertion-es256.jsonl"))
                for _ in range(copies):
                    out.write(source)
        n = count_lines(million)
        sample = timed(["taskset", "-c", "0,1", str(VERIFIER), "verify", "assertion", "--jsonl", "--request", str(million)])
        moonshot = {"requests": n, "seconds": sample["wall"], "rss_mib": sample["rss_kib"] / 1024}
        print(f"\n== moonshot: {n:,} ES256 assertions through --jsonl on 2 cores in {sample['wall']:.1f} s "
              f"({n / sample['wall']:,.0f}/s, RSS {sample['rss_kib'] / 1024:.0f} MiB)")

    assertion = ours["assertion-es256"]["rate"]
    ratios = {
        "assertion / raw P-256, same distinct inputs": (assertion / limit_distinct, 0.85),
        "assertion / raw P-256, one repeated input": (assertion / limit_single, 0.85),
        "2 cores / 1 core": (two["rate"] / assertion, 1.8),
    }
    for name in ("assertion-es256", "registration-none", "registration-packed", "registration-tpm", "registration-android-key"):
        target = 2.0 if name.startswith("assertion") else (3.0 if name in ("registration-none", "registration-packed") else None)
        ratios[f"{name} vs py_webauthn per CPU-s"] = (ours[name]["per_cpu_second"] / py[name], target)
    print("\n== ratios")
    for name, (value, target) in ratios.items():
        verdict = "" if target is None else ("  (target >= %.2g: %s)" % (target, "met" if value >= target else "NOT met"))
        print(f"{name:<52} {value:6.2f}{verdict}")
    (RESULTS / "e2e.json").write_text(json.dumps({
        "raw": {"openssl_speed": raw_openssl, "distinct": raw, "single": single}, "ours": ours, "two_cores": two,
        "py_webauthn": py, "moonshot": moonshot, "ratios": {k: v[0] for k, v in ratios.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
