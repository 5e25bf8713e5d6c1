"""What `make run` puts in a fresh local system so a newcomer can try it at once.

- the development CA and one certificate per signatory of the agreement (`p3ke bast dev-ca`), made
  before the services start;
- development tokens for every role of both parties, the APIs' and Kafka's addresses, in `<data dir>/dev.env`
  (`source` it; re-minted at every start, they last 12 hours);
- the ministry platforms' development event keys (`<data dir>/dev-keys/*.pem`, named in dev.env as
  `$P1_PLATFORM_KEY`/`$P2_PLATFORM_KEY` with their key ids), to sign events as a platform would
  (`p3ke platform request`); derived from a published seed, so trusted only in local and test;
- a synthetic P3KE snapshot (`p3ke synth`) submitted through the ingest API (`p3ke ingest submit`)
  as party 1's data steward would, unless a dataset version is already published.

Everything goes through the `p3ke` command line and the public HTTP APIs: the platform never imports
a service.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from p3ke_platform.auth.tokens import DevIssuer
from p3ke_platform.event_keys import dev_kid, platform_party, write_dev_platform_keys
from p3ke_platform.settings import load_settings

TOKEN_TTL_SECONDS = 12 * 3600


@dataclass(frozen=True)
class DevRole:
    variable: str
    org: str
    role: str
    subject: str
    service_account: bool = False


# One token per role a walkthrough needs, named by party: P1 = Kemenko PMK, P2 = Kemnaker.
DEV_ROLES = (
    DevRole("P1_STEWARD", "kemenkopmk", "data-steward", "dev-p1-data-steward"),
    DevRole("P1_SIGNATORY", "kemenkopmk", "signatory", "dev-p1-signatory"),
    DevRole("P1_AUDITOR", "kemenkopmk", "compliance-auditor", "dev-p1-auditor"),
    DevRole("P1_OPERATOR", "kemenkopmk", "operator", "dev-p1-operator"),
    DevRole("P2_OFFICER", "kemnaker", "program-officer", "dev-p2-program-officer"),
    DevRole("P2_SIGNATORY", "kemnaker", "signatory", "dev-p2-signatory"),
    DevRole("P2_AUDITOR", "kemnaker", "compliance-auditor", "dev-p2-auditor"),
    DevRole("P2_PLATFORM", "kemnaker", "program-officer", "kemnaker-platform", service_account=True),
)

JGET = ("jget() { python3 -c 'import json, sys\nd = json.load(sys.stdin)\nfor k in sys.argv[1:]:\n"
        "    d = d[int(k)] if isinstance(d, list) else d[k]\nprint(d if isinstance(d, str) else json.dumps(d))' "
        "\"$@\"; }")

DEV_CA_PASSPHRASE = "p3ke-dev"  # noqa: S105 - the PKCS#12 passphrase `p3ke bast dev-ca` uses


def p3ke(*args: str) -> list[str]:
    """The `p3ke` command line of this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "p3ke_platform.cli", *args]


def ensure_dev_ca(services_dir: Path, env: dict[str, str]) -> Path:
    """The development CA in `<services_dir>/dev-ca`, which the local delivery service trusts."""
    ca_dir = services_dir / "dev-ca"
    if not (ca_dir / "ca.pem").exists() or not (ca_dir / "ca.crl").exists():  # a CA from before CRLs: remake it
        subprocess.run(p3ke("bast", "dev-ca", "--data-dir", str(services_dir), "--force"), env=env, check=True,
                       stdout=subprocess.DEVNULL)
    return ca_dir


def write_dev_keys(directory: Path) -> dict[str, Path]:
    """The platforms' development event keys (PKCS#8 PEM) in `directory`, by owner (`party-2 platform`)."""
    return write_dev_platform_keys(directory)


def platform_key_variables(keys: Mapping[str, Path]) -> dict[str, str]:
    """`P<n>_PLATFORM_KEY` (the PEM file) and `P<n>_PLATFORM_KID` (its key id) for each platform's key."""
    values = {}
    for owner, path in keys.items():
        party = platform_party(owner)
        values[f"P{party}_PLATFORM_KEY"] = str(path)
        values[f"P{party}_PLATFORM_KID"] = dev_kid(owner)
    return values


def write_dev_env(path: Path, services_dir: Path, endpoints: dict[str, dict[str, str]], *,
                  kafka_bootstrap: str | None = None, platform_keys: Mapping[str, Path] | None = None,
                  witness_vkey: str | None = None) -> dict[str, str]:
    """Mint the development tokens and write them with the APIs' and Kafka's addresses (and the platforms'
    development key files, the witness's verifier key) as a shell file."""
    issuer = DevIssuer(load_settings(data_dir=services_dir, env="local"))
    values = {name.upper(): eps["api"] for name, eps in endpoints.items()}
    if kafka_bootstrap:
        values["P3KE_KAFKA_BOOTSTRAP"] = kafka_bootstrap
    values.update(platform_key_variables(platform_keys or {}))
    if witness_vkey:
        values["WITNESS_VKEY"] = witness_vkey  # `p3ke audit verify --witness-key $WITNESS_VKEY`
    for role in DEV_ROLES:
        values[role.variable] = issuer.mint(role.subject, role.org, [role.role], ttl_seconds=TOKEN_TTL_SECONDS,
                                            service_account=role.service_account)
    values["P3KE_DATA_DIR"] = str(services_dir)
    values["P12_PASSPHRASE"] = DEV_CA_PASSPHRASE
    lines = ["# development only: written by `p3ke run`; tokens last 12 hours. `source` this file."]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in values.items()]
    lines += ["# jget KEY|INDEX ...: one value of the JSON document on stdin, e.g. `curl ... | jget 0 handover_id`",
              JGET]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return values


def seed_snapshot(ingest: str, targeting: str, token: str, workdir: Path, env: dict[str, str], *,
                  families: int, say: Callable[[str], None] = print, timeout: float = 300.0) -> str:
    """Submit a synthetic snapshot unless a dataset version is already published; return its id once
    targeting has it (dataset-updated went through Kafka)."""
    auth = {"Authorization": f"Bearer {token}"}
    current = httpx.get(f"{ingest}/v1/dataset-versions/current", headers=auth, timeout=30)
    if current.status_code == 200:
        version = str(current.json()["dataset_version_id"])
        say(f"dataset version {version} is already published (seeding skipped)")
    else:
        snapshot = workdir / "snapshot"
        say(f"seeding: a synthetic P3KE snapshot of {families:,} families in {snapshot} ...")
        subprocess.run(p3ke("synth", "--out", str(snapshot), "--families", str(families), "--seed", "2026",
                            "--format", "csv"), env=env, check=True)
        subprocess.run(p3ke("ingest", "submit", str(snapshot / "individu.csv"), "--family",
                            str(snapshot / "keluarga.csv"), "--api", ingest, "--token", token),
                       env=env, check=True)
        current = httpx.get(f"{ingest}/v1/dataset-versions/current", headers=auth, timeout=30)
        current.raise_for_status()
        version = str(current.json()["dataset_version_id"])
    deadline = time.monotonic() + timeout
    while True:
        seen = httpx.get(f"{targeting}/v1/datasets", headers=auth, timeout=30)
        if seen.status_code == 200 and any(v["dataset_version_id"] == version for v in seen.json()):
            return version
        if time.monotonic() > deadline:
            raise TimeoutError(f"targeting has not received dataset version {version} after {timeout:.0f}s")
        time.sleep(0.5)
