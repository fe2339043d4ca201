#!/usr/bin/env python3
"""Slow and greedy clients against the running service (configured in YAML): a connection that stops sending in the
middle of a request is closed after the idle timeout (here 1 s), a body announced larger than
the limit is refused with 413 before it is read, and the service keeps answering others.

Exit 0 when every check passed; 1 otherwise.
"""
import http.client
import json
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
    config.write_text(f"# test configuration\nidleTimeoutSeconds: 1\ndatabase: '{work / 'mie.sqlite'}'\n")
    broken = work / "broken.yaml"
    broken.write_text("port: 1\nport: 2\n")
    refused = subprocess.run([harness.BINARY, "serve", "--config", str(broken)], capture_output=True, text=True, timeout=30)
    checks.expect(refused.returncode != 0 and "port" in refused.stderr and ("twice" in refused.stderr or "duplicated" in refused.stderr), f"a YAML configuration with a key twice is refused: {refused.stderr.strip()}")
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
    return checks.finish(service.log_path)


if __name__ == "__main__":
    sys.exit(main())
