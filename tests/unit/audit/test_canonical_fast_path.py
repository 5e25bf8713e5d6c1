"""The fast canonical serialisation (`canonical_values`, used by the appender and `verify`) writes the
same bytes as the reference `canonical_bytes(canonical_fields(...))`, or refuses what it refuses, for
entries of every format (1: no origin evidence; 2: with it; 3: RFC 8785, with it), the stored format
(`leaf_format`) given or derived."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from p3ke_audit.domain.entry import (
    FIELDS,
    FIELDS_V1,
    FORMAT_COLUMN,
    INSTANT_FIELDS,
    ORDER,
    ORIGIN_FIELDS,
    EntryFormatError,
    canonical_bytes,
    canonical_fields,
    canonical_values,
)


class Kind(enum.IntEnum):
    ONE = 1


class Text(str):
    pass


zones = st.sampled_from([None, UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-9, minutes=-30))])
instants = st.builds(lambda d, tz: d.replace(tzinfo=tz), st.datetimes(min_value=datetime(1, 1, 2)), zones)
scalars = st.one_of(
    st.none(), st.text(), st.text(alphabet=st.sampled_from('"\\/\x00\x1f\x7f\u2028é𝄞 \n\t')),
    st.integers(), st.integers(min_value=-(10 ** 40), max_value=10 ** 40),
    st.booleans(), st.floats(allow_nan=False), st.just(Kind.ONE), st.builds(Text, st.text(max_size=5)),
    st.just(b"x"), instants,
)


def _reference(values: list[Any]) -> bytes | type[BaseException]:
    try:
        return canonical_bytes(canonical_fields(dict(zip(ORDER, values, strict=True))))
    except (AttributeError, TypeError, ValueError, UnicodeEncodeError) as exc:
        return type(exc)


def _fast(values: list[Any]) -> bytes | type[BaseException]:
    try:
        return canonical_values(values)
    except (AttributeError, TypeError, ValueError, UnicodeEncodeError) as exc:
        return type(exc)


def test_order_is_the_sorted_fields_then_the_format() -> None:
    """The object's keys in serialisation order: the sorted fields, then "v" (stored as leaf_format)."""
    assert list(ORDER) == [*sorted(FIELDS), FORMAT_COLUMN] and sorted([*FIELDS, "v"])[-1] == "v"


formats = st.one_of(st.sampled_from([None, 1, 2, 3]), scalars)


def _rows(origin: st.SearchStrategy[Any], version: st.SearchStrategy[Any] = formats,
          values: st.SearchStrategy[Any] = scalars) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({name: (st.one_of(instants, st.none(), values) if name in INSTANT_FIELDS
                                         else origin if name in ORIGIN_FIELDS else version if name == FORMAT_COLUMN
                                         else values) for name in ORDER})


@settings(max_examples=400, deadline=None)
@given(_rows(scalars))
def test_fast_path_equals_reference(row: dict[str, Any]) -> None:
    values = [row[name] for name in ORDER]
    assert _fast(values) == _reference(values)


@settings(max_examples=200, deadline=None)
@given(_rows(st.none(), st.none()))
def test_fast_path_equals_reference_for_format_1(row: dict[str, Any]) -> None:
    """No origin evidence at all (and no stored format): the object of format 1, without the evidence's keys."""
    values = [row[name] for name in ORDER]
    fast = _fast(values)
    assert fast == _reference(values)
    if isinstance(fast, bytes):
        assert fast.startswith(b"{") and b'"v":1}' in fast and b'"envelope"' not in fast


@settings(max_examples=200, deadline=None)
@given(_rows(st.one_of(st.none(), st.text()), st.sampled_from([None, 2])), st.sampled_from(ORIGIN_FIELDS), st.text())
def test_fast_path_equals_reference_for_format_2(row: dict[str, Any], present: str, text: str) -> None:
    """Any evidence present (even partial), format stored as 2 or not stored: format 2, every field in it."""
    row[present] = text
    values = [row[name] for name in ORDER]
    fast = _fast(values)
    assert fast == _reference(values)
    if isinstance(fast, bytes):
        assert b'"v":2}' in fast and all(f'"{name}":'.encode() in fast for name in FIELDS)


big = st.one_of(st.integers(min_value=2**53 - 3, max_value=2**70), st.integers(min_value=-(2**70),
                                                                                max_value=-(2**53) + 3))
jcs_values = st.one_of(st.none(), st.text(), st.text(alphabet=st.sampled_from('"\\/\x00\x1f\x7f\u2028é𝄞\ue000 \n\t')),
                       st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1), big)


@settings(max_examples=300, deadline=None)
@given(_rows(st.one_of(st.none(), st.text()), st.just(3), jcs_values), st.sampled_from(ORIGIN_FIELDS), st.text())
def test_format_3_is_rfc8785_of_the_object(row: dict[str, Any], present: str, text: str) -> None:
    """Format 3: the fast path, the reference and an independent JCS library (`rfc8785`) write the same bytes of
    the object `canonical_fields` returns; integers beyond 2^53 travel as decimal strings."""
    row[present] = text
    values = [row[name] for name in ORDER]
    fast = _fast(values)
    assert fast == _reference(values)
    if isinstance(fast, bytes):
        fields = canonical_fields(dict(zip(ORDER, values, strict=True)))
        assert fields["v"] == 3 and fast == rfc8785.dumps(fields)
        assert all(not isinstance(v, int) or abs(v) < 2**53 for v in fields.values())
        for name in FIELDS:
            if type(row[name]) is int and abs(row[name]) >= 2**53:
                assert fields[name] == str(row[name])


def test_the_formats_fields() -> None:
    assert set(FIELDS) == set(FIELDS_V1) | set(ORIGIN_FIELDS) and not set(FIELDS_V1) & set(ORIGIN_FIELDS)


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1),
       instants, st.integers())
def test_typical_entries_and_lone_surrogates(s: str, surrogate: str, at: datetime, n: int) -> None:
    row = {name: s for name in ORDER} | {"leaf_index": n, "record_count": n, "kafka_partition": None,
                                         "occurred_at": at, "recorded_at": at.isoformat()}
    values = [row[name] for name in ORDER]
    assert _fast(values) == _reference(values)
    values[ORDER.index("payload")] = surrogate
    assert _fast(values) is _reference(values)  # EntryFormatError (or ValueError for a year before 1000)
    values[ORDER.index(FORMAT_COLUMN)] = 3
    values[ORDER.index("key_id")] = "k"
    assert _fast(values) is _reference(values)


def test_a_lone_surrogate_is_refused_clearly_in_every_format() -> None:
    row = {name: "x" for name in ORDER} | {"leaf_index": 1, "record_count": 2, "kafka_partition": None,
                                            "occurred_at": None, "recorded_at": None, "actor_subject": "ab\udc80c"}
    for version in (None, 2, 3):
        values = [{**row, FORMAT_COLUMN: version}[name] for name in ORDER]
        for path in (_fast, _reference):
            assert path(values) is EntryFormatError
        try:
            canonical_values(values)
        except EntryFormatError as exc:
            message = str(exc)
        assert "actor_subject: surrogate tunggal U+DC80 pada posisi 2" in message
        assert "a lone surrogate U+DC80 at position 2 is not valid Unicode text (RFC 8785 refuses it)" in message
        assert "ab" not in message  # the text itself (perhaps personal) is not quoted
