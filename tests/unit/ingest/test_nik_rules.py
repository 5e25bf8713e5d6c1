"""NIK rules: properties of the pure rules, and the columnar validator agrees with them on random input.

(Property tests with a seeded generator: the workspace has no hypothesis.)
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

import pytest

from p3ke_ingest import p3ke_columns as cols
from p3ke_ingest.domain.findings import mask_value
from p3ke_ingest.domain.nik import check_nik, clean, nik_date
from p3ke_ingest.synth.defects import excel_general
from p3ke_ingest.synth.regions import load_regions
from tests.unit.ingest.support import REFERENCE_DATE, check, findings

REGIONS = load_regions()
DISTRICTS = REGIONS.district_codes.to_pylist()
PROVINCES = set(REGIONS.province_codes)
DISTRICT_SET = set(DISTRICTS)


def make_nik(rnd: random.Random, born: dt.date, female: bool, district: str | None = None) -> str:
    district = district or rnd.choice(DISTRICTS)
    day = born.day + (40 if female else 0)
    return f"{district}{day:02d}{born.month:02d}{born.year % 100:02d}{rnd.randint(1, 9999):04d}"


def random_person(rnd: random.Random) -> tuple[dt.date, bool]:
    return dt.date(1930, 1, 1) + dt.timedelta(days=rnd.randrange(33_000)), rnd.random() < 0.5


def test_a_well_formed_nik_passes_and_encodes_birth_date_and_sex() -> None:
    rnd = random.Random(1)
    for _ in range(5000):
        born, female = random_person(rnd)
        nik = make_nik(rnd, born, female)
        assert check_nik(nik, born, female, PROVINCES, DISTRICT_SET) == (nik, [])
        day, month, yy, is_female = nik_date(nik)  # type: ignore[misc]
        assert (day, month, yy, is_female) == (born.day, born.month, born.year % 100, female)
        # the other sex is always caught; any other birth date is always caught
        assert check_nik(nik, born, not female, PROVINCES, DISTRICT_SET)[1] == ["sex_mismatch"]
        other = born + dt.timedelta(days=rnd.randint(1, 3000) * rnd.choice((-1, 1)))
        if (other.day, other.month, other.year % 100) != (born.day, born.month, born.year % 100):
            assert check_nik(nik, other, female, PROVINCES, DISTRICT_SET)[1] == ["birthdate_mismatch"]


def test_spreadsheet_mangling_is_named_and_repaired_only_when_lossless() -> None:
    rnd = random.Random(2)
    for _ in range(3000):
        born, female = random_person(rnd)
        nik = make_nik(rnd, born, female)
        assert clean("'" + nik).digits == nik and clean("'" + nik).codes == ("nik_apostrophe",)
        assert clean(f"  {nik} ").digits == nik
        spaced = " ".join((nik[:4], nik[4:8], nik[8:12], nik[12:]))
        assert clean(spaced).digits == nik and clean(spaced).codes == ("nik_separators",)
        assert clean(excel_general(nik)) == type(clean(nik))(None, ("nik_scientific",))
        assert clean(f"{float(nik):.14E}").codes == ("nik_scientific",)
        assert clean(nik[:-1]).codes == ("nik_format",) and clean(nik + "7").codes == ("nik_format",)
        assert clean(nik[:5] + "x" + nik[6:]).codes == ("nik_format",)
    assert clean(None).codes == ("nik_missing",) and clean("  ").codes == ("nik_missing",)
    assert clean("'").codes == ("nik_apostrophe", "nik_format")


def test_masking_keeps_the_regency_and_hides_the_rest() -> None:
    assert mask_value("nik", "3201014101900001") == "3201************"
    assert mask_value("nik", "'3201014101900001") == "'3201************"
    assert mask_value("nik", "3.20101E+15") == "3.201**E+**"
    assert mask_value("nama", "SITI AMINAH") == "[REDACTED]"
    assert mask_value("tanggal_lahir", "1985-06-26") == "****-**-**"
    assert mask_value("desil_kesejahteraan", "7") == "7"
    assert mask_value("pekerjaan", "nomor 3201014101900001 salah tempat") == "nomor 3201************ salah tempat"


def _mutate(rnd: random.Random, nik: str) -> str | None:
    kind = rnd.randrange(14)
    if kind == 0:
        return None
    if kind == 1:
        return "'" + nik
    if kind == 2:
        return excel_general(nik)
    if kind == 3:
        return f"{nik[:4]}.{nik[4:8]}.{nik[8:12]}.{nik[12:]}"
    if kind == 4:
        return nik[: rnd.randrange(1, 16)]
    if kind == 5:
        return nik[:12] + "0000"
    if kind == 6:
        return nik[:6] + f"{rnd.choice((0, 32, 35, 72, 99)):02d}" + nik[8:]
    if kind == 7:
        return nik[:8] + f"{rnd.choice((0, 13, 19)):02d}" + nik[10:]
    if kind == 8:
        return "99" + nik[2:]
    if kind == 9:
        return nik[:4] + "98" + nik[6:]
    if kind == 10:
        return f"  {nik}\t"
    if kind == 11:
        return nik[:3] + "O" + nik[4:]
    if kind == 12:
        return "''"
    return nik


@pytest.mark.parametrize("seed", [7, 8])
def test_the_columnar_validator_agrees_with_the_rules(seed: int, tmp_path: Path) -> None:
    """Random NIKs (valid, mangled, inconsistent) through the DuckDB validator and the pure rules."""
    rnd = random.Random(seed)
    header = list(cols.INDIVIDUAL_COLUMNS)
    village = REGIONS.village_code[0].as_py()
    rows, expected = [], []
    for i in range(2500):
        born, female = random_person(rnd)
        nik = _mutate(rnd, make_nik(rnd, born, female))
        stated_born = born if rnd.random() < 0.8 else born + dt.timedelta(days=rnd.randint(1, 400))
        stated_female = female if rnd.random() < 0.85 else not female
        row = {c: "Tidak" if cols.column_spec(c).kind == "flag" else "x" for c in header}
        row.update(id_keluarga_p3ke=f"P{i:06d}", id_individu=f"I{i:06d}", kode_kemendagri=village,
                   desil_kesejahteraan="1", nik=nik or "", tanggal_lahir=stated_born.isoformat(),
                   jenis_kelamin=cols.PEREMPUAN if stated_female else cols.LAKI_LAKI,
                   hubungan_dengan_kepala_keluarga="Anak", persentil="3", umur="30", no_kk="")
        rows.append(row)
        _, codes = check_nik(nik, stated_born, stated_female, PROVINCES, DISTRICT_SET)
        expected.append(set(codes))
    path = tmp_path / "niks.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    outcome = check(tmp_path, path, max_rejected_share=1.0)
    nik_codes = {"nik_missing", "nik_scientific", "nik_apostrophe", "nik_separators", "nik_format",
                 "nik_province_unknown", "nik_district_unknown", "nik_date_invalid", "nik_serial_zero",
                 "birthdate_mismatch", "sex_mismatch"}
    got: list[set[str]] = [set() for _ in rows]
    for f in findings(outcome):
        if f["code"] in nik_codes:
            got[f["data_row"] - 1].add(f["code"])
    mismatches = [(i + 1, rows[i]["nik"], expected[i], got[i]) for i in range(len(rows)) if expected[i] != got[i]]
    assert mismatches == []
    assert REFERENCE_DATE.year == 2023
