#!/usr/bin/env python3
"""Re-judging stored credentials after a list import (FI 46): how long the release service takes
for N stored credentials, and what its p99 does meanwhile.

N packed registrations of the project's software authenticator (Tools/vectorgen: each its own
credential key, attestation by the demo PKI the demo FIDO MDS vouches for) are written into the
database as a service keeps them (attestation object, client data). The service starts on the
DEMO lists and judges them all (first pass: never judged by this version). Then, with wrk
sending stateless ES256 assertions at a fixed connection count:
  - baseline: no re-judging;
  - FIDO MDS no 2 imported over the API, which reports the model USER_VERIFICATION_BYPASS:
    every credential changes verdict (the worst case: a change row and an audit event each),
    timed until the service has judged them all, wrk running the whole time.
The service is pinned to core 0, wrk to core 1 (as in http_load.py).

  python3 Benchmarks/rejudge_load.py [--credentials 100000] [--connections 8] [--percent 50] [--skip-build]
Results: Benchmarks/results/rejudge-PERCENT.json (not committed).
"""
import argparse
import base64
import hashlib
import http.client
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import http_load as h  # noqa: E402

g = h.g
AMR = '["hwk","pin","mfa"]'


def seed(database: Path, count: int) -> None:
    """Holders and credentials as the service stores them, never judged by this version."""
    pki = g.TestPKI()
    connection = sqlite3.connect(database)
    client_id = connection.execute("SELECT id FROM clients WHERE name = 'bench'").fetchone()[0]
    aaguid = str(__import__("uuid").UUID(bytes=g.AAGUID))
    started = time.time()
    holders, credentials = [], []
    for i in range(count):
        label = f"rejudge/{i}"
        key = g.CredentialKey("ES256", label)
        challenge = g.seed_bytes(label + "/challenge", 32)
        credential_id = g.seed_bytes(label + "/id", 32)
        cd = g.client_data("webauthn.create", challenge)
        ad = g.auth_data(g.UP | g.UV | g.AT, 0, attested=g.attested_data(credential_id, key.cose()))
        stmt = {"alg": -7, "sig": pki.leaf_signer.sign(ad + hashlib.sha256(cd).digest()), "x5c": [g.der(pki.leaf), g.der(pki.ca)]}
        attestation = g.cbor({"fmt": "packed", "attStmt": stmt, "authData": ad})
        holder = f"holder-{i // 4}"
        if i % 4 == 0:
            holders.append((g.RP_ID, holder, holder, holder, None, hashlib.sha256(holder.encode()).digest(), "asserted-by-operator", client_id,
                            "2026-11-29T00:00:00Z"))
        credentials.append((credential_id, holder, "asserted-by-operator", key.cose(), "ES256", 0, 0, aaguid, "software", "accepted", AMR,
                            client_id, g.RP_ID, "2026-11-29T00:00:00Z", '["FIDO MDS no 1","ANS list no 1"]', attestation, cd))
        if i and i % 20_000 == 0:
            print(f"   {i} registrations made ({time.time() - started:.0f} s)", flush=True)
    connection.executemany(
        "INSERT INTO holders (rp_id, id, name, display_name, rpps, user_handle, evidence, owner_client_id, created_at) VALUES (?,?,?,?,?,?,?,?,?)", holders)
    connection.executemany(
        """INSERT INTO credentials (id, holder_id, identity_evidence, public_key, algorithm, sign_count, backup_eligible, aaguid, authenticator,
           verdict, amr, client_id, rp_id, created_at, lists, attestation_object, client_data) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        credentials)
    connection.commit()
    connection.close()


def rejudged(server: h.Server) -> int:
    for line in server.metrics().splitlines():
        if line.startswith("mie_credentials_rejudged_total "):
            return int(float(line.split()[1]))
    return 0


def wait_for(server: h.Server, target: int, limit: float) -> float:
    started = time.monotonic()
    while rejudged(server) < target:
        if time.monotonic() - started > limit:
            raise SystemExit(f"re-judging did not reach {target} in {limit} s (at {rejudged(server)})")
        time.sleep(0.05)
    return time.monotonic() - started


def import_list(port: int, key: str, path: Path) -> None:
    body = json.dumps({"document": base64.urlsafe_b64encode(path.read_bytes()).decode().rstrip("=")})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", "/v1/referencing/import", body=body, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    reply = connection.getresponse()
    if reply.status != 200:
        raise SystemExit(f"the import was refused: {reply.status} {reply.read()[:300]}")
    reply.read()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--credentials", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--percent", type=int, default=50, help="rejudgePercent: the share of the core re-judging takes while it runs")
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    h.RESULTS.mkdir(exist_ok=True)
    if not args.skip_build:
        subprocess.run(["swift", "build", "-c", "release", "--product", "mie-verifier"], cwd=h.ROOT, check=True, stdout=subprocess.DEVNULL)
    requests = h.RESULTS / "requests"
    if not (requests / "assertion-es256.jsonl").exists():
        subprocess.run([sys.executable, str(HERE / "requests.py"), str(requests)], check=True)
    work = Path(tempfile.mkdtemp(prefix="mie-rejudge-bench-"))
    bodies = work / "assertions.txt"
    h.service_bodies(requests / "assertion-es256.jsonl", bodies, "assertion")
    database = work / "mie.sqlite"
    key = subprocess.run([str(h.VERIFIER), "clients", "add", "bench", "--role", "verifier", "--role", "enrolment", "--role", "operator",
                          "--database", str(database)], check=True, capture_output=True, text=True).stdout.split()[-1]
    print(f"== {args.credentials} stored credentials (packed, software authenticator)", flush=True)
    seed(database, args.credentials)
    size = database.stat().st_size / 1e6
    results = {"credentials": args.credentials, "database_mb": round(size, 1)}

    server = h.Server(database, h.free_port(), extra={"rejudgePercent": args.percent})
    results["rejudge_percent"] = args.percent
    url = f"http://127.0.0.1:{server.port}"
    try:
        # Timed from readiness: the pass starts with the service, slightly before.
        first = wait_for(server, args.credentials, 3600)
        results["first_pass_s"] = round(first, 2)
        print(f"   first judgement after start: {first:.1f} s ({args.credentials / first:.0f} credentials/s)", flush=True)
        h.wrk(url + "/v1/assertions/verify", bodies, key, args.connections, 2)
        baseline = h.wrk(url + "/v1/assertions/verify", bodies, key, args.connections, 10)
        results["baseline"] = baseline
        print(f"   baseline: {baseline['rps']:.0f} req/s  p50 {baseline['p50_ms']:.2f} ms  p99 {baseline['p99_ms']:.2f} ms", flush=True)

        # The import, then wrk for as long as the re-judging takes (an estimate from the first pass, plus margin).
        seconds = max(5, int(first * 1.5) + 5)
        during: dict = {}
        load = threading.Thread(target=lambda: during.update(h.wrk(url + "/v1/assertions/verify", bodies, key, args.connections, seconds)))
        load.start()
        time.sleep(1)
        started = time.monotonic()
        import_list(server.port, key, h.ROOT / "TestVectors" / "referencing" / "demo-mds-blob-no2.jwt")
        wait_for(server, 2 * args.credentials, 3600)
        second = time.monotonic() - started
        load.join()
        results["after_import_s"] = round(second, 2)
        results["during"] = during
        metrics = server.metrics()
        changes = sum(int(float(line.split()[1])) for line in metrics.splitlines() if line.startswith("mie_verdict_changes_total{"))
        results["verdict_changes"] = changes
        results["rss_mb"] = round(server.rss_peak_mb(), 1)
        print(f"   after importing FIDO MDS no 2: {second:.1f} s ({args.credentials / second:.0f} credentials/s), {changes} verdict changes", flush=True)
        print(f"   meanwhile ({seconds} s of wrk): {during['rps']:.0f} req/s  p50 {during['p50_ms']:.2f} ms  p99 {during['p99_ms']:.2f} ms  errors {during['errors']}")
        print(f"   peak RSS {results['rss_mb']} MB, database {size:.0f} MB before")
    finally:
        server.stop()
    (h.RESULTS / f"rejudge-{args.percent}.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
