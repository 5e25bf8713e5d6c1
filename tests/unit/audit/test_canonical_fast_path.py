"""The fast canonical serialisation (`canonical_values`, used by the appender and `verify`) writes the
same bytes as the reference `canonical_bytes(canonical_fields(...))`, or refuses what it refuses, for
entries of both formats (1: no origin evidence; 2: with it)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from p3ke_audit.domain.entry import (
    FIELDS,
    FIELDS_V1,
    INSTANT_FIELDS,
    ORDER,
    ORIGIN_FIELDS,
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


def test_order_is_the_sorted_fields() -> None:
    assert list(ORDER) == sorted(FIELDS)


def _rows(origin: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({name: (st.one_of(instants, st.none(), scalars) if name in INSTANT_FIELDS
                                         else origin if name in ORIGIN_FIELDS else scalars) for name in ORDER})


@settings(max_examples=400, deadline=None)
@given(_rows(scalars))
def test_fast_path_equals_reference(row: dict[str, Any]) -> None:
    values = [row[name] for name in ORDER]
    assert _fast(values) == _reference(values)


@settings(max_examples=200, deadline=None)
@given(_rows(st.none()))
def test_fast_path_equals_reference_for_format_1(row: dict[str, Any]) -> None:
    """No origin evidence at all: the object of format 1, without the evidence's keys."""
    values = [row[name] for name in ORDER]
    fast = _fast(values)
    assert fast == _reference(values)
    if isinstance(fast, bytes):
        assert fast.startswith(b"{") and b'"v":1}' in fast and b'"envelope"' not in fast


@settings(max_examples=200, deadline=None)
@given(_rows(st.one_of(st.none(), st.text())), st.sampled_from(ORIGIN_FIELDS), st.text())
def test_fast_path_equals_reference_for_format_2(row: dict[str, Any], present: str, text: str) -> None:
    """Any evidence present (even partial): the object of format 2, every field in it."""
    row[present] = text
    values = [row[name] for name in ORDER]
    fast = _fast(values)
    assert fast == _reference(values)
    if isinstance(fast, bytes):
        assert b'"v":2}' in fast and all(f'"{name}":'.encode() in fast for name in FIELDS)


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
    assert _fast(values) is _reference(values)  # UnicodeEncodeError (or ValueError for a year before 1000)
