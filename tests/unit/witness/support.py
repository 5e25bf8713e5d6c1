"""Shared by the witness tests: a real signing log (the RFC 6962 tree and C2SP notes of p3ke_platform.tlog, an
Ed25519 key) that makes add-checkpoint requests, honest or forked, and the witness's app in-process."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime, installed_service
from p3ke_platform.settings import load_settings
from p3ke_platform.tlog.cosignature import Witness
from p3ke_platform.tlog.dev_keys import development_witness
from p3ke_platform.tlog.merkle import MemoryTree, leaf_hash
from p3ke_platform.tlog.note import Checkpoint, sign, verifier_key
from p3ke_platform.tlog.witness_protocol import PATH, AddCheckpoint

ORIGIN = "p3ke.test/audit"


@dataclass
class SigningLog:
    """A transparency log: `grow` appends entries, `note` signs the checkpoint of a size, `request` builds the
    add-checkpoint body a log sends (old size, consistency proof, note)."""

    origin: str = ORIGIN
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    tree: MemoryTree = field(default_factory=MemoryTree)
    history: str = "entry"  # another history gives other roots: a fork

    @property
    def vkey(self) -> str:
        return verifier_key(self.origin, self.key.public_key())

    def grow(self, to: int) -> SigningLog:
        while self.tree.size < to:
            self.tree.append(leaf_hash(f"{self.history} {self.tree.size}".encode()))
        return self

    def checkpoint(self, size: int | None = None) -> Checkpoint:
        size = self.tree.size if size is None else size
        return Checkpoint(self.origin, size, self.tree.root(size))

    def note(self, size: int | None = None) -> str:
        return sign(self.checkpoint(size), self.origin, self.key)

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = self.tree.size if new is None else new
        return [] if old in (0, new) else self.tree.consistency_proof(old, new)

    def request(self, old: int, size: int | None = None, proof: list[bytes] | None = None,
                note: str | None = None) -> bytes:
        size = self.tree.size if size is None else size
        return AddCheckpoint(old, self.proof(old, size) if proof is None else proof,
                             self.note(size) if note is None else note).encode()

    def rewritten(self, size: int) -> SigningLog:
        """The same log (same key) over another history of `size` entries: the attack a witness must catch."""
        return SigningLog(self.origin, self.key, history=f"rewritten {self.history}").grow(size)


WITNESS: Witness = development_witness()


@dataclass
class WitnessApp:
    runtime: Runtime
    client: TestClient
    issuer: DevIssuer

    def add(self, body: bytes) -> Any:
        return self.client.post(PATH, content=body)

    def auth(self, role: str = "compliance-auditor", org: str = "kemnaker") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.mint(f'{org}.{role}', org, [role])}"}


def witness_app(data_dir: Path, logs: list[SigningLog], **overrides: Any) -> WitnessApp:
    """The witness's API over SQLite in `data_dir` (migrated), witnessing `logs`, through TestClient."""
    spec = installed_service("witness")
    settings = load_settings(spec.settings_class, service="witness", data_dir=data_dir, env="test",
                             witness_logs=json.dumps([log.vkey for log in logs]), rate_limit_per_minute=0,
                             **overrides)
    upgrade(spec, settings)
    runtime = Runtime(spec, settings)
    return WitnessApp(runtime, TestClient(create_app(runtime)), DevIssuer(settings))
