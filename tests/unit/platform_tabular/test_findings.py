"""The description of checks (p3ke_platform.tabular.findings)."""

from __future__ import annotations

import pytest

from p3ke_platform.tabular.findings import NIK_CHECKS, Check, by_code, error_codes


def test_by_code_keeps_order_and_refuses_a_code_twice() -> None:
    checks = (Check("b", "error", "x", "B"), Check("a", "warning", "", "A"))
    assert list(by_code(checks)) == ["b", "a"]
    assert by_code(checks)["a"].message == "A"
    with pytest.raises(ValueError, match="check b is defined twice"):
        by_code((*checks, Check("b", "warning", "y", "again")))


def test_error_codes() -> None:
    checks = (Check("b", "error", "x", "B"), Check("a", "warning", "", "A"), Check("c", "error", "", "C"))
    assert error_codes(checks) == ("b", "c")


def test_nik_checks_are_about_the_nik_column() -> None:
    codes = [c.code for c in NIK_CHECKS]
    assert codes == ["nik_missing", "nik_scientific", "nik_apostrophe", "nik_separators", "nik_format",
                     "nik_province_unknown", "nik_date_invalid", "nik_serial_zero"]
    assert {c.field for c in NIK_CHECKS} == {"nik"}
    assert {c.code for c in NIK_CHECKS if c.severity == "warning"} == {"nik_apostrophe", "nik_separators"}
    assert all(c.message and "{" not in c.message for c in NIK_CHECKS)
