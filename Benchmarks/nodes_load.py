#!/usr/bin/env python3
"""What the database costs: the same release service on one node over SQLite, one node over
PostgreSQL, and two nodes over PostgreSQL behind nginx, in one run on this machine.

For each setup, with wrk on loopback (keep-alive, one thread):
  - stateless ES256 assertions (`POST /v1/assertions/verify`, no database write on the request
    path: its audit events are committed in batches), 32 connections;
  - stateful sign-ins (`POST /v1/assertions`): ceremonies opened and answered beforehand, each
    used once, each a transaction (ceremony taken, counter compare-and-set, audit event), 64
    connections (`--connections`) as in http_load.py's stateful case.
Nothing is pinned: the nodes, PostgreSQL, nginx and wrk share the two cores, as they would on a
small host; the figures compare setups, they are not a node's ceiling. Then one node's ceiling
on PostgreSQL as http_load.py measures SQLite's: the node pinned to core 0, PostgreSQL and wrk
to core 1, stateful sign-ins only, with the CPU time the node and PostgreSQL spent per sign-in
(from /proc). Run it under Tools/postgres/with-postgres.sh (a server of its own, fsync on).

  Tools/postgres/with-postgres.sh python3 Benchmarks/nodes_load.py [--seconds 8] [--stateful 4000] [--connections 64]
Results: Benchmarks/results/nodes.json (not committed).
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "Tools" / "postgres"))
import http_load as h  # noqa: E402
import two_nodes_test as t  # noqa: E402


class Node:
    """A release `serve` on the given database (a SQLite path or a postgres:// URL)."""

    def __init__(self, work: Path, name: str, database):
        self.port = h.free_port()
        config = {"rateLimit": 1_000_000, "rateBurst": 1_000_000, "maximumInFlight": 4096, "enrolsUnacceptableKeys": True,
                  "auditKey": str(work / "audit.key"), "auditHeads": str(work / f"heads-{name}")}
        if isinstance(database, dict):
            config["database"] = database
        else:
            config["database"] = str(database)
        path = work / f"{name}.json"
        path.write_text(json.dumps(config))
        self.log = open(work / f"{name}.log", "w")
        self.process = subprocess.Popen([str(h.VERIFIER), "serve", "--config", str(path), "--port", str(self.port), "--log-level", "warning",
                                         "--demo-lists", "TestVectors/referencing"], cwd=h.ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if t.request(self.port, "GET", "/health/ready", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{name} did not start: {(work / f'{name}.log').read_text()[-2000:]}")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.log.close()


def pids(name: str) -> list:
    return [int(p) for p in subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout.split()]


def cpu_seconds(processes: list) -> float:
    """User and system time of `processes` so far (those gone meanwhile count as 0)."""
    total = 0
    for pid in processes:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def pin(processes: list, cores: str) -> None:
    for pid in processes:
        subprocess.run(["taskset", "-a", "-p", "-c", cores, str(pid)], capture_output=True, check=False)


def pinned(node: "Node", key: str, work: Path, args) -> dict:
    """Stateful sign-ins with the node on core 0, PostgreSQL (every process, and the backends
    it forks from now on) and wrk on core 1; the two CPU costs per sign-in."""
    print("== one node pinned to core 0, PostgreSQL and wrk on core 1")
    bodies = work / "sign-ins-pinned.txt"
    h.stateful_bodies(node.port, key, args.stateful, bodies)
    pin([node.process.pid], "0")
    pin(pids("postgres"), "1")
    try:
        node_before, server_before = cpu_seconds([node.process.pid]), cpu_seconds(pids("postgres"))
        stateful = h.wrk(f"http://127.0.0.1:{node.port}/v1/assertions", bodies, key, args.connections, 3)
        requests = max(stateful["requests"], 1)
        stateful["node_cpu_us"] = (cpu_seconds([node.process.pid]) - node_before) / requests * 1e6
        stateful["postgres_cpu_us"] = (cpu_seconds(pids("postgres")) - server_before) / requests * 1e6
    finally:
        pin([node.process.pid] + pids("postgres"), "0-1")
    if stateful["requests"] > args.stateful:
        print(f"   warning: {stateful['requests']} requests for {args.stateful} ceremonies: raise --stateful")
    print(f"   stateful sign-in   {stateful['rps']:8.0f} req/s  p50 {stateful['p50_ms']:6.2f} ms  p99 {stateful['p99_ms']:6.2f} ms  "
          f"errors {stateful['errors']}  CPU per sign-in: node {stateful['node_cpu_us']:.0f} us, PostgreSQL {stateful['postgres_cpu_us']:.0f} us")
    return {"stateful": stateful}


def measure(label: str, url: str, setup_port: int, key: str, assertion_bodies: Path, work: Path, args) -> dict:
    print(f"== {label}")
    h.wrk(url + "/v1/assertions/verify", assertion_bodies, key, 16, 2)
    stateless = h.wrk(url + "/v1/assertions/verify", assertion_bodies, key, 32, args.seconds)
    print(f"   stateless verify   {stateless['rps']:8.0f} req/s  p50 {stateless['p50_ms']:6.2f} ms  p99 {stateless['p99_ms']:6.2f} ms  errors {stateless['errors']}")
    bodies = work / f"sign-ins-{label.replace(' ', '-')}.txt"
    h.stateful_bodies(setup_port, key, args.stateful, bodies)
    stateful = h.wrk(url + "/v1/assertions", bodies, key, args.connections, 3)
    if stateful["requests"] > args.stateful:
        print(f"   warning: {stateful['requests']} requests for {args.stateful} ceremonies: raise --stateful")
    print(f"   stateful sign-in   {stateful['rps']:8.0f} req/s  p50 {stateful['p50_ms']:6.2f} ms  p99 {stateful['p99_ms']:6.2f} ms  errors {stateful['errors']}")
    return {"stateless": stateless, "stateful": stateful}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--stateful", type=int, default=4000)
    # As http_load.py's stateful case: sign-ins waiting together are written together (group
    # commit), so the rate depends on how many wait.
    parser.add_argument("--connections", type=int, default=64, help="wrk connections for the stateful sign-ins")
    args = parser.parse_args()
    url, ctl = t.environment()
    password_file = os.environ["MIE_POSTGRES_PASSWORD_FILE"]
    if not h.VERIFIER.exists():
        raise SystemExit("build the release binary first: swift build -c release --product mie-verifier")
    h.RESULTS.mkdir(exist_ok=True)
    requests = h.RESULTS / "requests"
    if not (requests / "assertion-es256.jsonl").exists():
        subprocess.run([sys.executable, str(HERE / "requests.py"), str(requests)], check=True)
    work = Path(tempfile.mkdtemp(prefix="mie-nodes-bench-"))
    bodies = work / "assertions.txt"
    h.service_bodies(requests / "assertion-es256.jsonl", bodies, "assertion")
    results = {}

    sqlite = work / "mie.sqlite"
    key = h.add_client(sqlite, ["verifier", "enrolment"])
    node = Node(work, "sqlite", sqlite)
    try:
        results["sqlite_one_node"] = measure("one node, SQLite", f"http://127.0.0.1:{node.port}", node.port, key, bodies, work, args)
    finally:
        node.stop()

    postgres = {"postgres": url, "passwordFile": password_file}
    key = subprocess.run([str(h.VERIFIER), "clients", "add", "bench", "--role", "verifier", "--role", "enrolment", "--rp-id", h.g.RP_ID,
                          "--origin", h.g.ORIGIN, "--database", url], capture_output=True, text=True, check=True, cwd=h.ROOT).stdout.strip()
    one = Node(work, "pg1", postgres)
    try:
        results["postgres_one_node"] = measure("one node, PostgreSQL", f"http://127.0.0.1:{one.port}", one.port, key, bodies, work, args)
        two = Node(work, "pg2", postgres)
        proxy, proxy_port = t.nginx(work, [one.port, two.port])
        try:
            results["postgres_two_nodes"] = measure("two nodes, PostgreSQL, nginx", f"http://127.0.0.1:{proxy_port}", proxy_port, key, bodies,
                                                    work, args)
        finally:
            proxy.send_signal(signal.SIGQUIT)
            proxy.wait(timeout=10)
            two.stop()
    finally:
        one.stop()

    # The pinned node on a database of its own, as fresh as the first node's was.
    subprocess.run([ctl, "createdb", "pinned"], check=True, capture_output=True)
    fresh = {"postgres": url.rsplit("/", 1)[0] + "/pinned", "passwordFile": password_file}
    key = subprocess.run([str(h.VERIFIER), "clients", "add", "bench", "--role", "verifier", "--role", "enrolment", "--rp-id", h.g.RP_ID,
                          "--origin", h.g.ORIGIN, "--database", fresh["postgres"]], capture_output=True, text=True, check=True, cwd=h.ROOT).stdout.strip()
    alone = Node(work, "pinned", fresh)
    try:
        results["postgres_one_node_pinned"] = pinned(alone, key, work, args)
    finally:
        alone.stop()
    base = results["sqlite_one_node"]["stateful"]
    pg = results["postgres_one_node"]["stateful"]
    results["stateful_ms_per_request"] = {k: 1000 / v["stateful"]["rps"] for k, v in results.items() if isinstance(v, dict) and "stateful" in v}
    print("== what the database costs per stateful sign-in (1 / throughput)")
    for name, ms in results["stateful_ms_per_request"].items():
        print(f"   {name:20s} {ms:6.2f} ms")
    print(f"   PostgreSQL / SQLite on one node: {pg['rps'] / base['rps']:.2f} of the sign-in rate")
    (h.RESULTS / "nodes.json").write_text(json.dumps(results, indent=2))
    print(f"results: {h.RESULTS / 'nodes.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
