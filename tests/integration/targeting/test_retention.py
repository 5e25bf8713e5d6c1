"""Targeting's disposal of its extracts and selection ledgers (issue #18) on PostgreSQL, real Parquet files and a real
audit API process for the legal holds, with an injected clock.

Two extracts are frozen on 2 March 2026; delivery reports each package's first download on 10 March 10:00 WIB
(`handover-milestone`). Under the default schedule an extract is kept 30 days after that, so it is due on 10 April
00:00 WIB: not a second before (a dry run does not list it), listed by a dry run then, destroyed by a run (file gone,
one `erase` record with its digest and the persons it held by keyed reference, one `artefact-disposed` event valid
against its JSON Schema), unless an open incident names it (a legal hold). The same milestone reported again does
not move the due time. The recipient ledgers are due only when the agreement ends (1 March 2027 00:00 WIB)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from p3ke_platform.retention import Trigger
from p3ke_platform.retention.disposal import DisposalJob
from p3ke_platform.retention.holds import Holds
from p3ke_platform.service import Runtime
from p3ke_schemas import HandoverMilestone
from p3ke_schemas.generate import CONTRACT_DIR
from p3ke_targeting.adapters.orm import extract_milestones, extracts
from p3ke_targeting.service_layer import retention_inventory
from tests.conftest import new_postgres_database
from tests.integration.helpers.audit_api import audit_api, legal_hold
from tests.integration.helpers.processes import ApiProcess
from tests.unit.targeting.helpers import AGREEMENT, apply, dataset_event, emitted, make_runtime, request, sha256_of

FROZEN = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
DOWNLOADED = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 10:00 WIB
EXTRACT_DUE = datetime(2026, 4, 9, 17, 0, tzinfo=UTC)  # 10 April 00:00 WIB: 30 days kept, to the end of the day
AGREEMENT_ENDS = datetime(2027, 2, 28, 17, 0, tzinfo=UTC)  # 1 March 2027 00:00 WIB (the example PKS)
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def audit(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """The audit service's API, a real process on its own PostgreSQL database, sharing the dev issuer's key."""
    with audit_api(postgres, tmp_path_factory.mktemp("targeting-retention-shared")) as api:
        yield api


_hold = legal_hold


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from p3ke_ingest.synth import generate

    out = tmp_path_factory.mktemp("retention-snapshot")
    return generate(out, individuals=3_000, fmt="parquet", seed=23, provinces=["32"],  # type: ignore[return-value]
                    family_file=False).individual_path


@pytest.fixture
def targeting(postgres: Any, audit: ApiProcess, tmp_path: Path, snapshot: Path) -> Iterator[Runtime]:
    """Targeting on PostgreSQL knowing one dataset version, its clock on FROZEN; the audit API answers its holds."""
    keys = tmp_path / "data" / "keys"
    keys.mkdir(parents=True)
    shutil.copy(audit.shared / "keys" / "dev-issuer.pem", keys / "dev-issuer.pem")  # type: ignore[attr-defined]
    runtime = make_runtime(tmp_path, database_url=new_postgres_database(postgres), legal_holds_url=audit.url,
                           agreement_dir=None)  # the bundled terms: the ledger is due at their real end
    runtime.context.clock = lambda: FROZEN
    assert apply(runtime, dataset_event(snapshot)) == []
    yield runtime
    runtime.engine.dispose()


def _extract(runtime: Runtime) -> dict[str, Any]:
    req = request(quota=40, requested_at=FROZEN)
    assert apply(runtime, req) == []
    with runtime.engine.connect() as conn:
        row = conn.execute(select(extracts).where(extracts.c.request_id == req.request_id)).mappings().one()
    return dict(row)


def _milestone(extract: dict[str, Any], at: datetime, milestone: str = "package-downloaded") -> HandoverMilestone:
    return HandoverMilestone(handover_id=f"hov-{extract['extract_id'][4:16]}", extract_id=extract["extract_id"],
                             agreement_id=AGREEMENT, milestone=milestone, occurred_at=at)  # type: ignore[arg-type]


def _at(runtime: Runtime, when: datetime) -> Runtime:
    runtime.context.clock = lambda: when
    return runtime


def _erasures(runtime: Runtime) -> list[dict[str, Any]]:
    return [e for e in emitted(runtime, "p3ke.data-access.v1") if e["action"] == "erase"]


def _outcomes(report: Any) -> set[tuple[str, str, str]]:
    return {(i.kind, i.resource_id, i.outcome) for i in report.items}


def test_an_extract_goes_30_days_after_its_download_unless_held(targeting: Runtime, audit: ApiProcess) -> None:
    runtime = targeting
    first, held = _extract(runtime), _extract(runtime)
    path, held_path = Path(first["file_uri"]), Path(held["file_uri"])
    ledger_refs = pq.read_table(first["ledger_uri"]).column("subject_ref").to_pylist()
    assert path.is_file() and held_path.is_file() and len(ledger_refs) == 40

    downloaded = _milestone(first, DOWNLOADED)
    assert apply(runtime, downloaded, _milestone(held, DOWNLOADED)) == []
    # re-delivered (same event id) and reported again later (another id): the first report wins
    assert apply(runtime, downloaded, event_ids=["ev-download-1"]) == []
    assert apply(runtime, downloaded, event_ids=["ev-download-1"]) == []
    assert apply(runtime, _milestone(first, DOWNLOADED + timedelta(days=20))) == []
    with runtime.engine.connect() as conn:
        stored = conn.execute(select(extract_milestones.c.milestone, extract_milestones.c.occurred_at).where(
            extract_milestones.c.extract_id == first["extract_id"])).all()
    assert [(m, at.astimezone(UTC)) for m, at in stored] == [("package-downloaded", DOWNLOADED)]
    listed = {(a.kind.value, a.resource_id): a for a in retention_inventory.artefacts(runtime.context)}
    assert listed[("extract", first["extract_id"])].events == {Trigger.PACKAGE_DOWNLOADED: DOWNLOADED}
    assert listed[("selection-ledger", first["extract_id"])].events == {}
    incident = _hold(audit, "extract", held["extract_id"])

    early = DisposalJob(_at(runtime, EXTRACT_DUE - SECOND).context).run_once(dry_run=True)
    assert early.ran and early.problem is None and early.items == []  # nothing is due a second before

    dry = DisposalJob(_at(runtime, EXTRACT_DUE).context).run_once(dry_run=True)
    assert dry.problem is None
    assert _outcomes(dry) == {("extract", first["extract_id"], "would-dispose"),
                              ("extract", held["extract_id"], "held")}
    assert next(i for i in dry.items if i.outcome == "held").held_by == [incident]
    assert path.is_file() and _erasures(runtime) == [] and emitted(runtime, "p3ke.artefact-disposed.v1") == []

    sha = sha256_of(path)
    report = DisposalJob(runtime.context).run_once()
    assert report.problem is None
    assert _outcomes(report) == {("extract", first["extract_id"], "disposed"), ("extract", held["extract_id"], "held")}
    assert not path.exists() and held_path.is_file()
    assert Path(first["ledger_uri"]).is_file()  # the ledger outlives the extract
    [erase] = _erasures(runtime)
    assert (erase["resource_type"], erase["resource_id"]) == ("extract", first["extract_id"])
    assert erase["reason"].startswith("extract:") and f"sha256 {sha}" in erase["reason"]
    assert "30 days after the package is downloaded" in erase["reason"]
    assert sorted(erase["subject_refs"]) == sorted(ledger_refs) and erase["subject_key_id"] == "k1"
    assert erase["actor"]["service_account"] is True and erase["agreement_id"] == AGREEMENT
    [disposed] = emitted(runtime, "p3ke.artefact-disposed.v1")
    schema = json.loads((CONTRACT_DIR / "jsonschema" / "p3ke.artefact-disposed.v1.json").read_text())
    jsonschema.validate(disposed, schema)
    assert (disposed["artefact_id"], disposed["sha256"], disposed["trigger"], disposed["service"]) == (
        f"extract:{first['extract_id']}", sha, "package-downloaded", "targeting")
    assert datetime.fromisoformat(disposed["due_at"]) == EXTRACT_DUE

    again = DisposalJob(runtime.context).run_once()  # gone from the inventory; the held one stays held
    assert _outcomes(again) == {("extract", held["extract_id"], "held")}
    assert len(_erasures(runtime)) == 1 and held_path.is_file()
    assert ("extract", first["extract_id"]) not in {
        (a.kind.value, a.resource_id) for a in retention_inventory.artefacts(runtime.context)}


def test_a_selection_ledger_is_due_only_when_the_agreement_ends(targeting: Runtime) -> None:
    runtime = targeting
    extract = _extract(runtime)  # no milestone: the extract too is due at the agreement's end at the latest
    ledger = Path(extract["ledger_uri"])
    refs = pq.read_table(ledger).column("subject_ref").to_pylist()

    before = DisposalJob(_at(runtime, AGREEMENT_ENDS - SECOND).context, holds=_no_holds).run_once(dry_run=True)
    assert before.items == []

    report = DisposalJob(_at(runtime, AGREEMENT_ENDS).context, holds=_no_holds).run_once()
    assert _outcomes(report) == {("extract", extract["extract_id"], "disposed"),
                                 ("selection-ledger", extract["extract_id"], "disposed")}
    assert not ledger.exists() and not Path(extract["file_uri"]).exists()
    erase = {e["resource_type"]: e for e in _erasures(runtime)}
    assert set(erase) == {"extract", "selection-ledger"}
    assert erase["selection-ledger"]["reason"].startswith("selection-ledger:")
    assert f"sha256 {extract['ledger_sha256']}" in erase["selection-ledger"]["reason"]
    assert sorted(erase["selection-ledger"]["subject_refs"]) == sorted(refs)
    assert "the agreement ends" in erase["extract"]["reason"]  # capped by the agreement, before its own period
    triggers = {e["resource_type"]: e["trigger"] for e in emitted(runtime, "p3ke.artefact-disposed.v1")}
    assert triggers == {"extract": "agreement-ended", "selection-ledger": "agreement-ended"}


def _no_holds() -> Holds:
    return Holds()
