"""`p3ke synth`: the synthetic P3KE snapshot generator."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
import textwrap
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from p3ke_ingest import p3ke_columns as cols
from p3ke_ingest.synth import DEFECT_KINDS, FILE_KINDS, ROW_KINDS, generate, read_defect_log
from p3ke_ingest.synth.cli import register
from p3ke_ingest.synth.regions import wilayah_codes

REF = dt.date(2023, 2, 28)
NIK_RE = re.compile(r"^\d{16}$")


# -- helpers --------------------------------------------------------------------------------------
def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]], dict]:
    """Header, rows (with their physical line number in '_line') and the file's traits."""
    raw = path.read_bytes()
    traits = {"bom": raw.startswith(b"\xef\xbb\xbf"), "crlf": b"\r\n" in raw}
    text = raw.decode("utf-8-sig")
    lines = text.split("\r\n" if traits["crlf"] else "\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    header_at = next(i for i, line in enumerate(lines) if line.startswith("id_keluarga_p3ke"))
    traits["preamble"] = header_at
    traits["delimiter"] = ";" if ";" in lines[header_at] else ","
    header = lines[header_at].split(traits["delimiter"])
    rows = []
    for i, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        values = next(csv.reader([line], delimiter=traits["delimiter"]))
        assert len(values) == len(header), f"line {i}: {len(values)} fields"
        row = dict(zip(header, values, strict=True))
        row["_line"] = i
        rows.append(row)
    return header, rows, traits


def nik_ok(nik: str, tanggal_lahir: str, jenis_kelamin: str) -> bool:
    """NIK structure: 16 digits, a known district, DDMMYY = birth date (women +40), serial > 0."""
    if not NIK_RE.match(nik) or nik[:6] not in wilayah_codes():
        return False
    born = dt.date.fromisoformat(tanggal_lahir)
    day = born.day + (40 if jenis_kelamin == cols.PEREMPUAN else 0)
    return nik[6:12] == f"{day:02d}{born.month:02d}{born.year % 100:02d}" and nik[12:] != "0000"


def age(born: dt.date, ref: dt.date = REF) -> int:
    return ref.year - born.year - ((born.month, born.day) > (ref.month, ref.day))


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[object, list[dict], list[dict]]:
    out = tmp_path_factory.mktemp("clean")
    result = generate(out, families=4000, seed=7, fmt="csv", chunk_families=1500)
    _, ind, _ = read_csv(result.individual_path)
    _, fam, _ = read_csv(result.family_path)
    return result, ind, fam


# -- layout and determinism ---------------------------------------------------------------------------
def test_column_layout(clean):
    result, ind, fam = clean
    ind_header, _, traits = read_csv(result.individual_path)
    fam_header, _, _ = read_csv(result.family_path)
    assert tuple(ind_header) == cols.INDIVIDUAL_COLUMNS
    assert tuple(fam_header) == cols.FAMILY_COLUMNS
    for later in ("persentil", "no_kk", "status_pekerjaan", "umur", "penerima_prakerja", "penerima_kur", "disabilitas"):
        assert later in ind_header
    assert traits == {"bom": False, "crlf": False, "preamble": 0, "delimiter": ","}
    assert len(ind) == result.individuals == result.rows["individual"]
    assert len(fam) == result.families == 4000
    manifest = json.loads(result.manifest.read_text())
    assert manifest["individuals"] == len(ind) and manifest["seed"] == 7


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_same_seed_same_bytes(tmp_path, fmt):
    kw = dict(families=700 if fmt != "xlsx" else 150, fmt=fmt, chunk_families=300, defects=0.05)
    a = generate(tmp_path / "a", seed=11, **kw)
    b = generate(tmp_path / "b", seed=11, **kw)
    c = generate(tmp_path / "c", seed=12, **kw)
    for level in ("individual", "family"):
        assert a.files[level].read_bytes() == b.files[level].read_bytes()
        assert a.files[level].read_bytes() != c.files[level].read_bytes()
    assert a.defect_log.read_bytes() == b.defect_log.read_bytes()
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()


def test_formats_hold_the_same_data(tmp_path):
    kw = dict(families=300, seed=5, chunk_families=120)
    c = generate(tmp_path / "csv", fmt="csv", **kw)
    p = generate(tmp_path / "pq", fmt="parquet", **kw)
    x = generate(tmp_path / "xlsx", fmt="xlsx", **kw)
    _, csv_rows, _ = read_csv(c.individual_path)
    table = pq.read_table(p.individual_path)
    assert table.column_names == list(cols.INDIVIDUAL_COLUMNS)
    assert pq.ParquetFile(p.individual_path).metadata.num_row_groups == 3  # one per chunk
    pq_rows = table.to_pylist()
    import openpyxl

    ws = openpyxl.load_workbook(x.individual_path, read_only=True).active
    x_rows = list(ws.iter_rows(values_only=True))
    assert tuple(x_rows[0]) == cols.INDIVIDUAL_COLUMNS
    assert len(csv_rows) == len(pq_rows) == len(x_rows) - 1 == c.individuals
    for cr, pr, xr in zip(csv_rows, pq_rows, x_rows[1:], strict=True):
        xr = dict(zip(cols.INDIVIDUAL_COLUMNS, xr, strict=True))
        for name in ("id_individu", "nik", "nama", "kode_kemendagri", "no_kk", "pekerjaan"):
            assert cr[name] == pr[name] == xr[name]
        assert cr["tanggal_lahir"] == pr["tanggal_lahir"].isoformat() == xr["tanggal_lahir"]
        assert int(cr["desil_kesejahteraan"]) == pr["desil_kesejahteraan"] == xr["desil_kesejahteraan"]
        assert int(cr["umur"]) == pr["umur"] == xr["umur"]
    fam = pq.read_table(p.family_path)
    assert fam.column_names == list(cols.FAMILY_COLUMNS) and fam.num_rows == 300


def test_exact_number_of_individuals(tmp_path):
    r = generate(tmp_path, individuals=1234, seed=3, chunk_families=100)
    _, ind, _ = read_csv(r.individual_path)
    _, fam, _ = read_csv(r.family_path)
    assert len(ind) == r.individuals == 1234
    assert {x["id_keluarga_p3ke"] for x in ind} == {f["id_keluarga_p3ke"] for f in fam}


# -- realism --------------------------------------------------------------------------------------------
def test_nik_consistent_with_district_birth_date_and_sex(clean):
    _, ind, fam = clean
    niks = [r["nik"] for r in ind]
    assert len(set(niks)) == len(niks), "NIKs are unique"
    for r in ind:
        assert nik_ok(r["nik"], r["tanggal_lahir"], r["jenis_kelamin"]), r["id_individu"]
    home = sum(r["nik"][:6] == r["kode_kemendagri"][:6] for r in ind) / len(ind)
    assert 0.8 < home < 0.95, "usually the residence district, sometimes another one"
    women = [r for r in ind if r["jenis_kelamin"] == cols.PEREMPUAN]
    assert women and all(41 <= int(r["nik"][6:8]) <= 71 for r in women)
    assert 0.85 < sum(r["padan_dukcapil"] == "Ya" for r in ind) / len(ind) < 0.95
    by_id = {r["id_keluarga_p3ke"]: r for r in fam}
    heads = {r["id_keluarga_p3ke"]: r for r in ind if r["hubungan_dengan_kepala_keluarga"] == "Kepala Keluarga"}
    for fid, f in by_id.items():
        h = heads[fid]
        assert (f["nik"], f["kepala_keluarga"], f["tanggal_lahir"], f["jenis_kelamin"]) == (
            h["nik"], h["nama"], h["tanggal_lahir"], h["jenis_kelamin"]
        )  # fmt: skip


def test_families_one_head_shared_attributes(clean):
    _, ind, fam = clean
    members: dict[str, list[dict]] = defaultdict(list)
    for r in ind:
        members[r["id_keluarga_p3ke"]].append(r)
    assert len(members) == len(fam)
    kks = set()
    shared = ("kode_kemendagri", "desil_kesejahteraan", "persentil", "no_kk", "alamat", "penerima_pkh", "provinsi")
    for fid, rows in members.items():
        rel = [r["hubungan_dengan_kepala_keluarga"] for r in rows]
        assert rel.count("Kepala Keluarga") == 1 and rel[0] == "Kepala Keluarga"
        assert set(rel) <= set(cols.HUBUNGAN_DENGAN_KEPALA_KELUARGA)
        for name in shared:
            assert len({r[name] for r in rows}) == 1, (fid, name)
        desil, persentil = int(rows[0]["desil_kesejahteraan"]), int(rows[0]["persentil"])
        assert 1 <= desil <= 4 and (desil - 1) * 10 < persentil <= desil * 10
        kk = rows[0]["no_kk"]
        assert NIK_RE.match(kk) and kk[:6] == rows[0]["kode_kemendagri"][:6]
        kks.add(kk)
        assert [r["id_individu"] for r in rows] == [f"I{fid[1:]}{i:02d}" for i in range(1, len(rows) + 1)]
        spouses = [r for r in rows if r["hubungan_dengan_kepala_keluarga"] in ("Istri", "Suami")]
        assert len(spouses) <= 1
        for s in spouses:
            wife = s["hubungan_dengan_kepala_keluarga"] == "Istri"
            assert s["jenis_kelamin"] == (cols.PEREMPUAN if wife else cols.LAKI_LAKI)
    assert len(kks) == len(members), "No. KK unique per family"
    desil = Counter(int(f["desil_kesejahteraan"]) for f in fam)
    assert set(desil) == {1, 2, 3, 4} and all(v > 0.1 * len(fam) for v in desil.values())
    sizes = Counter(len(v) for v in members.values())
    mean = sum(k * v for k, v in sizes.items()) / len(members)
    assert 3.2 < mean < 4.6 and sizes[1] > 0 and max(sizes) >= 7


def test_regions_real_and_consistent(clean):
    _, ind, fam = clean
    codes = wilayah_codes()
    names = {}
    for row in csv.DictReader(io.StringIO(_wilayah_text())):
        names[row["kode"]] = row["nama"].strip().upper()
    for r in ind + fam:
        k = r["kode_kemendagri"]
        assert len(k) == 10 and k in codes
        assert (r["provinsi"], r["kabupaten_kota"], r["kecamatan"], r["desa_kelurahan"]) == (
            names[k[:2]], names[k[:4]], names[k[:6]], names[k]
        )  # fmt: skip
    provinces = Counter(r["kode_kemendagri"][:2] for r in fam)
    assert len(provinces) > 25 and provinces.most_common(3)[0][0] in {"32", "33", "35"}
    assert any("," in r["desa_kelurahan"] for r in ind) or True  # quoting is tested in test_csv_quoting


def _wilayah_text() -> str:
    from p3ke_platform.reference.wilayah import wilayah_csv_text

    return wilayah_csv_text()


def test_ages_flags_and_pyramid(clean):
    _, ind, _ = clean
    ages = []
    for r in ind:
        born = dt.date.fromisoformat(r["tanggal_lahir"])
        a = age(born)
        assert born <= REF and int(r["umur"]) == a
        flags = [name for name, lo, hi in cols.USIA_FLAGS if r[name] == "Ya"]
        assert len(flags) == 1
        _, lo, hi = next(f for f in cols.USIA_FLAGS if f[0] == flags[0])
        assert lo <= a and (hi is None or a <= hi)
        assert all(r[n] in cols.FLAG_VALUES for n in cols.INDIVIDUAL_COLUMNS if n.startswith(("usia_", "penerima_")))
        if r["hubungan_dengan_kepala_keluarga"] == "Kepala Keluarga":
            assert a >= 17
        if a < 5:
            assert r["pekerjaan"] == "Belum/Tidak Bekerja" and r["status_kawin"] == "Belum Kawin"
        ages.append(a)
    n = len(ages)
    assert 0.20 < sum(a < 15 for a in ages) / n < 0.40
    assert 0.05 < sum(a >= 60 for a in ages) / n < 0.25
    assert max(ages) <= 100
    assert {r["status_kawin"] for r in ind} == set(cols.STATUS_KAWIN)
    assert len({r["pekerjaan"] for r in ind}) > 10 and len({r["pendidikan"] for r in ind}) > 6


def test_names_look_synthetic_indonesian(clean):
    _, ind, _ = clean
    names = [r["nama"] for r in ind]
    assert all(n == n.upper() and re.fullmatch(r"[A-Z .']+", n) for n in names)
    assert len(set(names)) > len(names) / 4
    assert all(re.fullmatch(r"(Jl\.|Gg\.|Dusun|Kp\.) .+ RT \d{3} RW \d{3}", r["alamat"]) for r in ind)


def test_vocabularies_never_need_csv_quoting():
    """The CSV writer only scans free-text columns for delimiters and quotes (see FREE_TEXT_COLUMNS)."""
    from p3ke_ingest.synth import names, people

    vocab = [
        *cols.HUBUNGAN_DENGAN_KEPALA_KELUARGA, *cols.STATUS_KAWIN, *cols.JENIS_KELAMIN, *cols.FLAG_VALUES,
        *people.PEKERJAAN, *people.STATUS_PEKERJAAN, *people.PENDIDIKAN,
        *(v for values, _, _ in people.HOUSING.values() for v in values),
        *names.MALE, *names.FEMALE, *names.SECOND_MALE, *names.SECOND_FEMALE, *names.MARGA, *names.STREETS,
        *names.DUSUN,
    ]  # fmt: skip
    assert not [v for v in vocab if set(v) & set(',;"\r\n')]


def test_csv_quoting_of_region_names(tmp_path):
    # Kabupaten Deli Serdang (1207) has the village "Lubuk Pakam I,II"
    r = generate(tmp_path, families=3000, seed=1, provinces="12", defects=0.0)
    text = r.individual_path.read_text()
    _, rows, _ = read_csv(r.individual_path)  # asserts every line has the right number of fields
    assert all(x["kode_kemendagri"].startswith("12") for x in rows)
    if any(x["kode_kemendagri"] == "1207281007" for x in rows):
        assert '"LUBUK PAKAM I,II"' in text


def test_provinces_filter(tmp_path):
    r = generate(tmp_path, families=500, seed=2, provinces=["32", "33"], fmt="parquet")
    t = pq.read_table(r.individual_path, columns=["kode_kemendagri", "nik"])
    assert {k[:2] for k in t.column("kode_kemendagri").to_pylist()} <= {"32", "33"}
    with pytest.raises(ValueError, match="unknown province"):
        generate(tmp_path / "x", families=5, provinces="99")


# -- defects --------------------------------------------------------------------------------------------
def _check_row_defect(rec, row, rows_by_data_row):
    kind = rec.kind
    nik = row["nik"]
    if kind == "nik_scientific":
        assert re.fullmatch(r"\d(\.\d{1,5})?E\+15", nik), nik
    elif kind == "nik_apostrophe":
        assert nik.startswith("'") and NIK_RE.match(nik[1:])
    elif kind == "nik_missing":
        assert nik == ""
    elif kind == "duplicate_row":
        other = rows_by_data_row[int(rec.detail.rsplit(" ", 1)[1])]
        assert {k: v for k, v in row.items() if k[0] != "_"} == {k: v for k, v in other.items() if k[0] != "_"}
        assert other["_data_row"] < row["_data_row"]
    elif kind == "duplicate_nik":
        other = rows_by_data_row[int(rec.detail.rsplit(" ", 1)[1])]
        assert other["_data_row"] < row["_data_row"] and other["nik"] == nik
        assert other["id_keluarga_p3ke"] != row["id_keluarga_p3ke"]
    elif kind == "region_unknown":
        code = row["kode_kemendagri"]
        assert len(code) == 10 and code.isdigit() and code not in wilayah_codes()
    elif kind == "desil_out_of_range":
        assert not 1 <= int(row["desil_kesejahteraan"]) <= 4
    elif kind == "birthdate_mismatch":
        assert NIK_RE.match(nik) and not nik_ok(nik, row["tanggal_lahir"], row["jenis_kelamin"])
        flipped = cols.LAKI_LAKI if row["jenis_kelamin"] == cols.PEREMPUAN else cols.PEREMPUAN
        assert not nik_ok(nik, row["tanggal_lahir"], flipped)
    elif kind == "sex_mismatch":
        flipped = cols.LAKI_LAKI if row["jenis_kelamin"] == cols.PEREMPUAN else cols.PEREMPUAN
        assert not nik_ok(nik, row["tanggal_lahir"], row["jenis_kelamin"])
        assert nik_ok(nik, row["tanggal_lahir"], flipped)
    else:  # pragma: no cover
        raise AssertionError(kind)


def _row_is_clean(row, seen_niks) -> bool:
    return (
        nik_ok(row["nik"], row["tanggal_lahir"], row["jenis_kelamin"])
        and row["kode_kemendagri"] in wilayah_codes()
        and 1 <= int(row["desil_kesejahteraan"]) <= 4
        and row["nik"] not in seen_niks
    )


@pytest.mark.parametrize("log_name", ["defects.csv", "defects.json", "defects.jsonl"])
def test_every_defect_is_logged_at_its_row_and_present(tmp_path, log_name):
    rate = 0.06
    r = generate(tmp_path, families=3000, seed=9, defects=rate, defect_log=tmp_path / log_name, chunk_families=1000)
    log = read_defect_log(r.defect_log)
    assert sum(r.defects_by_kind.values()) == len(log)
    text = r.defect_log.read_text()
    for level in ("individual", "family"):
        header, rows, traits = read_csv(r.files[level])
        assert traits == {"bom": True, "crlf": True, "preamble": 3, "delimiter": ";"}
        for i, row in enumerate(rows, start=1):
            row["_data_row"] = i
        by_row = {row["_data_row"]: row for row in rows}
        name = r.files[level].name
        file_recs = {x.kind: x for x in log if x.file == name and x.data_row is None}
        assert set(file_recs) == set(FILE_KINDS)
        assert file_recs["header_rows"].line == 4
        recs = [x for x in log if x.file == name and x.data_row is not None]
        assert {x.kind for x in recs} == set(ROW_KINDS)
        spoiled = {}
        for rec in recs:
            row = by_row[rec.data_row]
            assert rec.line == row["_line"] == rec.data_row + 4
            assert rec.level == level and rec.id_keluarga_p3ke == row["id_keluarga_p3ke"]
            if level == "individual":
                assert rec.id_individu == row["id_individu"]
            assert rec.field == ("" if rec.kind == "duplicate_row" else rec.field) and (
                rec.field == "" or rec.field in header
            )
            _check_row_defect(rec, row, by_row)
            assert rec.data_row not in spoiled, "one defect per row"
            spoiled[rec.data_row] = rec.kind
        # rows not in the log are clean: nothing was spoiled without being logged
        seen: set[str] = set()
        for row in rows:
            if row["_data_row"] not in spoiled:
                assert _row_is_clean(row, seen), (level, row["_data_row"])
                seen.add(row["nik"])
        generated = len(rows) - sum(k == "duplicate_row" for k in spoiled.values())
        share = len(spoiled) / generated
        assert abs(share - rate) < 4 * (rate * (1 - rate) / generated) ** 0.5 + 0.005, share
        # the log holds no personal values
        for row in rows[:300]:
            assert row["nik"] not in text or row["nik"] == ""
            assert (row.get("nama") or row.get("kepala_keluarga")) not in text


def test_defect_kinds_selection_and_rate(tmp_path):
    r = generate(tmp_path, individuals=20_000, seed=4, defects=0.1, defect_kinds="nik_missing,desil_out_of_range",
                 family_file=False)  # fmt: skip
    log = read_defect_log(r.defect_log)
    assert {x.kind for x in log} == {"nik_missing", "desil_out_of_range"}
    assert abs(len(log) / 20_000 - 0.1) < 0.01
    _, rows, traits = read_csv(r.individual_path)
    assert traits["preamble"] == 0 and traits["delimiter"] == "," and not traits["bom"]
    assert sum(1 for row in rows if row["nik"] == "") == r.defects_by_kind["nik_missing"]
    assert list(r.files) == ["individual"]


def test_file_kinds_only(tmp_path):
    r = generate(tmp_path, families=50, seed=1, defect_kinds=["bom", "crlf"])
    raw = r.individual_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\r\n") == raw.count(b"\n")
    assert {x.kind for x in read_defect_log(r.defect_log)} == {"bom", "crlf"}
    with pytest.raises(ValueError, match="cannot have"):
        generate(tmp_path / "p", families=5, fmt="parquet", defect_kinds=["bom"])
    with pytest.raises(ValueError, match="unknown defect kind"):
        generate(tmp_path / "q", families=5, defect_kinds=["nope"])


def test_defects_in_parquet_and_xlsx(tmp_path):
    p = generate(tmp_path / "p", families=1500, seed=6, fmt="parquet", defects=0.08)
    table = pq.read_table(p.individual_path).to_pylist()
    log = [x for x in read_defect_log(p.defect_log) if x.level == "individual"]
    assert {x.kind for x in log} == set(ROW_KINDS)
    for rec in log:
        row = table[rec.data_row - 1]
        assert rec.line is None and row["id_individu"] == rec.id_individu
        if rec.kind == "nik_missing":
            assert row["nik"] is None
        elif rec.kind == "desil_out_of_range":
            assert not 1 <= row["desil_kesejahteraan"] <= 4
        elif rec.kind == "nik_scientific":
            assert "E+15" in row["nik"]

    import openpyxl

    x = generate(tmp_path / "x", families=1500, seed=6, fmt="xlsx", defects=0.08)
    ws = openpyxl.load_workbook(x.individual_path, read_only=True).active
    sheet = list(ws.iter_rows(values_only=True))
    assert sheet[0][0].startswith("DATA PENSASARAN") and tuple(sheet[3]) == cols.INDIVIDUAL_COLUMNS
    nik_col = cols.INDIVIDUAL_COLUMNS.index("nik")
    log = [x for x in read_defect_log(x.defect_log) if x.level == "individual"]
    assert {x.kind for x in log} == set(ROW_KINDS) | {"header_rows"}
    for rec in log:
        if rec.data_row is None:
            continue
        row = sheet[rec.line - 1]
        assert row[1] == rec.id_individu
        if rec.kind == "nik_scientific":  # a numeric cell, 15 significant digits, as Excel keeps it
            assert isinstance(row[nik_col], int | float) and row[nik_col] % 10 == 0 and 3e14 < row[nik_col] < 1e16
        elif rec.kind == "nik_apostrophe":
            assert row[nik_col].startswith("'")
    clean_niks = [row[nik_col] for row in sheet[4:]]
    assert sum(isinstance(v, str) and NIK_RE.match(v) is not None for v in clean_niks) > 0.85 * len(clean_niks)


def test_empty_snapshot(tmp_path):
    for fmt in ("csv", "parquet", "xlsx"):
        r = generate(tmp_path / fmt, individuals=0, fmt=fmt)
        assert r.individuals == r.families == 0 and r.rows == {"individual": 0, "family": 0}
    assert pq.read_table(tmp_path / "parquet" / "individu.parquet").column_names == list(cols.INDIVIDUAL_COLUMNS)
    assert (tmp_path / "csv" / "individu.csv").read_text() == ",".join(cols.INDIVIDUAL_COLUMNS) + "\n"


def test_xlsx_row_limit(tmp_path):
    from p3ke_ingest.synth.writers import XlsxTooLarge

    with pytest.raises(XlsxTooLarge):
        generate(tmp_path, individuals=2_000_000, fmt="xlsx")
    assert not list(tmp_path.glob("*.xlsx"))


# -- CLI ----------------------------------------------------------------------------------------------------
def test_cli(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="p3ke")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["synth", "--out", str(tmp_path), "--individuals", "2e3", "--format", "parquet", "--seed", "5",
         "--reference-date", "2024-06-30", "--defects", "2%", "--defect-kinds", "nik_missing", "sex_mismatch",
         "--provinces", "32,33", "--no-progress"]
    )  # fmt: skip
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "individu.parquet" in out and "2,000 rows" in out and "rows/s" in out
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["reference_date"] == "2024-06-30"
    assert manifest["defects"]["kinds"] == ["nik_missing", "sex_mismatch"]
    t = pq.read_table(tmp_path / "individu.parquet")
    assert t.num_rows == 2000
    with pytest.raises(SystemExit):
        parser.parse_args(["synth", "--out", str(tmp_path), "--families", "3", "--individuals", "3"])
    bad = parser.parse_args(["synth", "--out", str(tmp_path), "--families", "3", "--format", "parquet",
                             "--defect-kinds", "bom", "--no-progress"])  # fmt: skip
    assert bad.func(bad) == 2
    assert set(DEFECT_KINDS) == set(ROW_KINDS) | set(FILE_KINDS)


# -- streaming ----------------------------------------------------------------------------------------------
def _peak_rss_mb(tmp_path: Path, individuals: int) -> float:
    code = textwrap.dedent(
        f"""
        import resource
        from p3ke_ingest.synth import generate
        generate({str(tmp_path)!r}, individuals={individuals}, seed=1, fmt="csv", chunk_families=2000)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return float(out.strip())


def test_memory_stays_bounded_while_streaming(tmp_path):
    small = _peak_rss_mb(tmp_path / "s", 20_000)
    large = _peak_rss_mb(tmp_path / "l", 240_000)  # 12x the rows, ~30 chunks
    assert large - small < 60, (small, large)
