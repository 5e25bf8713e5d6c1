"""Reading real-world files: layouts, spreadsheets' damage, statuses, dates, values; row-level findings
with masked values; layout errors refuse the whole file with nothing stored."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from tests.unit.feedback.conftest import World, auth, upload
from tests.unit.feedback.helpers import HEADER, emitted, feedback_row, write_csv


def findings(client: TestClient, world: World, batch_id: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/v1/feedback-batches/{batch_id}/findings", headers=auth(world.runtime),
                          params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_title_rows_semicolons_aliases_and_row_findings(client: TestClient, world: World) -> None:
    d = world.delivered
    header = ["No. NIK", "Nama Lengkap", "Kode Kemendagri", "Kode Program", "Nama Kegiatan", "Tgl Mulai",
              "Tgl Selesai", "Status Kepesertaan", "Nilai Bantuan", "Keterangan"]
    rows = [
        [*feedback_row(d[0]["nik"], status="Lulus", mulai="01/04/2026", selesai="30-04-2026", nilai="Rp 1.500.000"),
         "ok"],
        [*feedback_row("'" + d[1]["nik"], status="Meninggal Dunia", nilai="1,500,000"), ""],
        [*feedback_row(f"{d[2]['nik'][:6]} {d[2]['nik'][6:12]} {d[2]['nik'][12:]}", program="TKM"), ""],
        [*feedback_row(d[3]["nik"], status="ditunda", kode="32.01.01.1001", selesai="", nilai=""), ""],
        [*feedback_row(d[4]["nik"], status="selesai", selesai=""), ""],  # completed without an end date
        [*feedback_row(d[5]["nik"], mulai="2026-05-01", selesai="2026-04-01"), ""],
        [*feedback_row(d[6]["nik"], mulai="kemarin"), ""],
        [*feedback_row(d[7]["nik"], status=""), ""],
        [*feedback_row(d[8]["nik"], nilai="-5"), ""],
        [*feedback_row(d[9]["nik"], nilai="banyak"), ""],
        [*feedback_row(d[10]["nik"], kode="9999"), ""],
        [*feedback_row(d[11]["nik"], kode="32A1"), ""],
        [*feedback_row(d[12]["nik"], nama="", kegiatan=""), ""],
        [*feedback_row(d[13]["nik"], mulai="2026-01-02"), ""],  # before the BAST (2026-03-10)
        [*feedback_row(d[14]["nik"], program=""), ""],
    ]
    path = write_csv(world.tmp / "laporan.csv", rows, header=header, delimiter=";",
                     title_rows=["LAPORAN DATA BALIKAN PADAT KARYA", "Kemnaker, 2026"])
    response = upload(client, world, path)
    assert response.status_code == 201, response.text
    body = response.json()
    items = findings(client, world, body["batch_id"])
    by_code = {(i["row"], i["code"]) for i in items}
    expected = {(2, "nik_apostrophe"), (3, "nik_separators"), (3, "program_mismatch"),
                (5, "status_completed_without_end"), (6, "tanggal_selesai_before_mulai"),
                (7, "tanggal_mulai_invalid"), (8, "status_missing"), (9, "nilai_manfaat_negative"),
                (10, "nilai_manfaat_invalid"), (11, "kode_wilayah_unknown"), (12, "kode_wilayah_format"),
                (13, "nama_missing"), (13, "kegiatan_missing"), (14, "tanggal_mulai_before_handover"),
                (15, "program_missing")}
    assert expected <= by_code, expected - by_code
    assert not {r for r, _ in by_code} & {1, 4}  # rows 1 and 4 are clean
    first = next(i for i in items if i["row"] == 2)
    assert first["line"] == 5 and first["value"] == d[1]["nik"][:4] + "*" * 12  # title rows + header above
    assert body["notes"][0].startswith("dibaca sebagai CSV: pemisah titik koma (;), pengodean UTF-8")  # what was read
    assert body["notes"][1:] == ["kolom di luar susunan yang dikenal diabaikan: Keterangan. Cara memperbaiki: tidak "
                                 "perlu tindakan bila kolom itu memang tidak dikirim; bila seharusnya dikirim, samakan "
                                 "nama judul kolomnya"]
    # errors: program mismatch, end before start, bad start, no status, negative/invalid value, 2 bad regions
    assert body["rows_rejected"] == 8 and body["served"] == 7
    assert body["counts_by_status"] == {"completed": 5, "deceased": 1, "suspended": 1}
    [event] = emitted(world.runtime, "p3ke.feedback-received.v1")
    assert event["rows_rejected"] == 8


def test_xlsx_with_numeric_niks_and_date_cells(client: TestClient, world: World) -> None:
    import openpyxl

    d = world.delivered
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Rekap"
    ws.append(["Rekapitulasi penerima"])
    ws.append(HEADER)
    ws.append([d[0]["nik"], "A", "3201011001", "padat_karya", "jalan desa", dt.date(2026, 4, 1),
               dt.date(2026, 4, 30), "selesai", 1_500_000])
    ws.append([int(float(f"{int(d[1]['nik']):.15g}")), "B", "3201011001", "padat_karya", "jalan desa",
               dt.datetime(2026, 4, 1), None, "aktif", None])  # a NIK typed as a number: Excel kept 15 digits
    ws.append([])
    ws.append([d[2]["nik"], "C", 3201011001, "padat_karya", "irigasi", "2026-04-02", "2026-05-02", "dibayar",
               "750000"])
    path = world.tmp / "balikan.xlsx"
    wb.save(path)
    response = upload(client, world, path)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["file_format"] == "xlsx" and body["rows"] == 3 and body["served"] == 2
    assert body["counts_by_match_class"] == {"in_extract": 2, "invalid_nik": 1}
    [item] = findings(client, world, body["batch_id"], code="nik_scientific")
    assert item["line"] == 4 and item["sheet"] == "Rekap" and d[1]["nik"] not in str(item)


def test_parquet_with_a_floating_point_nik_column(client: TestClient, world: World) -> None:
    d = world.delivered
    table = pa.table({"nik": pa.array([float(d[0]["nik"]), float(d[1]["nik"])]),
                      "nama": ["A", "B"], "kode_wilayah": ["3201011001"] * 2, "program": ["padat_karya"] * 2,
                      "kegiatan": ["x"] * 2, "tanggal_mulai": pa.array([dt.date(2026, 4, 1)] * 2),
                      "tanggal_selesai": pa.array([None, None], pa.date32()), "status": ["aktif"] * 2,
                      "nilai_manfaat": pa.array([100.0, None])})
    path = world.tmp / "balikan.parquet"
    pq.write_table(table, path)
    response = upload(client, world, path)
    assert response.status_code == 422, response.text  # every NIK lost digits: nothing to store
    assert response.json()["code"] == "file.feedback_all_invalid"
    assert response.headers["X-P3KE-Refusal"] == "all-invalid"
    assert "semua 2 baris berisi kesalahan" in response.text and "nik_scientific 2" in response.text
    table = table.set_column(0, "nik", pa.array([d[0]["nik"], d[1]["nik"]]))
    pq.write_table(table, path)
    ok = upload(client, world, path)
    assert ok.status_code == 201 and ok.json()["served"] == 2 and ok.json()["file_format"] == "parquet"


def test_wrong_layouts_are_refused_and_nothing_is_stored(client: TestClient, world: World) -> None:
    storage = Path(world.runtime.settings.data_dir) / "feedback"
    cases: dict[str, tuple[bytes, str, str]] = {  # the content, the Indonesian reason, the English one
        "missing.csv": (b"NIK,Nama,Status\n3201011507900001,A,selesai\n", "kolom wajib tidak ada",
                        "required column(s) missing"),
        "double.csv": (",".join([*HEADER, "NIK Penerima"]).encode() + b"\n", "sama-sama berisi nik",
                       "both hold nik"),
        "prose.csv": (b"hello\nthis is not a table\n", "tidak ada baris judul kolom", "no header row"),
        "old.xls": (b"\xd0\xcf\x11\xe0" + b"\0" * 100, "file Excel lama (.xls)", "old Excel .xls"),
        "broken.xlsx": (b"PK\x03\x04" + b"\0" * 100, "rusak atau terpotong", "damaged or truncated"),
        "cut.parquet": (b"PAR1" + b"\0" * 100, "terpotong", "truncated"),
        "header-only.csv": (",".join(HEADER).encode() + b"\n", "tidak ada baris data", "no data rows"),
    }
    for name, (content, reason, reason_en) in cases.items():
        path = world.tmp / name
        path.write_bytes(content)
        response = upload(client, world, path)
        assert response.status_code == 422, (name, response.text)
        body = response.json()
        english = upload(client, world, path, headers={**auth(world.runtime), "Accept-Language": "en"})
        assert english.status_code == 422 and english.json()["code"] == body["code"], (name, english.text)
        if body.get("rule") == "archive-malformed":  # refused while it streams in (p3ke_platform.uploads)
            assert reason in body["detail"] and reason_en in english.json()["detail"], (name, response.text)
            continue
        assert name in body["detail"].split(":")[0] and reason in body["detail"], (name, response.text)
        assert "Cara memperbaiki: " in body["detail"] and body["code"].startswith("file."), (name, response.text)
        assert reason_en not in body["detail"], (name, response.text)  # one language: Indonesian unless asked
        assert name in english.json()["detail"].split(":")[0] and reason_en in english.json()["detail"]
        assert "How to fix: " in english.json()["detail"], (name, english.text)
    assert emitted(world.runtime, "p3ke.feedback-received.v1") == []
    assert not list((storage / "batches").glob("*")) if (storage / "batches").exists() else True
    assert not list((storage / "incoming").glob("*")) and not list((storage / "work").glob("*"))
    refusals = [e for e in emitted(world.runtime, "p3ke.data-access.v1") if e["outcome"] == "denied"]
    assert len(refusals) == 2 * len(cases) and {e["action"] for e in refusals} == {"upload"}


def test_a_line_with_more_fields_than_the_header(client: TestClient, world: World) -> None:
    d = world.delivered
    path = world.tmp / "extra.csv"
    write_csv(path, [feedback_row(d[0]["nik"]), [*feedback_row(d[1]["nik"]), "surplus"]])
    response = upload(client, world, path)
    assert response.status_code == 201, response.text
    assert response.json()["counts_by_finding"] == {"row_malformed": 1}
    assert response.json()["served"] == 1


def test_a_real_export_is_explained_in_indonesian_and_english(client: TestClient, world: World) -> None:
    """#20: what was read, summary and blank rows recognised (not rejected), findings with how to fix them in
    the language asked for; a NIK column Excel stored as numbers is refused with that reason first."""
    import openpyxl

    d = world.delivered
    rows = [feedback_row(d[0]["nik"]), feedback_row(d[1]["nik"], status=""), ["", "", "", "", "", "", "", "", ""],
            feedback_row(d[2]["nik"]), ["Jumlah Data: 3", "", "", "", "", "", "", "", ""]]
    path = write_csv(world.tmp / "rekap.csv", rows, delimiter=";", title_rows=["REKAP DATA BALIKAN"])
    response = upload(client, world, path)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["rows"] == 3 and body["rows_rejected"] == 1  # the blank and the summary row are not rows
    assert any(n.startswith("1 baris kosong dan 1 baris ringkasan dikenali dan dilewati") for n in body["notes"])
    assert body["notes"][0].startswith("dibaca sebagai CSV: pemisah titik koma (;)")
    in_english = client.get(f"/v1/feedback-batches/{body['batch_id']}", headers=auth(world.runtime),
                            params={"lang": "en"}).json()["notes"]  # stored in both languages, served as asked
    assert len(in_english) == len(body["notes"]) and in_english[0].startswith("read as CSV")
    assert any(n.startswith("1 empty rows and 1 summary rows were recognised and skipped") for n in in_english)
    listed = client.get("/v1/feedback-batches", headers={**auth(world.runtime), "Accept-Language": "en"}).json()
    assert [b["notes"] for b in listed if b["batch_id"] == body["batch_id"]] == [in_english]
    [item] = findings(client, world, body["batch_id"], code="status_missing")
    assert item["message"] == "status kosong" and item["fix"].startswith("isi status: terdaftar, selesai")
    [item] = findings(client, world, body["batch_id"], code="status_missing", lang="en")
    assert item["message"] == "status is missing" and item["fix"].startswith("fill in the status")
    exported = client.get(f"/v1/feedback-batches/{body['batch_id']}/findings.csv",
                          headers={**auth(world.runtime), "Accept-Language": "en"}).text
    assert "message,fix,value" in exported and "fill in the status" in exported

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(HEADER))
    for person in d[3:6]:  # the NIK typed as a number in Excel: 15 significant digits kept
        ws.append([float(f"{int(person['nik']):.15g}"), *feedback_row(None)[1:]])
    path = world.tmp / "angka.xlsx"
    wb.save(path)
    refused = upload(client, world, path)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail.startswith("berkas angka.xlsx: kolom NIK tersimpan sebagai angka (3 dari 3 baris)")
    assert "Cara memperbaiki: format kolom NIK sebagai Teks" in detail and "semua 3 baris berisi kesalahan" in detail
    assert refused.json()["code"] == "file.feedback_all_invalid" and " / " not in detail  # one language
    english = upload(client, world, path, headers={**auth(world.runtime), "Accept-Language": "en"})
    assert english.status_code == 422 and english.headers["Content-Language"] == "en"
    detail = english.json()["detail"]
    assert detail.startswith("file angka.xlsx: the NIK column is stored as numbers") and "How to fix: " in detail
    assert "all 3 rows have errors" in detail and "kolom NIK" not in detail


def test_blank_and_summary_rows_and_trimming_match_their_plain_definitions() -> None:
    """The short cuts in the SQL (a row with a NIK is neither blank nor a summary; a value without a leading or
    trailing space is not trimmed) give what the plain definitions give, row by row: blank = every field empty
    after trimming spaces; summary = no run of six digits in the NIK and SUMMARY matching the joined values."""
    import random
    import re

    import duckdb

    from p3ke_feedback.adapters import matching
    from p3ke_platform.reference.wilayah import load_regions

    fields = ["nik", "nama", "kode_wilayah", "program", "kegiatan", "tanggal_mulai", "tanggal_selesai", "status",
              "nilai_manfaat"]
    pieces = [None, "", " ", "  ", "\t", "x", " x", "x ", " x ", "Jumlah Data: 5", " total 3", "3201011507900001",
              "320101", " 3201011507900001 ", "12345", "catatan: -", "a b"]
    rng = random.Random(20)
    rows = [[rng.choice(pieces) if rng.random() < 0.7 else None for _ in range(len(fields) + 1)] for _ in range(3000)]
    rows += [[None] * (len(fields) + 1), ["   "] * (len(fields) + 1), ["Jumlah", *[None] * len(fields)]]
    con = duckdb.connect()
    table = pa.table({"sheet": pa.array([None] * len(rows), pa.string()), "xline": pa.array([None] * len(rows),
                                                                                             pa.int64()),
                      **{f: pa.array([r[i] for r in rows], pa.string()) for i, f in enumerate([*fields, "__extra"])}})
    con.register("staged", table)
    con.execute("CREATE TEMP TABLE raw AS SELECT * FROM staged")

    def stripped(value: str | None) -> str | None:
        return None if value is None or value.strip(" ") == "" else value.strip(" ")

    def blank(row: list[str | None]) -> bool:
        return all(stripped(v) is None for v in row)

    def summary(row: list[str | None]) -> bool:
        nik = row[0]
        joined = " ".join(v for v in row[:len(fields)] if v is not None)
        return not (nik is not None and re.search(r"[0-9]{6}", nik)) and re.search(matching.SUMMARY, joined) is not None

    assert matching.skipped_rows(con) == (sum(map(blank, rows)), sum(map(summary, rows)))
    got = [r[0] for r in con.execute(f"SELECT {matching._trimmed('nama')} FROM raw ORDER BY rowid").fetchall()]
    assert got == [stripped(r[1]) for r in rows]

    matching.register_vocabularies(con, load_regions())
    matching.validate(con, program="padat_karya", signed_on=dt.date(2026, 3, 1), header_line=1)
    kept = [r[0] - 1 for r in con.execute("SELECT row FROM v ORDER BY row").fetchall()]
    assert kept == [i for i, r in enumerate(rows)
                    if (not blank(r[:len(fields)]) and not summary(r)) or stripped(r[-1]) is not None]
