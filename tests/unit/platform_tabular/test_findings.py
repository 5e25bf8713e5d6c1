"""The description of checks (p3ke_platform.tabular.findings): codes stable and English, words from the
`findings` catalogue (Indonesian first, English on request, each with how to fix it)."""

from __future__ import annotations

import pytest

from p3ke_platform import i18n
from p3ke_platform.tabular.errors import NotATable, with_fix
from p3ke_platform.tabular.findings import NIK_CHECKS, Check, by_code, error_codes


def test_by_code_keeps_order_and_refuses_a_code_twice() -> None:
    checks = (Check("nik_format", "error", "nik"), Check("nik_apostrophe", "warning", "nik"))
    assert list(by_code(checks)) == ["nik_format", "nik_apostrophe"]
    assert by_code(checks)["nik_format"].message == "NIK bukan 16 digit"
    with pytest.raises(ValueError, match="check nik_format is defined twice"):
        by_code((*checks, Check("nik_format", "warning", "y")))


def test_error_codes() -> None:
    checks = (Check("b", "error", "x"), Check("a", "warning", ""), Check("c", "error", ""))
    assert error_codes(checks) == ("b", "c")


def test_nik_checks_are_about_the_nik_column_and_say_how_to_fix_them() -> None:
    codes = [c.code for c in NIK_CHECKS]
    assert codes == ["nik_missing", "nik_scientific", "nik_apostrophe", "nik_separators", "nik_format",
                     "nik_province_unknown", "nik_date_invalid", "nik_serial_zero"]
    assert {c.field for c in NIK_CHECKS} == {"nik"}
    assert {c.code for c in NIK_CHECKS if c.severity == "warning"} == {"nik_apostrophe", "nik_separators"}
    for check in NIK_CHECKS:
        assert check.message and check.fix and "{" not in check.message
        assert check.text("en") != check.message and check.fix_text("en") != check.fix
    scientific = by_code(NIK_CHECKS)["nik_scientific"]
    assert "format kolom NIK sebagai Teks" in scientific.fix
    assert "format the NIK column as Text" in scientific.fix_text("en")
    assert scientific.explained().endswith(f"Cara memperbaiki: {scientific.fix}")


def test_a_check_without_words_in_the_catalogue_is_an_error() -> None:
    with pytest.raises(i18n.MissingMessage):
        _ = Check("no_such_code", "error", "").message


def test_file_refusals_explain_themselves_in_both_languages() -> None:
    refused = NotATable(key="file.no_line_break", head_bytes="1,048,576", head_mib=1)
    assert str(refused).startswith("tidak ada jeda baris dalam 1,048,576 byte")
    assert refused.message("en").startswith("there is no line break in the first 1,048,576 bytes")
    assert refused.explained("en") == with_fix(refused.message("en"), refused.fix("en"), "en")
    assert "How to fix: export again as CSV" in refused.explained("en")
    plain = NotATable("a bilingual text / teks")  # e.g. the archive guard's: shown as it is
    assert plain.message("en") == plain.message() == "a bilingual text / teks" and plain.fix() == ""
