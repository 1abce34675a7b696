"""The servers under test: processes on free 127.0.0.1 ports, their output in a log file, their
CPU read from /proc; and the small HTTP client that checks them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench.harness import ROOT, BenchError
from bench.harness.machine import proc_cpu_seconds


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_call(
    url: str, body: Any = None, timeout: float = 5.0, headers: dict[str, str] | None = None
) -> tuple[int, bytes, float]:
    """(status, body, milliseconds); status 0 when the connection failed."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            payload = res.read()
            return res.status, payload, (time.perf_counter() - t0) * 1000
    except urllib.error.HTTPError as err:
        return err.code, err.read(), (time.perf_counter() - t0) * 1000
    except (OSError, TimeoutError):
        return 0, b"", (time.perf_counter() - t0) * 1000


class Server:
    """A server process on 127.0.0.1:<port>, its output in a log file."""

    def __init__(
        self,
        name: str,
        cmd: list[str],
        env: dict[str, str],
        port: int,
        logfile: Path,
        cwd: Path = ROOT,
    ):
        self.name, self.port, self.logfile = name, port, logfile
        logfile.parent.mkdir(parents=True, exist_ok=True)
        self._log = logfile.open("wb")
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.cpu_start: float | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, body: Any = None, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with {self.proc.returncode} while starting; "
                    f"see {self.logfile}"
                )
            status, _, _ = http_call(self.base + path, body, timeout=2)
            if status == 200:
                self.cpu_start = proc_cpu_seconds(self.proc.pid)
                return
            time.sleep(0.2)
        raise BenchError(f"{self.name} not ready after {timeout:.0f} s; see {self.logfile}")

    def cpu_used(self) -> float | None:
        now = proc_cpu_seconds(self.proc.pid)
        if now is None or self.cpu_start is None:
            return None
        return round(now - self.cpu_start, 2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
