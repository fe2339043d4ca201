#!/usr/bin/env python3
"""Slow and greedy clients against the running service (configured in YAML): a connection that stops sending in the
middle of a request is closed after the idle timeout (here 1 s); many connections that trickle
their request heads one byte at a time (slowloris) are closed by the header timeout (here 2 s)
while the service keeps answering others; a body announced larger than the limit is refused
with 413 before it is read; a graceful stop closes an idle connection at once and answers the
request whose body is under way; a misspelt member of the tls object is refused at start.

Exit 0 when every check passed; 1 otherwise.
"""
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402


def main() -> int:
    work = Path(__import__("tempfile").mkdtemp(prefix="mie-slow-"))
    checks = harness.Checks("slow client test")
    # The configuration in YAML (the idle timeout below proves it was read).
    config = work / "service.yaml"
    config.write_text(f"# test configuration\nidleTimeoutSeconds: 1\nheaderTimeoutSeconds: 2\ndatabase: '{work / 'mie.sqlite'}'\n")
    misspelt = work / "misspelt.json"
    misspelt.write_text(json.dumps({"tls": {"certificate": "c.pem", "privateKey": "k.pem", "clientCA": ["ca.pem"]}}))
    refused = subprocess.run([harness.BINARY, "serve", "--config", str(misspelt)], capture_output=True, text=True, timeout=30)
    checks.expect(refused.returncode != 0 and "tls.clientCA is not a configuration member" in refused.stderr,
                  f"a misspelt tls member is refused at start, with its path: {refused.stderr.strip()[:200]}")
    broken = work / "broken.yaml"
    broken.write_text("port: 1\nport: 2\n")
    refused = subprocess.run([harness.BINARY, "serve", "--config", str(broken)], capture_output=True, text=True, timeout=30)
    checks.expect(refused.returncode != 0 and "port" in refused.stderr and ("twice" in refused.stderr or "duplicated" in refused.stderr), f"a YAML configuration with a key twice is refused: {refused.stderr.strip()}")
    signers = work / "signers.json"
    signers.write_text(json.dumps({"mdsRoots": ["TestVectors/referencing/demo-mds-root.pem"]}))
    mixed = subprocess.run([harness.BINARY, "serve", "--config", str(signers), "--demo-lists", "TestVectors/referencing", "--database",
                            str(work / "mixed.sqlite")], capture_output=True, text=True, timeout=30, cwd=harness.ROOT)
    checks.expect(mixed.returncode != 0 and "exclude each other" in mixed.stderr, f"DEMO lists beside real signers are refused: {mixed.stderr.strip()[:160]}")
    # Started where the DEMO files are, without --demo: no DEMO list is imported, none is trusted.
    plain = harness.Service("--database", str(work / "plain.sqlite"), work=work)
    try:
        deadline = time.time() + 30
        ready = None
        while time.time() < deadline:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", plain.port, timeout=1)
                probe.request("GET", "/health/ready")
                answer = probe.getresponse()
                ready = (answer.status, json.loads(answer.read() or b"{}").get("detail", ""))
                break
            except OSError:
                time.sleep(0.1)
        checks.expect(ready is not None and ready[0] == 503 and "no referencing list" in ready[1],
                      f"without --demo the DEMO lists beside it are not imported: {ready}")
    finally:
        plain.stop()
    service = harness.Service("--config", str(config), "--demo", work=work)
    try:
        service.ready()
        key = service.demo_key()
        slow = socket.create_connection(("127.0.0.1", service.port))
        slow.sendall(b"POST /v1/assertions/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
                     + f"Authorization: Bearer {key}\r\n\r\n{{".encode())
        slow.settimeout(5)
        start = time.time()
        try:
            data = slow.recv(4096)
        except (TimeoutError, OSError):
            data = None
        elapsed = time.time() - start
        checks.expect(data is not None and 0.8 < elapsed < 4,
                      f"a stalled request's connection is closed after the idle timeout ({elapsed:.1f} s, {data[:40] if data else data!r})")
        big = http.client.HTTPConnection("127.0.0.1", service.port, timeout=5)
        big.putrequest("POST", "/v1/assertions/verify")
        big.putheader("Content-Type", "application/json")
        big.putheader("Authorization", f"Bearer {key}")
        big.putheader("Content-Length", str(50 * 1024 * 1024))
        big.endheaders()
        big.send(b"{" + b" " * 300_000)
        reply = big.getresponse()
        checks.expect(reply.status == 413 and json.loads(reply.read()).get("code") == "request.too-large",
                      f"a body over the limit is refused with 413 ({reply.status})")
        fine = http.client.HTTPConnection("127.0.0.1", service.port, timeout=5)
        fine.request("GET", "/health/live")
        checks.expect(fine.getresponse().status == 200, "others are still served")
    finally:
        code = service.stop()
    checks.expect(code == 0, "the service stops cleanly")
    # The header timeout on its own: idle connections may stay 30 s, a trickled head 2 s.
    loris_config = work / "loris.yaml"
    loris_config.write_text(f"idleTimeoutSeconds: 30\nheaderTimeoutSeconds: 2\ndatabase: '{work / 'loris.sqlite'}'\n")
    loris = harness.Service("--config", str(loris_config), "--demo", work=work)
    try:
        loris.ready()
        # Slowloris: 150 connections trickle a request head, one byte every 0.4 s.
        trickling = []
        for _ in range(150):
            connection = socket.create_connection(("127.0.0.1", loris.port))
            connection.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
            connection.setblocking(False)
            trickling.append(connection)
        start = time.time()
        open_ = set(range(len(trickling)))
        served_meanwhile = False
        while open_ and time.time() - start < 8:
            for index in list(open_):
                try:
                    trickling[index].send(b"X")
                except OSError:
                    open_.discard(index)
                    continue
                try:
                    if trickling[index].recv(1024) == b"":
                        open_.discard(index)
                except BlockingIOError:
                    pass
                except OSError:
                    open_.discard(index)
            if not served_meanwhile:
                probe = http.client.HTTPConnection("127.0.0.1", loris.port, timeout=2)
                probe.request("GET", "/health/live")
                served_meanwhile = probe.getresponse().status == 200
            time.sleep(0.4)
        elapsed = time.time() - start
        checks.expect(not open_ and elapsed < 6, f"150 slowloris connections are closed by the header timeout ({len(open_)} open after {elapsed:.1f} s)")
        checks.expect(served_meanwhile, "the service answers others while they trickle")
        for connection in trickling:
            connection.close()
        checks.expect(elapsed > 1.5, f"not before the header timeout ({elapsed:.1f} s)")
        # A graceful stop: an idle keep-alive connection is closed at once; a request whose body
        # is under way is read to its end and answered, whether the lean path takes it (a cached
        # key) or the router does (an unknown key: refused before its body is read), and then
        # its connection is closed too.
        key = re.findall(r"DEMO client key.*: (mie_[A-Za-z0-9_-]+)", loris.log_path.read_text())[-1]
        body = b'{"response": 1}'

        def request(bearer: str) -> bytes:
            return (f"POST /v1/assertions/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bearer}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
        idle = socket.create_connection(("127.0.0.1", loris.port), timeout=5)
        answers = []
        for _ in range(2):
            idle.sendall(request(key))
            answers.append(idle.recv(65536))
        checks.expect(all(a.startswith(b"HTTP/1.1 400") for a in answers), f"two answers on a keep-alive connection: {[a[:20] for a in answers]}")
        underway = {}
        for name, bearer in (("lean", key), ("router", "mie_unknown")):
            underway[name] = socket.create_connection(("127.0.0.1", loris.port), timeout=5)
            underway[name].sendall(request(bearer)[:-5])
        time.sleep(0.3)
        stopping = time.time()
        loris.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        for name, expected in (("lean", b"request.malformed"), ("router", b"auth.invalid")):
            connection = underway[name]
            connection.sendall(request(key if name == "lean" else "mie_unknown")[-5:])
            received = b""
            try:
                while True:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    received += chunk
            except OSError as error:
                received += repr(error).encode()
            checks.expect(expected in received and received.count(b"HTTP/1.1 ") == 1,
                          f"the request under way ({name}) when the stop began is answered, then its connection closed: {received[:50]!r}")
            connection.close()
        try:
            closed = idle.recv(100) == b""
        except OSError:
            closed = True
        checks.expect(closed and time.time() - stopping < 5, "the idle connection is closed by the stop")
        idle.close()
        code = loris.process.wait(timeout=20)
        checks.expect(code == 0 and time.time() - stopping < 10, f"the service stops in {time.time() - stopping:.1f} s with {code}")
    finally:
        if loris.process.poll() is None:
            checks.expect(loris.stop() == 0, "the second service stops cleanly")
        else:
            loris.log.close()
    return checks.finish(service.log_path)


if __name__ == "__main__":
    sys.exit(main())
