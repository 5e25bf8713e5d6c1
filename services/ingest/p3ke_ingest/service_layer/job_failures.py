"""Why a validation job stopped, said to the person who submitted the files and to the operator.

A job that cannot finish is marked failed with one reason, in Indonesian (the submission's `reasons`) and in
English (`summary.reasons_en`), each with what to do. Two causes are the operator's to fix and are named: the work
volume running out of space (DuckDB's spill files, the staging file and the snapshot are written under the data
directory: at 10^8 rows that is more than the size of the submitted CSV again) and the engine's memory limit. Any
other error is named by its type only: an exception's text is neither shown nor logged, because it may quote a
value from the file (DuckDB's conversion errors do); it is only matched to tell those two causes apart.
"""

from __future__ import annotations

import errno

from p3ke_platform import i18n
from p3ke_platform.tabular.errors import with_fix

DOMAIN = "ingest"
_DISK_FULL = ("no space left on device", "disk quota exceeded", "max_temp_directory_size")
_OUT_OF_MEMORY = ("out of memory error",)  # DuckDB's OutOfMemoryException, also as a failed Arrow stream's OSError


def failure_key(exc: BaseException) -> str:
    """The catalogue key of why `exc` stopped a job: `job.failed.disk_full`, `job.failed.memory` or
    `job.failed.internal`."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "job.failed.disk_full"
    try:
        text = str(exc).lower()
    except Exception:  # a broken __str__: an internal error like any other
        text = ""
    if any(marker in text for marker in _DISK_FULL):
        return "job.failed.disk_full"
    if any(marker in text for marker in _OUT_OF_MEMORY):
        return "job.failed.memory"
    return "job.failed.internal"


def reasons(key: str, **params: object) -> tuple[str, str]:
    """The reason of catalogue `key` with what to do, in Indonesian and in English. A parameter that is a function
    is called with the language (a number written with that language's separators)."""

    def said(lang: i18n.Lang) -> str:
        values = {name: value(lang) if callable(value) else value for name, value in params.items()}
        return with_fix(i18n.t(DOMAIN, key, lang, **values), i18n.t(DOMAIN, f"{key}.fix", lang, **values), lang)

    return said("id"), said("en")
