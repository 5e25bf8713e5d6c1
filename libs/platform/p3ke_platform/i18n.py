"""Bahasa Indonesia first, English on request: every message a person reads comes from a gettext catalogue.

The catalogues are standard gettext PO files, read with Babel (`babel.messages.pofile`), one per *domain* (a part
of the system: `findings`, `api`, `cli`, ...) and language:

    p3ke_platform/locale/<id|en>/LC_MESSAGES/<domain>.po

Message ids are stable English keys (`nik_scientific`, `nik_scientific.fix`), not source sentences: a finding's
machine-readable code stays the same whatever its wording, and every id must have both languages (the unit test
`tests/unit/test_i18n.py` checks that each id of a domain is in both catalogues, translated, not fuzzy, with the
same `{placeholders}`). Placeholders use Python's `str.format` syntax (`#, python-brace-format`).

`t(domain, key, lang, **params)` is a message in one language; `both(...)` is "Indonesian / English" for the
places that cannot negotiate (logs a person reads, configuration errors at start-up). `negotiate` picks the
language of an HTTP request: Indonesian unless the caller asks for English (`?lang=en`, or English preferred over
Indonesian in `Accept-Language`).

Translators edit the PO files with any PO editor; `pybabel` (installed with Babel) can check them:
`uv run pybabel compile --statistics -D <domain> -d libs/platform/p3ke_platform/locale` (it writes .mo files,
which are ignored: the service reads the PO files themselves).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

Lang = Literal["id", "en"]
LANGS: tuple[Lang, ...] = ("id", "en")
DEFAULT: Lang = "id"
LOCALE_DIR = Path(__file__).parent / "locale"


class MissingMessage(KeyError):
    """A message id with no entry in a catalogue: a bug (the catalogue test names it before a release)."""


def po_path(domain: str, lang: Lang) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"


def domains() -> list[str]:
    """Every domain that has a catalogue in any language."""
    return sorted({p.stem for lang in LANGS for p in (LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")})


@lru_cache(maxsize=64)
def entries(domain: str, lang: Lang) -> Mapping[str, Any]:
    """The Babel `Message` objects of one catalogue by id (the header entry left out)."""
    from babel.messages.pofile import read_po

    path = po_path(domain, lang)
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        catalogue = read_po(fh, locale=lang, domain=domain)
    return {str(m.id): m for m in catalogue if m.id}


@lru_cache(maxsize=64)
def catalogue(domain: str, lang: Lang) -> Mapping[str, str]:
    """id -> text of one catalogue (untranslated and fuzzy entries left out: they count as missing)."""
    return {key: str(m.string) for key, m in entries(domain, lang).items() if m.string and not m.fuzzy}


def has(domain: str, key: str) -> bool:
    return key in catalogue(domain, DEFAULT)


def t(domain: str, key: str, lang: Lang = DEFAULT, /, **params: Any) -> str:
    """The message `key` of `domain` in `lang`, its `{placeholders}` filled from `params`."""
    try:
        text = catalogue(domain, lang)[key]
    except KeyError:
        raise MissingMessage(f"{domain}:{key} ({lang})") from None
    return text.format(**params) if params else text


def both(domain: str, key: str, /, **params: Any) -> str:
    """The message in Indonesian, then in English: "… / …"."""
    return f"{t(domain, key, 'id', **params)} / {t(domain, key, 'en', **params)}"


class Messages:
    """One domain's messages: `M = Messages("findings")`, then `M("nik_scientific", lang)`."""

    def __init__(self, domain: str) -> None:
        self.domain = domain

    def __call__(self, key: str, lang: Lang = DEFAULT, /, **params: Any) -> str:
        return t(self.domain, key, lang, **params)

    def both(self, key: str, /, **params: Any) -> str:
        return both(self.domain, key, **params)

    def has(self, key: str) -> bool:
        return has(self.domain, key)


def negotiate(accept_language: str | None, lang: str | None = None) -> Lang:
    """English when asked for (`lang=en`, or English preferred over Indonesian in Accept-Language), else
    Indonesian (also for languages this system does not speak)."""
    if lang is not None:
        return "en" if lang.strip().lower() == "en" else "id"
    best: tuple[float, Lang] | None = None
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("id", "en", "in"):  # `in`: the old code for Indonesian
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        candidate = (quality - i * 1e-6, "en" if primary == "en" else "id")
        if quality > 0 and (best is None or candidate[0] > best[0]):
            best = candidate
    return best[1] if best else DEFAULT


def request_language(request: Any) -> Lang:
    """The language of a Starlette/FastAPI request (`?lang=` first, then `Accept-Language`)."""
    return negotiate(request.headers.get("accept-language"), request.query_params.get("lang"))


__all__ = ["DEFAULT", "LANGS", "LOCALE_DIR", "Lang", "Messages", "MissingMessage", "both", "catalogue", "domains",
           "entries", "has", "negotiate", "po_path", "request_language", "t"]
