#!/usr/bin/env python3
"""Two `mie-verifier serve` nodes on one real PostgreSQL (Tools/postgres/with-postgres.sh starts
it), with nginx in front of them (round robin), checked for what several nodes must keep true:

- a ceremony opened on one node is finished on the other (directly, and through the proxy);
- a challenge is taken once when both nodes receive the same response at the same time;
- two sign-ins racing on one credential on different nodes: exactly one moves the counter;
- a desk session opened on one node works on the other, ends on both at sign-out and when its
  operator is revoked;
- a list imported on one node is in force on the other within the poll interval;
- an API key revoked on the command line stops working on both nodes within the client cache's
  lifetime;
- the audit chain stays one chain after bursts from both nodes (`audit verify`);
- kill -9 of one node in a burst of enrolments and sign-ins: every acknowledged enrolment and
  its audit event is stored, every acknowledged sign-in's counter move and audit event too
  (sign-ins waiting together on a node are written in one statement), and the other node keeps
  answering;
- PostgreSQL stopped under load: 503 `unavailable` within the database timeout, never a 500 nor
  a hang; readiness says not ready; the nodes recover by themselves when it is back.

Exit 0 when every check passed; 1 otherwise.
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
import harness  # noqa: E402
import softclient  # noqa: E402

ROOT = harness.ROOT
RP_ORIGIN = "https://mie.example"
# One desk origin for both nodes (what the proxy serves); not the default localhost:PORT.
DESK_ORIGIN = "http://desk.localhost"
LIST_POLL = 1
CACHE_LIFETIME = 2
DB_TIMEOUT = 3


def environment() -> tuple:
    url = os.environ.get("MIE_POSTGRES_URL")
    ctl = os.environ.get("MIE_POSTGRES_CTL")
    if not url or not ctl:
        raise SystemExit("two_nodes_test: run under Tools/postgres/with-postgres.sh (MIE_POSTGRES_URL, MIE_POSTGRES_CTL)")
    return url, ctl


def request(port: int, method: str, path: str, body=None, headers=None, timeout=15) -> tuple:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = None if body is None else json.dumps(body)
    all_headers = {"Content-Type": "application/json"} if body is not None else {}
    all_headers.update(headers or {})
    connection.request(method, path, data, all_headers)
    response = connection.getresponse()
    raw = response.read()
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        parsed = {"raw": raw[:200].decode(errors="replace")}
    cookies = response.getheader("Set-Cookie")
    connection.close()
    return response.status, parsed, cookies


def api(port: int, key: str, path: str, body: dict) -> tuple:
    status, answer, _ = request(port, "POST", path, body, {"Authorization": f"Bearer {key}"})
    return status, answer


class Node:
    def __init__(self, binary: str, work: Path, name: str, url: str, password_file: str):
        self.name = name
        self.port = harness.free_port()
        config = {
            "database": {"postgres": url, "passwordFile": password_file, "timeoutSeconds": DB_TIMEOUT},
            "relyingParty": {"id": "desk.localhost", "origins": [DESK_ORIGIN]},
            "auditKey": str(work / "audit.key"),
            "auditHeads": str(work / f"heads-{name}"),
            "listPollSeconds": LIST_POLL,
            "rateLimit": 100000, "rateBurst": 100000,
            # The software key is on no list: stored marked with its verdict (a named relaxation).
            "enrolsUnacceptableKeys": True,
        }
        self.config = work / f"{name}.json"
        self.config.write_text(json.dumps(config))
        self.log_path = work / f"{name}.log"
        self.binary = binary
        self.process = None

    def start(self) -> "Node":
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [self.binary, "serve", "--config", str(self.config), "--port", str(self.port), "--demo-lists", "TestVectors/referencing",
             "--log-level", "notice"], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.process.returncode}: {self.log_path.read_text()[-3000:]}")
            try:
                if request(self.port, "GET", "/health/ready", timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.name} did not become ready: {self.log_path.read_text()[-3000:]}")

    def stop(self, sig=signal.SIGTERM):
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process:
            self.log.close()


def nginx(work: Path, ports: list) -> tuple:
    """nginx round-robin over the nodes; (process, port)."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(binary):
        raise SystemExit("two_nodes_test: nginx is not installed (apt-get install nginx-light)")
    port = harness.free_port()
    template = (Path(__file__).resolve().parent / "nginx-two-nodes.conf").read_text()
    upstreams = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in ports)
    text = template.replace("@UPSTREAMS@", upstreams).replace("@PORT@", str(port)).replace("@PREFIX@", str(work / "nginx"))
    (work / "nginx").mkdir(exist_ok=True)
    conf = work / "nginx" / "nginx.conf"
    conf.write_text(text)
    process = subprocess.Popen([binary, "-p", str(work / "nginx"), "-c", str(conf), "-g", "daemon off;"],
                               stdout=open(work / "nginx" / "out.log", "w"), stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            if request(port, "GET", "/health/live", timeout=1)[0] == 200:
                return process, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nginx did not start: {(work / 'nginx' / 'out.log').read_text()}")


def waiting_events(ctl) -> int:
    """Audit events committed and not chained yet (`audit_pending`)."""
    out = subprocess.run([ctl, "psql", "-At", "-c", "SELECT COUNT(*) FROM audit_pending"], capture_output=True, text=True).stdout.strip()
    return int(out) if out.isdigit() else -1


def cli(binary: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *args], capture_output=True, text=True, cwd=ROOT)


def enrol(port_options: int, port_finish: int, key: str, holder: str, credential) -> tuple:
    status, options = api(port_options, key, "/v1/registrations/options", {"holder": {"id": holder, "name": holder}})
    if status != 200:
        return status, options
    return api(port_finish, key, "/v1/registrations", {"ceremonyId": options["ceremonyId"], "response": credential.create(options["publicKey"])})


def sign_in_options(port: int, key: str, holder: str) -> dict:
    status, options = api(port, key, "/v1/assertions/options", {"holder": holder})
    assert status == 200, options
    return options


def race(calls: list) -> list:
    """Runs the calls at the same moment; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call()
        except Exception as error:  # noqa: BLE001 - reported as the result
            results[i] = ("error", str(error))

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class Desk:
    """The desk's operator over HTTP: a software key, the session cookie and CSRF token."""

    def __init__(self):
        self.credential = softclient.Credential(origin=DESK_ORIGIN)
        self.cookie = None
        self.csrf = None
        self.name = None
        self.last = None

    def headers(self, csrf=True) -> dict:
        headers = {"Origin": DESK_ORIGIN}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        return headers

    def keep(self, answer: dict, cookies: str):
        self.last = answer
        if cookies:
            self.cookie = cookies.split(";")[0]
        self.csrf = answer.get("csrf", self.csrf)

    def redeem(self, port: int, code: str) -> int:
        status, options, _ = request(port, "POST", "/enrol/api/operators/options", {"code": code}, self.headers(False))
        if status != 200:
            self.last = options
            return status
        self.name = options["operator"]
        status, answer, cookies = request(port, "POST", "/enrol/api/operators",
                                          {"ceremonyId": options["ceremonyId"], "code": code,
                                           "response": self.credential.create(options["publicKey"])}, self.headers(False))
        self.keep(answer, cookies)
        return status

    def sign_in(self, port: int) -> int:
        status, options, _ = request(port, "POST", "/enrol/api/session/options", {"operator": self.name}, self.headers(False))
        if status != 200:
            return status
        status, answer, cookies = request(port, "POST", "/enrol/api/session",
                                          {"ceremonyId": options["ceremonyId"], "response": self.credential.get(options["publicKey"])},
                                          self.headers(False))
        self.keep(answer, cookies)
        return status

    def session(self, port: int) -> tuple:
        status, answer, _ = request(port, "GET", "/enrol/api/session", None, self.headers(False))
        return status, answer

    def sign_out(self, port: int) -> int:
        return request(port, "DELETE", "/enrol/api/session", None, self.headers())[0]


def sign_in(port: int, key: str, holder: str, credential) -> tuple:
    """A sign-in opened and finished on one node: the first status that is not 200, or the finish's."""
    status, options = api(port, key, "/v1/assertions/options", {"holder": holder})
    if status != 200:
        return status, options
    return api(port, key, "/v1/assertions", {"ceremonyId": options["ceremonyId"], "response": credential.get(options["publicKey"])})


def database_fault(ctl: str, key: str, nodes: tuple, fault: str, restore: str, seconds: float) -> dict:
    """Enrolments and sign-ins (awaited on the event loops) on every node while `ctl fault`
    holds for `seconds`, then `ctl restore`: every status seen, the slowest answer, readiness
    during the fault, and how long until an enrolment succeeds again (None: not within 30 s)."""
    statuses, sign_ins, slowest, lock, stop = [], [], [0.0], threading.Lock(), threading.Event()

    def load(node, signs_in):
        holder, credential = f"fault-holder-{node.name}-{time.time()}", softclient.Credential(origin=RP_ORIGIN)
        if signs_in and enrol(node.port, node.port, key, holder, credential)[0] != 200:
            with lock:
                statuses.append("the sign-in loader's enrolment failed before the fault")
            return
        while not stop.is_set():
            started = time.time()
            try:
                if signs_in:
                    status, _ = sign_in(node.port, key, holder, credential)
                else:
                    status, _ = enrol(node.port, node.port, key, f"fault-{time.time()}", softclient.Credential(origin=RP_ORIGIN))
            except (OSError, http.client.HTTPException) as error:
                status = f"transport {error}"
            with lock:
                statuses.append(status)
                if signs_in:
                    sign_ins.append(status)
                slowest[0] = max(slowest[0], time.time() - started)

    loaders = [threading.Thread(target=load, args=(node, signs_in)) for node in nodes for signs_in in (False, True)]
    for loader in loaders:
        loader.start()
    time.sleep(1)
    subprocess.run([ctl, fault], check=True)
    time.sleep(seconds)
    ready_during = request(nodes[-1].port, "GET", "/health/ready", timeout=DB_TIMEOUT + 5)[0]
    subprocess.run([ctl, restore], check=True)
    back, recovered = time.time(), None
    while time.time() - back < 30 and recovered is None:
        try:
            if enrol(nodes[-1].port, nodes[-1].port, key, f"after-{time.time()}", softclient.Credential(origin=RP_ORIGIN))[0] == 200:
                recovered = round(time.time() - back, 2)
        except OSError:
            pass
        time.sleep(0.2)
    stop.set()
    for loader in loaders:
        loader.join()
    return {"statuses": statuses, "sign_ins": sign_ins, "slowest": slowest[0], "ready_during": ready_during, "recovered": recovered}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=harness.BINARY)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    url, ctl = environment()
    password_file = os.environ["MIE_POSTGRES_PASSWORD_FILE"]
    work = Path(tempfile.mkdtemp(prefix="mie-two-nodes-"))
    checks = harness.Checks("two nodes")
    database = url
    key = cli(args.binary, "clients", "add", "iam", "--role", "enrolment", "--role", "verifier", "--role", "operator",
              "--rp-id", "mie.example", "--origin", RP_ORIGIN, "--database", database)
    checks.expect(key.returncode == 0, f"a client is added on PostgreSQL from the command line {key.stderr.strip()[-300:]}")
    key = key.stdout.strip()
    code = cli(args.binary, "operators", "add", "alice", "--database", database)
    code = code.stdout.strip().split()[-1] if code.returncode == 0 else ""
    # Both nodes start together: the migrations run once (advisory lock).
    one = Node(args.binary, work, "node1", url, password_file)
    two = Node(args.binary, work, "node2", url, password_file)
    starters = [threading.Thread(target=node.start) for node in (one, two)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join()
    proxy, proxy_port = nginx(work, [one.port, two.port])
    try:
        run_checks(args, checks, one, two, proxy_port, key, code, database, ctl, work)
    finally:
        for node in (one, two):
            node.stop()
        proxy.send_signal(signal.SIGQUIT)
        proxy.wait(timeout=10)
    logs = "\n".join(node.log_path.read_text()[-1500:] for node in (one, two))
    (work / "both.log").write_text(logs)
    return checks.finish(work / "both.log")


def run_checks(args, checks, one, two, proxy_port, key, code, database, ctl, work):
    softclient.g.ORIGIN = RP_ORIGIN
    # 1. A ceremony opened on one node, finished on the other; then through the proxy.
    credential = softclient.Credential(origin=RP_ORIGIN)
    status, answer = enrol(one.port, two.port, key, "cross-1", credential)
    checks.expect(status == 200 and answer.get("registered") is True, f"a registration opened on node 1 is finished on node 2 ({status})")
    options = sign_in_options(two.port, key, "cross-1")
    status, answer = api(one.port, key, "/v1/assertions", {"ceremonyId": options["ceremonyId"], "response": credential.get(options["publicKey"])})
    checks.expect(status == 200 and answer.get("verified") is True, f"a sign-in opened on node 2 is finished on node 1 ({status} {answer.get('error')})")
    through = softclient.Credential(origin=RP_ORIGIN)
    results = [enrol(proxy_port, proxy_port, key, f"proxied-{i}", through if i == 0 else softclient.Credential(origin=RP_ORIGIN))
               for i in range(4)]
    checks.expect(all(s == 200 and a.get("registered") for s, a in results),
                  f"four enrolments through nginx (round robin: options and finish on different nodes) all register {[s for s, _ in results]}")

    # 2. One challenge, the same response to both nodes at once: taken once, many rounds.
    doubled = []
    for _ in range(args.rounds):
        options = sign_in_options(one.port, key, "cross-1")
        body = {"ceremonyId": options["ceremonyId"], "response": credential.get(options["publicKey"])}
        outcome = race([lambda: api(one.port, key, "/v1/assertions", body), lambda: api(two.port, key, "/v1/assertions", body)])
        wins = [o for o in outcome if o[0] == 200 and o[1].get("verified")]
        refusals = [o for o in outcome if o[0] in (400, 409, 410) or (o[0] == 200 and not o[1].get("verified"))]
        if len(wins) != 1 or len(refusals) != 1:
            doubled.append([(o[0], o[1].get("error", o[1].get("code"))) for o in outcome])
    checks.expect(not doubled, f"{args.rounds} rounds of one response to both nodes at once: taken exactly once each ({doubled[:2]})")

    # 3. Two sign-ins on one credential, one per node, with the same counter: one moves it.
    lost = []
    for _ in range(args.rounds // 2):
        first, second = sign_in_options(one.port, key, "cross-1"), sign_in_options(two.port, key, "cross-1")
        a = credential.get(first["publicKey"])
        credential.count -= 1
        b = credential.get(second["publicKey"])
        outcome = race([lambda: api(one.port, key, "/v1/assertions", {"ceremonyId": first["ceremonyId"], "response": a}),
                        lambda: api(two.port, key, "/v1/assertions", {"ceremonyId": second["ceremonyId"], "response": b})])
        wins = [o for o in outcome if o[0] == 200 and o[1].get("verified")]
        if len(wins) != 1:
            lost.append([(o[0], o[1].get("verified"), (o[1].get("error") or {}).get("code") if isinstance(o[1].get("error"), dict) else o[1].get("code")) for o in outcome])
    checks.expect(not lost, f"{args.rounds // 2} races of two sign-ins with one counter value on two nodes: exactly one verified each ({lost[:2]})")

    # 4. A desk session opened on one node works on the other and ends on both.
    desk = Desk()
    status = desk.redeem(one.port, code) if code else 0
    checks.expect(status == 200, f"the operator's code is redeemed on node 1 ({status} {desk.last})")
    status, answer = desk.session(two.port)
    checks.expect(status == 200 and answer.get("operator") == "alice", f"the session opened on node 1 is known on node 2 ({status})")
    status = desk.sign_out(two.port)
    checks.expect(status == 200, f"sign-out on node 2 ({status})")
    checks.expect(desk.session(one.port)[0] == 401 and desk.session(two.port)[0] == 401, "after sign-out on node 2 the session is gone on both")
    status = desk.sign_in(two.port)
    checks.expect(status == 200 and desk.session(one.port)[0] == 200, f"signed in again on node 2, known on node 1 ({status})")
    revoked = cli(args.binary, "operators", "revoke", "alice", "--database", database)
    checks.expect(revoked.returncode == 0, f"the operator is revoked from the command line {revoked.stderr.strip()[-200:]}")
    checks.expect(desk.session(one.port)[0] == 401 and desk.session(two.port)[0] == 401, "the revoked operator's session ends on both nodes at once")

    # 5. A list imported on node 1 is in force on node 2 within the poll interval.
    document = (ROOT / "TestVectors/referencing/demo-ans-list-no2.json").read_bytes()
    signature = (ROOT / "TestVectors/referencing/demo-ans-list-no2.json.jws").read_text().strip()
    status, answer = api(one.port, key, "/v1/referencing/import", {"document": softclient.g.b64u(document), "signature": signature})
    imported_at = time.time()
    label = (answer.get("list") or {}).get("label") or ""
    checks.expect(status == 200, f"a newer ANS list is imported on node 1 ({status} {answer.get('title', '')})")
    seen = None
    while time.time() - imported_at < LIST_POLL + 5:
        _, lists, _ = request(two.port, "GET", "/v1/referencing", None, {"Authorization": f"Bearer {key}"})
        if any(entry.get("number") == 2 and entry.get("kind") == "ans-list" for entry in lists.get("lists", [])):
            seen = time.time() - imported_at
            break
        time.sleep(0.1)
    checks.expect(seen is not None and seen <= LIST_POLL + 1.5, f"node 2 has the new list in force {seen and round(seen, 2)} s after the import (bound: poll {LIST_POLL} s)")

    # 6. An API key revoked on the command line stops working on both nodes within the cache's lifetime.
    other = cli(args.binary, "clients", "add", "short-lived", "--role", "verifier", "--database", database).stdout.strip()
    checks.expect(all(request(n.port, "GET", "/v1/referencing", None, {"Authorization": f"Bearer {other}"})[0] == 200 for n in (one, two)),
                  "a second client's key works on both nodes")
    cli(args.binary, "clients", "revoke", "short-lived", "--database", database)
    revoked_at = time.time()
    stopped = {}
    while time.time() - revoked_at < CACHE_LIFETIME + 3 and len(stopped) < 2:
        for node in (one, two):
            if node.name not in stopped and request(node.port, "GET", "/v1/referencing", None, {"Authorization": f"Bearer {other}"})[0] == 401:
                stopped[node.name] = time.time() - revoked_at
        time.sleep(0.1)
    checks.expect(len(stopped) == 2 and max(stopped.values()) <= CACHE_LIFETIME + 0.5,
                  f"the revoked key stops on both nodes within {CACHE_LIFETIME} s ({ {k: round(v, 2) for k, v in stopped.items()} })")

    # 7. One audit chain after a burst from both nodes.
    def burst(node, n):
        for i in range(n):
            enrol(node.port, node.port, key, f"burst-{node.name}-{i}", softclient.Credential(origin=RP_ORIGIN))
    threads = [threading.Thread(target=burst, args=(node, 15)) for node in (one, two) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    audit = cli(args.binary, "audit", "verify", "--database", database)
    checks.expect(audit.returncode == 0, f"audit verify after bursts from both nodes: {audit.stdout.strip()} {audit.stderr.strip()[-300:]}")

    # 8. kill -9 of node 1 in a burst of enrolments on both nodes and of sign-ins on node 1.
    acknowledged = {}
    lock = threading.Lock()
    stop = threading.Event()
    after_kill = {"node2": 0}
    killed = threading.Event()
    # Each signer's credential: the highest counter a verified answer acknowledged, and how many.
    signers = []
    for i in range(6):
        credential = softclient.Credential(origin=RP_ORIGIN)
        status, _ = enrol(one.port, one.port, key, f"signer-{i}", credential)
        checks.expect(status == 200, f"signer {i} enrolled before the kill ({status})")
        signers.append((f"signer-{i}", credential))
    signed = {softclient.g.b64u(credential.id): {"highest": 0, "count": 0} for _, credential in signers}

    def sign_ins(holder, credential):
        while not stop.is_set():
            try:
                status, answer = sign_in(one.port, key, holder, credential)
            except (OSError, http.client.HTTPException):
                return
            if status == 200 and answer.get("verified") is True:
                with lock:
                    mark = signed[softclient.g.b64u(credential.id)]
                    mark["highest"], mark["count"] = credential.count, mark["count"] + 1

    def enrolments(node, worker):
        n = 0
        while not stop.is_set():
            holder, c = f"k-{node.name}-{worker}-{n}", softclient.Credential(origin=RP_ORIGIN)
            n += 1
            try:
                status, answer = enrol(node.port, node.port, key, holder, c)
            except (OSError, http.client.HTTPException):
                if node is one:
                    return
                continue
            if status == 200 and answer.get("registered"):
                with lock:
                    acknowledged[answer["credentialId"]] = holder
                    if node is two and killed.is_set():
                        after_kill["node2"] += 1
    workers = [threading.Thread(target=enrolments, args=(node, w)) for node in (one, two) for w in range(2)]
    workers += [threading.Thread(target=sign_ins, args=signer) for signer in signers]
    for worker in workers:
        worker.start()
    time.sleep(2)
    one.process.send_signal(signal.SIGKILL)
    one.process.wait()
    killed.set()
    time.sleep(2)
    stop.set()
    for worker in workers:
        worker.join()
    rows = subprocess.run([ctl, "psql", "-At", "-c", "SELECT encode(id, 'base64') FROM credentials"], capture_output=True, text=True).stdout.split()
    stored = {softclient.g.b64u(__import__("base64").b64decode(r)) for r in rows}
    # An event is durable once its state change commits: chained, or still queued for the chain.
    events = subprocess.run([ctl, "psql", "-At", "-c", "SELECT event FROM audit_events UNION ALL SELECT event FROM audit_pending"],
                            capture_output=True, text=True).stdout.splitlines()
    audited = {json.loads(e).get("credentialId") for e in events if e.strip()}
    missing = set(acknowledged) - stored
    checks.expect(len(acknowledged) > 10 and not missing, f"kill -9 of node 1: all {len(acknowledged)} acknowledged enrolments are stored ({len(missing)} missing)")
    checks.expect(not (set(acknowledged) - audited), "each acknowledged enrolment has its audit event")
    rows = subprocess.run([ctl, "psql", "-At", "-F", " ", "-c", "SELECT encode(id, 'base64'), sign_count FROM credentials"],
                          capture_output=True, text=True).stdout.splitlines()
    counters = {softclient.g.b64u(__import__("base64").b64decode(r.split()[0])): int(r.split()[1]) for r in rows if r.strip()}
    verified = [json.loads(e) for e in events if e.strip()]
    verified = [e.get("credentialId") for e in verified if e.get("action") == "assertion" and e.get("result") == "verified"]
    behind = {c: (counters.get(c), m["highest"]) for c, m in signed.items() if (counters.get(c) or 0) < m["highest"]}
    unaudited = {c: (verified.count(c), m["count"]) for c, m in signed.items() if verified.count(c) < m["count"]}
    acked = sum(m["count"] for m in signed.values())
    checks.expect(acked > 10 and not behind,
                  f"kill -9 of node 1: all {acked} acknowledged sign-ins moved their counter ({len(behind)} credentials behind: {behind})")
    checks.expect(not unaudited, f"each acknowledged sign-in has its audit event ({unaudited})")
    checks.expect(after_kill["node2"] > 0, f"node 2 kept answering after node 1 died ({after_kill['node2']} enrolments)")
    # What node 1 had queued when it died is chained by node 2 (it links every 100 ms).
    deadline = time.time() + 5
    while time.time() < deadline and waiting_events(ctl) != 0:
        time.sleep(0.1)
    checks.expect(waiting_events(ctl) == 0, f"node 2 chained the events node 1 had queued ({waiting_events(ctl)} still waiting)")
    audit = cli(args.binary, "audit", "verify", "--database", database)
    checks.expect(audit.returncode == 0, f"the chain verifies after the kill: {audit.stdout.strip()}")
    one.start()

    # 9. PostgreSQL stopped under load: 503 within the timeout, never 500; ready says not ready; recovery.
    # Three stops: a request caught at the moment the server ends its connection is rare in one
    # (postgres-nio left such a statement's future pending for good: 2 CI runs in 3 hung there).
    runs = [database_fault(ctl, key, (one, two), "stop", "start", DB_TIMEOUT + 2) for _ in range(3)]
    statuses = [s for run in runs for s in run["statuses"]]
    kinds = sorted({str(s) for s in statuses})
    slowest = max(run["slowest"] for run in runs)
    checks.expect(503 in statuses and all(s in (200, 503) for s in statuses),
                  f"while PostgreSQL is down (three stops) requests get 503, never 500 (statuses seen: {kinds})")
    signs = [s for run in runs for s in run["sign_ins"]]
    checks.expect(503 in signs and 200 in signs and all(s in (200, 503) for s in signs),
                  f"sign-ins (awaited on the event loops) too: 503 while it is down, 200 around it ({sorted({str(s) for s in signs})})")
    checks.expect(slowest < 2 * DB_TIMEOUT + 3,
                  f"no request hung past the database timeout (slowest {slowest:.1f} s, timeout {DB_TIMEOUT} s per statement)")
    checks.expect(all(run["ready_during"] == 503 for run in runs),
                  f"readiness says not ready while the database is down ({[run['ready_during'] for run in runs]})")
    checks.expect(all(run["recovered"] is not None for run in runs),
                  f"the nodes recover by themselves when PostgreSQL is back ({[run['recovered'] for run in runs]} s)")
    checks.expect(all(request(n.port, "GET", "/health/ready")[0] == 200 for n in (one, two)), "both nodes ready again")

    # 10. PostgreSQL hanging (every server process stopped in place): the statement timeout, not a hang.
    run = database_fault(ctl, key, (one, two), "freeze", "thaw", 2 * DB_TIMEOUT + 2)
    kinds = sorted({str(s) for s in run["statuses"]})
    checks.expect(503 in run["statuses"] and all(s in (200, 503) for s in run["statuses"]), f"a hanging database: 503, never 500 ({kinds})")
    checks.expect(run["slowest"] < 2 * DB_TIMEOUT + 2, f"a hanging database holds no request past the timeout (slowest {run['slowest']:.1f} s)")
    checks.expect(503 in run["sign_ins"] and 200 in run["sign_ins"] and all(s in (200, 503) for s in run["sign_ins"]),
                  f"sign-ins on a hanging database: 503, never 500 ({sorted({str(s) for s in run['sign_ins']})})")
    checks.expect(run["recovered"] is not None, f"service resumes when the database does ({run['recovered']} s)")

    # 11. A backup taken while the nodes run (pg_dump), restored into another database: its audit
    # trail verifies against a signed head a node exported before the dump.
    time.sleep(1)
    for node in (one, two):
        node.stop()
        node.start()
    heads = sorted(work.glob("heads-*/heads.jsonl"))
    dump = work / "mie.dump"
    dumped = subprocess.run([ctl, "pg_dump", "--format=custom", f"--file={dump}", "mie"], capture_output=True, text=True)
    checks.expect(dumped.returncode == 0 and dump.stat().st_size > 0, f"pg_dump while the nodes run {dumped.stderr.strip()[-200:]}")
    subprocess.run([ctl, "createdb", "mie_restored"], check=True, capture_output=True)
    restored = subprocess.run([ctl, "pg_restore", "--dbname=mie_restored", str(dump)], capture_output=True, text=True)
    checks.expect(restored.returncode == 0, f"pg_restore into another database {restored.stderr.strip()[-200:]}")
    copy = database.rsplit("/", 1)[0] + "/mie_restored"
    audit = cli(args.binary, "audit", "verify", "--database", copy, "--head", str(heads[-1]), "--key", str(work / "audit.key")) if heads else None
    checks.expect(audit is not None and audit.returncode == 0,
                  f"the restored trail verifies against a node's signed head: {audit and (audit.stdout.strip() + audit.stderr.strip()[-200:])}")


if __name__ == "__main__":
    sys.exit(main())
