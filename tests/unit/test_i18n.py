"""The message catalogues (p3ke_platform.i18n): every message id of every domain has both languages, translated,
not fuzzy, with the same placeholders; the PO files are valid for gettext's own tools (`pybabel compile`); the
language of a request is Indonesian unless English is asked for."""

from __future__ import annotations

import string
import subprocess
import sys
from pathlib import Path

import pytest

from p3ke_platform import i18n


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("domain", i18n.domains())
def test_every_message_has_both_languages(domain: str) -> None:
    ids = {lang: set(i18n.entries(domain, lang)) for lang in i18n.LANGS}
    assert ids["id"], f"domain {domain} has no Indonesian catalogue"
    assert ids["id"] == ids["en"], (f"{domain}: only in id: {sorted(ids['id'] - ids['en'])}; "
                                    f"only in en: {sorted(ids['en'] - ids['id'])}")
    for lang in i18n.LANGS:
        untranslated = sorted(k for k, m in i18n.entries(domain, lang).items() if not m.string or m.fuzzy)
        assert not untranslated, f"{domain} ({lang}): untranslated or fuzzy: {untranslated}"
    for key in sorted(ids["id"]):
        texts = {lang: i18n.catalogue(domain, lang)[key] for lang in i18n.LANGS}
        assert _placeholders(texts["id"]) == _placeholders(texts["en"]), f"{domain}:{key} placeholders differ"
        assert texts["id"] != texts["en"] or texts["id"].isupper(), f"{domain}:{key}: the Indonesian is the English"


def test_pybabel_compiles_every_catalogue(tmp_path: Path) -> None:
    """gettext's own tooling reads the files (a translator's PO editor will too)."""
    for domain in i18n.domains():
        for lang in i18n.LANGS:
            out = tmp_path / f"{domain}-{lang}.mo"
            done = subprocess.run([sys.executable, "-m", "babel.messages.frontend", "compile", "-i",
                                   str(i18n.po_path(domain, lang)), "-o", str(out), "-l", lang, "--statistics"],
                                  capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            assert out.stat().st_size > 0


def test_missing_message_is_an_error() -> None:
    with pytest.raises(i18n.MissingMessage):
        i18n.t("common", "no-such-message")


@pytest.mark.parametrize(("header", "lang", "expected"), [
    (None, None, "id"), ("", None, "id"), ("en", None, "en"), ("en-US,en;q=0.9", None, "en"),
    ("id-ID,id;q=0.9,en;q=0.8", None, "id"), ("en;q=0.5,id;q=0.9", None, "id"), ("fr,de", None, "id"),
    ("in", None, "id"), ("en;q=0", None, "id"), ("id", "en", "en"), ("en", "id", "id"), ("en;q=abc", None, "id"),
])
def test_negotiation(header: str | None, lang: str | None, expected: str) -> None:
    assert i18n.negotiate(header, lang) == expected
