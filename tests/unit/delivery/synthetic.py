"""Synthetic extracts for tests and benchmarks: obviously fake people, never real personal data.

NIKs start with 99 (no such province), names read `NAMA SINTETIS 0000042`, places are `SINTETIS`.
The columns are those a padat_karya extract may carry (the agreement's field list for the program).
"""

from __future__ import annotations

import hashlib
import random
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

COLUMNS = ["nik", "nama", "padan_dukcapil", "jenis_kelamin", "tanggal_lahir", "provinsi",
           "kabupaten_kota", "kecamatan", "desa_kelurahan", "kode_kemendagri", "desil_kesejahteraan",
           "pekerjaan", "status_pekerjaan"]
_JOBS = ["Petani", "Buruh Harian Lepas", "Nelayan", "Pedagang", "Tidak Bekerja", "Mengurus Rumah Tangga"]
_STATUS = ["Berusaha Sendiri", "Buruh/Karyawan", "Pekerja Bebas", "Pekerja Keluarga", "Tidak Bekerja"]


def _batch(start: int, n: int, rng: random.Random) -> pa.RecordBatch:
    niks, names, padan, sex, born, villages, codes, desil, jobs, status = ([] for _ in range(10))
    base = date(1965, 1, 1)
    for i in range(start, start + n):
        female = rng.random() < 0.5
        birth = base + timedelta(days=rng.randrange(0, 40 * 365))
        district = 1 + i % 40
        day = birth.day + (40 if female else 0)
        niks.append(f"9901{district:02d}{day:02d}{birth:%m%y}{i % 10000:04d}")
        names.append(f"NAMA SINTETIS {i:07d}")
        padan.append("Ya" if rng.random() < 0.9 else "Tidak")
        sex.append("Perempuan" if female else "Laki-laki")
        born.append(birth)
        village = 2001 + i % 25
        villages.append(f"DESA SINTETIS {village}")
        codes.append(f"9901{district:02d}{village:04d}")
        desil.append(1 + min(3, int(rng.random() * 4)))
        jobs.append(rng.choice(_JOBS))
        status.append(rng.choice(_STATUS))
    return pa.RecordBatch.from_pydict({
        "nik": niks, "nama": names, "padan_dukcapil": padan, "jenis_kelamin": sex,
        "tanggal_lahir": pa.array(born, pa.date32()),
        "provinsi": ["PROVINSI SINTETIS"] * n, "kabupaten_kota": ["KABUPATEN SINTETIS"] * n,
        "kecamatan": [f"KECAMATAN SINTETIS {1 + i % 40:02d}" for i in range(start, start + n)],
        "desa_kelurahan": villages, "kode_kemendagri": codes,
        "desil_kesejahteraan": pa.array(desil, pa.int8()), "pekerjaan": jobs, "status_pekerjaan": status,
    })


def write_extract(path: Path, rows: int, *, fmt: str = "parquet", seed: int = 7,
                  chunk: int = 100_000) -> str:
    """Write `rows` synthetic people to `path` (Parquet or CSV) and return the file's SHA-256."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = _batch(0, 1, random.Random(0)).schema
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for start in range(0, rows, chunk):
                writer.write_batch(_batch(start, min(chunk, rows - start), rng))
            if rows == 0:
                writer.write_table(schema.empty_table())
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        with pcsv.CSVWriter(path, schema, write_options=pcsv.WriteOptions(quoting_style="needed")) as writer:
            for start in range(0, rows, chunk):
                writer.write_batch(_batch(start, min(chunk, rows - start), rng))
    else:
        raise ValueError(f"unknown format {fmt}")
    return hashlib.sha256(path.read_bytes()).hexdigest() if rows <= 200_000 else _sha256(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
