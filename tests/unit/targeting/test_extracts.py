"""Extract requests through the inbox on SQLite: selection, priority, determinism, exclusion of earlier
recipients, idempotency, and what is written, emitted and audited."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from p3ke_platform.audit_client import subject_ref
from p3ke_platform.service import Runtime
from p3ke_targeting.adapters import extract_files
from p3ke_targeting.adapters.extract_files import read_provenance
from tests.unit.targeting.helpers import (
    FIELDS,
    apply,
    emitted,
    extract_path,
    make_runtime,
    niks_of,
    one_prepared,
    prepared,
    request,
    sha256_of,
)
from tests.unit.targeting.helpers import dataset_event as dataset


def _candidates(snapshot: Path, sql_where: str) -> list[tuple[str, int, int]]:
    """The hand-written reference: (nik, desil, persentil) of everyone eligible."""
    return duckdb.sql(f"SELECT nik, desil_kesejahteraan, persentil FROM read_parquet('{snapshot}') "
                      f"WHERE {sql_where}").fetchall()


PADAT_KARYA_WHERE = ("padan_dukcapil = 'Ya' AND status_pekerjaan IN ('Tidak Bekerja', 'Pekerja Bebas', "
                     "'Pekerja Keluarga/Tidak Dibayar') AND pekerjaan NOT IN ('Pelajar/Mahasiswa', 'Pensiunan') "
                     "AND nik IS NOT NULL")


def _age_where(ref: date, lo: int, hi: int) -> str:
    return (f"tanggal_lahir <= DATE '{ref.replace(year=ref.year - lo)}' "
            f"AND tanggal_lahir > DATE '{ref.replace(year=ref.year - hi - 1)}'")


def _received_on(runtime: Runtime, day: date) -> None:
    """Move the service's clock: a reference date must lie near the day the request is received."""
    runtime.context.clock = lambda: datetime(day.year, day.month, day.day, 3, tzinfo=UTC)


def test_accepted_extract_holds_exactly_the_eligible_in_priority_order(runtime: Runtime, snapshot: Path) -> None:
    ref = date(2026, 3, 2)
    _received_on(runtime, ref)
    req = request(quota=300, criteria={"region_codes": ["32"], "deciles": [1, 2, 3], "age_min": 20,
                                       "age_max": 50, "reference_date": ref.isoformat()})
    assert apply(runtime, req) == []
    event = one_prepared(runtime, req.request_id)
    assert event["status"] == "accepted" and event["record_count"] == 300
    path = extract_path(event)
    assert sha256_of(path) == event["file_sha256"]
    table = pq.read_table(path)
    assert table.column_names == FIELDS  # only the requested (allowed) fields, in order
    prov = read_provenance(path)
    assert prov["request_id"] == req.request_id and prov["dataset_version_id"] == "dv-1"
    assert prov["rules_version"] == event["rules_version"] and prov["extract_id"] == event["extract_id"]

    eligible = _candidates(snapshot, f"{PADAT_KARYA_WHERE} AND left(kode_kemendagri, 2) = '32' AND "
                                     f"desil_kesejahteraan <= 3 AND {_age_where(ref, 20, 50)}")
    by_nik = {nik: (desil, pct) for nik, desil, pct in eligible}
    rows = table.to_pylist()
    assert all(r["nik"] in by_nik for r in rows)
    # priority: desil 1 first, then 2, 3; within a desil the lower persentil first
    order = [by_nik[r["nik"]] for r in rows]
    assert order == sorted(order)
    # nobody left out who ranks strictly before the last one selected
    last = order[-1]
    before_last = {n for n, key in by_nik.items() if key < last}
    assert before_last <= {r["nik"] for r in rows}
    assert event["counts_by_desil"] == {str(d): sum(1 for o in order if o[0] == d) for d in {o[0] for o in order}}
    assert event["counts_by_region"] == {"32": 300}


def test_priority_takes_all_of_desil_1_before_any_of_desil_2(runtime: Runtime, snapshot: Path) -> None:
    desil1 = len(_candidates(snapshot, f"{PADAT_KARYA_WHERE} AND desil_kesejahteraan = 1 AND "
                                       f"{_age_where(date(2026, 3, 2), 18, 60)}"))
    _received_on(runtime, date(2026, 3, 2))
    req = request(quota=desil1 + 25, criteria={"reference_date": "2026-03-02"})
    apply(runtime, req)
    event = one_prepared(runtime, req.request_id)
    assert event["counts_by_desil"] == {"1": desil1, "2": 25}


def test_same_request_same_version_same_people(tmp_path: Path, snapshot: Path) -> None:
    base = request(quota=150, criteria={"deciles": [1, 2, 3, 4]})
    results = []
    for name in ("a", "b"):
        rt = make_runtime(tmp_path / name)
        apply(rt, dataset(snapshot))
        apply(rt, base)
        results.append(one_prepared(rt, base.request_id))
    assert niks_of(results[0]) == niks_of(results[1])
    assert results[0]["file_sha256"] == results[1]["file_sha256"]
    other = make_runtime(tmp_path / "c")
    apply(other, dataset(snapshot))
    apply(other, base.model_copy(update={"request_id": "req-another"}))
    # ties inside a persentil are broken per request: another request may differ in whom, not in priority
    assert sorted(niks_of(one_prepared(other, "req-another"))) != sorted(niks_of(results[0]))


LEDGER_PATHS = pytest.mark.parametrize("in_memory", [extract_files.LEDGER_IN_MEMORY, 0], ids=["python", "sql"])
"""The recipient ledger's keyed hashes computed in Python (up to LEDGER_IN_MEMORY persons) and in SQL (beyond)."""


@LEDGER_PATHS
def test_earlier_recipients_of_the_program_are_excluded(runtime: Runtime, monkeypatch: pytest.MonkeyPatch,
                                                        in_memory: int) -> None:
    monkeypatch.setattr(extract_files, "LEDGER_IN_MEMORY", in_memory)
    criteria = {"region_codes": ["53"], "deciles": [1]}
    first, second = request(quota=100, criteria=criteria), request(quota=100, criteria=criteria)
    again = request(quota=100, criteria={**criteria, "exclude_already_delivered": False})
    other_program = request(quota=100, criteria=criteria, program="pbi_jamsostek_pekerja_rentan",
                            fields=["nik", "nama", "alamat"])
    assert apply(runtime, first) == []
    assert apply(runtime, second, again, other_program) == []
    a, b, c = (set(niks_of(one_prepared(runtime, r.request_id))) for r in (first, second, again))
    assert len(a) == len(b) == 100 and not a & b
    assert c & a  # without exclusion, earlier recipients can come back
    d = set(niks_of(one_prepared(runtime, other_program.request_id)))
    assert a & d  # exclusion is per program


def test_idempotent_one_request_one_extract(runtime: Runtime) -> None:
    req = request(quota=50)
    assert apply(runtime, req, event_ids=["e-1"]) == []
    assert apply(runtime, req, event_ids=["e-1"]) == []  # the same event again (inbox)
    assert apply(runtime, req, event_ids=["e-2"]) == []  # the same request in another event
    assert len(prepared(runtime, req.request_id)) == 1
    clash = req.model_copy(update={"quota": 51})
    rejected = apply(runtime, clash, event_ids=["e-3"])
    assert len(rejected) == 1 and "already used by a different extract request" in rejected[0][1]
    assert len(prepared(runtime, req.request_id)) == 1
    assert len(list((Path(runtime.settings.data_dir) / "extracts").glob("*.parquet"))) == 1


@LEDGER_PATHS
def test_selection_is_audited_with_every_subject(runtime: Runtime, monkeypatch: pytest.MonkeyPatch,
                                                 in_memory: int) -> None:
    monkeypatch.setattr(extract_files, "LEDGER_IN_MEMORY", in_memory)
    req = request(quota=120)
    apply(runtime, req)
    event = one_prepared(runtime, req.request_id)
    accesses = [e for e in emitted(runtime, "p3ke.data-access.v1") if e["resource_id"] == event["extract_id"]]
    assert [a["action"] for a in accesses] == ["select"]
    key = runtime.settings.subject_hash_key
    assert sorted(accesses[0]["subject_refs"]) == sorted(subject_ref(key, n) for n in niks_of(event))
    delivered = Path(runtime.settings.data_dir) / "targeting" / "delivered"
    ledger = pq.read_table(delivered / f"{event['extract_id']}.parquet")
    assert ledger.column("subject_ref").to_pylist() == sorted(accesses[0]["subject_refs"])
    assert accesses[0]["record_count"] == 120 and accesses[0]["actor"]["subject"] == "officer-1"
    names = set(pq.read_table(extract_path(event), columns=["nama"]).column("nama").to_pylist())
    wire = json.dumps(emitted(runtime, "p3ke.extract-prepared.v1") + accesses)
    assert not any(name in wire for name in names)  # never names in events
    assert not any(nik in wire for nik in niks_of(event))


def test_large_selections_split_the_audit_references(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from p3ke_platform import unit_of_work

    chunked = unit_of_work.chunked
    monkeypatch.setattr(unit_of_work, "chunked", lambda refs, size=40: chunked(refs, 40))  # not 5,000 an event
    req = request(quota=100)
    apply(runtime, req)
    extract_id = one_prepared(runtime, req.request_id)["extract_id"]
    chunks = [e for e in emitted(runtime, "p3ke.data-access.v1") if e["resource_id"] == extract_id]
    assert [c["record_count"] for c in chunks] == [40, 40, 20]
    assert len({r for c in chunks for r in c["subject_refs"]}) == 100


def test_pinned_version_and_current_version(runtime: Runtime, snapshot: Path, tmp_path: Path) -> None:
    smaller = tmp_path / "v2.parquet"
    pq.write_table(pq.read_table(snapshot).slice(0, 2_000), smaller)
    apply(runtime, dataset(smaller, version="dv-2"))
    current, pinned = request(quota=10), request(quota=10, dataset_version_id="dv-1")
    apply(runtime, current, pinned)
    assert one_prepared(runtime, current.request_id)["dataset_version_id"] == "dv-2"
    assert one_prepared(runtime, pinned.request_id)["dataset_version_id"] == "dv-1"


def _selection_tables(runtime: Runtime) -> list[str]:
    """The selection tables left in the targeting process's shared DuckDB database."""
    s = runtime.context.settings
    with runtime.context.duckdb.connect(s.targeting_duckdb_threads, s.targeting_duckdb_memory,
                                        Path(s.data_dir) / "tmp") as con:
        return [name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
                if name.startswith("sel_")]


def test_no_selection_table_outlives_its_extract_accepted_refused_or_failed(runtime: Runtime, tmp_path: Path) -> None:
    """An extract's selection is a table of the process's shared database (its extract file is written on another
    connection while the ledger is written): it is dropped whether the extract is accepted, refused for
    nobody matching, or fails half-way (here its file cannot be written: a file stands where its directory goes)."""
    accepted = request(quota=50)
    assert apply(runtime, accepted) == []
    assert one_prepared(runtime, accepted.request_id)["status"] == "accepted"
    assert _selection_tables(runtime) == []
    nobody = request(criteria={"region_codes": ["1101"]})  # no synthetic person lives in Aceh
    assert apply(runtime, nobody) == []
    assert one_prepared(runtime, nobody.request_id)["status"] == "rejected"
    assert _selection_tables(runtime) == []

    extracts = runtime.context.settings.extracts_dir
    extracts.rename(tmp_path / "extracts-moved")
    extracts.write_text("not a directory")
    failing = request(quota=50)
    with pytest.raises(OSError):
        apply(runtime, failing)
    assert prepared(runtime, failing.request_id) == []  # nothing emitted for it
    assert _selection_tables(runtime) == []
