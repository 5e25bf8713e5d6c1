"""Refusal reasons of the package release, in Indonesian (the default) and in English on request
(`Accept-Language: en`, or `?lang=en` as on the audit page). Each names the handover, the request and the
caller's own account, never another person's: who received a password is not told to anyone else.

Pure Python: no I/O.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["id", "en"]
Released = Literal["password", "link", "download"]

_NOT_BOUND = {
    "id": {
        "password": "Kata sandi paket serah terima {handover} hanya diberikan kepada {whom}; akun {caller} {neither}.",
        "link": "Tautan unduhan paket serah terima {handover} hanya diterbitkan untuk {whom}; akun {caller} "
                "{neither}.",
        "download": "Paket serah terima {handover} hanya dapat diunduh oleh {whom}; akun {caller} {neither}.",
    },
    "en": {
        "password": "the package password of handover {handover} is released only to {whom}; account {caller} "
                    "{neither}",
        "link": "download links for the package of handover {handover} are issued only to {whom}; account "
                "{caller} {neither}",
        "download": "the package of handover {handover} may be downloaded only by {whom}; account {caller} {neither}",
    },
}
_WHOM = {
    "id": ("pemohon terverifikasi permintaan {request}", " atau penerima yang ditunjuk dalam permintaan itu"),
    "en": ("the verified requester of request {request}", " or the recipient named in that request"),
}
_NEITHER = {"id": ("bukan pemohon itu", "bukan keduanya"), "en": ("is not that requester", "is neither")}

_TEXT = {
    "released-once": {
        "id": "Kata sandi paket sudah diberikan pada {at}; kata sandi hanya diberikan satu kali.",
        "en": "the package password was already released, on {at}; it is released once only",
    },
    "released-concurrently": {
        "id": "Kata sandi paket baru saja diberikan melalui permintaan lain yang bersamaan; kata sandi hanya "
              "diberikan satu kali.",
        "en": "the package password was released by a concurrent request; it is released once only",
    },
    "no-password": {
        "id": "Tidak ada kata sandi paket yang disimpan untuk serah terima ini.",
        "en": "no package password is held for this handover",
    },
}


def language(accept_language: str | None, lang: str | None = None) -> Lang:
    """English when asked for (`lang=en`, or English preferred over Indonesian in Accept-Language), else
    Indonesian."""
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
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        candidate = (quality - i * 1e-6, "en" if primary == "en" else "id")
        if quality > 0 and (best is None or candidate[0] > best[0]):
            best = candidate
    return best[1] if best else "id"


def not_bound(lang: Lang, released: Released, *, handover_id: str, request_id: str, org: str, subject: str,
              has_recipient: bool) -> str:
    """Why the caller gets nothing: the release is bound to the requester (or the recipient named)."""
    whom, or_recipient = _WHOM[lang]
    return _NOT_BOUND[lang][released].format(
        handover=handover_id, caller=f"{subject} ({org})", neither=_NEITHER[lang][has_recipient],
        whom=whom.format(request=request_id) + (or_recipient if has_recipient else ""))


def text(lang: Lang, key: str, **values: str) -> str:
    return _TEXT[key][lang].format(**values)
