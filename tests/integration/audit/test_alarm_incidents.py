"""Incidents opened from the log's own alarms, on real PostgreSQL: the log tampered with as the database
superuser (triggers disabled) opens one `log-tamper` incident, whatever the number of scans, full verifications
and restarts; a real witness process that sees the log rolled back opens one `witness-fork` incident. Each is
announced (incident-opened queued for Kafka) with its 72-hour clock from the alarm."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from p3ke_audit.adapters.orm import checkpoints, entries, incident_evidence, incidents, notifications
from p3ke_audit.domain.entry import entry_leaf_hash
from p3ke_audit.service_layer import verification
from p3ke_audit.service_layer.incident_scan import scan_now
from p3ke_platform.service import Runtime
from p3ke_platform.tlog.merkle import stored_count
from tests.integration.audit.desk_support import Clock
from tests.integration.audit.helpers import access, as_superuser, audit_runtime, deliver, make_log, verify
from tests.integration.helpers.witness_process import NAME, WitnessProcess

pytestmark = pytest.mark.postgres
SIZE = 40
LEAF = 17


def _incidents(runtime: Runtime, source: str) -> list[dict[str, Any]]:
    with runtime.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(incidents).where(incidents.c.source == source)).mappings()]


def _evidence(runtime: Runtime, incident_id: str) -> list[tuple[str, str]]:
    with runtime.engine.connect() as conn:
        return [(k, e) for k, e in conn.execute(select(incident_evidence.c.kind, incident_evidence.c.entry_key)
                                                 .where(incident_evidence.c.incident_id == incident_id))]


def _announced(runtime: Runtime, incident_id: str) -> dict[str, Any]:
    with runtime.engine.connect() as conn:
        row = conn.execute(select(notifications).where(notifications.c.key == f"incident:{incident_id}:opened")
                           ).mappings().one()
    assert row["event_emitted_at"] is not None, "the incident-opened event is queued for Kafka"
    return json.loads(row["payload"])  # type: ignore[no-any-return]


def _row(runtime: Runtime, leaf: int) -> dict[str, Any]:
    with runtime.engine.connect() as conn:
        return dict(conn.execute(select(entries).where(entries.c.leaf_index == leaf)).mappings().one())


def edit_payload(runtime: Runtime) -> str:
    as_superuser(runtime, "UPDATE audit_entries SET payload = replace(payload, '\"allowed\"', '\"denied\"') "
                 "WHERE leaf_index = :k", params={"k": LEAF})
    return f"leaf:{LEAF}"


def edit_and_rewrite_leaf_hash(runtime: Runtime) -> str:
    """The row and its leaf hash rewritten: the window's subtree hashes give it away (the pair over 16..17)."""
    row = _row(runtime, LEAF)
    row["actor_subject"] = "someone-else"
    as_superuser(runtime, "UPDATE audit_entries SET actor_subject = 'someone-else', leaf_hash = :h "
                 "WHERE leaf_index = :k", params={"k": LEAF, "h": entry_leaf_hash(row)})
    return f"leaf:{LEAF - 1}"


def truncate_tail(runtime: Runtime) -> str:
    with runtime.engine.connect() as conn:
        latest, previous = conn.execute(select(checkpoints.c.tree_size).order_by(checkpoints.c.tree_size.desc())
                                        .limit(2)).scalars().all()
    as_superuser(runtime, "DELETE FROM audit_entries WHERE leaf_index >= :k", params={"k": latest - 3})
    return f"checkpoint:{previous}:{latest}"


SCENARIOS: dict[str, Callable[[Runtime], str]] = {
    f.__name__: f for f in (edit_payload, edit_and_rewrite_leaf_hash, truncate_tail)}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_tampered_log_opens_one_incident(scenario: str, postgres_url: str, tmp_path: Path) -> None:
    runtime = audit_runtime(postgres_url, tmp_path, audit_checkpoint_every=8)
    clock = runtime.context.clock = Clock(datetime.now(UTC))
    try:
        make_log(runtime, SIZE, batch=5)
        scan_now(runtime.context)
        assert _incidents(runtime, "log-tamper") == []  # an intact log raises no alarm

        key = SCENARIOS[scenario](runtime)
        clock.at += timedelta(minutes=5)
        opened = scan_now(runtime.context)
        [incident] = _incidents(runtime, "log-tamper")
        assert opened == [incident["incident_id"]]
        assert _evidence(runtime, incident["incident_id"]) == [("log-tamper", key)]
        assert key in incident["description"] and incident["status"] == "open"
        assert incident["discovered_at"] == clock.at and incident["due_at"] - clock.at == timedelta(hours=72)
        announced = _announced(runtime, incident["incident_id"])
        assert announced["source"] == "log-tamper" and announced["incident_id"] == incident["incident_id"]

        # the next passes, a full verification recorded with its failure, and a restarted service: nothing new
        for _ in range(2):
            clock.at += timedelta(minutes=1)
            assert scan_now(runtime.context) == []
        report = verify(runtime)
        assert not report.ok
        verification.record(runtime.engine, report)
        assert scan_now(runtime.context) == []
        runtime.engine.dispose()
        runtime = audit_runtime(postgres_url, tmp_path, audit_checkpoint_every=8)
        runtime.context.clock = Clock(clock.at + timedelta(hours=1))
        assert scan_now(runtime.context) == []
        assert [i["incident_id"] for i in _incidents(runtime, "log-tamper")] == [incident["incident_id"]]
    finally:
        runtime.engine.dispose()


def _truncate(runtime: Runtime, size: int) -> None:
    """Entries from leaf `size` on removed with their nodes, subject references, checkpoints and cosignatures."""
    as_superuser(runtime, "DELETE FROM audit_entries WHERE leaf_index >= :n",
                 "DELETE FROM audit_subject_refs WHERE leaf_index >= :n",
                 "DELETE FROM audit_tree_nodes WHERE id >= :nodes",
                 "DELETE FROM audit_checkpoints WHERE tree_size > :n",
                 "DELETE FROM audit_cosignatures WHERE tree_size > :n",
                 params={"n": size, "nodes": stored_count(size)})


def test_a_witness_that_saw_the_log_roll_back_opens_one_incident(postgres_url: str, tmp_path: Path) -> None:
    witness = WitnessProcess(tmp_path)

    def log() -> Runtime:
        return audit_runtime(postgres_url, tmp_path / "audit", audit_checkpoint_every=100_000,
                             audit_checkpoint_seconds=3600, audit_witnesses=[witness.endpoint()],
                             audit_witness_timeout_s=5)

    runtime = log()
    witness.trust(runtime.context.signer.verifier_key)
    try:
        with witness:
            make_log(runtime, 20, batch=20)
            runtime.context.issue_checkpoint()
            assert [r.status for r in runtime.context.witness_now()] == ["ok"]
            assert _incidents(runtime, "witness-fork") == []

            # the history from leaf 10 on is removed, with its checkpoints and cosignatures; the log goes on
            _truncate(runtime, 10)
            assert deliver(runtime, [access(i) for i in range(100, 105)]) == []
            runtime.context.issue_checkpoint()  # (the appender may have signed it already: none was left)
            with runtime.engine.connect() as conn:
                assert conn.execute(select(func.max(checkpoints.c.tree_size))).scalar() == 15
            [refused] = runtime.context.witness_now()
            assert (refused.status, refused.reason, refused.witness_size) == ("refused", "log-rollback", 20)
            assert refused.incident_id is not None
            [incident] = _incidents(runtime, "witness-fork")
            assert incident["incident_id"] == refused.incident_id
            assert _evidence(runtime, refused.incident_id) == [("witness-fork", f"{NAME}:log-rollback:20")]
            assert NAME in incident["description"] and "15" in incident["description"]
            assert incident["due_at"] - incident["discovered_at"] == timedelta(hours=72)

            # the witness keeps refusing: the same alarm, no new incident; the incident scan announces it
            [again] = runtime.context.witness_now()
            assert (again.reason, again.incident_id) == ("log-rollback", None)
            scan_now(runtime.context)
            assert _announced(runtime, refused.incident_id)["source"] == "witness-fork"
            assert _incidents(runtime, "log-tamper") == []  # the rebuilt tree is consistent: only a witness sees it

            runtime.engine.dispose()
            runtime = log()  # a restart
            [after] = runtime.context.witness_now()
            assert (after.reason, after.incident_id) == ("log-rollback", None)
        assert [i["incident_id"] for i in _incidents(runtime, "witness-fork")] == [refused.incident_id]
    finally:
        runtime.engine.dispose()
