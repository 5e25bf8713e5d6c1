"""`p3ke run` (what `make run` calls): a real Kafka broker and all the services, on this machine.

Each service gets a migrate step, an API process and (if it consumes anything) a worker process, on
free loopback ports; Ctrl-C stops everything, children first, then the broker. Party 2's witness starts
before the audit log, with the log's checkpoint verifier key, and the log asks it for cosignatures
(`witness_env`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from p3ke_platform.devstack.kafka import KafkaBroker
from p3ke_platform.devstack.ports import free_port
from p3ke_platform.service import installed_services
from p3ke_platform.settings import DEFAULT_PORTS, load_settings


def service_specs() -> dict[str, Any]:
    specs = installed_services()
    return {name: specs[name] for name in DEFAULT_PORTS if name in specs}


@dataclass
class Stack:
    data_dir: Path
    kafka: KafkaBroker | None = None
    external_bootstrap: str | None = None  # a broker this stack did not start (tests)
    database_urls: dict[str, str] = field(default_factory=dict)  # per service; default SQLite in the data dir
    extra_env: dict[str, str] = field(default_factory=dict)
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)  # one service's own (the witness wiring)
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    endpoints: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        if self.external_bootstrap:
            return self.external_bootstrap
        assert self.kafka is not None
        return self.kafka.bootstrap

    @property
    def services_dir(self) -> Path:
        """P3KE_DATA_DIR of every service: shared, like the shared volume in production."""
        return self.data_dir / "services"

    def env_for(self, service: str, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        env.update(self.service_env.get(service, {}))
        env.update(P3KE_SERVICE=service, P3KE_DATA_DIR=str(self.services_dir), P3KE_KAFKA_BOOTSTRAP=self.bootstrap,
                   **extra)
        if service in self.database_urls:
            env["P3KE_DATABASE_URL"] = self.database_urls[service]
        return env

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.data_dir / "logs" / f"{name}.log").open("ab")
        self.logs.append(log)
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((name, proc))
        return proc

    def stop(self) -> None:
        for _, proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for _, proc in self.processes:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if self.kafka:
            self.kafka.stop()
        for log in self.logs:
            log.close()


def _claim_data_dir(base: Path) -> tuple[Path, IO[str]]:
    """Use `base` unless another run holds it; then a fresh sibling, so two runs never collide."""
    for candidate in (base, base.with_name(f"{base.name}-{os.getpid()}")):
        candidate.mkdir(parents=True, exist_ok=True)
        lock = (candidate / ".lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return candidate, lock
        except BlockingIOError:
            lock.close()
    raise RuntimeError("could not claim a data directory")


def start_stack(data_dir: Path, *, ready_timeout: float = 180.0, kafka_bootstrap: str | None = None,
                database_urls: dict[str, str] | None = None, extra_env: dict[str, str] | None = None) -> Stack:
    """Start everything; with `kafka_bootstrap` use that broker instead of starting one, with
    `database_urls` give services those databases (e.g. PostgreSQL) instead of SQLite files."""
    from p3ke_platform.messaging.admin import ensure_topics

    stack = Stack(data_dir, external_bootstrap=kafka_bootstrap, database_urls=dict(database_urls or {}),
                  extra_env=dict(extra_env or {}))
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    try:
        if kafka_bootstrap is None:
            print(f"starting Kafka (KRaft, loopback) in {data_dir / 'kafka'} ...", flush=True)
            stack.kafka = KafkaBroker(data_dir / "kafka", port=free_port(9092)).start()
        ensure_topics(load_settings(kafka_bootstrap=stack.bootstrap))
        specs = service_specs()
        ports = {name: free_port(DEFAULT_PORTS[name]) for name in specs}
        if {"audit", "witness"} <= specs.keys():
            stack.service_env.update(witness_env(stack, ports))
        for wiring in (subject_sources_env, retention_sources_env):
            for service, values in wiring(stack, ports).items():
                stack.service_env.setdefault(service, {}).update(values)
        for name, spec in specs.items():
            _migrate(stack, name, spec.package)
        for name, spec in sorted(specs.items(), key=lambda item: item[0] != "witness"):  # the witness first
            api_port, worker_port = ports[name], free_port()
            env = stack.env_for(name, P3KE_API_PORT=str(api_port), P3KE_WORKER_PORT=str(worker_port))
            stack.spawn(f"{name}-api", [sys.executable, "-m", spec.package, "api"], env)
            stack.endpoints[name] = {"api": f"http://127.0.0.1:{api_port}"}
            if spec.topics:
                stack.spawn(f"{name}-worker", [sys.executable, "-m", spec.package, "worker"], env)
                stack.endpoints[name]["worker"] = f"http://127.0.0.1:{worker_port}"
        _wait_ready(stack, ready_timeout)
    except BaseException:
        stack.stop()
        raise
    return stack


AUDIT_DEV_ORIGIN = "p3ke.local/audit"  # the audit log's origin outside production (P3KE_AUDIT_ORIGIN)


def witness_env(stack: Stack, ports: dict[str, int]) -> dict[str, dict[str, str]]:
    """The settings that make party 2's witness witness the audit log, per service.

    The witness gets the log's checkpoint verifier key (the audit's development key in the data directory,
    created here if it is not there yet, exactly as the audit service would), and the log gets the witness's
    cosignature verifier key (its development key, derived from a published seed) and address, quorum 1.
    Settings given in the environment or in `extra_env` win."""
    from p3ke_platform.auth.tokens import load_or_create_dev_key
    from p3ke_platform.tlog.dev_keys import DEV_WITNESS_NAME, development_witness_vkey
    from p3ke_platform.tlog.note import verifier_key

    given = {**os.environ, **stack.extra_env}
    origin = given.get("P3KE_AUDIT_ORIGIN") or AUDIT_DEV_ORIGIN
    key_file = given.get("P3KE_AUDIT_CHECKPOINT_KEY_FILE") or str(stack.services_dir / "keys" / "audit-checkpoint.pem")
    log_vkey = verifier_key(origin, load_or_create_dev_key(Path(key_file)).public_key())
    witness_vkey = development_witness_vkey(given.get("P3KE_WITNESS_NAME") or DEV_WITNESS_NAME)
    wanted = {
        "witness": {"P3KE_WITNESS_LOGS": json.dumps([log_vkey])},
        "audit": {"P3KE_AUDIT_WITNESSES": json.dumps([{"vkey": witness_vkey,
                                                       "url": f"http://127.0.0.1:{ports['witness']}"}]),
                  "P3KE_AUDIT_WITNESS_QUORUM": "1"},
    }
    return {service: {k: v for k, v in values.items() if k not in given} for service, values in wanted.items()}


SUBJECT_SOURCES = ("ingest", "delivery", "feedback")  # the services holding a person's records (UU PDP Art. 32)


def subject_sources_env(stack: Stack, ports: dict[str, int]) -> dict[str, dict[str, str]]:
    """P3KE_AUDIT_SUBJECT_SOURCES: the audit service asks the services that hold a person's records (the ones
    running here) for a data-subject access answer. A value given in the environment or `extra_env` wins."""
    if "audit" not in ports or "P3KE_AUDIT_SUBJECT_SOURCES" in {**os.environ, **stack.extra_env}:
        return {}
    sources = ",".join(f"{name}=http://127.0.0.1:{ports[name]}" for name in SUBJECT_SOURCES if name in ports)
    return {"audit": {"P3KE_AUDIT_SUBJECT_SOURCES": sources}} if sources else {}


RETENTION_SOURCES = ("ingest", "targeting", "delivery", "feedback")  # the services that keep artefacts (retention)


def retention_sources_env(stack: Stack, ports: dict[str, int]) -> dict[str, dict[str, str]]:
    """P3KE_AUDIT_RETENTION_SOURCES: the compliance page asks the services that keep artefacts (the ones running
    here) what is due under the retention schedule. A value given in the environment or `extra_env` wins."""
    if "audit" not in ports or "P3KE_AUDIT_RETENTION_SOURCES" in {**os.environ, **stack.extra_env}:
        return {}
    sources = ",".join(f"{name}=http://127.0.0.1:{ports[name]}" for name in RETENTION_SOURCES if name in ports)
    return {"audit": {"P3KE_AUDIT_RETENTION_SOURCES": sources}} if sources else {}


def _migrate(stack: Stack, name: str, package: str) -> None:
    """Create or upgrade one service's database; its output goes to logs/<service>-migrate.log."""
    log = stack.data_dir / "logs" / f"{name}-migrate.log"
    with log.open("ab") as out:
        done = subprocess.run([sys.executable, "-m", package, "migrate"], env=stack.env_for(name), stdout=out,
                              stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{name}: migrate exited with {done.returncode} (log {log}):\n{tail}")


def _wait_ready(stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = {f"{svc}-{kind}": url + "/readyz" for svc, eps in stack.endpoints.items()
               for kind, url in eps.items()}
    while pending:
        for name, proc in stack.processes:
            if proc.poll() is not None:
                tail = (stack.data_dir / "logs" / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")
        for name, url in list(pending.items()):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    del pending[name]
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))}")
        time.sleep(0.5)


def print_table(stack: Stack, dev_env: Path | None = None) -> None:
    print(f"\nKafka bootstrap   {stack.bootstrap}")
    print(f"data directory    {stack.data_dir}\n")
    print(f"{'service':<11}{'API (OpenAPI at /docs)':<30}{'worker health'}")
    for name, eps in stack.endpoints.items():
        print(f"{name:<11}{eps['api']:<30}{eps.get('worker', '(consumes nothing)')}")
    _print_witness(stack)
    if dev_env is not None:
        _print_dev_env(stack, dev_env)
    print("logs:", stack.data_dir / "logs", "\nCtrl-C stops everything.", flush=True)
    (stack.data_dir / "endpoints.json").write_text(json.dumps(
        {"kafka": stack.bootstrap, "services": stack.endpoints,
         "pids": {name: proc.pid for name, proc in stack.processes}}, indent=2))


def _print_dev_env(stack: Stack, dev_env: Path) -> None:
    from p3ke_platform.devstack.seed import DEV_CA_PASSPHRASE, DEV_ROLES
    from p3ke_platform.event_keys import dev_kid, platform_party

    print(f"\ndevelopment tokens (12 h), API and Kafka addresses ($P3KE_KAFKA_BOOTSTRAP): source {dev_env}")
    for role in DEV_ROLES:
        kind = " (platform service account)" if role.service_account else ""
        print(f"  ${role.variable:<13} {role.org:<11} {role.role}{kind}")
    ca = stack.services_dir / "dev-ca"
    print(f"development signing certificates (PKCS#12, passphrase {DEV_CA_PASSPHRASE}) in {ca}:")
    for p12 in sorted(ca.glob("*.p12")):
        print(f"  {p12.name}")
    keys = dev_keys_dir(stack.data_dir)
    print(f"ministry platforms' development event keys (PKCS#8 PEM; trusted in local and test only) in {keys}:")
    for owner, path in _platform_key_files(keys).items():
        party = platform_party(owner)
        print(f"  $P{party}_PLATFORM_KEY  {path.name}  (key id $P{party}_PLATFORM_KID: {dev_kid(owner)}, {owner})")
    print("  (the services sign with development keys derived from a published seed: P3KE_EVENT_DEV_KEYS)")
    print("compliance web page:", f"{stack.endpoints['audit']['api']}/ui" if "audit" in stack.endpoints else "-")
    print("walkthrough: README.md, section 'A walk through the agreement'\n")


def _print_witness(stack: Stack) -> None:
    audit = stack.service_env.get("audit", {}).get("P3KE_AUDIT_WITNESSES")
    logs = stack.service_env.get("witness", {}).get("P3KE_WITNESS_LOGS")
    if not audit or not logs:
        return
    audit, logs = json.loads(audit), json.loads(logs)
    print("\nthe audit log is witnessed by party 2's witness (quorum 1; development keys):")
    print(f"  audit checkpoint verifier key   {logs[0]}")
    print(f"  witness cosignature verifier key {audit[0]['vkey']}")


def dev_keys_dir(data_dir: Path) -> Path:
    """Where `p3ke run` writes the ministry platforms' development event keys."""
    return data_dir / "dev-keys"


def _platform_key_files(directory: Path) -> dict[str, Path]:
    from p3ke_platform.event_keys import PLATFORMS, dev_kid

    return {owner: directory / f"{dev_kid(owner)}.pem" for owner in PLATFORMS
            if (directory / f"{dev_kid(owner)}.pem").exists()}


def run(data_dir: Path, exit_when_ready: bool = False, seed: bool = True, seed_families: int = 3000) -> int:
    """`p3ke run`: the local system on embedded defaults, seeded for a walkthrough (see devstack.seed).

    Local runs load the agreement's *example* addendum (an extension to 2027-02-28, clearly marked as
    not real) unless P3KE_AGREEMENT_INCLUDE_EXAMPLES says otherwise: without it every release is refused
    because the PKS as signed expired on 28 Feb 2025."""
    from p3ke_platform.devstack import seed as seeding

    claimed, lock = _claim_data_dir(data_dir.resolve())
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    extra = {"P3KE_AGREEMENT_INCLUDE_EXAMPLES": os.environ.get("P3KE_AGREEMENT_INCLUDE_EXAMPLES", "true")}
    if extra["P3KE_AGREEMENT_INCLUDE_EXAMPLES"].lower() == "true":
        print("note: the agreement's EXAMPLE addendum (extension to 2027-02-28, not a real agreement) is loaded;"
              " P3KE_AGREEMENT_INCLUDE_EXAMPLES=false runs on the PKS as signed", flush=True)
    services_dir = claimed / "services"
    services_dir.mkdir(parents=True, exist_ok=True)
    if seed:
        seeding.ensure_dev_ca(services_dir, {**os.environ, **extra, "P3KE_DATA_DIR": str(services_dir)})
    stack = start_stack(claimed, extra_env=extra)
    try:
        dev_env = None
        if seed:
            dev_env = claimed / "dev.env"
            keys = seeding.write_dev_keys(dev_keys_dir(claimed))
            witnesses = json.loads(stack.service_env.get("audit", {}).get("P3KE_AUDIT_WITNESSES") or "[]")
            tokens = seeding.write_dev_env(dev_env, services_dir, stack.endpoints, kafka_bootstrap=stack.bootstrap,
                                           platform_keys=keys,
                                           witness_vkey=witnesses[0]["vkey"] if witnesses else None)
            seeding.seed_snapshot(stack.endpoints["ingest"]["api"], stack.endpoints["targeting"]["api"],
                                  tokens["P1_STEWARD"], claimed / "seed", stack.env_for("ingest"),
                                  families=seed_families)
        print_table(stack, dev_env)
        while not stopping and not exit_when_ready:
            dead = [(n, p.returncode) for n, p in stack.processes if p.poll() is not None]
            if dead:
                print(f"stopping: {dead[0][0]} exited with {dead[0][1]} (see its log)", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("stopping ...", flush=True)
        stack.stop()
        lock.close()
        print("stopped.")
