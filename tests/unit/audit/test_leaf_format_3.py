"""Leaf format 3: the RFC 8785 (JCS) serialisation of the entry object, checked with the independent `rfc8785`
package; integers beyond 2^53 as decimal strings; what has no canonical form refused clearly; the README's worked
example recomputed."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from p3ke_audit.domain.entry import (
    FIELDS,
    FORMAT_COLUMN,
    ORDER,
    EntryFormatError,
    canonical_bytes,
    canonical_fields,
    canonical_values,
    entry_leaf_hash,
    format_of,
)
from p3ke_platform.tlog.merkle import leaf_hash
from tests.unit.audit.test_entry_and_bundle import EVIDENCE, row

README = Path(__file__).resolve().parents[3] / "services" / "audit" / "README.md"


def v3(i: int = 3, **kw: Any) -> dict[str, Any]:
    return row(i, **{**EVIDENCE, FORMAT_COLUMN: 3, **kw})


def test_format_3_is_jcs_of_the_object_and_differs_from_format_2_only_in_v() -> None:
    entry = v3(actor_subject="pétugas “7”", resource_id='a"b\\c\nd\x00\x1f\x7f\u2028😀', payload='{"k":"é"}')
    fields = canonical_fields(entry)
    assert fields["v"] == 3 and fields.keys() == {"v", *FIELDS}
    data = canonical_bytes(fields)
    assert data == rfc8785.dumps(fields) == canonical_values([entry.get(n) for n in ORDER])
    assert entry_leaf_hash(entry) == leaf_hash(rfc8785.dumps(fields))
    assert b'"resource_id":"a\\"b\\\\c\\nd\\u0000\\u001f\x7f\xe2\x80\xa8\xf0\x9f\x98\x80"' in data
    as_2 = canonical_bytes({**fields, "v": 2})
    assert as_2 == data.replace(b'"v":3}', b'"v":2}') and entry_leaf_hash({**entry, FORMAT_COLUMN: 2}) != \
        entry_leaf_hash(entry)
    assert entry_leaf_hash({**entry, FORMAT_COLUMN: None}) == leaf_hash(as_2)  # a row from before 0005: format 2


@pytest.mark.parametrize("name", ["record_count", "kafka_partition", "leaf_index"])
@pytest.mark.parametrize("value", [2**53, -(2**53), 2**63 - 1, 10**30])
def test_integers_beyond_2_53_are_written_as_decimal_strings(name: str, value: int) -> None:
    entry = v3(**{name: value})
    fields = canonical_fields(entry)
    assert fields[name] == str(value)
    assert canonical_values([entry.get(n) for n in ORDER]) == rfc8785.dumps(fields) == canonical_bytes(fields)
    assert f'"{name}":"{value}"'.encode() in canonical_bytes(fields)
    # the largest exact ones stay numbers
    edge = canonical_fields(v3(**{name: 2**53 - 1}))
    assert edge[name] == 2**53 - 1
    # an object claiming format 3 with the bare number (what a JCS library refuses) is refused, saying how
    with pytest.raises(EntryFormatError, match="written as a decimal string in format 3"):
        canonical_bytes({**fields, name: value})
    # formats 1 and 2 keep writing them as numbers (their bytes never change)
    assert f'"{name}":{value}'.encode() in canonical_bytes(canonical_fields({**entry, FORMAT_COLUMN: 2}))


@pytest.mark.parametrize(("change", "message"), [
    ({FORMAT_COLUMN: 1}, "format 1 carries no origin evidence"),
    ({FORMAT_COLUMN: 3, "envelope": None, "signature": None, "key_id": None}, "format 3 carries its origin evidence"),
    ({FORMAT_COLUMN: 7}, "unknown leaf format '7'"),
    ({FORMAT_COLUMN: True}, "unknown leaf format 'True'"),
    ({"payload": "x\ud800y"}, "payload: a lone surrogate U+D800 at position 1"),
])
def test_rows_with_no_canonical_form_are_refused_clearly(change: dict[str, Any], message: str) -> None:
    entry = v3(**change)
    for attempt in (lambda: canonical_bytes(canonical_fields(entry)),
                    lambda: canonical_values([entry.get(n) for n in ORDER]), lambda: entry_leaf_hash(entry)):
        with pytest.raises(EntryFormatError, match=re.escape(message)) as caught:
            attempt()
        assert " / " in str(caught.value)  # Indonesian, then English


@pytest.mark.parametrize("value", [True, 1.5, [1], {"a": 1}])
def test_a_format_3_object_holds_strings_integers_and_null_only(value: Any) -> None:
    fields = canonical_fields(v3())
    with pytest.raises(EntryFormatError, match="format 3 holds strings, integers and null only"):
        canonical_bytes({**fields, "actor_org": value})


def test_format_of_a_row() -> None:
    assert format_of(row(1)) == 1 and format_of(row(1, **EVIDENCE)) == 2 and format_of(v3()) == 3
    assert format_of(row(1, **{FORMAT_COLUMN: 2, **EVIDENCE})) == 2


def _readme_example() -> tuple[dict[str, Any], bytes, str, str]:
    text = README.read_text()
    section = text[text.index("Worked example"):]
    obj = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))  # type: ignore[union-attr]
    data = re.search(r"its JCS bytes.*?```\n(.*?)\n```", section, re.S).group(1).encode()  # type: ignore[union-attr]
    hashes = re.search(r"= `([0-9a-f]{64})` \(hex\),\n`([A-Za-z0-9+/=]{44})` \(base64", section)
    assert hashes is not None
    return obj, data, hashes.group(1), hashes.group(2)


def test_the_readmes_worked_example() -> None:
    obj, data, hex_hash, b64_hash = _readme_example()
    assert rfc8785.dumps(obj) == data == canonical_bytes(obj)
    digest = hashlib.sha256(b"\0" + data).digest()
    assert digest.hex() == hex_hash and leaf_hash(data) == digest
    assert base64.b64encode(digest).decode() == b64_hash
    # the stored row it comes from hashes the same through the service's fast path
    stored = {**{n: obj.get(n) for n in ORDER}, FORMAT_COLUMN: 3, "record_count": int(obj["record_count"])}
    for instant in ("occurred_at", "recorded_at"):
        stored[instant] = datetime.fromisoformat(obj[instant])
    assert entry_leaf_hash(stored) == digest
