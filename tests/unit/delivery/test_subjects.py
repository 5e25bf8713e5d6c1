"""The subject references of a handover are read back one at a time (streamed to `record_access`)."""

from __future__ import annotations

from pathlib import Path

from p3ke_delivery.adapters import subjects


def test_read_refs_streams_one_reference_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / subjects.REFS_FILE
    path.write_text("a" * 64 + "\n\n" + "b" * 64 + "\n  \n" + "c" * 64 + "\n", encoding="ascii")
    refs = subjects.read_refs(path)
    assert next(refs) == "a" * 64  # lazily: the first reference before the rest is read
    assert list(refs) == ["b" * 64, "c" * 64]


def test_a_handover_without_references_names_nobody(tmp_path: Path) -> None:
    assert list(subjects.read_refs(tmp_path / "missing.txt")) == []
