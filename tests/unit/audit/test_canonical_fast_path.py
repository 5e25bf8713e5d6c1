"""The fast canonical serialisation (`canonical_values`, used by the appender and `verify`) writes the
same bytes as the reference `canonical_bytes(canonical_fields(...))`, or refuses what it refuses."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from p3ke_audit.domain.entry import FIELDS, INSTANT_FIELDS, ORDER, canonical_bytes, canonical_fields, canonical_values


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


@settings(max_examples=400, deadline=None)
@given(st.fixed_dictionaries({name: (st.one_of(instants, st.none(), scalars) if name in INSTANT_FIELDS
                                     else scalars) for name in ORDER}))
def test_fast_path_equals_reference(row: dict[str, Any]) -> None:
    values = [row[name] for name in ORDER]
    assert _fast(values) == _reference(values)


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
