"""Service processes for integration tests: migrating a service's database, waiting for something to become
true, for a process's HTTP endpoint to answer, stopping a process, and `python -m <service> api` run on a free
port until stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from p3ke_platform.devstack.ports import free_port

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.3,
             explain: Callable[[], str] | None = None) -> T:
    """The first truthy value of `predicate()`, polled every `interval` seconds for `timeout` seconds;
    on timeout the failure names `what` (and adds `explain()`, e.g. the end of a log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}" + (f":\n{explain()}" if explain else ""))


def http_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> bool:
    """Whether `url` answers 200; fails with the end of `log` if `proc` has exited."""
    if proc.poll() is not None:
        raise AssertionError(log.read_text()[-3000:])
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    """Wait until `proc` answers 200 at `url`; fails with the end of `log`."""
    wait_for(lambda: http_ready(url, proc, log), timeout, f"{url}", explain=lambda: log.read_text()[-3000:])


def migrate(module: str, env: dict[str, str]) -> None:
    """`python -m <module> migrate` with `env`; fails with the end of its stderr."""
    done = subprocess.run([sys.executable, "-m", module, "migrate"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Stop `proc` if it still runs: SIGTERM, and SIGKILL if it has not exited within `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def service_env(**values: str) -> dict[str, str]:
    """This process's environment without any P3KE_* variable, plus `values`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}, **values}


class ApiProcess:
    """`python -m <module> api` on a free port, on SQLite and without Kafka (the relay is off), until stopped.

    `env` adds to (or overrides) what every such API gets: test mode, its port, no relay, an unreachable
    Kafka, warnings only in its log."""

    def __init__(self, module: str, service: str, log: Path, env: dict[str, str]) -> None:
        self.module = module
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {**service_env(P3KE_ENV="test", P3KE_SERVICE=service, P3KE_API_PORT=str(self.port),
                                  P3KE_RELAY_IN_API="false", P3KE_KAFKA_BOOTSTRAP="127.0.0.1:1",
                                  P3KE_LOG_LEVEL="WARNING"), **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ApiProcess:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", self.module, "api"], env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        wait_ready(f"{self.url}/healthz", self.proc, self.log, timeout=120)
        return self

    def __exit__(self, *_: Any) -> None:
        if self.proc is not None:
            stop(self.proc, timeout=20)
