#!/usr/bin/env python3
"""Crash test: a burst of enrolments from several clients, the service killed with SIGKILL in
the middle of it, then restarted on the same database file. Every enrolment the service
acknowledged (200, registered) must be there after the restart, with its audit event, and the
audit chain must verify; the restarted service must serve a sign-in with an acknowledged key.
Then a burst of sign-ins, whose commits the service groups (many sign-ins per fsync), killed
the same way: every sign-in it acknowledged must have moved its credential's counter and have
its audit event after the restart. Then the same with a SIGKILL during stateless verifications,
whose audit events are committed in batches: the chain must still verify (events not yet
committed are lost, never half-written).

Exit 0 when every check passed; 1 otherwise.
"""
import argparse
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import softclient  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary: str, database: Path, port: int, log) -> subprocess.Popen:
    # The bursts come from one client key, faster than its default rate (2,000 requests/s) on a
    # release build: lifted here, this test is about durability, not the rate limit.
    config = database.parent / "service.json"
    config.write_text(json.dumps({"rateLimit": 1_000_000, "rateBurst": 1_000_000}))
    process = subprocess.Popen([binary, "serve", "--demo", "--database", str(database), "--port", str(port), "--config", str(config),
                                "--log-level", "warning"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health/ready")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}")
        time.sleep(0.1)
    raise SystemExit("the service did not become ready")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(ROOT / ".build/debug/mie-verifier"))
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mie-crash-"))
    database = work / "mie.sqlite"
    log = open(work / "service.log", "w")
    key = subprocess.run([args.binary, "clients", "add", "desk", "--role", "enrolment", "--role", "verifier",
                          "--rp-id", "mie.example", "--origin", "https://mie.example", "--database", str(database)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
    port = free_port()
    service = start(args.binary, database, port, log)

    acknowledged: dict = {}
    lock = threading.Lock()
    stop = threading.Event()
    failures: list = []

    def burst(worker: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        n = 0
        while not stop.is_set():
            holder, credential = f"w{worker}-{n}", softclient.Credential()
            n += 1
            try:
                answer = softclient.enrol(connection, key, holder, credential)
            except (OSError, http.client.HTTPException):
                return  # the service is gone: this enrolment was never acknowledged
            except softclient.APIError as error:
                failures.append(f"enrolment refused before the crash: {error}")
                return
            if answer.get("registered"):
                with lock:
                    acknowledged[answer["credentialId"]] = (holder, credential)

    threads = [threading.Thread(target=burst, args=(i,)) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    time.sleep(args.seconds)
    service.send_signal(signal.SIGKILL)
    service.wait()
    stop.set()
    for thread in threads:
        thread.join()
    print(f"killed with SIGKILL after {len(acknowledged)} acknowledged enrolments")

    checks = []

    def expect(condition: bool, what: str) -> None:
        print(("ok   " if condition else "FAIL ") + what)
        checks.append((condition, what))

    expect(len(acknowledged) > 20 and not failures, f"the burst ran ({len(acknowledged)} enrolments, {failures[:1]})")
    service = start(args.binary, database, port, log)
    with sqlite3.connect(database) as db:
        stored = {softclient.g.b64u(row[0]) for row in db.execute("SELECT id FROM credentials")}
        audited = {json.loads(row[0]).get("credentialId") for row in db.execute("SELECT event FROM audit_events")}
    missing = set(acknowledged) - stored
    expect(not missing, f"every acknowledged enrolment is stored after the restart ({len(missing)} missing)")
    expect(not (set(acknowledged) - audited), "every acknowledged enrolment has its audit event")
    audit = subprocess.run([args.binary, "audit", "verify", "--database", str(database)], capture_output=True, text=True)
    expect(audit.returncode == 0, f"the audit chain verifies after SIGKILL: {audit.stdout.strip()}{audit.stderr.strip()}")

    # The restarted service signs a holder in with a key acknowledged before the crash.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    holder, credential = next(iter(acknowledged.values()))
    answer = softclient.post(connection, "/v1/assertions", key, softclient.sign_in_body(connection, key, holder, credential))
    expect(answer.get("verified") is True, "a key enrolled before the crash signs in after it")

    # SIGKILL during sign-ins (grouped commits): none acknowledged may be lost.
    signers = list(acknowledged.items())[:max(8, args.clients * 4)]
    signed: dict = {}

    def sign_ins(index: int) -> None:
        credential_id, (holder, credential) = signers[index]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while True:
            try:
                body = softclient.sign_in_body(connection, key, holder, credential)
                answer = softclient.post(connection, "/v1/assertions", key, body)
            except (OSError, http.client.HTTPException):
                return
            except softclient.APIError as error:
                failures.append(f"sign-in refused before the crash: {error}")
                return
            if answer.get("verified") is not True:
                failures.append(f"sign-in not verified before the crash: {answer}")
                return
            with lock:
                signed.setdefault(credential_id, []).append(answer["signCount"])

    workers = [threading.Thread(target=sign_ins, args=(i,)) for i in range(len(signers))]
    for worker in workers:
        worker.start()
    time.sleep(args.seconds)
    service.send_signal(signal.SIGKILL)
    service.wait()
    for worker in workers:
        worker.join()
    total = sum(len(counts) for counts in signed.values())
    print(f"killed with SIGKILL after {total} acknowledged sign-ins")
    expect(total > 20 and not failures, f"the sign-in burst ran ({total} sign-ins, {failures[:1]})")
    with sqlite3.connect(database) as db:
        counters = {softclient.g.b64u(row[0]): row[1] for row in db.execute("SELECT id, sign_count FROM credentials")}
        events: dict = {}
        for (text,) in db.execute("SELECT event FROM audit_events"):
            event = json.loads(text)
            if event.get("action") == "assertion" and event.get("result") == "verified":
                events[event.get("credentialId")] = events.get(event.get("credentialId"), 0) + 1
    behind = [c for c, counts in signed.items() if counters.get(c, -1) < max(counts)]
    expect(not behind, f"every acknowledged sign-in moved its counter, durably ({len(behind)} credentials behind)")
    unaudited = [c for c, counts in signed.items() if events.get(c, 0) < len(counts)]
    expect(not unaudited, f"every acknowledged sign-in has its audit event ({len(unaudited)} credentials short)")
    audit = subprocess.run([args.binary, "audit", "verify", "--database", str(database)], capture_output=True, text=True)
    expect(audit.returncode == 0, f"the audit chain verifies after SIGKILL during sign-ins: {audit.stdout.strip()}{audit.stderr.strip()}")
    service = start(args.binary, database, port, log)

    # SIGKILL during stateless verifications (audit committed in batches).
    def stateless(stop_at: float) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        challenge = softclient.g.b64u(os.urandom(32))
        body = {"response": credential.get({"challenge": challenge, "rpId": "mie.example"}), "challenge": challenge,
                "credential": {"publicKey": softclient.g.b64u(credential.cose()), "signCount": 0}}
        while time.time() < stop_at:
            try:
                softclient.post(connection, "/v1/assertions/verify", key, body)
            except (OSError, http.client.HTTPException):
                return

    workers = [threading.Thread(target=stateless, args=(time.time() + 10,)) for _ in range(args.clients)]
    for worker in workers:
        worker.start()
    time.sleep(1.5)
    service.send_signal(signal.SIGKILL)
    service.wait()
    for worker in workers:
        worker.join()
    audit = subprocess.run([args.binary, "audit", "verify", "--database", str(database)], capture_output=True, text=True)
    expect(audit.returncode == 0, f"the audit chain verifies after SIGKILL during batched events: {audit.stdout.strip()}")
    service = start(args.binary, database, port, log)
    service.send_signal(signal.SIGTERM)
    expect(service.wait(timeout=20) == 0, "the service restarts and stops cleanly")
    log.close()
    failed = [what for ok, what in checks if not ok]
    if failed:
        print((work / "service.log").read_text()[-3000:], file=sys.stderr)
        print(f"crash test: {len(failed)} failed", file=sys.stderr)
        return 1
    print("crash test: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
