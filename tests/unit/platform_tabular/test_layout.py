"""Header matching against a service's vocabulary (p3ke_platform.tabular.layout)."""

from __future__ import annotations

import pytest

from p3ke_platform.tabular.layout import HeaderVocabulary, LayoutError, normalise_header, shown_names

VOCABULARY = HeaderVocabulary(frozenset({"nik", "nama", "kode_wilayah", "status"}),
                              {"no_nik": "nik", "nama_lengkap": "nama", "kode": "kode_wilayah", "gone": "retired"})


@pytest.mark.parametrize(("header", "expected"), [
    ("NIK", "nik"), (" No. KK ", "no_kk"), ("\ufeffNama Lengkap", "nama_lengkap"),
    (" \ufeffKode-Wilayah", "kode_wilayah"),
    ("tgl__mulai//", "tgl_mulai"), ("", ""), ("...", ""),
])
def test_normalise_header(header: str, expected: str) -> None:
    assert normalise_header(header) == expected


def test_canonical_names_aliases_and_unknowns() -> None:
    assert VOCABULARY.canonical("NIK") == "nik"
    assert VOCABULARY.canonical("No NIK") == "nik"
    assert VOCABULARY.canonical("Nama Lengkap") == "nama"
    assert VOCABULARY.canonical("KODE") == "kode_wilayah"
    assert VOCABULARY.canonical("gone") is None  # an alias to a name outside the vocabulary names nothing
    assert VOCABULARY.canonical("keterangan") is None


def test_score_counts_distinct_fields() -> None:
    assert VOCABULARY.score(["NIK", "no_nik", "nama", "x"]) == 2
    assert VOCABULARY.score(["3201011204900001", "Budi", "32"]) == 0


def test_match_positions_and_unknown_headers() -> None:
    matched = VOCABULARY.match(["Keterangan", "NIK", "", "  ", "Nama", "x" * 80, " Status "])
    assert matched.positions == {"nik": 1, "nama": 4, "status": 6}
    assert matched.unknown == ["Keterangan", "x" * 60]


def test_match_refuses_two_columns_for_one_field() -> None:
    with pytest.raises(LayoutError, match="kolom 1 dan 3 sama-sama berisi nik"):  # Indonesian first
        VOCABULARY.match(["NIK", "nama", "No NIK"])


def test_shown_names_cuts_long_lists() -> None:
    assert shown_names(["a", "b"]) == "a, b"
    assert shown_names([str(i) for i in range(20)]) == ", ".join(str(i) for i in range(20))
    assert shown_names([str(i) for i in range(21)]) == ", ".join(str(i) for i in range(20)) + " …"
    assert shown_names(["a", "b", "c"], most=2) == "a, b …"
