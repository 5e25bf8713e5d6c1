"""The short justification a request carries beside its purpose code: checked before it goes anywhere.

A request's purpose is structured (a purpose code the agreement defines for the program); the justification is a
short note for the BAST. It travels on Kafka and into the permanent audit log, where a NIK or a name typed into it
could never be erased (UU PDP Art. 43-44 cannot be honoured in an append-only log). So before a request is
published or recorded, `problems(text)` must be empty:

- **length**: at most `MAX_CHARS` (280) characters, at least `MIN_CHARS` (10), one line of plain text;
- **no NIK-like number**: no run of `NIK_LIKE_DIGITS` (8) or more digits, also when single spaces or dots separate
  the digits (`3201 0101 0101`, `3201.0101.0101`). Write dates as 2026-02-01 (hyphens split the run) and
  quantities without thousands separators, or in words ("12 ribu");
- **no person's name**: there is no list of names to compare with (comparing with the register's `nama` would be
  a lookup of personal data), so a heuristic refuses the ways Indonesian text names a person: an honorific or
  form of address followed by a capitalised word ("Bapak Budi", "Ibu Sri", "Pak Joko", "Sdr. Andi", "Sdri. Rina",
  "Tn. Ahmad", "Ny. Siti", "Saudara Dedi", "Mbak Ani"), "an." / "a.n." / "atas nama" before a capitalised word,
  and "Nama:" followed by anything. Places and offices after an honorific ("Ibu Kota", "Pak RT", "Bapak Bupati")
  pass. A name written
  without any of these forms is not caught: the check stops the common case, the requester stays responsible.

Messages are Indonesian first, then English; they never quote the offending text (it may be the personal data).
Shared by targeting's API, its event handler and `p3ke platform request`.
"""

from __future__ import annotations

import re

MIN_CHARS = 10
MAX_CHARS = 280
NIK_LIKE_DIGITS = 8

_NIK_LIKE = re.compile(r"\d(?:[ .]?\d){" + str(NIK_LIKE_DIGITS - 1) + ",}")
_HONORIFICS = (r"bapak|bpk\.?|pak|ibu|bu|saudara|saudari|sdr\.?|sdri\.?|tuan|tn\.?|nyonya|ny\.?|nona|nn\.?|"
               r"mas|mbak|almarhum|almarhumah|alm\.?|almh\.?")
_ADDRESSED = re.compile(r"(?<![\w.])(?i:" + _HONORIFICS + r")\s+([A-Z][\w'’.-]*)")
_ON_BEHALF = re.compile(r"(?<![\w.])(?i:a\.\s?n\.|an\.|atas\s+nama)\s*[A-Z]")
_NAME_LABEL = re.compile(r"(?<![\w.])(?i:nama)\s*:\s*\S")
_NOT_A_NAME = frozenset({"Kota", "Negara", "Pertiwi", "RT", "RW", "Lurah", "Camat", "Kades", "Bupati", "Walikota",
                         "Gubernur", "Menteri", "Kepala", "Direktur", "Deputi", "Sekretaris"})
"""Capitalised words after an honorific that name no person but a place or an office ("Ibu Kota", "Pak RT",
"Bapak Bupati")."""


def problems(text: str, field: str = "justification", *, min_chars: int = MIN_CHARS,
             max_chars: int = MAX_CHARS) -> list[str]:
    """What is wrong with a justification, or another short text kept forever (`field` names it in the messages;
    `min_chars`/`max_chars` its bounds, a justification's by default; empty: it may be published and recorded).
    Never quotes the text."""
    found = []
    if len(text) > max_chars:
        found.append(f"{field} terlalu panjang: {len(text)} karakter, paling banyak {max_chars}; tulis catatan "
                     f"singkat, tujuan permintaan dinyatakan dengan kode purpose / the {field} is too long: "
                     f"{len(text)} characters, at most {max_chars}; write a short note, the purpose is stated by the "
                     f"purpose code")
    if len(text.strip()) < min_chars:
        found.append(f"{field} terlalu pendek: paling sedikit {min_chars} karakter / the {field} is "
                     f"too short: at least {min_chars} characters")
    if any(c in text for c in "\r\n\t"):
        found.append(f"{field} harus satu baris teks / the {field} must be one line of text")
    if _NIK_LIKE.search(text):
        found.append(f"{field} memuat angka mirip NIK ({NIK_LIKE_DIGITS} digit atau lebih berturut-turut, juga "
                     f"bila dipisah spasi atau titik); data pribadi tidak boleh masuk catatan permintaan (tersimpan "
                     f"permanen di log audit); tulis tanggal sebagai 2026-02-01 dan jumlah tanpa pemisah ribuan / "
                     f"the {field} holds a NIK-like number ({NIK_LIKE_DIGITS} or more digits in a row, also "
                     f"with spaces or dots between them); personal data must not go into a request's note (it is "
                     f"kept forever in the audit log); write dates as 2026-02-01 and amounts without thousands "
                     f"separators")
    if _names_a_person(text):
        found.append(f"{field} tampaknya memuat nama orang (sapaan seperti Bapak, Ibu, Sdr., Tn., Ny., a.n. "
                     "atau label Nama: diikuti nama); data pribadi tidak boleh masuk catatan permintaan; sebut "
                     f"program, wilayah atau tahap, bukan orang / the {field} seems to name a person (a form of "
                     "address such as Bapak, Ibu, Sdr., Tn., Ny., a.n. or a Nama: label followed by a name); personal "
                     "data must not go into the note of a request; name the program, region or phase, not people")
    return found


def _names_a_person(text: str) -> bool:
    if _ON_BEHALF.search(text) or _NAME_LABEL.search(text):
        return True
    return any(match.group(1).rstrip(".") not in _NOT_A_NAME for match in _ADDRESSED.finditer(text))


def refusal(text: str, field: str = "justification") -> str | None:
    """All problems as one reason (None: the text is acceptable)."""
    found = problems(text, field)
    return "; ".join(found) if found else None
