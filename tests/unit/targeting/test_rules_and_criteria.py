"""Eligibility rules as configuration, and a request's criteria checked and merged with them (pure)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from p3ke_platform.audit_client import subject_ref
from p3ke_platform.settings import ConfigurationError
from p3ke_schemas import ExtractCriteria
from p3ke_targeting.adapters import duckdb_selection
from p3ke_targeting.adapters.rules_file import load_rules
from p3ke_targeting.config import BUNDLED_RULES, TargetingSettings
from p3ke_targeting.domain.selection import (
    REFERENCE_WINDOW_DAYS,
    Invalid,
    check_fields,
    minimal_regions,
    resolve,
    years_before,
)

RULES = load_rules(BUNDLED_RULES)
REGIONS = frozenset({"32", "3201", "320101", "3201012001", "33", "3301"})
REF = date(2026, 3, 1)


def _resolve(program: str = "padat_karya", **criteria: object):  # type: ignore[no-untyped-def]
    return resolve(ExtractCriteria.model_validate(criteria), program, RULES, REGIONS, default_reference=REF)


def test_bundled_defaults_cover_the_four_programs_with_a_version() -> None:
    assert set(RULES.programs) == {"pelatihan_berbasis_kompetensi", "padat_karya", "tenaga_kerja_mandiri",
                                   "pbi_jamsostek_pekerja_rentan"}
    assert RULES.rules_version.startswith("2026.11-defaults+")
    assert RULES.priority[0] == "desil_kesejahteraan"
    training = RULES.programs["pelatihan_berbasis_kompetensi"]
    assert "Pelajar/Mahasiswa" in training.exclude["pekerjaan"]  # not in school


def test_rules_file_is_changeable_without_code_and_checked(tmp_path: Path) -> None:
    text = BUNDLED_RULES.read_text().replace('version: "2026.11-defaults"', 'version: "2027.01"')
    text = text.replace("age: {min: 18, max: 60}           ", "age: {min: 21, max: 55}           ", 1)
    changed = tmp_path / "rules.yaml"
    changed.write_text(text)
    rules = load_rules(changed)
    assert rules.rules_version.startswith("2027.01+")
    settings = TargetingSettings(targeting_rules_file=changed)
    assert settings.rules_path == changed

    typo = tmp_path / "typo.yaml"
    typo.write_text(BUNDLED_RULES.read_text().replace("- Pekerja Bebas\n", "- Pekerja Bbas\n", 1))
    with pytest.raises(ConfigurationError, match=r"(?s)P3KE_TARGETING_RULES_FILE.*unknown value\(s\) 'Pekerja Bbas'"):
        load_rules(typo)
    unknown_column = tmp_path / "column.yaml"
    unknown_column.write_text(BUNDLED_RULES.read_text().replace("padan_dukcapil: [Ya]", "nama: [Budi]", 1))
    with pytest.raises(ConfigurationError, match="no vocabulary for column 'nama'"):
        load_rules(unknown_column)


def test_age_bounds_are_birth_dates_at_the_reference_date() -> None:
    s = resolve(ExtractCriteria.model_validate({"age_min": 19, "age_max": 30, "reference_date": "2024-02-29"}),
                "padat_karya", RULES, REGIONS, default_reference=date(2024, 3, 1))
    assert s.born_on_or_before == date(2005, 2, 28)  # 19 on 29 Feb 2024 if born on or before 28 Feb 2005
    assert s.born_after == date(1993, 2, 28)  # born on 28 Feb 1993 is 31 that day: too old
    assert years_before(date(2024, 2, 29), 4) == date(2020, 2, 29)
    default = _resolve()
    assert default.reference_date == REF
    assert default.age_range == (18, 60)  # the program's defaults


@pytest.mark.parametrize(("far", "where"), [
    ("2050-01-01", "sesudah hari permintaan diterima (2026-03-01)"),
    (str(REF + timedelta(days=1)), "sesudah hari permintaan diterima"),  # never after: tomorrow's 18-year-olds
    ("2010-01-01", f"lebih dari {REFERENCE_WINDOW_DAYS} hari sebelum hari permintaan diterima (2026-03-01)"),
    (str(REF - timedelta(days=REFERENCE_WINDOW_DAYS + 1)), "lebih dari 31 hari sebelum"),
])
def test_a_reference_date_outside_the_window_is_refused(far: str, where: str) -> None:
    """Ages are computed on the day of the request: a later date (2050, or tomorrow) would let today's minors
    through, a date long ago would let people through who are too old now; up to 31 days before is allowed."""
    with pytest.raises(Invalid) as caught:
        _resolve(reference_date=far)
    assert caught.value.reason.startswith(f"criteria.reference_date {far} {where}")
    assert caught.value.message is not None and caught.value.message.key.startswith("invalid.reference_date.")
    assert "pilih hari antara 2026-01-29 dan 2026-03-01 / criteria.reference_date" in caught.value.reason
    assert "ages are computed on the day of the request; leave reference_date out or give a day from 2026-01-29 to " \
           "2026-03-01" in caught.value.reason
    for near in (REF - timedelta(days=REFERENCE_WINDOW_DAYS), REF):
        assert _resolve(reference_date=near.isoformat()).reference_date == near


def test_criteria_merge_with_the_program_rules() -> None:
    s = _resolve(age_min=30, age_max=80, occupation_categories=["Pekerja Bebas", "Petani/Pekebun"],
                 education_categories=["SLTA/Sederajat"], sex="P", region_codes=["3201", "32", "3301"])
    assert s.age_range == (30, 60)
    assert s.include["status_pekerjaan"] == ("Pekerja Bebas",)
    assert s.include["pekerjaan"] == ("Petani/Pekebun",)
    assert s.include["pendidikan"] == ("SLTA/Sederajat",)
    assert s.include["padan_dukcapil"] == ("Ya",)
    assert s.sex == "Perempuan"
    assert s.regions == ("32", "3301")  # 3201 lies inside 32


@pytest.mark.parametrize(("criteria", "reason"), [
    ({"age_min": 60, "age_max": 18}, "contradict each other: age_min 60 is greater than age_max 18"),
    ({"age_min": 70}, "do not overlap the program's eligible ages 18-60"),
    ({"deciles": []}, "select no desil"),
    ({"region_codes": ["3299"]}, "region code(s) 3299 do not exist"),
    ({"occupation_categories": ["Astronaut"]}, "unknown occupation category 'Astronaut'"),
    ({"occupation_categories": ["Buruh/Karyawan/Pegawai"]}, "outside the eligibility of program padat_karya"),
    ({"occupation_categories": ["Pelajar/Mahasiswa"]}, "pekerjaan must not be Pelajar/Mahasiswa"),
    ({"education_categories": ["PhD"]}, "unknown education category 'PhD'"),
])
def test_bad_criteria_are_refused_with_a_reason(criteria: dict[str, object], reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        _resolve(**criteria)
    assert reason in caught.value.reason


def test_fields_that_do_not_exist() -> None:
    assert check_fields(["nik", "nama", "nik"]) == ["nik", "nama"]
    with pytest.raises(Invalid, match="'gaji' does not exist in Data P3KE"):
        check_fields(["nik", "gaji"])


def test_region_prefixes() -> None:
    assert minimal_regions(["3201012001", "320101", "33"], REGIONS) == ("33", "320101")


def _region_sql(codes: list[str], known: frozenset[str]) -> tuple[str, dict[str, Any]]:
    """The region part of a selection's WHERE clause, with its parameters."""
    selection = resolve(ExtractCriteria.model_validate({"region_codes": codes}), "padat_karya", RULES, known,
                        default_reference=REF)
    where = duckdb_selection.Filter(selection)
    regions = where.sql[where.sql.index("((kode_kemendagri"):].split(" AND (CASE")[0]
    return regions, {k: v for k, v in where.params.items() if f"${k}" in regions}


def test_region_filter_is_a_prefix_range_the_scan_can_use(tmp_path: Path) -> None:
    """A region code's range keeps exactly the codes that start with it (also after a 9, and across lengths), and
    DuckDB pushes one province's range into the Parquet scan (the plan shows it among the scan's filters; written
    as `left(code, 2) = $p` it stayed a separate filter over every row read)."""
    import duckdb

    assert duckdb_selection.prefix_end("32") == "33" and duckdb_selection.prefix_end("3209") == "320:"
    codes = ["31", "3199999999", "32", "3201012001", "3209", "3209012001", "320901", "3210012001", "33", "3301"]
    con = duckdb.connect()
    file = tmp_path / "codes.parquet"
    con.execute(f"COPY (SELECT unnest($c) AS kode_kemendagri) TO '{file}' (FORMAT parquet)", {"c": codes})
    regions, params = _region_sql(["3209", "33"], REGIONS | {"3209"})
    query = f"SELECT kode_kemendagri FROM read_parquet('{file}') WHERE {regions} ORDER BY 1"
    got = [r[0] for r in con.execute(query, params).fetchall()]
    assert got == sorted(c for c in codes if c.startswith(("3209", "33")))

    regions, params = _region_sql(["32"], REGIONS)
    [(_, plan)] = con.execute(f"EXPLAIN (FORMAT json) SELECT kode_kemendagri FROM read_parquet('{file}') "
                              f"WHERE {regions}", params).fetchall()

    def scans(node: dict[str, Any]) -> list[dict[str, Any]]:
        own = [node] if node["name"] == "READ_PARQUET" else []
        return own + [scan for child in node["children"] for scan in scans(child)]

    [scan] = scans(json.loads(plan)[0])
    assert "kode_kemendagri" in str(scan["extra_info"].get("Filters", "")), plan


def test_subject_ref_in_sql_equals_the_audit_logs() -> None:
    import duckdb

    key = "a-test-subject-hash-key-" + "x" * 70  # longer than one HMAC block too
    for k in ("local-development-subject-key", key):
        opad, ipad = duckdb_selection.hmac_keys(k)
        got = duckdb.connect().execute(f"SELECT {duckdb_selection.subject_ref_sql('$nik')}",
                                       {"opad": opad, "ipad": ipad, "nik": "3201014101900001"}).fetchone()
        assert got == (subject_ref(k, "3201014101900001"),)


def test_bad_configuration_stops_start_up(tmp_path: Path) -> None:
    from p3ke_platform.settings import load_settings

    with pytest.raises(ConfigurationError, match="P3KE_TARGETING_WILAYAH_FILE"):
        load_settings(TargetingSettings, service="targeting", targeting_wilayah_file=tmp_path / "none.csv")
    bad = tmp_path / "rules.yaml"
    bad.write_text("kind: eligibility-rules\nversion: x\nprograms: {}\n")
    with pytest.raises(ConfigurationError, match="P3KE_TARGETING_RULES_FILE"):
        load_settings(TargetingSettings, service="targeting", targeting_rules_file=bad)
    import subprocess
    import sys

    env = {"P3KE_TARGETING_RULES_FILE": str(bad), "P3KE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "p3ke_targeting", "migrate"], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 2 and "P3KE_TARGETING_RULES_FILE" in done.stderr
