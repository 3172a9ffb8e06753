"""Serving for the HTTP benchmark: `gunicorn <app>` on a free loopback port, its workers' memory,
and a warm-up pass over a list of URLs (used by bench/http.py)."""

from __future__ import annotations

import concurrent.futures
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_status(url: str, timeout: float = 30) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (gunicorn's workers, for the master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The name field may hold spaces and parentheses; the parent pid follows the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and its peak VmHWM, and VmRSS's parts: RssAnon (the process's own memory) and RssFile
    (pages of files it maps, such as SQLite's memory-mapped database, shared with every other
    process mapping them and given back to the page cache under pressure)."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {key: round(int(fields[key].split()[0]) / 1024, 1)
            for key in ("VmRSS", "VmHWM", "RssAnon", "RssFile") if key in fields}


class Server:
    """`gunicorn wsgi:app` on a loopback port, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, env: dict[str, str], workers: int, log_path: Path, app: str = "wsgi:app"):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log_path = log_path
        self.env = env
        self.app = app
        self.process: subprocess.Popen | None = None
        self.spawned = 0.0

    def __enter__(self) -> Server:
        gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
        if not gunicorn.exists():
            gunicorn = Path(shutil.which("gunicorn") or "gunicorn")
        command = [str(gunicorn), "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}",
                   "--log-level", "warning", self.app]
        self.log = open(self.log_path, "w")  # closed in __exit__
        self.spawned = time.perf_counter()
        # A session of its own, so Ctrl-C reaches this script only and the server is stopped below.
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # graceful: workers finish their request
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text().splitlines()[-lines:])

    def wait_for(self, path: str, timeout: float = 120) -> float:
        """Seconds from spawn until GET `path` answers 200."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status = get_status(self.base + path)
            except (urllib.error.URLError, ConnectionError):
                status = None
            if status == 200:
                return time.perf_counter() - self.spawned
            if status is not None:
                raise RuntimeError(f"GET {path} answered {status}:\n{self.log_tail()}")
            time.sleep(0.02)
        raise RuntimeError(f"no answer from {path} within {timeout:.0f} s:\n{self.log_tail()}")

    def check_workers(self) -> None:
        """Fail unless the master has forked all its workers (children appear at fork, before the
        app is imported, so this is a count, not a readiness time)."""
        found = children(self.process.pid)
        if len(found) != self.workers:
            raise RuntimeError(f"{len(found)} gunicorn workers, not {self.workers}:\n{self.log_tail()}")

    def memory(self) -> dict:
        workers = children(self.process.pid)
        return {"master": memory_mb(self.process.pid),
                "workers": {str(pid): memory_mb(pid) for pid in workers}}


def warm_up(base: str, paths: list[str], concurrency: int) -> float:
    """GET every path once, `concurrency` at a time (so every worker opens its index and warms its
    caches); fails on any answer but 200. Returns the seconds it took."""
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(lambda path: (get_status(base + path), path), paths))
    bad = [(status, path) for status, path in statuses if status != 200]
    if bad:
        sample = "\n".join(f"  {status} {base}{path}" for status, path in bad[:5])
        raise RuntimeError(f"{len(bad)} of {len(paths)} search URLs did not answer 200, e.g.\n{sample}")
    return time.perf_counter() - started
