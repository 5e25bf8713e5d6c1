"""Shared by the data-subject lookup tests of ingest and audit: a synthetic P3KE snapshot (the project's synth
generator), a second version of it without one person, a member and the head of one family, and publishing
through ingest's own HTTP API (an in-process TestClient or a real `python -m p3ke_ingest api`)."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from p3ke_ingest.synth import generate


@dataclass(frozen=True)
class Snapshots:
    first: tuple[Path, Path]  # (individual, family) of version 1
    second: tuple[Path, Path]  # version 2: version 1 without `dropped`
    member: dict[str, str]  # a family member who is not its head, in both versions
    head: dict[str, str]  # the head of the member's family
    dropped: dict[str, str]  # a member only in version 1


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def make_snapshots(out: Path, *, families: int = 120, seed: int = 31) -> Snapshots:
    made = generate(out / "v1", families=families, seed=seed)
    individual, family = made.individual_path, made.family_path
    assert family is not None
    header, rows = _read(individual)
    members = [r for r in rows if r["hubungan_dengan_kepala_keluarga"] != "Kepala Keluarga"]
    member = members[0]
    dropped = next(r for r in members[1:] if r["id_keluarga_p3ke"] != member["id_keluarga_p3ke"])
    head = next(r for r in rows if r["id_keluarga_p3ke"] == member["id_keluarga_p3ke"]
                and r["hubungan_dengan_kepala_keluarga"] == "Kepala Keluarga")
    (out / "v2").mkdir()
    with (out / "v2" / individual.name).open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(r for r in rows if r["nik"] != dropped["nik"])
    (out / "v2" / family.name).write_bytes(family.read_bytes())
    return Snapshots((individual, family), (out / "v2" / individual.name, out / "v2" / family.name),
                     member, head, dropped)


def publish(client: httpx.Client, headers: dict[str, str], files: tuple[Path, Path],
            run_jobs: Callable[[], Any] | None = None, timeout: float = 180) -> str:
    """Upload and submit (individual, family) through ingest's API; the published version's id. `run_jobs`
    runs the validation job in this process (an API without its job loop); otherwise the API's own loop does."""
    ids = []
    for path in files:
        r = client.post("/v1/uploads", params={"filename": path.name}, content=path.read_bytes(),
                        headers={**headers, "Content-Type": "text/csv"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["upload_id"])
    r = client.post("/v1/submissions", json={"individual": {"upload_id": ids[0]}, "family": {"upload_id": ids[1]}},
                    headers=headers)
    assert r.status_code == 202, r.text
    sid = r.json()["submission_id"]
    if run_jobs is not None:
        run_jobs()
    deadline = time.monotonic() + timeout
    while True:
        done = client.get(f"/v1/submissions/{sid}", headers=headers).json()
        if done["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, f"submission {sid} not finished: {done}"
        time.sleep(0.3)
    assert done["status"] == "published", done
    return str(done["dataset_version_id"])
