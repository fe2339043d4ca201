#!/usr/bin/env python3
"""The service under load: bytes in over HTTP, verdict out, with wrk on loopback.

The release `mie-verifier serve` runs pinned to core 0 and `wrk` (keep-alive, one thread) to
core 1. In one run:
  - the floors: `mie-http-floor` answering a 1 KB POST with a fixed body, as a bare Hummingbird 2
    app (the framework's ceiling) and as raw SwiftNIO HTTP/1 (the transport's), on core 0;
  - the ceilings: raw SwiftNIO answering each offline request line (the `--jsonl` input) as the
    offline path does (`nio-core`: an assertion's outcome; `nio-evaluate`: a registration's
    verdict and report), as it is read and, with `-batched`, with the others of its loop's tick:
    what an HTTP/1 stack around the core reaches here before any of the service's own work
    (caller, audit event, metrics);
  - the service's cheapest answers: `GET /health/live`, and a refused 1 KB POST (a cached key
    without the verifier role: 403, authentication and a problem document, no verification);
  - stateless ES256 assertions (`POST /v1/assertions/verify`), distinct signed requests from
    Benchmarks/requests.py: the peak over several connection counts, then a paced run at 80 % of
    the peak for the latency (p50, p99), and the ratio to `mie-verifier verify assertion --jsonl`
    on the same core over the same requests (the offline path, no HTTP);
  - stateless packed registrations with the PSC verdict (`POST /v1/registrations/verify`);
  - the same on the typed hot path (`leanPath: false`: `HotPathHandler` behind NIO's HTTP/1
    decoder) and with the hot path off (`hotPath: false`: every request through the router), for
    the before and after;
  - two event loops on both cores (wrk sharing them: a two-core machine has no third core for
    the load generator), against one;
  - the raw limit (OpenSSL's P-256 verify over the same signatures) and the peers: py_webauthn
    3.0.1 behind Python's standard HTTP server, behind uvicorn (uvloop, httptools), and behind
    gunicorn (several workers), all pinned to core 0 and driven the same way;
  - stateful sign-ins (`POST /v1/assertions`): ceremonies opened and answered beforehand, each
    used once, each a database write (counter compare-and-set and audit event, durable before
    the answer; commits grouped), on the hot path and through the router.
Every response is counted by the service's /metrics: a run with a non-verified result or an
unexpected non-2xx answer is reported as errors. RSS is the server's peak (VmHWM).

  python3 Benchmarks/http_load.py [--seconds 10] [--skip-build] [--only-stateful [--stateful-rounds 3]]
Results: Benchmarks/results/http.json (not committed), and a Markdown table on stdout.
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
VERIFIER = ROOT / ".build" / "release" / "mie-verifier"
FLOOR = ROOT / ".build" / "release" / "mie-http-floor"
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
    def __init__(self, database: Path, port: int, demo: bool = False, extra: dict = None, cores: str = "0"):
        config = database.parent / f"service-{port}.json"
        config.write_text(json.dumps({"rateLimit": 1_000_000, "rateBurst": 1_000_000, "maximumInFlight": 4096, "eventLoopThreads": 1, **(extra or {})}))
        command = ["taskset", "-c", cores, str(VERIFIER), "serve", "--database", str(database), "--port", str(port),
                   "--config", str(config), "--log-level", "warning"] + (["--demo"] if demo else ["--demo-lists", "TestVectors/referencing"])
        self.log = open(database.parent / f"service-{port}.log", "w")
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
        raise SystemExit(f"the service did not start: see {self.log.name}")

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


def wrk(url: str, bodies: Path, key: str, connections: int, seconds: float, delay_ms: float = 0,
        cores: str = "1", threads: int = 1) -> dict:
    """wrk against `url`: the bodies POSTed in turn (replay.lua), or GETs when `bodies` is None."""
    command = ["taskset", "-c", cores, "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if bodies is not None:
        command += ["-s", str(HERE / "replay.lua"), url, "--", str(bodies), key, str(delay_ms)]
    else:
        command += [url]
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


def jsonl_rate(path: Path, ceremony: str = "assertion", evaluate_with: Path = None) -> float:
    """The offline bulk path on core 0, best of three: `verify CEREMONY --jsonl`, or with
    `evaluate_with` (a database holding the lists) `evaluate --jsonl`, which adds the PSC
    verdict and report to each registration as the service's answer does."""
    lines = sum(1 for _ in open(path))
    command = [str(VERIFIER), "verify", ceremony, "--jsonl", "--request", str(path)]
    if evaluate_with:
        command = [str(VERIFIER), "evaluate", "--jsonl", "--request", str(path), "--database", str(evaluate_with)]
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(["taskset", "-c", "0"] + command, stdout=subprocess.DEVNULL, check=False)
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


def wait_for_port(port: int, process: subprocess.Popen) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise SystemExit(f"{process.args[2:4]} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def pinned(command: list, port: int, cwd: Path = ROOT) -> subprocess.Popen:
    """A server on core 0, once it listens on `port`."""
    process = subprocess.Popen(["taskset", "-c", "0"] + command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process)
    return process


def floor_rate(kind: str, body: Path, seconds: int, connections=(8,), extra=()) -> dict:
    """`mie-http-floor hummingbird|nio`: a 1 KB POST read and answered with a fixed body;
    `nio-core[-batched]`: each offline assertion line verified by the core, answered with its
    outcome; `nio-evaluate[-batched] DATABASE`: each offline registration line verified and
    judged with the lists of DATABASE, answered with its report."""
    port = free_port()
    process = pinned([str(FLOOR), kind, str(port), *extra], port)
    try:
        wrk(f"http://127.0.0.1:{port}/floor", body, "unused", 8, 1)
        return peak(f"http://127.0.0.1:{port}/floor", body, "unused", seconds, connections=connections)
    finally:
        process.terminate()
        process.wait()


PEERS = {
    "stdlib": lambda python, port: [python, str(HERE / "py_webauthn_server.py"), str(port)],
    "uvicorn": lambda python, port: [python, "-m", "uvicorn", "py_webauthn_server:asgi", "--port", str(port), "--no-access-log",
                                     "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"],
    "gunicorn": lambda python, port: [python, "-m", "gunicorn", "py_webauthn_server:wsgi", "-b", f"127.0.0.1:{port}", "-w", "4",
                                      "-k", "gthread", "--threads", "4", "--keep-alive", "30", "--log-level", "warning"],
}


def peer_rate(kind: str, bodies: Path, seconds: int) -> dict:
    """py_webauthn behind a Python server, pinned like the service, driven the same way."""
    venv = HERE / ".venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "webauthn==3.0.1", "uvicorn[standard]==0.55.0", "gunicorn==27.0.1"],
                   check=True)
    port = free_port()
    process = pinned(PEERS[kind](str(venv / "bin" / "python"), port), port, cwd=HERE)
    try:
        wrk(f"http://127.0.0.1:{port}/v1/assertions/verify", bodies, "unused", 8, 1)
        best = None
        for connections in (8, 32):
            run = wrk(f"http://127.0.0.1:{port}/v1/assertions/verify", bodies, "unused", connections, seconds)
            if best is None or run["rps"] > best["rps"]:
                best = run
        return best
    finally:
        process.terminate()
        process.wait()


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


def line(label: str, run: dict) -> str:
    return f"   {label:<44} {run['rps']:9.0f} req/s  p50 {run['p50_ms']:.2f} ms  p99 {run['p99_ms']:.2f} ms  errors {run['errors']}"


def peak(url: str, bodies: Path, key: str, seconds: int, connections=(8, 32, 64), **options) -> dict:
    best = None
    for count in connections:
        run = wrk(url, bodies, key, count, seconds, **options)
        if best is None or run["rps"] > best["rps"]:
            best = run
    return best


def unexpected(metrics: dict, allowed_status=()) -> dict:
    bad = {k: v for k, v in metrics.items() if (k[0] == "http" and not k[2].startswith("2") and k[2] not in allowed_status) or
           (k[0] == "verification" and k[2] not in ("verified", "accepted"))}
    return {" ".join(k): v for k, v in bad.items()}


def stateless_cases(server: Server, key: str, refused_key: str, bodies: dict, seconds: int, results: dict, name: str) -> None:
    """The service's cheap answers and the stateless verify routes, on one running server."""
    url = f"http://127.0.0.1:{server.port}"
    wrk(url + "/v1/assertions/verify", bodies["assertion"], key, 16, 2)
    wrk(url + "/v1/assertions/verify", bodies["padding"], refused_key, 8, 1)
    cases = results.setdefault(name, {})
    cases["health_live"] = wrk(url + "/health/live", None, "", 8, seconds)
    print(line("GET /health/live", cases["health_live"]))
    cases["refused_post"] = wrk(url + "/v1/assertions/verify", bodies["padding"], refused_key, 8, seconds)
    print(line("1 KB POST refused (403, key without the role)", cases["refused_post"]))
    cases["assertion_peak"] = peak(url + "/v1/assertions/verify", bodies["assertion"], key, seconds)
    print(line(f"POST /v1/assertions/verify ({cases['assertion_peak']['connections']} conns)", cases["assertion_peak"]))
    cases["registration_packed"] = peak(url + "/v1/registrations/verify", bodies["registration"], key, seconds, connections=(8, 32))
    print(line(f"POST /v1/registrations/verify, packed ({cases['registration_packed']['connections']} conns)", cases["registration_packed"]))


def stateful_case(work: Path, ceremonies: int, hot: bool = True) -> tuple[dict, float]:
    """Sign-ins against a fresh SQLite file: each a ceremony taken, a counter moved and an audit
    event, durable before the answer; `hot`: the hot path takes them (`hotPath: false`: the
    router does)."""
    way = "hot path" if hot else "router"
    print(f"== stateful sign-ins, POST /v1/assertions, {way} ({ceremonies} ceremonies prepared, each used once)")
    database = work / f"stateful-{'hot' if hot else 'router'}-{time.time_ns()}.sqlite"
    enrolment_key = add_client(database, ["enrolment"])
    server = Server(database, free_port(), demo=True, extra={"hotPath": hot})
    try:
        sign_ins = work / "sign-ins.txt"
        stateful_bodies(server.port, enrolment_key, ceremonies, sign_ins)
        run = wrk(f"http://127.0.0.1:{server.port}/v1/assertions", sign_ins, enrolment_key, 64, 3)
        metrics = counts(server.metrics())
        run["verified"] = metrics.get(("verification", "assertion", "verified"), 0)
        if run["requests"] > ceremonies:
            print(f"   warning: {run['requests']} requests for {ceremonies} ceremonies: raise --stateful")
        print(line(f"POST /v1/assertions, SQLite, {way}, 64 conns", run) + f"  verified {run['verified']}")
        return run, server.rss_peak_mb()
    finally:
        server.stop()


def stateful_rounds(work: Path, ceremonies: int, rounds: int) -> dict:
    """The router and the hot path alternating, `rounds` each: every figure and the medians."""
    seen = {"router": [], "hot_path": []}
    for _ in range(rounds):
        for name, hot in (("router", False), ("hot_path", True)):
            seen[name].append(stateful_case(work, ceremonies, hot)[0]["rps"])
    medians = {name: statistics.median(values) for name, values in seen.items()}
    for name, values in seen.items():
        print(f"   {name}: {', '.join(f'{v:,.0f}' for v in values)}; median {medians[name]:,.0f} sign-ins/s")
    print(f"   hot path / router: x{medians['hot_path'] / medians['router']:.2f}")
    return {"runs": seen, "medians": medians}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--stateful", type=int, default=24000, help="sign-in ceremonies prepared for the stateful case")
    parser.add_argument("--only-stateful", action="store_true", help="run the stateful cases alone (no table)")
    parser.add_argument("--stateful-rounds", type=int, default=3, help="with --only-stateful: router and hot path alternating, this many each")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if not args.skip_build:
        print("== building the release binaries")
        for product in ("mie-verifier", "mie-http-floor"):
            subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    requests = RESULTS / "requests"
    if not (requests / "assertion-es256.jsonl").exists():
        subprocess.run([sys.executable, str(HERE / "requests.py"), str(requests)], check=True)
    work = Path(tempfile.mkdtemp(prefix="mie-http-bench-"))
    if args.only_stateful:
        stateful_rounds(work, args.stateful, args.stateful_rounds)
        return 0
    bodies = {"assertion": work / "assertions.txt", "registration": work / "registrations.txt", "padding": work / "padding.txt"}
    service_bodies(requests / "assertion-es256.jsonl", bodies["assertion"], "assertion")
    service_bodies(requests / "registration-packed.jsonl", bodies["registration"], "registration")
    # A 1 KB JSON body, the size of an ES256 assertion request.
    bodies["padding"].write_text(json.dumps({"padding": "x" * 1000}) + "\n")
    results = {}

    print("== floors: a 1 KB POST answered with a fixed body, core 0, 8 connections")
    results["floor_hummingbird"] = floor_rate("hummingbird", bodies["padding"], args.seconds)
    print(line("bare Hummingbird 2 app", results["floor_hummingbird"]))
    results["floor_nio"] = floor_rate("nio", bodies["padding"], args.seconds)
    print(line("raw SwiftNIO HTTP/1", results["floor_nio"]))
    print("== ceilings: the core behind raw SwiftNIO, each offline request line answered with its outcome, core 0")
    for kind in ("nio-core", "nio-core-batched"):
        results[f"ceiling_{kind}"] = floor_rate(kind, requests / "assertion-es256.jsonl", args.seconds, connections=(8, 32))
        print(line(f"{kind} ({results[f'ceiling_{kind}']['connections']} conns)", results[f"ceiling_{kind}"]))

    database = work / "mie.sqlite"
    key = add_client(database, ["verifier", "enrolment"])
    refused_key = add_client(database, ["operator"])
    for name, extra in (("hot_path", {}), ("typed_hot_path", {"leanPath": False}), ("router", {"hotPath": False})):
        print(f"== the service, one event loop on core 0, {json.dumps(extra) if extra else 'as configured by default (the lean path)'}")
        server = Server(database, free_port(), extra=extra)
        try:
            stateless_cases(server, key, refused_key, bodies, args.seconds, results, name)
            if name == "hot_path":
                print("== at 80 % of the peak (paced)")
                target = 0.8 * results[name]["assertion_peak"]["rps"]
                connections = 16
                # Each connection waits `delay` after each answer: C / (delay + latency) requests/s.
                delay = 1000 * connections / target
                paced = None
                url = f"http://127.0.0.1:{server.port}/v1/assertions/verify"
                for _ in range(5):
                    paced = wrk(url, bodies["assertion"], key, connections, args.seconds, delay)
                    if abs(paced["rps"] - target) / target < 0.05:
                        break
                    delay = max(0.0, delay + 1000 * connections * (1 / target - 1 / paced["rps"]))
                print(line(f"paced, {paced['rps'] / results[name]['assertion_peak']['rps']:.0%} of the peak", paced))
                results[name]["assertion_paced"] = paced
            results[name]["rss_mb"] = server.rss_peak_mb()
            results[name]["unexpected"] = unexpected(counts(server.metrics()), allowed_status=("403",))
        finally:
            code = server.stop()
        print(f"   server peak RSS {results[name]['rss_mb']:.0f} MB; unexpected answers: {results[name]['unexpected'] or 'none'}; stopped with {code}")

    print("== two event loops on cores 0-1, wrk with two threads on the same cores")
    server = Server(database, free_port(), extra={"eventLoopThreads": 2}, cores="0,1")
    try:
        url = f"http://127.0.0.1:{server.port}/v1/assertions/verify"
        wrk(url, bodies["assertion"], key, 16, 2, cores="0,1", threads=2)
        results["two_cores"] = peak(url, bodies["assertion"], key, args.seconds, connections=(32, 64), cores="0,1", threads=2)
        results["two_cores"]["unexpected"] = unexpected(counts(server.metrics()))
    finally:
        server.stop()
    print(line("POST /v1/assertions/verify, two cores", results["two_cores"]) +
          f"; x{results['two_cores']['rps'] / results['hot_path']['assertion_peak']['rps']:.2f} one core")

    print("== offline: mie-verifier verify assertion --jsonl, same core, same requests")
    results["jsonl_rps"] = jsonl_rate(requests / "assertion-es256.jsonl")
    print(f"   {results['jsonl_rps']:9.0f} req/s")
    results["jsonl_registration_rps"] = jsonl_rate(requests / "registration-packed.jsonl", "registration")
    print(f"   {results['jsonl_registration_rps']:9.0f} packed registrations/s (verify registration --jsonl: no PSC verdict)")
    results["jsonl_evaluation_rps"] = jsonl_rate(requests / "registration-packed.jsonl", evaluate_with=database)
    print(f"   {results['jsonl_evaluation_rps']:9.0f} packed registrations/s with the PSC verdict and report (evaluate --jsonl, the service's lists)")
    print("== ceilings: packed registrations verified and judged behind raw SwiftNIO (the service's lists), core 0")
    for kind in ("nio-evaluate", "nio-evaluate-batched"):
        results[f"ceiling_{kind}"] = floor_rate(kind, requests / "registration-packed.jsonl", args.seconds, connections=(8, 32), extra=[str(database)])
        print(line(f"{kind} ({results[f'ceiling_{kind}']['connections']} conns)", results[f"ceiling_{kind}"]))
    print("== raw limit: OpenSSL P-256 verify over the same signatures, core 0")
    results["raw_p256_rps"] = raw_p256_rate(bodies["assertion"])
    print(f"   {results['raw_p256_rps']:9.0f} verifies/s")

    print("== peers: py_webauthn 3.0.1 behind Python servers on core 0, same bodies")
    results["peers"] = {}
    for kind in PEERS:
        results["peers"][kind] = peer_rate(kind, bodies["assertion"], args.seconds)
        print(line(f"py_webauthn, {kind} ({results['peers'][kind]['connections']} conns)", results["peers"][kind]))

    results["stateful_router"], _ = stateful_case(work, args.stateful, hot=False)
    results["stateful_assertion"], results["stateful_rss_mb"] = stateful_case(work, args.stateful)

    hot, typed, routed = results["hot_path"], results["typed_hot_path"], results["router"]
    one = hot["assertion_peak"]["rps"]
    print("\n| | req/s | ratio |\n|---|---:|---|")
    rows = [
        ("bare Hummingbird 2, 1 KB POST, fixed body", results["floor_hummingbird"]["rps"], ""),
        ("raw SwiftNIO HTTP/1, same", results["floor_nio"]["rps"], ""),
        ("ceiling: the core behind raw SwiftNIO, each assertion answered as it is read", results["ceiling_nio-core"]["rps"],
         f"{results['ceiling_nio-core']['rps'] / results['jsonl_rps']:.2f} of `--jsonl`"),
        ("ceiling: same, the assertions of a loop's tick answered together, then flushed", results["ceiling_nio-core-batched"]["rps"],
         f"{results['ceiling_nio-core-batched']['rps'] / results['jsonl_rps']:.2f} of `--jsonl`; lean path {one / results['ceiling_nio-core-batched']['rps']:.2f} of it"),
        ("ceiling: packed registrations verified and judged behind raw SwiftNIO, each as it is read", results["ceiling_nio-evaluate"]["rps"],
         f"{results['ceiling_nio-evaluate']['rps'] / results['jsonl_evaluation_rps']:.2f} of `evaluate --jsonl`"),
        ("ceiling: same, a tick's registrations answered together, then flushed", results["ceiling_nio-evaluate-batched"]["rps"],
         f"{results['ceiling_nio-evaluate-batched']['rps'] / results['jsonl_evaluation_rps']:.2f} of `evaluate --jsonl`; "
         f"lean path {hot['registration_packed']['rps'] / results['ceiling_nio-evaluate-batched']['rps']:.2f} of it"),
        ("`GET /health/live`", hot["health_live"]["rps"], ""),
        ("1 KB POST refused (403), lean path / typed hot path / router", hot["refused_post"]["rps"],
         f"typed {typed['refused_post']['rps']:.0f}, router {routed['refused_post']['rps']:.0f}"),
        ("`POST /v1/assertions/verify`, router (`hotPath: false`)", routed["assertion_peak"]["rps"], f"{routed['assertion_peak']['rps'] / results['jsonl_rps']:.2f} of `--jsonl`"),
        ("`POST /v1/assertions/verify`, typed hot path (`leanPath: false`)", typed["assertion_peak"]["rps"], f"{typed['assertion_peak']['rps'] / results['jsonl_rps']:.2f} of `--jsonl`"),
        ("`POST /v1/assertions/verify`, lean path", one, f"{one / results['jsonl_rps']:.2f} of `--jsonl`, {one / results['raw_p256_rps']:.2f} of raw, x{one / typed['assertion_peak']['rps']:.2f} typed"),
        ("same, paced at 80 %: p99", hot["assertion_paced"]["rps"], f"p99 {hot['assertion_paced']['p99_ms']:.2f} ms"),
        ("same, two cores (wrk on them too)", results["two_cores"]["rps"], f"x{results['two_cores']['rps'] / one:.2f}"),
        ("`POST /v1/registrations/verify`, packed + PSC verdict, hot path", hot["registration_packed"]["rps"],
         f"{hot['registration_packed']['rps'] / results['jsonl_evaluation_rps']:.2f} of bulk with verdict, "
         f"{hot['registration_packed']['rps'] / results['jsonl_registration_rps']:.2f} of bulk without; typed {typed['registration_packed']['rps']:.0f}, router {routed['registration_packed']['rps']:.0f}"),
        ("`verify assertion --jsonl` (offline, one core)", results["jsonl_rps"], ""),
        ("`verify registration --jsonl`, packed (offline, one core, no verdict)", results["jsonl_registration_rps"], ""),
        ("`evaluate --jsonl`, packed + PSC verdict and report (offline, one core)", results["jsonl_evaluation_rps"], ""),
        ("raw OpenSSL P-256 verify", results["raw_p256_rps"], ""),
    ] + [(f"py_webauthn behind {kind}", run["rps"], f"mie / peer {one / run['rps']:.2f}") for kind, run in results["peers"].items()] + [
        ("stateful `POST /v1/assertions` (SQLite, grouped commits), hot path", results["stateful_assertion"]["rps"],
         f"p99 {results['stateful_assertion']['p99_ms']:.1f} ms; router {results['stateful_router']['rps']:.0f}"),
    ]
    for label, rps, ratio in rows:
        print(f"| {label} | {rps:,.0f} | {ratio} |")
    print(f"\nserver peak RSS {hot['rss_mb']:.0f} MB stateless, {results['stateful_rss_mb']:.0f} MB stateful")
    (RESULTS / "http.json").write_text(json.dumps(results, indent=2))
    print(f"results: {RESULTS / 'http.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
