"""Pure rules: suppression of published cells, periods, header aliases, statuses and their DCI codes."""

from __future__ import annotations

import pytest

from p3ke_feedback.domain.layout import COLUMNS, LayoutError, canonical, map_headers
from p3ke_feedback.domain.report import bucket, suppress_group
from p3ke_feedback.domain.vocabulary import STATUS_ALIASES, STATUSES, Status, token


@pytest.mark.parametrize(("values", "total", "shown", "shown_total"), [
    ({"1": 50, "2": 40}, 90, {"1": 50, "2": 40}, 90),
    ({"1": 50, "2": 4, "3": 30}, 84, {"1": 50, "2": None, "3": None}, 84),  # secondary: the next smallest
    ({"1": 50, "2": 4, "3": 3}, 57, {"1": 50, "2": None, "3": None}, 57),  # two hidden: the total is safe
    ({"1": 4, "2": 0}, 4, {"1": None, "2": 0}, None),  # the total itself is small
    ({"1": 12, "2": 0, "3": 0}, 12, {"1": 12, "2": 0, "3": 0}, 12),  # zeros are shown
])
def test_suppression(values: dict[str, int], total: int, shown: dict[str, int | None],
                     shown_total: int | None) -> None:
    assert suppress_group(values, total, 10) == (shown, shown_total)


def test_periods() -> None:
    assert [bucket("2026-03", g) for g in ("month", "quarter", "year", "all")] == ["2026-03", "2026-Q1", "2026", "all"]
    assert bucket("2026-12", "quarter") == "2026-Q4"


def test_headers() -> None:
    assert canonical("\ufeffNo. NIK") == "nik" and canonical("Tgl. Mulai") == "tanggal_mulai"
    assert canonical("Status Kepesertaan") == "status" and canonical("Kode Kemendagri") == "kode_wilayah"
    assert canonical("Catatan") is None
    assert set(map_headers([c.upper() for c in COLUMNS]).positions) == set(COLUMNS)
    with pytest.raises(LayoutError, match="kolom wajib tidak ada"):
        map_headers(["nik", "nama", "status"])


def test_statuses_follow_dci_where_they_overlap() -> None:
    assert STATUS_ALIASES[token("Meninggal Dunia")] is Status.DECEASED
    assert STATUS_ALIASES[token("Graduated")] is Status.COMPLETED
    assert STATUSES[Status.COMPLETED].dci_enrollment_status == "3 Graduated"
    assert STATUSES[Status.SUSPENDED].dci_enrollment_status == "4 Suspended"
    assert STATUSES[Status.BENEFIT_PAID].dci_payment_status == "1 Successful"
    assert STATUSES[Status.DROPPED_OUT].dci_enrollment_status is None
