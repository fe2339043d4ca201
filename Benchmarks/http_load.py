#!/usr/bin/env python3
"""The service under load: bytes in over HTTP, verdict out, with wrk on loopback.

The release `mie-verifier serve` runs pinned to core 0 and `wrk` (keep-alive, one thread) to
core 1. Cases:
  - stateless ES256 assertions (`POST /v1/assertions/verify`), distinct signed requests from
    Benchmarks/requests.py: the peak over several connection counts, then a paced run at 80 % of
    the peak for the latency (p50, p99), and the ratio to `mie-verifier verify assertion --jsonl`
    on the same core over the same requests (the offline path, no HTTP);
  - stateless packed registrations with the PSC verdict (`POST /v1/registrations/verify`);
  - the raw limit (OpenSSL's P-256 verify over the same signatures) and a peer: py_webauthn
    3.0.1 behind Python's standard HTTP server, pinned and driven the same way;
  - stateful sign-ins (`POST /v1/assertions`): ceremonies opened and answered beforehand, each
    used once, each a database write (counter compare-and-set and audit event, fsync'd).
Every response is counted by the service's /metrics: a run with a non-verified result or a
non-2xx answer is reported as errors. RSS is the server's peak (VmHWM).

  python3 Benchmarks/http_load.py [--seconds 10] [--skip-build]
Results: Benchmarks/results/http.json (not committed).
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
VERIFIER = ROOT / ".build" / "release" / "mie-verifier"
sys.path.insert(0, str(ROOT / "Tools" / "vectorgen"))
sys.path.insert(0, str(ROOT / "Tools" / "service"))
import generate as g  # noqa: E402
import softclient  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_bodies(requests: Path, out: Path, ceremony: str) -> int:
    """CLI request lines to the service's stateless bodies: the ceremony data only."""
    count = 0
    with open(requests) as source, open(out, "w") as sink:
        for line in source:
            request = json.loads(line)
            body = {"response": request["response"], "challenge": request["expected"]["challenge"]}
            if ceremony == "assertion":
                body["credential"] = request["expected"]["credential"]
            sink.write(json.dumps(body, separators=(",", ":")) + "\n")
            count += 1
    return count


class Server:
    def __init__(self, database: Path, port: int, demo: bool = False, extra: dict = None):
        config = database.parent / "service.json"
        config.write_text(json.dumps({"rateLimit": 1_000_000, "rateBurst": 1_000_000, "maximumInFlight": 4096, "eventLoopThreads": 1, **(extra or {})}))
        command = ["taskset", "-c", "0", str(VERIFIER), "serve", "--database", str(database), "--port", str(port),
                   "--config", str(config), "--log-level", "warning"] + (["--demo"] if demo else ["--demo-lists", "TestVectors/referencing"])
        self.log = open(database.parent / "service.log", "w")
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        self.port = port
        for _ in range(200):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                connection.request("GET", "/health/ready")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("the service did not start")

    def rss_peak_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024

    def metrics(self) -> str:
        connection = http.client.HTTPConnection("127.0.0.1", self.port)
        connection.request("GET", "/metrics")
        return connection.getresponse().read().decode()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.log.close()
        return code


def counts(metrics: str) -> dict:
    """Requests by (route, status) and verifications by (ceremony, result)."""
    out = {}
    for line in metrics.splitlines():
        m = re.match(r'mie_http_requests_total\{route="([^"]+)",method="\w+",status="(\d+)"\} (\d+)', line)
        if m:
            out[("http", m.group(1), m.group(2))] = int(m.group(3))
        m = re.match(r'mie_verifications_total\{ceremony="(\w+)",result="([^"]+)"\} (\d+)', line)
        if m:
            out[("verification", m.group(1), m.group(2))] = int(m.group(3))
    return out


def wrk(url: str, bodies: Path, key: str, connections: int, seconds: float, delay_ms: float = 0) -> dict:
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s",
               "-s", str(HERE / "replay.lua"), url, "--", str(bodies), key, str(delay_ms)]
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def latency(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        errors += sum(int(x) for x in m.groups())
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
            "requests": int(re.search(r"(\d+) requests in", text).group(1)),
            "p50_ms": latency("50"), "p99_ms": latency("99"), "errors": errors, "connections": connections}


def jsonl_rate(path: Path) -> float:
    lines = sum(1 for _ in open(path))
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(["taskset", "-c", "0", str(VERIFIER), "verify", "assertion", "--jsonl", "--request", str(path)],
                       stdout=subprocess.DEVNULL, check=False)
        best = max(best, lines / (time.perf_counter() - start))
    return best


def raw_p256_rate(bodies: Path, seconds: float = 4) -> float:
    """The crypto floor: OpenSSL's P-256 verify (through cryptography) over the same
    signatures, keys and signed bytes, on core 0, nothing else."""
    import hashlib
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    os.sched_setaffinity(0, {0})
    cases = []
    for line, _ in zip(open(bodies), range(2000)):
        body = json.loads(line)
        cose = softclient.b64d(body["credential"]["publicKey"])
        x, y = cose[cose.index(b"\x21\x58\x20") + 3:][:32], cose[cose.index(b"\x22\x58\x20") + 3:][:32]
        public = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()).public_key()
        response = body["response"]["response"]
        signed = softclient.b64d(response["authenticatorData"]) + hashlib.sha256(softclient.b64d(response["clientDataJSON"])).digest()
        cases.append((public, softclient.b64d(response["signature"]), signed))
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for public, signature, signed in cases:
            public.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
        count += len(cases)
    rate = count / (time.perf_counter() - start)
    os.sched_setaffinity(0, {0, 1})
    return rate


def peer_rate(bodies: Path, seconds: int) -> dict:
    """py_webauthn behind Python's HTTP server, pinned like the service, driven the same way."""
    venv = HERE / ".venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "webauthn==3.0.1"], check=True)
    port = free_port()
    server = subprocess.Popen(["taskset", "-c", "0", str(venv / "bin" / "python"), str(HERE / "py_webauthn_server.py"), str(port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        return wrk(f"http://127.0.0.1:{port}/v1/assertions/verify", bodies, "unused", 8, seconds)
    finally:
        server.terminate()
        server.wait()


def add_client(database: Path, roles: list) -> str:
    command = [str(VERIFIER), "clients", "add", f"bench-{'-'.join(roles)}", "--rp-id", g.RP_ID, "--origin", g.ORIGIN,
               "--database", str(database)]
    for role in roles:
        command += ["--role", role]
    return subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()


def stateful_bodies(port: int, key: str, count: int, out: Path) -> None:
    """Enrols `count` holders (software keys, none attestation) and opens one sign-in ceremony
    for each, answered beforehand: each body is valid once."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    with open(out, "w") as sink:
        for i in range(count):
            holder, credential = f"bench-{i}", softclient.Credential()
            if not softclient.enrol(connection, key, holder, credential).get("registered"):
                raise SystemExit("the DEMO service did not enrol a software key")
            sink.write(json.dumps(softclient.sign_in_body(connection, key, holder, credential), separators=(",", ":")) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--stateful", type=int, default=6000, help="sign-in ceremonies prepared for the stateful case")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if not args.skip_build:
        print("== building the release binary")
        subprocess.run(["swift", "build", "-c", "release", "--product", "mie-verifier"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    requests = RESULTS / "requests"
    if not (requests / "assertion-es256.jsonl").exists():
        subprocess.run([sys.executable, str(HERE / "requests.py"), str(requests)], check=True)
    work = Path(tempfile.mkdtemp(prefix="mie-http-bench-"))
    assertion_bodies = work / "assertions.txt"
    registration_bodies = work / "registrations.txt"
    service_bodies(requests / "assertion-es256.jsonl", assertion_bodies, "assertion")
    service_bodies(requests / "registration-packed.jsonl", registration_bodies, "registration")
    results = {}

    database = work / "mie.sqlite"
    key = add_client(database, ["verifier", "enrolment"])
    server = Server(database, free_port())
    url = f"http://127.0.0.1:{server.port}"
    try:
        print("== warm-up")
        wrk(url + "/v1/assertions/verify", assertion_bodies, key, 16, 2)
        print("== stateless ES256 assertions, POST /v1/assertions/verify: peak")
        peak = None
        for connections in (8, 32, 64):
            run = wrk(url + "/v1/assertions/verify", assertion_bodies, key, connections, args.seconds)
            print(f"   {connections:3d} connections: {run['rps']:9.0f} req/s  p50 {run['p50_ms']:.2f} ms  p99 {run['p99_ms']:.2f} ms  errors {run['errors']}")
            if peak is None or run["rps"] > peak["rps"]:
                peak = run
        results["assertion_peak"] = peak
        print("== at 80 % of the peak (paced)")
        target = 0.8 * peak["rps"]
        connections = 16
        # Each connection waits `delay` after each answer: C / (delay + latency) requests/s.
        delay = 1000 * connections / target
        paced = None
        for _ in range(5):
            paced = wrk(url + "/v1/assertions/verify", assertion_bodies, key, connections, args.seconds, delay)
            if abs(paced["rps"] - target) / target < 0.05:
                break
            delay = max(0.0, delay + 1000 * connections * (1 / target - 1 / paced["rps"]))
        print(f"   {paced['rps']:9.0f} req/s ({paced['rps'] / peak['rps']:.0%} of peak)  p50 {paced['p50_ms']:.2f} ms  p99 {paced['p99_ms']:.2f} ms  errors {paced['errors']}")
        results["assertion_paced"] = paced
        print("== stateless packed registrations with the PSC verdict, POST /v1/registrations/verify")
        run = wrk(url + "/v1/registrations/verify", registration_bodies, key, 32, args.seconds)
        print(f"   {run['rps']:9.0f} req/s  p50 {run['p50_ms']:.2f} ms  p99 {run['p99_ms']:.2f} ms  errors {run['errors']}")
        results["registration_packed"] = run
        metrics = counts(server.metrics())
        results["rss_mb"] = server.rss_peak_mb()
    finally:
        code = server.stop()
    bad = {k: v for k, v in metrics.items() if (k[0] == "http" and not k[2].startswith("2")) or
           (k[0] == "verification" and k[2] not in ("verified", "accepted"))}
    results["unexpected"] = {" ".join(k): v for k, v in bad.items()}
    print(f"   server peak RSS {results['rss_mb']:.0f} MB; non-2xx or unverified: {results['unexpected'] or 'none'}; stopped with {code}")

    print("== offline: mie-verifier verify assertion --jsonl, same core, same requests")
    results["jsonl_rps"] = jsonl_rate(requests / "assertion-es256.jsonl")
    ratio = results["assertion_peak"]["rps"] / results["jsonl_rps"]
    print(f"   {results['jsonl_rps']:9.0f} req/s; HTTP peak / --jsonl = {ratio:.2f}")
    results["http_over_jsonl"] = ratio

    print("== raw limit: OpenSSL P-256 verify over the same signatures, core 0")
    results["raw_p256_rps"] = raw_p256_rate(assertion_bodies)
    print(f"   {results['raw_p256_rps']:9.0f} verifies/s; HTTP peak / raw = {results['assertion_peak']['rps'] / results['raw_p256_rps']:.2f}")

    print("== peer: py_webauthn 3.0.1 behind Python's HTTP server, same bodies, 8 connections")
    peer = peer_rate(assertion_bodies, args.seconds)
    results["peer"] = peer
    print(f"   {peer['rps']:9.0f} req/s  p50 {peer['p50_ms']:.2f} ms  p99 {peer['p99_ms']:.2f} ms  errors {peer['errors']}; "
          f"mie-verifier / peer = {results['assertion_peak']['rps'] / peer['rps']:.2f}")

    print(f"== stateful sign-ins, POST /v1/assertions ({args.stateful} ceremonies prepared, each used once)")
    database = work / "stateful.sqlite"
    key = add_client(database, ["enrolment"])
    server = Server(database, free_port(), demo=True)
    try:
        bodies = work / "sign-ins.txt"
        stateful_bodies(server.port, key, args.stateful, bodies)
        seconds = 3
        run = wrk(f"http://127.0.0.1:{server.port}/v1/assertions", bodies, key, 16, seconds)
        metrics = counts(server.metrics())
        run["verified"] = metrics.get(("verification", "assertion", "verified"), 0)
        if run["requests"] > args.stateful:
            print(f"   warning: {run['requests']} requests for {args.stateful} ceremonies: raise --stateful")
        print(f"   {run['rps']:9.0f} req/s  p50 {run['p50_ms']:.2f} ms  p99 {run['p99_ms']:.2f} ms  errors {run['errors']}  verified {run['verified']}")
        results["stateful_assertion"] = run
        results["stateful_rss_mb"] = server.rss_peak_mb()
    finally:
        server.stop()
    (RESULTS / "http.json").write_text(json.dumps(results, indent=2))
    print(f"results: {RESULTS / 'http.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
