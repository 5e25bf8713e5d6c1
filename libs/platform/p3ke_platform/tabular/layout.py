"""Header matching: which column of a submitted table holds which field of a service's layout.

Real files spell headers in many ways (``NIK``, ``No. KK``, ``Kode Wilayah``, a UTF-8 BOM in front);
a header is normalised (lower case, every run of non-alphanumerics to ``_``) and looked up among the
canonical names and the aliases of a ``HeaderVocabulary``. The vocabulary (names, aliases) belongs
to each service; the matching rules are the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from p3ke_platform.tabular.errors import Explained

MIN_HEADER_SCORE = 3
"""A row naming at least this many distinct fields is taken as the header row."""

UNKNOWN_SHOWN = 20
"""How many ignored column names a note lists before it ends with `` …``."""

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


class LayoutError(Explained):
    """The table's columns do not fit the expected layout; the message says why (column names only, never
    values), from the ``findings`` catalogue (``file.<reason>``)."""


def normalise_header(header: str) -> str:
    """``" No. KK "`` -> ``"no_kk"``: lower case, every run of other characters (BOM, blanks, dots) one ``_``,
    none at either end."""
    return _NON_ALNUM.sub("_", header.strip().lstrip("\ufeff").lower()).strip("_")


def shown_names(names: Sequence[str], most: int = UNKNOWN_SHOWN) -> str:
    """The names for a note: the first ``most`` joined by commas, `` …`` when there are more."""
    return ", ".join(names[:most]) + (" …" if len(names) > most else "")


@dataclass
class HeaderMatch:
    """The columns of one header row, matched."""

    positions: dict[str, int]  # canonical name -> 0-based position, in the order met in the row
    unknown: list[str] = field(default_factory=list)  # non-blank headers that name no field (stripped, cut to 60)


@dataclass(frozen=True)
class HeaderVocabulary:
    """The column names a service accepts: its canonical field names and the aliases that map to them.

    An alias may map to a name outside ``names`` (it is then unknown, like any header naming no field).
    """

    names: frozenset[str]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def canonical(self, header: str) -> str | None:
        """The field a header names, or None."""
        name = normalise_header(header)
        name = self.aliases.get(name, name)
        return name if name in self.names else None

    def score(self, headers: Sequence[str]) -> int:
        """How many distinct fields a row names (0 for a data row): the test for a header row."""
        return len({c for c in (self.canonical(h) for h in headers) if c})

    def match(self, headers: Sequence[str]) -> HeaderMatch:
        """Map a header row; raises ``LayoutError`` when two columns hold the same field."""
        positions: dict[str, int] = {}
        unknown: list[str] = []
        for i, header in enumerate(headers):
            name = self.canonical(header)
            if name is None:
                if header.strip():
                    unknown.append(header.strip()[:60])
                continue
            if name in positions:
                raise LayoutError(key="file.columns_twice", first=positions[name] + 1, second=i + 1, name=name)
            positions[name] = i
        return HeaderMatch(positions, unknown)


__all__ = ["MIN_HEADER_SCORE", "UNKNOWN_SHOWN", "HeaderMatch", "HeaderVocabulary", "LayoutError",
           "normalise_header", "shown_names"]
