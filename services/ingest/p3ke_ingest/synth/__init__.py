"""Synthetic Data P3KE snapshots: ``p3ke synth`` and ``generate()``.

Writes an individual file and a family file in the real column layout
(``p3ke_ingest.p3ke_columns``) as CSV, XLSX or Parquet, deterministic for a seed, streaming in
chunks, with optional defect injection logged row by row (``p3ke_ingest.synth.defects``).
"""

from p3ke_ingest.synth.defects import DEFECT_KINDS, FILE_KINDS, ROW_KINDS, DefectRecord, read_defect_log
from p3ke_ingest.synth.snapshot import DEFAULT_REFERENCE_DATE, FORMATS, SynthResult, generate

__all__ = [
    "DEFAULT_REFERENCE_DATE",
    "DEFECT_KINDS",
    "FILE_KINDS",
    "FORMATS",
    "ROW_KINDS",
    "DefectRecord",
    "SynthResult",
    "generate",
    "read_defect_log",
]
