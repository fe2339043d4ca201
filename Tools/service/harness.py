"""What the service's end-to-end scripts share: a free port, a `mie-verifier serve` process on a
fresh directory (its log kept, its DEMO key read back), and a list of named checks."""
import http.client
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = str(ROOT / ".build/debug/mie-verifier")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """`mie-verifier serve ARGS` with its database (`self.database`) and log in its own directory,
    run from the repository (where the DEMO lists are); `ready()` waits for /health/ready."""

    def __init__(self, *args: str, binary: str = BINARY, port: int = None, work: Path = None):
        self.work = work or Path(tempfile.mkdtemp(prefix="mie-service-"))
        self.port = port or free_port()
        self.log_path = self.work / "service.log"
        self.log = open(self.log_path, "a")
        self.database = self.work / "mie.sqlite"
        if "--database" not in args and "--config" not in args:
            args = ("--database", str(self.database), *args)
        self.process = subprocess.Popen([binary, "serve", "--port", str(self.port), *args], cwd=ROOT, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def ready(self, seconds: float = 30, tls_probe=None) -> "Service":
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the service exited with {self.process.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                if tls_probe is not None:
                    if tls_probe():
                        return self
                else:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                    connection.request("GET", "/health/ready")
                    if connection.getresponse().status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("the service did not become ready")

    def demo_key(self) -> str:
        match = re.search(r"DEMO client key.*: (mie_[A-Za-z0-9_-]+)", self.log_path.read_text())
        if not match:
            raise SystemExit("the service printed no DEMO key")
        return match.group(1)

    def demo_operator_code(self) -> str:
        match = re.search(r"DEMO desk operator code.*: (mie-op-[A-Za-z0-9_-]+)", self.log_path.read_text())
        if not match:
            raise SystemExit("the service printed no DEMO operator code")
        return match.group(1)

    def stop(self, sig=signal.SIGTERM):
        """Stops it; its exit status (None if it had to be killed)."""
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return None
        finally:
            self.log.close()


class Checks:
    def __init__(self, name: str):
        self.name = name
        self.failed = []

    def expect(self, condition: bool, what: str) -> None:
        print(("ok   " if condition else "FAIL ") + what)
        if not condition:
            self.failed.append(what)

    def finish(self, log: Path = None) -> int:
        if self.failed:
            if log is not None and log.exists():
                print(log.read_text()[-3000:], file=sys.stderr)
            print(f"{self.name}: {len(self.failed)} failed", file=sys.stderr)
            return 1
        print(f"{self.name}: all passed")
        return 0
