"""One log entry as the tree sees it: its canonical serialisation and leaf hash.

The leaf of entry `i` is `SHA-256(0x00 || canonical(entry))` where `canonical` is the UTF-8 JSON of
the object holding `"v"` (the format) and exactly the fields of that format (`FIELDS_V1` or `FIELDS`). Three
formats, all still valid (a row's format never changes, so its leaf hash never does):

* **3** (every entry appended since migration 0005): the RFC 8785 (JCS) serialisation of the object
  `{"v": 3, <every field of FIELDS>}`, so an auditor can rebuild the bytes with any JCS library from the object
  the entries API and the bundles return (`canonical_fields`). Strings as stored (instants as UTC
  `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always six fraction digits), integers as JSON numbers, absent values `null`.
  JCS numbers are IEEE doubles: an integer beyond +-(2^53 - 1) (`record_count`, `kafka_partition`,
  `leaf_index`) is written as the JSON *string* of its decimal digits, so it survives any JCS library. A
  string holding a lone surrogate (not Unicode text) has no JCS form and is refused (`EntryFormatError`).
* **2** (entries appended from the signing of events until migration 0005): the same fields, `"v":2`, with
  Python's `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`. For every such entry
  whose integers are within +-(2^53 - 1) these are the JCS bytes too (the keys are ASCII; the strings are
  escaped exactly as JCS escapes them); beyond that the integer is written in decimal.
* **1** (entries of a log that predates signing): the fields of `FIELDS_V1` only, as format 2 writes them,
  `payload` being sorted-key compact JSON of the data as the service serialised it.

Formats 2 and 3 carry the origin evidence: `envelope` (the RFC 8785 JCS of the event's signed CloudEvents
attributes: the signing payload without `data`), `signature` (the JWS of the `ce_signature` header) and
`key_id` (its `kid`); `payload` is the JCS of the event's data exactly as signed. So the leaf commits to
everything needed to verify the origin again: the signed bytes are `envelope` with the member
`"data":<payload>` inserted in key order (`origin.signing_payload`), i.e. JCS({**envelope, "data": payload}).
Every field is in the leaf, `leaf_index` included (an entry moved elsewhere no longer matches its leaf).

A row's format is its `leaf_format` column; null (rows from before migration 0005) means 1 when `envelope`,
`signature` and `key_id` are all null, else 2 (a format 2 or 3 row with partly missing evidence hashes with
nulls, and `verify` names it; one with none at all, or a format 1 row with evidence, has no canonical form).
The database key `seq` and the derived `leaf_hash` are not part of any format. Every other column of
`audit_entries` is in `FIELDS` (or is `leaf_format`, the `"v"`), and a test keeps the lists equal. The same
functions run in the service, in `p3ke audit verify` and in the offline bundle verifier.

`canonical_values` is the hot path (the appender and `verify`): it takes the values in `ORDER` (the object's
keys in serialisation order, the last one, `leaf_format`, standing for `"v"`, which sorts last) and fills
the fixed template of the row's format, producing exactly the bytes of `canonical_bytes(canonical_fields(...))`
(a test compares the two on generated rows); any value it does not handle inline (a subclass, a float, a
zone-less instant, a lone surrogate...) sends the whole row through the reference functions above.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from p3ke_platform.tlog.merkle import LEAF_PREFIX, leaf_hash
from p3ke_schemas.jcs import MAX_SAFE_INTEGER, canonicalize

FORMAT_VERSION = 3  # what new entries are written in
FORMAT_COLUMN = "leaf_format"  # the column that stores a row's format (its "v"); null: derived (1 or 2)
FIELDS_V1: tuple[str, ...] = (
    "leaf_index", "event_id", "event_type", "source", "service", "actor_org", "actor_subject",
    "actor_roles", "action", "resource_type", "resource_id", "outcome", "program", "agreement_id",
    "record_count", "occurred_at", "recorded_at", "payload", "kafka_partition",
)
ORIGIN_FIELDS: tuple[str, ...] = ("envelope", "signature", "key_id")
FIELDS: tuple[str, ...] = (*FIELDS_V1, *ORIGIN_FIELDS)  # formats 2 and 3: every stored column but seq, leaf_hash
FIELDS_OF = {1: FIELDS_V1, 2: FIELDS, 3: FIELDS}
INSTANT_FIELDS = frozenset({"occurred_at", "recorded_at"})


class EntryFormatError(ValueError):
    """An entry with no canonical form in its format (the message says which field and why)."""


_KEYS = {version: frozenset({"v", *fields}) for version, fields in FIELDS_OF.items()}
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_KNOWN = ", ".join(str(v) for v in FIELDS_OF)


def instant(value: datetime | str) -> str:
    """The canonical text of an instant; a naive datetime is taken as UTC (SQLite keeps no zone)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.utcoffset():
        value = value.astimezone(UTC)
    if value.year < 1000:
        raise ValueError("instants before the year 1000 have no canonical form")
    return value.isoformat(timespec="microseconds")[:26] + "Z"  # YYYY-MM-DDTHH:MM:SS.ffffff


def _has_evidence(row: Mapping[str, Any]) -> bool:
    return any(row.get(name) is not None for name in ORIGIN_FIELDS)


def format_of(row: Mapping[str, Any]) -> int:
    """The leaf format of a stored row: its `leaf_format`, or (null, rows from before migration 0005) 1 for an
    entry without origin evidence (all of envelope, signature, key_id null), else 2."""
    stored = row.get(FORMAT_COLUMN)
    if stored is None:
        return 2 if _has_evidence(row) else 1
    if type(stored) is not int or stored not in FIELDS_OF:
        raise EntryFormatError(f"format leaf {str(stored)[:20]!r} tidak dikenal (dikenal: {_KNOWN}) / "
                               f"unknown leaf format {str(stored)[:20]!r} (known: {_KNOWN})")
    return stored


def _no_evidence(version: int) -> EntryFormatError:
    return EntryFormatError(f"entri format {version} wajib membawa bukti asalnya (envelope, signature, key_id) / "
                            f"an entry of format {version} carries its origin evidence (envelope, signature, key_id)")


def _unexpected_evidence() -> EntryFormatError:
    return EntryFormatError("entri format 1 tidak membawa bukti asal, tetapi baris ini memilikinya / an entry of "
                            "format 1 carries no origin evidence, but this row has some (envelope, signature, key_id)")


def canonical_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The entry as the JSON object the leaf commits to (what the entries API and an exported bundle carry)."""
    version = format_of(row)
    if version == 1 and _has_evidence(row):
        raise _unexpected_evidence()
    out: dict[str, Any] = {"v": version}
    for name in FIELDS_OF[version]:
        value = row.get(name)
        kind = type(value)
        if kind is str or kind is int or value is None:
            if name in INSTANT_FIELDS and value is not None:
                value = instant(value)
        elif name in INSTANT_FIELDS and isinstance(value, datetime):
            value = instant(value)
        elif not isinstance(value, int | str) or isinstance(value, bool):
            raise TypeError(f"{name}: {kind.__name__} has no canonical form")
        if version == 3 and isinstance(value, int) and not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            value = str(int(value))  # JCS numbers are doubles: a larger integer travels as its decimal string
        out[name] = value
    return out


def _lone_surrogate(fields: Mapping[str, Any]) -> EntryFormatError:
    """The error naming the first string that UTF-8 cannot encode (without quoting it: it may be personal)."""
    for name in sorted(fields):
        value = fields[name]
        if isinstance(value, str):
            for i, char in enumerate(value):
                if "\ud800" <= char <= "\udfff":
                    return EntryFormatError(
                        f"{name}: surrogate tunggal U+{ord(char):04X} pada posisi {i} bukan teks Unicode yang sah "
                        f"(RFC 8785 menolaknya) / {name}: a lone surrogate U+{ord(char):04X} at position {i} is not "
                        "valid Unicode text (RFC 8785 refuses it)")
    return EntryFormatError("teks bukan Unicode yang sah / text that is not valid Unicode")


def _check_jcs_values(fields: Mapping[str, Any]) -> None:
    """Format 3 members are strings, null, or integers JCS keeps exact."""
    for name, value in fields.items():
        if value is None or isinstance(value, str):
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise EntryFormatError(f"{name}: format 3 hanya memuat teks, bilangan bulat atau null / format 3 holds "
                                   f"strings, integers and null only, not {type(value).__name__}")
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise EntryFormatError(f"{name}: bilangan bulat di luar ±(2^53−1) ditulis sebagai teks desimal dalam "
                                   "format 3 / an integer beyond ±(2^53−1) is written as a decimal string in format 3")


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    """Serialise an object built by `canonical_fields` (or read back from a bundle); format 3 as RFC 8785."""
    version = fields.get("v")
    if type(version) is not int or version not in _KEYS:
        raise EntryFormatError(f"format entri {str(version)[:20]!r} tidak dikenal (dikenal: {_KNOWN}) / "
                               f"unknown entry format {str(version)[:20]!r} (known: {_KNOWN})")
    if fields.keys() != _KEYS[version]:
        raise EntryFormatError(f"entri format {version} harus memuat tepat medan kanoniknya / an entry of format "
                               f"{version} must have exactly its canonical fields")
    if version >= 2 and not _has_evidence(fields):
        raise _no_evidence(version)
    try:
        if version == 3:
            _check_jcs_values(fields)
            return canonicalize(fields)
        return _ENCODER.encode(fields).encode()
    except ValueError as exc:  # CanonicalizationError or UnicodeEncodeError: a lone surrogate
        if isinstance(exc, EntryFormatError):
            raise
        raise _lone_surrogate(fields) from None


# The fast path: the values of a row in ORDER, which is the canonical object's keys in serialisation order
# (sorted) with `leaf_format` last in the place of "v" (which sorts after every field); and the object of
# each format as a %-template with one slot per member ("v" included, filled with the format).
ORDER: tuple[str, ...] = (*sorted(FIELDS), FORMAT_COLUMN)
assert sorted(_KEYS[2])[-1] == "v"
_TEMPLATES = {version: "{" + ",".join(f"{_ENCODER.encode(k)}:%s" for k in sorted(_KEYS[version])) + "}"
              for version in FIELDS_OF}
_SLOTS: dict[int, tuple[int, ...] | None] = {  # the values of ORDER each format's template takes (None: all)
    1: (*(i for i, name in enumerate(ORDER) if name in FIELDS_V1), len(ORDER) - 1), 2: None, 3: None}
_VERSION_TEXT = {version: str(version) for version in FIELDS_OF}
_N = len(ORDER)
_F = ORDER.index(FORMAT_COLUMN)
_ORIGIN_SLOTS = tuple(ORDER.index(name) for name in ORIGIN_FIELDS)
_INSTANT_SLOTS = tuple(i for i, name in enumerate(ORDER) if name in INSTANT_FIELDS)
try:
    from _json import encode_basestring as _json_string  # C; what JSONEncoder(ensure_ascii=False) uses
except ImportError:  # pragma: no cover - CPython always has it
    from json.encoder import py_encode_basestring as _json_string
_int_text = int.__repr__  # what the encoder writes for an int
_E, _S, _K = _ORIGIN_SLOTS


def _safe_int_text(value: int) -> str:
    """An int as format 3 writes it: a JSON number within +-(2^53 - 1), else the string of its digits."""
    text = _int_text(value)
    return text if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else '"' + text + '"'


def _instant_text(value: Any) -> str | None:
    """The JSON text of an instant for the fast path; None when the reference path must decide."""
    if type(value) is datetime and value.year >= 1000:  # naive (SQLite) is UTC, as in `instant`
        if value.tzinfo is not None and value.utcoffset():
            value = value.astimezone(UTC)
            if value.year < 1000:
                return None
        return '"' + value.isoformat(timespec="microseconds")[:26] + 'Z"'
    return "null" if value is None else None


def _reference(values: Sequence[Any]) -> bytes:
    return canonical_bytes(canonical_fields(dict(zip(ORDER, values, strict=True))))


def canonical_values(values: Sequence[Any]) -> bytes:
    """`canonical_bytes(canonical_fields(dict(zip(ORDER, values))))`, fast: `values` in ORDER."""
    if len(values) != _N:
        return _reference(values)
    absent = values[_E] is None and values[_S] is None and values[_K] is None
    version = values[_F]
    if version is None:
        version = 1 if absent else 2
    elif type(version) is not int or version not in _VERSION_TEXT or (version == 1) is not absent:
        return _reference(values)  # refuses it, saying why
    number = _safe_int_text if version == 3 else _int_text
    parts = [_json_string(v) if type(v) is str else "null" if v is None else number(v) if type(v) is int
             else "" for v in values]
    for slot in _INSTANT_SLOTS:
        parts[slot] = _instant_text(values[slot]) or ""
    parts[_F] = _VERSION_TEXT[version]
    if "" in parts:  # something only the reference path handles (or refuses)
        return _reference(values)
    slots = _SLOTS[version]
    text = _TEMPLATES[version] % (tuple(parts) if slots is None else tuple([parts[i] for i in slots]))
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: refused, naming the field
        return _reference(values)


def entry_leaf_hash(row: Mapping[str, Any]) -> bytes:
    return leaf_hash(canonical_values([row.get(name) for name in ORDER]))


def canonical_leaf_input(values: Sequence[Any]) -> bytes:
    """0x00 || canonical entry: what the leaf hash is taken of (values in ORDER)."""
    return LEAF_PREFIX + canonical_values(values)
