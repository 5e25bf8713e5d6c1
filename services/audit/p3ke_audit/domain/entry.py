"""One log entry as the tree sees it: its canonical serialisation and leaf hash.

The leaf of entry `i` is `SHA-256(0x00 || canonical(entry))` where `canonical` is the UTF-8 JSON of
the object holding `"v"` (the format) and exactly the fields of that format (`FIELDS_V1` or `FIELDS`), with

* keys sorted by code point, no whitespace (separators `,` and `:`), non-ASCII left as UTF-8;
* strings as they are stored, integers as decimal, absent values as `null`;
* instants as UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fraction digits);
* `payload` as the stored text, so the leaf commits to those exact bytes;
* `leaf_index`, the entry's position, so an entry moved to another place no longer matches its leaf.

Two formats:

* **2** (every entry appended since events are signed): the fields of format 1 plus the origin evidence,
  `envelope` (the RFC 8785 JCS of the event's signed CloudEvents attributes: the signing payload without
  `data`), `signature` (the JWS of the `ce_signature` header) and `key_id` (its `kid`); `payload` is the JCS
  of the event's data exactly as signed. So the leaf commits to everything needed to verify the origin
  again: the signed bytes are `envelope` with the member `"data":<payload>` inserted in key order
  (`origin.signing_payload`), i.e. JCS({**envelope, "data": payload}).
* **1** (entries of a log that predates signing): the fields of `FIELDS_V1` only, `payload` being sorted-key
  compact JSON of the data as the service serialised it.

A row's format is 1 when `envelope`, `signature` and `key_id` are all null, else 2 (a format 2 row with
missing evidence hashes with nulls, and `verify` names it). The database key `seq` and the derived
`leaf_hash` are not part of either. Every other column of `audit_entries` is in `FIELDS`, and a test keeps
the two lists equal. The same functions run in the service, in `p3ke audit verify` and in the offline bundle
verifier.

`canonical_values` is the hot path (the appender and `verify`): it takes the values in key order
(`ORDER`, every field of format 2) and fills the fixed template of the row's format, producing exactly the
bytes of `canonical_bytes(canonical_fields(...))` (a test compares the two on generated rows); any value it
does not handle inline (a subclass, a float, a zone-less instant...) sends the whole row through the
reference functions above.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from p3ke_platform.tlog.merkle import LEAF_PREFIX, leaf_hash

FORMAT_VERSION = 2  # what new entries are written in
FIELDS_V1: tuple[str, ...] = (
    "leaf_index", "event_id", "event_type", "source", "service", "actor_org", "actor_subject",
    "actor_roles", "action", "resource_type", "resource_id", "outcome", "program", "agreement_id",
    "record_count", "occurred_at", "recorded_at", "payload", "kafka_partition",
)
ORIGIN_FIELDS: tuple[str, ...] = ("envelope", "signature", "key_id")
FIELDS: tuple[str, ...] = (*FIELDS_V1, *ORIGIN_FIELDS)  # format 2: every stored column but seq and leaf_hash
FIELDS_OF = {1: FIELDS_V1, 2: FIELDS}
INSTANT_FIELDS = frozenset({"occurred_at", "recorded_at"})


_KEYS = {version: frozenset({"v", *fields}) for version, fields in FIELDS_OF.items()}
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


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


def format_of(row: Mapping[str, Any]) -> int:
    """1 for an entry without origin evidence (all of envelope, signature, key_id null), else 2."""
    return 1 if all(row.get(name) is None for name in ORIGIN_FIELDS) else 2


def canonical_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The entry as the JSON object the leaf commits to (what an exported bundle carries)."""
    version = format_of(row)
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
        out[name] = value
    return out


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    """Serialise an object built by `canonical_fields` (or read back from a bundle)."""
    version = fields.get("v")
    if type(version) is not int or version not in _KEYS:
        raise ValueError(f"unknown entry format {str(version)[:20]!r} (known: 1, 2)")
    if fields.keys() != _KEYS[version]:
        raise ValueError(f"an entry of format {version} must have exactly its canonical fields")
    if version == 2 and format_of(fields) == 1:
        raise ValueError("an entry of format 2 carries its origin evidence (envelope, signature, key_id)")
    return _ENCODER.encode(fields).encode()


# The fast path: the canonical object's keys in serialisation order (sorted; "v" has a fixed value),
# and the object of each format as a %-template with one slot per field of that format.
ORDER: tuple[str, ...] = tuple(sorted(FIELDS))
_TEMPLATES = {version: "{" + ",".join(
    f"{_ENCODER.encode(k)}:{version}" if k == "v" else f"{_ENCODER.encode(k)}:%s" for k in sorted(_KEYS[version])
) + "}" for version in FIELDS_OF}
_TEMPLATE_V1, _TEMPLATE_V2 = _TEMPLATES[1], _TEMPLATES[2]
_V1_SLOTS = tuple(i for i, name in enumerate(ORDER) if name in FIELDS_V1)  # a format 1 entry's values in ORDER
_ORIGIN_SLOTS = tuple(ORDER.index(name) for name in ORIGIN_FIELDS)
_INSTANT_SLOTS = tuple(i for i, name in enumerate(ORDER) if name in INSTANT_FIELDS)
try:
    from _json import encode_basestring as _json_string  # C; what JSONEncoder(ensure_ascii=False) uses
except ImportError:  # pragma: no cover - CPython always has it
    from json.encoder import py_encode_basestring as _json_string
_int_text = int.__repr__  # what the encoder writes for an int
_E, _S, _K = _ORIGIN_SLOTS


def _instant_text(value: Any) -> str | None:
    """The JSON text of an instant for the fast path; None when the reference path must decide."""
    if type(value) is datetime and value.year >= 1000:  # naive (SQLite) is UTC, as in `instant`
        if value.tzinfo is not None and value.utcoffset():
            value = value.astimezone(UTC)
            if value.year < 1000:
                return None
        return '"' + value.isoformat(timespec="microseconds")[:26] + 'Z"'
    return "null" if value is None else None


def canonical_values(values: Sequence[Any]) -> bytes:
    """`canonical_bytes(canonical_fields(dict(zip(ORDER, values))))`, fast: `values` in ORDER."""
    parts = [_json_string(v) if type(v) is str else "null" if v is None else _int_text(v) if type(v) is int
             else "" for v in values]
    if len(parts) != len(ORDER):
        return canonical_bytes(canonical_fields(dict(zip(ORDER, values, strict=True))))
    for slot in _INSTANT_SLOTS:
        parts[slot] = _instant_text(values[slot]) or ""
    if "" in parts:  # something only the reference path handles (or refuses)
        return canonical_bytes(canonical_fields(dict(zip(ORDER, values, strict=True))))
    if values[_E] is None and values[_S] is None and values[_K] is None:  # format 1
        return (_TEMPLATE_V1 % tuple([parts[i] for i in _V1_SLOTS])).encode()
    return (_TEMPLATE_V2 % tuple(parts)).encode()


def entry_leaf_hash(row: Mapping[str, Any]) -> bytes:
    return leaf_hash(canonical_values([row.get(name) for name in ORDER]))


def canonical_leaf_input(values: Sequence[Any]) -> bytes:
    """0x00 || canonical entry: what the leaf hash is taken of (values in ORDER)."""
    return LEAF_PREFIX + canonical_values(values)
