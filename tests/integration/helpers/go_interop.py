"""The independent Go implementation the witness interoperability tests run (see tests/interop/README.md).

`go_tools()` builds, once per test session, from the module in tests/interop/go (pinned in its go.mod and
go.sum): torchwood's `litewitness` (a C2SP tlog-witness server) and `witnessctl`, and our small
`p3ke-interop` (an ssh-agent for litewitness's key, `verify-cosigned` with x/mod's note and
transparency-dev/formats, `cosign` and `vkey` with torchwood). Everything Go writes goes under
<repo>/.cache/go-interop (gitignored), so the build works on a fresh machine with an empty HOME; a
build that fails is a failed test, never a skip.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_platform.devstack.ports import free_port
from p3ke_platform.tlog.cosignature import Witness
from tests.integration.helpers.processes import stop, wait_for

ROOT = Path(__file__).resolve().parents[3]
MODULE = ROOT / "tests" / "interop" / "go"
CACHE = ROOT / ".cache" / "go-interop"
BIN = CACHE / "bin"
PACKAGES = (".", "filippo.io/torchwood/cmd/litewitness", "filippo.io/torchwood/cmd/witnessctl")


@dataclass(frozen=True)
class GoTools:
    interop: Path  # p3ke-interop
    litewitness: Path
    witnessctl: Path
    build_seconds: float


def go_environment() -> dict[str, str]:
    """The environment `go` runs with: the installed toolchain only, caches under .cache/go-interop
    (unless this environment already names them), module files writable so `rm -rf .cache` works."""
    env = dict(os.environ)
    env.update(GOTOOLCHAIN="local", GOWORK="off", GOFLAGS="-modcacherw -buildvcs=false -mod=readonly")
    env.setdefault("GOPATH", str(CACHE / "gopath"))
    env.setdefault("GOMODCACHE", str(Path(env["GOPATH"].split(os.pathsep)[0]) / "pkg" / "mod"))
    env.setdefault("GOCACHE", str(CACHE / "gocache"))
    return env


@functools.cache
def go_tools() -> GoTools:
    go = shutil.which("go")
    assert go, "go is not installed: the witness interop tests need Go >= 1.25 (https://go.dev/dl/)"
    BIN.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    done = subprocess.run([go, "build", "-o", f"{BIN}{os.sep}", *PACKAGES], cwd=MODULE, env=go_environment(),
                          capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - started
    assert done.returncode == 0, f"go build in {MODULE} failed:\n{done.stderr[-4000:]}"
    tools = GoTools(BIN / "p3ke-interop", BIN / "litewitness", BIN / "witnessctl", seconds)
    for path in (tools.interop, tools.litewitness, tools.witnessctl):
        assert path.is_file(), f"go build did not produce {path}"
    print(f"\ngo-interop: go build took {seconds:.1f}s")  # shown with -s; the first build compiles SQLite
    return tools


def write_key(path: Path, key: Ed25519PrivateKey | None = None) -> Ed25519PrivateKey:
    """An Ed25519 private key as unencrypted PKCS#8 PEM (what P3KE_*_KEY_FILE and p3ke-interop read)."""
    key = key or Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return key


def run(binary: Path, *args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(binary), *args], input=stdin, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GOTOOLCHAIN": "local"})
    if check:
        assert done.returncode == 0, f"{binary.name} {' '.join(args)} failed ({done.returncode}):\n{done.stderr}"
    return done


def verify_cosigned(tools: GoTools, note: str, log_vkey: str, witness_vkeys: Sequence[str],
                    ) -> subprocess.CompletedProcess[str]:
    """`p3ke-interop verify-cosigned`: x/mod's note.Open with the log's key and formats' cosignature/v1
    verifiers (returned unchecked: the caller asserts success or failure)."""
    flags = [arg for vkey in witness_vkeys for arg in ("-witness-vkey", vkey)]
    return run(tools.interop, "verify-cosigned", "-log-vkey", log_vkey, *flags, stdin=note, check=False)


def go_cosign(tools: GoTools, key_file: Path, name: str, note: str) -> str:
    """torchwood's cosignature/v1 line for the checkpoint of `note`."""
    return run(tools.interop, "cosign", "-key-file", str(key_file), "-name", name, stdin=note).stdout


def go_vkey(tools: GoTools, key_file: Path, name: str) -> str:
    return run(tools.interop, "vkey", "-key-file", str(key_file), "-name", name).stdout.strip()


class LiteWitness:
    """torchwood's litewitness on a free loopback port, its key in a p3ke-interop ssh-agent, trusting the
    logs `(origin, verifier key)` (added with witnessctl), until stopped."""

    def __init__(self, tools: GoTools, directory: Path, name: str, logs: Sequence[tuple[str, str]]) -> None:
        self.tools = tools
        self.dir = directory
        self.name = name
        self.logs = list(logs)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key_file = self.dir / "witness.pem"
        self.private_key = write_key(self.key_file)
        self.witness = Witness(name, self.private_key.public_key())
        self.db = self.dir / "litewitness.db"
        self.socket = self.dir / "agent.sock"
        self.log = self.dir / "litewitness.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[Any]] = []

    def witnessctl(self, *args: str) -> None:
        run(self.tools.witnessctl, *args)

    def __enter__(self) -> LiteWitness:
        for origin, vkey in self.logs:
            self.witnessctl("add-log", "-db", str(self.db), "-origin", origin)
            self.witnessctl("add-key", "-db", str(self.db), "-origin", origin, "-key", vkey)
        agent = subprocess.Popen([str(self.tools.interop), "agent", "-socket", str(self.socket),
                                  "-key-file", str(self.key_file)], stdout=subprocess.PIPE, text=True)
        self.procs.append(agent)
        assert agent.stdout is not None
        fingerprint = agent.stdout.readline().strip()
        assert fingerprint.startswith("SHA256:"), f"the ssh-agent did not start: {fingerprint!r}"
        with self.log.open("ab") as out:
            self.procs.append(subprocess.Popen(
                [str(self.tools.litewitness), "-name", self.name, "-db", str(self.db), "-ssh-agent", str(self.socket),
                 "-key", fingerprint, "-listen", f"127.0.0.1:{self.port}"], stdout=out, stderr=subprocess.STDOUT))
        wait_for(self._listening, 30, f"litewitness on {self.url}", explain=lambda: self.log.read_text()[-3000:])
        return self

    def _listening(self) -> bool:
        if self.procs[-1].poll() is not None:
            raise AssertionError(f"litewitness exited:\n{self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def logged_vkey(self) -> str:
        """The verifier key litewitness logs at start (`verifier key vkey=...`)."""
        found = re.search(r"verifier key.* vkey=(\S+)", self.log.read_text())
        assert found, self.log.read_text()[-3000:]
        return found.group(1).strip('"')

    def __exit__(self, *_: Any) -> None:
        for proc in reversed(self.procs):
            stop(proc, timeout=10)
