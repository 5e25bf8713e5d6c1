"""A test-only agreement directory whose term does not end while the tests are in use.

Why: tests that run on real time (PAdES signatures are made now, under a development CA made now) and then move the
services' clock some weeks on need the agreement in force all that while. The bundled example addendum ends the PKS
on 28 February 2027, so such a test would start failing some weeks before that day. `far_agreement_dir` writes, in
the test's own temporary directory, a copy of the bundled records (the signed PKS and the example records) plus one
more example addendum that extends the term to FAR_LAST_DAY. It takes effect only the day after the example
addendum's last day, so the terms in force today (and their version, `pks-p3ke-2023+example-add-1`) are the same as
with the bundled directory; only the end moves.

The bundled files are not touched: their hashes (deploy/k8s/base/agreement.sha256, `p3ke agreement manifest`) stay
as they are. A service pointed at this directory (`agreement_dir=...`, with `agreement_include_examples=True`) loads
it without a manifest, as every test configuration does (`env="test"`).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from p3ke_platform.agreement.loader import BUNDLED_DIR, record_files

FAR_LAST_DAY = date(2099, 12, 31)
"""The last day in force (inclusive) under the test addendum."""

ADDENDUM_ID = "test-add-far-extension"

_ADDENDUM = f"""\
# TEST ONLY. NOT A REAL ADDENDUM: written by tests/integration/helpers/agreement_terms.py into a test's temporary
# directory so that tests running on real time keep the agreement in force for as long as they run.
kind: addendum
schema_version: 1
example: true
id: {ADDENDUM_ID}
agreement_id: pks-p3ke-2023
number: TEST/ADD-FAR/NOT-A-REAL-NUMBER
title: "TEST: extension of the PKS to {FAR_LAST_DAY.isoformat()} (not a real addendum)"
# Art. 8(2): signed (the notice) more than 30 days before the term it extends ends (2027-02-28, the example
# addendum's last day); it takes effect the day after that last day, so there is no lapse and nothing changes before.
signed_on: 2026-01-05
effective_from: 2027-03-01
changes:
  last_day: {FAR_LAST_DAY.isoformat()}
"""


def far_agreement_dir(parent: Path) -> Path:
    """`parent/agreement-terms`: the bundled records plus the test addendum (made once; the same path again)."""
    directory = parent / "agreement-terms"
    if not directory.is_dir():
        directory.mkdir(parents=True)
        for source in record_files(BUNDLED_DIR):
            shutil.copy2(source, directory / source.name)
        (directory / f"{ADDENDUM_ID}.yaml").write_text(_ADDENDUM, encoding="utf-8")
    return directory
