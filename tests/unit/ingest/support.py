"""Helpers for the ingest tests: run a validation without a database and read its report."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from p3ke_ingest.adapters.storage import Storage
from p3ke_ingest.adapters.validation_engine import Rules
from p3ke_ingest.domain.acceptance import AcceptancePolicy
from p3ke_ingest.service_layer.validation import InputFile, Outcome, validate

REFERENCE_DATE = dt.date(2023, 2, 28)


def check(tmp: Path, individual: Path, family: Path | None = None, *, max_rejected_share: float = 0.05,
          previous: Path | None = None, **rules: Any) -> Outcome:
    inputs = [InputFile("individual", individual, individual.name)]
    if family is not None:
        inputs.append(InputFile("family", family, family.name))
    storage = Storage(tmp / "ingest")
    return validate("t" + str(abs(hash((str(individual), str(family))))), inputs, storage,
                    rules=Rules(reference_date=REFERENCE_DATE, **rules),
                    policy=AcceptancePolicy(max_rejected_share), memory_mb=256, previous_snapshot=previous)


def findings(outcome: Outcome, *, info: bool = False) -> list[dict[str, Any]]:
    """The report's findings; the ``info`` ones (what was read: delimiter, encoding, header line) only if asked."""
    return [f for f in pq.read_table(outcome.report).to_pylist() if info or f["severity"] != "info"]


def reasons_en(outcome: Outcome) -> list[str]:
    """The reasons of a refusal in English (the stored ``reasons`` are Indonesian, with how to fix them)."""
    return list(outcome.summary.get("reasons_en") or [])


def write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",") -> Path:
    lines = [delimiter.join(header)] + [delimiter.join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
