"""RFC 8785 JSON Canonicalization Scheme (JCS): one byte string per JSON value.

What the event signatures (and the audit log's leaves) are computed over. An outside verifier uses any
JCS library (a test compares this one with the `rfc8785` package on generated values):

* object members sorted by their names' UTF-16 code units, no whitespace;
* strings with only `"`, `\\` and the control characters escaped (short forms where JSON has them,
  else `\\u00xx`), everything else as UTF-8;
* numbers as ECMAScript's `Number.prototype.toString` writes them (integers beyond 2^53 are refused:
  they would not survive a round trip through an IEEE double, I-JSON RFC 7493);
* `true`, `false`, `null`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

try:
    from _json import encode_basestring as _string  # C; escapes exactly what JCS escapes (ensure_ascii=False)
except ImportError:  # pragma: no cover - CPython always has it
    from json.encoder import py_encode_basestring as _string

MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalizationError(ValueError):
    """A value with no canonical JSON form (NaN, an integer beyond 2^53, a lone surrogate, a non-JSON type)."""


def canonicalize(value: Any) -> bytes:
    """The JCS bytes of a JSON value (dicts, lists/tuples, str, int, float, bool, None)."""
    parts: list[str] = []
    _write(value, parts)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError("a string holds a lone surrogate, which UTF-8 cannot encode") from exc


# Where JCS and Python's own sorted, compact JSON differ: names that sort differently by UTF-16 code unit than by
# code point (characters from U+E000 up, written raw or escaped), numbers with a fraction or exponent, and
# integers beyond 2^53. A document with none of them is written by the C encoder, byte for byte the same.
_SORTS_DIFFERENTLY = re.compile(rb"[\xee-\xf4]|\\u[dDeEfF]")


def _sorts_alike(raw: bytes) -> bool:
    """No name in `raw` can sort differently by UTF-16 code unit than by code point. An ASCII text without a
    `\\u` escape is answered without the regular expression (a 350 kB data-access event: 0.1 ms instead of 2)."""
    if raw.isascii() and b"\\u" not in raw:
        return True
    return not _SORTS_DIFFERENTLY.search(raw)


_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonicalize_json(text: bytes | str, members: Mapping[str, str] | None = None) -> bytes:
    """The JCS bytes of a JSON text; with `members`, of `{**members, "data": <the text's value>}`.

    The fast path for the common document (ASCII or BMP member names, integers only) lets the C encoder write
    it; anything else goes through `canonicalize`. A test holds the two to the `rfc8785` package's output.
    """
    exact = True

    def number(literal: str) -> float:
        nonlocal exact
        exact = False
        return float(literal)

    def integer(literal: str) -> int:
        nonlocal exact
        if len(literal) > 15:
            exact = False
        return int(literal)

    def constant(literal: str) -> Any:
        raise CanonicalizationError(f"{literal} is not JSON")

    raw = text.encode() if isinstance(text, str) else text
    value = json.loads(raw, parse_float=number, parse_int=integer, parse_constant=constant)
    document = value if members is None else {**members, "data": value}
    if exact and _sorts_alike(raw) and (members is None or all(k.isascii() for k in members)):
        try:
            return _COMPACT.encode(document).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CanonicalizationError("a string holds a lone surrogate, which UTF-8 cannot encode") from exc
    return canonicalize(document)


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalizationError(f"integer {value} is beyond 2^53; send it as a string")
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(number(value))
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key in sorted(value, key=_utf16_key):
            if not isinstance(key, str):
                raise CanonicalizationError(f"object member name {key!r} is not a string")
            if not first:
                out.append(",")
            first = False
            out.append(_string(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise CanonicalizationError(f"{type(value).__name__} is not a JSON value")


def _utf16_key(name: Any) -> bytes:
    if not isinstance(name, str):
        raise CanonicalizationError(f"object member name {name!r} is not a string")
    return name.encode("utf-16-be", "surrogatepass")


def number(value: float) -> str:
    """ECMAScript Number::toString for a finite double (ECMA-262 7.1.12.1), from Python's shortest repr."""
    if math.isnan(value) or math.isinf(value):
        raise CanonicalizationError("NaN and Infinity have no JSON form")
    if value == 0:
        return "0"
    if value < 0:
        return "-" + number(-value)
    digits, exponent = _shortest(value)  # value = 0.digits × 10^exponent
    k = len(digits)
    n = exponent
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    sign = "+" if n - 1 >= 0 else "-"
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{mantissa}e{sign}{abs(n - 1)}"


def _shortest(value: float) -> tuple[str, int]:
    """The shortest round-tripping decimal digits of a positive double, and n with value = 0.d1d2… × 10^n."""
    text = repr(value)  # shortest round-trip digits (David Gay), as ECMAScript requires
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    exponent = int(exp) if exp else 0
    digits = (whole + frac).lstrip("0")
    lead = len(whole.lstrip("0")) if whole.strip("0") else -(len(frac) - len(frac.lstrip("0")))
    digits = digits.rstrip("0") or "0"
    return digits, lead + exponent
