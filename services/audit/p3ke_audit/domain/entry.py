"""One log entry as the tree sees it: its canonical serialisation and leaf hash.

The leaf of entry `i` is `SHA-256(0x00 || canonical(entry))` where `canonical` is the UTF-8 JSON of
the object holding exactly the fields of `FIELDS`, with

* keys sorted by code point, no whitespace (separators `,` and `:`), non-ASCII left as UTF-8;
* strings as they are stored, integers as decimal, absent values as `null`;
* instants as UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fraction digits);
* `payload` as the stored text (itself sorted-key compact JSON of the event's data), so the leaf
  commits to those exact bytes;
* `v`, the format version (1), and `leaf_index`, the entry's position, so an entry moved to
  another place no longer matches its leaf.

The database key `seq` and the derived `leaf_hash` are not part of it. Every other column of
`audit_entries` is, and a test keeps the two lists equal. The same function runs in the service,
in `p3ke audit verify` and in the offline bundle verifier.

`canonical_values` is the hot path (the appender and `verify`): it takes the values in key order
and fills a fixed template, producing exactly the bytes of `canonical_bytes(canonical_fields(...))`
(a test compares the two on generated rows); any value it does not handle inline (a subclass, a
float, a zone-less instant...) sends the whole row through the reference functions above.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from p3ke_audit.domain.merkle import LEAF_PREFIX, leaf_hash

FORMAT_VERSION = 1
FIELDS: tuple[str, ...] = (
    "leaf_index", "event_id", "event_type", "source", "service", "actor_org", "actor_subject",
    "actor_roles", "action", "resource_type", "resource_id", "outcome", "program", "agreement_id",
    "record_count", "occurred_at", "recorded_at", "payload", "kafka_partition",
)
INSTANT_FIELDS = frozenset({"occurred_at", "recorded_at"})


_KEYS = frozenset({"v", *FIELDS})
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


def canonical_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The entry as the JSON object the leaf commits to (what an exported bundle carries)."""
    out: dict[str, Any] = {"v": FORMAT_VERSION}
    for name in FIELDS:
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
    if fields.keys() != _KEYS:
        raise ValueError("an entry must have exactly the canonical fields")
    return _ENCODER.encode(fields).encode()


# The fast path: the canonical object's keys in serialisation order (sorted; "v" has a fixed value),
# and the object as a %-template with one slot per field of ORDER.
ORDER: tuple[str, ...] = tuple(k for k in sorted(_KEYS) if k != "v")
_TEMPLATE = "{" + ",".join(
    f"{_ENCODER.encode(k)}:{FORMAT_VERSION}" if k == "v" else f"{_ENCODER.encode(k)}:%s" for k in sorted(_KEYS)
) + "}"
_INSTANT_SLOTS = tuple(i for i, name in enumerate(ORDER) if name in INSTANT_FIELDS)
try:
    from _json import encode_basestring as _json_string  # C; what JSONEncoder(ensure_ascii=False) uses
except ImportError:  # pragma: no cover - CPython always has it
    from json.encoder import py_encode_basestring as _json_string
_int_text = int.__repr__  # what the encoder writes for an int


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
    for slot in _INSTANT_SLOTS:
        parts[slot] = _instant_text(values[slot]) or ""
    if "" in parts or len(parts) != len(ORDER):  # something only the reference path handles (or refuses)
        return canonical_bytes(canonical_fields(dict(zip(ORDER, values, strict=True))))
    return (_TEMPLATE % tuple(parts)).encode()


def entry_leaf_hash(row: Mapping[str, Any]) -> bytes:
    return leaf_hash(canonical_values([row.get(name) for name in ORDER]))


def canonical_leaf_input(values: Sequence[Any]) -> bytes:
    """0x00 || canonical entry: what the leaf hash is taken of (values in ORDER)."""
    return LEAF_PREFIX + canonical_values(values)
