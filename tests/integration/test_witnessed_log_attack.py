"""The attack a witness exists for, with the log and the witness as two real processes on PostgreSQL.

Someone with the database (and without the log's signing key) rewrites history: an old entry is removed, the log
truncated and rebuilt over the edited history with a consistent Merkle tree, the later checkpoints and their
cosignatures deleted. Alone, the log cannot tell: `p3ke audit verify` says ok, and the audit process signs the
rewritten tree with its own key. What catches it:

* the witness (party 2's `python -m p3ke_witness api`, its own database) refuses the log's next checkpoint and
  raises a fork alarm, keeping both signed checkpoints as evidence;
* `p3ke audit verify --trusted-checkpoint` with a note saved before the attack fails, naming the sizes;
* the audit service's compliance API shows the log as not witnessed and the witness as refusing.

The same for a truncation (a rollback alarm, "the log shrank"), and for a witness whose own state was rolled back
(the log notices: it had a cosignature of a larger size from it).

The log process is `python -m p3ke_audit api` (its checkpointer and witnessing jobs run in it); this test appends
entries through the real appender in its own process, as the audit worker would, into the same database.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from p3ke_audit.adapters.orm import entries
from p3ke_audit.service_layer.appender import appender_for
from p3ke_platform.auth import DevIssuer
from p3ke_platform.service import Runtime
from p3ke_platform.tlog.cosignature import check_quorum
from p3ke_platform.tlog.merkle import stored_count
from p3ke_platform.tlog.note import open_note
from tests.integration.audit.helpers import access, as_superuser, audit_runtime, deliver
from tests.integration.helpers.processes import ApiProcess, migrate, wait_for
from tests.integration.helpers.witness_process import NAME, WitnessProcess

pytestmark = pytest.mark.postgres


@dataclass
class Deployment:
    log: Runtime  # in this process: the appender, and `p3ke audit verify` reads the same database
    log_api: ApiProcess  # the audit service's process: checkpointer, witnessing job, compliance API
    witness: WitnessProcess
    tmp: Path

    @property
    def auth(self) -> dict[str, str]:
        token = DevIssuer(self.log.settings).mint("dpo-1", "kemenkopmk", ["compliance-auditor"])
        return {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        answer = httpx.get(f"{self.log_api.url}{path}", params=params, headers=self.auth, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer

    def witnesses(self) -> dict[str, Any]:
        return self.get("/v1/witnesses").json()  # type: ignore[no-any-return]

    def append(self, start: int, end: int) -> None:
        assert deliver(self.log, [access(i) for i in range(start, end)]) == []

    def witnessed(self, size: int) -> dict[str, Any]:
        """Wait until the log process has signed a checkpoint of `size` and the witness cosigned it."""
        return wait_for(lambda: (s := self.witnesses())["latest_witnessed_size"] == size and s, 60,
                        f"checkpoint {size} witnessed")

    def alarms(self) -> list[dict[str, Any]]:
        """`p3ke witness alarms --json`, as party 2's compliance staff run it against the witness's database."""
        done = subprocess.run([sys.executable, "-m", "p3ke_platform.cli", "witness", "alarms", "--json"],
                              env=self.witness.api.env, capture_output=True, text=True, timeout=60)
        assert done.returncode in (0, 3), done.stderr
        return json.loads(done.stdout)["alarms"]  # type: ignore[no-any-return]

    def verify(self, *args: str) -> tuple[int, dict[str, Any]]:
        """`p3ke audit verify --json` over the log's database, as an auditor runs it."""
        env = {**self.log_api.env, "P3KE_LOG_LEVEL": "ERROR"}
        done = subprocess.run([sys.executable, "-m", "p3ke_platform.cli", "audit", "verify", "--json", "--no-record",
                               *args], env=env, capture_output=True, text=True, timeout=300)
        return done.returncode, json.loads(done.stdout)

    def save_latest_note(self, name: str) -> Path:
        path = self.tmp / name
        path.write_text(self.get("/v1/checkpoints/latest", format="note").text)
        return path

    def truncate(self, size: int) -> None:
        """Delete the entries from leaf `size` on, their nodes, subject references, checkpoints and cosignatures."""
        as_superuser(self.log, "DELETE FROM audit_entries WHERE leaf_index >= :n",
                     "DELETE FROM audit_subject_refs WHERE leaf_index >= :n",
                     "DELETE FROM audit_tree_nodes WHERE id >= :nodes",
                     "DELETE FROM audit_checkpoints WHERE tree_size > :n",
                     "DELETE FROM audit_cosignatures WHERE tree_size > :n",
                     params={"n": size, "nodes": stored_count(size)})

    def rewrite_from(self, leaf: int) -> int:
        """The entry at `leaf` removed from history: everything after it deleted and appended again through the
        real appender (a consistent tree over the edited history). Returns the new size."""
        with self.log.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(entries).where(entries.c.leaf_index > leaf)
                                                  .order_by(entries.c.leaf_index)).mappings()]
        self.truncate(leaf)
        with self.log.sessions() as session, session.begin():
            appender = appender_for(session, self.log.settings, lambda: self.log.context.signer)
            for row in rows:
                appender.add({k: v for k, v in row.items() if k not in ("seq", "leaf_index", "leaf_hash")})
        return leaf + len(rows)


@pytest.fixture
def deployment(postgres_url: str, tmp_path: Path) -> Iterator[Deployment]:
    (tmp_path / "party-2").mkdir()
    witness = WitnessProcess(tmp_path / "party-2")
    data = tmp_path / "party-1"
    log = audit_runtime(postgres_url, data, audit_checkpoint_every=100_000, audit_checkpoint_seconds=3600,
                        audit_witnesses=[witness.endpoint()])
    witness.trust(log.context.signer.verifier_key)  # also creates the log's development key, before its process
    log_api = ApiProcess("p3ke_audit", "audit", tmp_path / "audit-api.log", {
        "P3KE_DATABASE_URL": postgres_url, "P3KE_DATA_DIR": str(log.settings.data_dir),
        "P3KE_AUDIT_CHECKPOINT_EVERY": "100000", "P3KE_AUDIT_CHECKPOINT_SECONDS": "0.5",
        "P3KE_AUDIT_WITNESSES": json.dumps([witness.endpoint()]), "P3KE_AUDIT_WITNESS_QUORUM": "1",
        "P3KE_AUDIT_WITNESS_RETRY_S": "0.3", "P3KE_AUDIT_WITNESS_TIMEOUT_S": "5"})
    migrate("p3ke_audit", log_api.env)
    try:
        with witness, log_api:
            yield Deployment(log, log_api, witness, tmp_path)
    finally:
        log.engine.dispose()


def _metric(url: str, name: str, **labels: str) -> float:
    """A sample of a process's /metrics (0 when absent)."""
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
        if not labels and line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_rewritten_history_is_refused_by_the_witness_and_caught_by_a_saved_note(deployment: Deployment) -> None:
    d = deployment
    d.append(0, 40)
    d.witnessed(40)
    saved = d.save_latest_note("saved-40.note")  # an auditor of party 2 keeps the cosigned checkpoint of 40
    [cosig] = check_quorum(saved.read_text(), [d.witness.witness], 1)
    assert cosig.witness.name == NAME
    d.append(40, 60)
    d.witnessed(60)
    assert d.verify("--trusted-checkpoint", str(saved), "--witness-key", d.witness.witness.vkey)[0] == 0

    # the attack: entry 10 disappears from history; the tree is rebuilt, then the log grows on as usual
    size = d.rewrite_from(10)
    assert size == 59
    d.append(60, 70)
    size += 10
    code, report = d.verify()
    assert code == 0 and report["ok"], report  # the log alone: ok

    # the log process signs the rewritten head with its own key and offers it to the witness, which refuses it
    # (if its checkpointer signed the rebuilt 59 before the log grew, the witness saw that first: a rollback alarm)
    forks = wait_for(lambda: [a for a in d.alarms() if a["kind"] == "fork"] or None, 60, "the witness's fork alarm")
    [alarm] = forks
    assert (alarm["cosigned_size"], alarm["offered_size"], alarm["old_size"]) == (60, size, 60)
    assert alarm["detail"].startswith(f"checkpoint {size} tidak konsisten dengan checkpoint 60 yang sudah dikosign")
    assert {a["kind"] for a in d.alarms()} <= {"fork", "rollback"}
    signer = d.log.context.signer
    cosigned = open_note(alarm["cosigned_note"], signer.name, signer.public_key)  # evidence: both signed by the log
    offered = open_note(alarm["offered_note"], signer.name, signer.public_key)
    assert (cosigned.size, offered.size) == (60, size)
    assert check_quorum(alarm["cosigned_note"], [d.witness.witness], 1)  # with the witness's own cosignature
    assert _metric(d.witness.url, "p3ke_witness_alarms_total", kind="fork") >= 1

    # the compliance API of the log: not witnessed, the witness refusing, naming the sizes
    status = wait_for(lambda: (s := d.witnesses())["witnesses"][0]["status"] == "refused" and s, 30,
                      "the witness shown as refusing")
    [w] = status["witnesses"]
    assert str(size) in w["last_error"] and "60" in w["last_error"], w
    assert "tidak konsisten" in w["last_error"], w
    assert status["latest_witnessed_size"] < 40 and status["unwitnessed_entries"] > 0
    integrity = d.get("/v1/integrity").json()
    assert integrity["witnessed"] is False
    assert _metric(d.log_api.url, "p3ke_audit_witness_refusals_total", reason="inconsistent") >= 1

    # the note saved before the attack: verification fails, naming both sizes
    code, report = d.verify("--trusted-checkpoint", str(saved), "--witness-key", d.witness.witness.vkey)
    assert code == 1 and not report["ok"]
    [trusted] = report["trusted_checkpoints"]
    assert trusted["tree_size"] == 40
    assert f"the log of size {size} is not consistent with the witnessed checkpoint 40" in trusted["problem"], trusted


def test_a_truncated_log_is_a_rollback_for_the_witness_and_shrank_for_the_auditor(deployment: Deployment) -> None:
    d = deployment
    d.append(0, 50)
    d.witnessed(50)
    saved = d.save_latest_note("saved-50.note")
    d.truncate(30)  # the last 20 entries, their checkpoint and its cosignature deleted
    d.append(30, 35)  # the log goes on: its process signs 35 and shows it to the witness

    # the log may offer more than one checkpoint below 50 before it settles at 35 (each is a rollback alarm)
    [alarm, *_] = wait_for(lambda: [a for a in d.alarms() if a["offered_size"] == 35] or None, 60,
                           "the witness's rollback alarm")
    assert (alarm["kind"], alarm["cosigned_size"], alarm["offered_size"]) == ("rollback", 50, 35)
    assert all((a["kind"], a["cosigned_size"]) == ("rollback", 50) and a["offered_size"] < 50 for a in d.alarms())
    status = wait_for(lambda: (s := d.witnesses())["witnesses"][0]["status"] == "refused" and s, 30,
                      "the witness shown as refusing")
    assert "50" in status["witnesses"][0]["last_error"] and "35" in status["witnesses"][0]["last_error"]
    assert d.get("/v1/integrity").json()["witnessed"] is False

    code, report = d.verify("--trusted-checkpoint", str(saved))
    assert code == 1
    [trusted] = report["trusted_checkpoints"]
    assert "shrank from 50 to 35" in trusted["problem"], trusted


def test_a_witness_whose_state_was_rolled_back_is_noticed_by_the_log(deployment: Deployment) -> None:
    d = deployment
    d.append(0, 20)
    d.witnessed(20)
    d.witness.__exit__(None, None, None)
    backup = d.witness.db.with_suffix(".at20")
    shutil.copy(d.witness.db, backup)  # the witness's database as it was at 20
    d.witness.__enter__()
    d.append(20, 30)
    d.witnessed(30)

    d.witness.__exit__(None, None, None)
    shutil.copy(backup, d.witness.db)  # its operator restores the old backup: it forgets it cosigned 30
    d.witness.__enter__()
    d.append(30, 40)
    # the log tells it had a cosignature of 30 from this witness, which now knows only 20: recorded and counted;
    # the checkpoint still extends 30, so the witness is brought forward and 40 is witnessed
    wait_for(lambda: _metric(d.log_api.url, "p3ke_audit_witness_refusals_total", reason="witness-rollback") >= 1,
             60, "the witness's rollback noticed by the log")
    status = d.witnessed(40)
    assert status["witnesses"][0]["cosigned_size"] == 40
    assert d.alarms() == []  # nothing forked: the log's history is intact
