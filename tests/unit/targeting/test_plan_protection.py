"""Planning counts that do not single people out (issue #17): party 2's answers are protected by the cell key
method (perturbation looked up by the cell's key, suppression after perturbation, rounding to 5), limited in
dimensions and budgeted per caller and day; party 1 sees exact counts. Two attacks that worked with plain
small-cell suppression are run against the service: differencing a hidden district out of two regency-level
queries, and narrowing by sex and age band until the difference is one person."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_platform.agreement import agreement_day
from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.service import Runtime
from p3ke_schemas import ExtractCriteria
from p3ke_targeting.adapters import duckdb_selection
from p3ke_targeting.adapters.orm import datasets
from p3ke_targeting.domain import cell_key
from p3ke_targeting.domain.selection import resolve
from tests.unit.targeting.helpers import apply, dataset_event, emitted, make_runtime

Cells = dict[tuple[str, int], int | None]


@pytest.fixture
def client(tmp_path: Path, snapshot: Path) -> Iterator[TestClient]:
    runtime = make_runtime(tmp_path, targeting_plan_queries_per_day=100)
    apply(runtime, dataset_event(snapshot))
    with TestClient(create_app(runtime)) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
        yield c
    runtime.engine.dispose()


def _headers(client: TestClient, org: str, role: str, sub: str) -> dict[str, str]:
    token = DevIssuer(client.runtime.settings).mint(sub, org, [role])  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}"}


def party_1(client: TestClient) -> dict[str, str]:
    return _headers(client, "kemenkopmk", "data-steward", "steward-1")


def party_2(client: TestClient, sub: str = "officer-7") -> dict[str, str]:
    return _headers(client, "kemnaker", "program-officer", sub)


def _plan(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/v1/plans", json={"program": "padat_karya", **body}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def cells(client: TestClient, headers: dict[str, str], **body: Any) -> Cells:
    return {(c["region"], c["desil"]): c["count"] for c in _plan(client, headers, **body)["cells"]}


def true_counts(client: TestClient, digits: int, **criteria: Any) -> dict[tuple[str, int], int]:
    """What the attacker wants to learn, counted straight from the snapshot with the program's rules (no API)."""
    runtime: Runtime = client.runtime  # type: ignore[attr-defined]
    ctx = runtime.context
    selection = resolve(ExtractCriteria.model_validate(criteria), "padat_karya", ctx.rules, ctx.region_codes,
                        default_reference=agreement_day(ctx.clock()))
    where = duckdb_selection.Filter(selection)
    with runtime.engine.connect() as conn:
        snapshot = conn.scalar(select(datasets.c.snapshot_uri))
    rows = duckdb.connect().execute(
        f"SELECT left(kode_kemendagri, {digits}), desil_kesejahteraan, count(*) FROM read_parquet($snapshot) "
        f"WHERE {where.sql} GROUP BY ALL", {**where.params, "snapshot": snapshot.removeprefix("file://")}).fetchall()
    return {(str(r), int(d)): int(n) for r, d, n in rows}


def test_the_differencing_attack_no_longer_recovers_a_hidden_district(client: TestClient) -> None:
    """The attack of issue #17: a district hidden at district level (e.g. 320101 desil 3: 6 persons) was the
    regency's count minus the regency counted over its other districts (18 - 12 = 6), two allowed queries."""
    truth_regency = true_counts(client, 4)
    truth_district = true_counts(client, 6)
    targets = [(regency, desil, district, n) for (regency, desil), total in truth_regency.items()
               for (district, d), n in truth_district.items()
               if d == desil and district.startswith(regency) and n is not None and total is not None
               and 0 < n < 10 and n % 5 and total - n >= 13][:12]  # 13: shown whatever the noise (at most 3)
    assert len(targets) == 12, "the fixture has hidden districts whose regency is large enough to difference"
    hidden = cells(client, party_2(client), group_by="district")
    recovered = []
    for regency, desil, district, true_count in targets:
        assert hidden[(district, desil)] is None, "the district itself is suppressed"
        others = sorted(d for d, dd in truth_district if dd == desil and d.startswith(regency) and d != district)
        whole = cells(client, party_2(client), group_by="regency",
                      criteria={"region_codes": [regency], "deciles": [desil]})[(regency, desil)]
        rest = cells(client, party_2(client), group_by="regency",
                     criteria={"region_codes": others, "deciles": [desil]})[(regency, desil)]
        assert whole is not None and rest is not None, "both queries are answered (the attack is not blocked)"
        recovered.append((district, desil, whole - rest, true_count))
    assert all(guess != true for _, _, guess, true in recovered), recovered
    assert all(guess % cell_key.ROUNDING_BASE == 0 for _, _, guess, _ in recovered)


def test_narrowing_by_sex_and_age_band_does_not_isolate_one_person(client: TestClient) -> None:
    """An attack of our own: women of a regency and desil, then the same from age 20 (an allowed 5-year band):
    where exactly one eligible woman is 18 or 19, the plain counts differed by 1 and singled her out."""
    women = true_counts(client, 4, sex="P")
    from_20 = true_counts(client, 4, sex="P", age_min=20)
    lone = [key for key, n in women.items() if (from_20.get(key) or 0) >= 13
            and n - (from_20.get(key) or 0) == 1]
    assert len(lone) >= 5, "the fixture has regencies with exactly one eligible woman aged 18-19 in a desil"
    seen_women = cells(client, party_2(client), group_by="regency", criteria={"sex": "P"})
    seen_from_20 = cells(client, party_2(client), group_by="regency", criteria={"sex": "P", "age_min": 20})
    differences = {key: (seen_women[key] or 0) - (seen_from_20.get(key) or 0) for key in lone}
    assert all(d != 1 for d in differences.values()), differences
    answered = [key for key in lone if seen_women[key] is not None and seen_from_20.get(key) is not None]
    assert answered == lone, "answered (13 or more persons are shown whatever the noise), yet nobody is singled out"


def test_the_same_cell_always_gets_the_same_answer(client: TestClient) -> None:
    """Repeating a query, or reaching the same cell (the same people) through another query, gives the same
    perturbed count: the noise cannot be averaged away."""
    body = {"group_by": "regency", "criteria": {"deciles": [1, 2]}}
    first, again = _plan(client, party_2(client), **body), _plan(client, party_2(client, "officer-8"), **body)
    assert first["cells"] == again["cells"]
    only_33 = cells(client, party_2(client), group_by="regency", criteria={"deciles": [1, 2], "region_codes": ["33"]})
    everywhere = {key: n for key, n in cells(client, party_2(client), **body).items() if key[0].startswith("33")}
    assert only_33 == everywhere
    exact = true_counts(client, 4, deciles=[1, 2])
    assert cells(client, party_1(client), **body) == exact  # party 1: exact, nothing suppressed
    shown = {key: n for key, n in cells(client, party_2(client), **body).items() if n is not None}
    assert all(n % 5 == 0 and n >= 10 for n in shown.values())
    assert any(exact[key] != n for key, n in shown.items()), "the shown counts are perturbed or rounded"
    assert first["protection"] == "cell-key" and first["rounding_base"] == 5 and first["min_cell"] == 10
    assert first["method"] == cell_key.METHOD


def test_party_1_sees_exact_counts_without_limits(client: TestClient) -> None:
    plan = _plan(client, party_1(client), group_by="district", criteria={"age_min": 19, "region_codes": ["3201"]})
    assert plan["protection"] == "exact" and plan["min_cell"] is None and plan["budget"] is None
    assert plan["suppressed_cells"] == 0 and any(c["count"] < 10 for c in plan["cells"])
    assert plan["total_shown"] == sum(c["count"] for c in plan["cells"])


@pytest.mark.parametrize(("body", "words"), [
    ({"criteria": {"region_codes": ["3201012001"]}},
     "criteria.region_codes 3201012001: hitungan perencanaan paling rinci tingkat kecamatan"),
    ({"criteria": {"age_min": 19}}, "criteria.age_min 19: usia hanya per kelompok 5 tahun"),
    ({"criteria": {"age_max": 30}}, "criteria.age_max 30: usia hanya per kelompok 5 tahun"),
    ({"group_by": "regency", "criteria": {"occupation_categories": ["Pekerja Bebas"]}},
     "kategori pekerjaan atau pendidikan hanya untuk tabel tingkat provinsi"),
    ({"criteria": {"occupation_categories": ["Pekerja Bebas"], "region_codes": ["3201"]}},
     "kategori pekerjaan atau pendidikan hanya untuk tabel tingkat provinsi"),
])
def test_party_2_may_ask_only_the_allowed_dimensions(client: TestClient, body: dict[str, Any], words: str) -> None:
    refused = client.post("/v1/plans", json={"program": "padat_karya", **body}, headers=party_2(client))
    detail = refused.json()["detail"]
    assert refused.status_code == 422, refused.text
    assert detail.startswith(f"Hitungan perencanaan untuk PIHAK KEDUA dibatasi: {words}"), refused.text
    assert refused.json()["code"] == "plan.problems"
    assert " / " not in refused.json()["detail"]  # the caller's language (Indonesian by default) only
    allowed = _plan(client, party_2(client), group_by="province",
                    criteria={"occupation_categories": ["Pekerja Bebas"], "age_min": 20, "age_max": 39})
    assert allowed["cells"]


def test_the_daily_budget_runs_out_with_429_and_every_query_is_audited(tmp_path: Path, snapshot: Path) -> None:
    runtime = make_runtime(tmp_path, targeting_plan_queries_per_day=2)
    apply(runtime, dataset_event(snapshot))
    with TestClient(create_app(runtime)) as c:
        c.runtime = runtime  # type: ignore[attr-defined]
        answers = [c.post("/v1/plans", json={"program": "padat_karya"}, headers=party_2(c)) for _ in range(3)]
        english = c.post("/v1/plans", json={"program": "padat_karya"}, headers={**party_2(c), "Accept-Language": "en"})
        other = c.post("/v1/plans", json={"program": "padat_karya"}, headers=party_2(c, "officer-8"))
        steward = c.post("/v1/plans", json={"program": "padat_karya"}, headers=party_1(c))
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.json()["budget"]["used"] for a in answers[:2]] == [1, 2]
    detail = answers[2].json()["detail"]
    assert detail.startswith("Kuota hitungan perencanaan hari ini habis: 2 permintaan per pengguna per hari (hari "
                             "Jakarta 20")
    assert "; coba lagi mulai 20" in detail and "T00:00:00+07:00" in detail
    assert answers[2].json()["code"] == "plan.budget_spent" and answers[2].json()["rule"] == "plan-budget"
    assert answers[2].headers["X-P3KE-Refusal"] == "plan-budget"
    assert english.status_code == 429 and english.json()["code"] == "plan.budget_spent"
    assert english.json()["detail"].startswith("the planning query budget for today is spent: 2 queries per caller")
    assert other.status_code == 200 and steward.status_code == 200  # per caller; party 1 is not budgeted
    records = [e for e in emitted(runtime, "p3ke.data-access.v1") if e["resource_type"] == "dataset-version"]
    mine = [r for r in records if r["actor"]["subject"] == "officer-7"]
    assert [r["action"] for r in mine] == ["query", "query", "refusal", "refusal"]
    assert "planning budget 1/2 used" in mine[0]["purpose"] and "planning budget 2/2 used" in mine[1]["purpose"]
    assert mine[0]["purpose"].startswith("perencanaan_sasaran: planning counts (cell-key;")
    # the audit log keeps the refusal in both languages
    assert mine[2]["reason"] == f"{detail} / {english.json()['detail']}" and mine[2]["outcome"] == "denied"
    runtime.engine.dispose()


def test_planning_names_a_purpose_of_the_program(client: TestClient) -> None:
    """plan-aggregates is decided by the policy with its purpose (default perencanaan_sasaran)."""
    refused = client.post("/v1/plans", json={"program": "padat_karya", "purpose": "pemasaran_produk"},
                          headers=party_2(client))
    assert refused.status_code == 403, refused.text
    assert "tujuan 'pemasaran_produk' bukan tujuan program padat_karya" in refused.json()["detail"]
    assert _plan(client, party_2(client), purpose="seleksi_calon_peserta")["purpose"] == "seleksi_calon_peserta"
    records = [e for e in emitted(client.runtime, "p3ke.data-access.v1")  # type: ignore[attr-defined]
               if e["resource_type"] == "dataset-version"]
    assert [r["action"] for r in records] == ["refusal", "query"]
