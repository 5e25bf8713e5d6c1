"""The subject hash key ring: the HMAC keys that turn a NIK into a keyed reference (`subject_ref`), by version.

`P3KE_SUBJECT_HASH_KEYS` (or `P3KE_SUBJECT_HASH_KEYS_FILE`) lists `<id>:<secret>` entries, separated by commas or
line breaks; the first is the current key (every new reference is computed with it), the others are older keys
still needed to find references made with them. Without it, the single legacy `P3KE_SUBJECT_HASH_KEY` is key `k1`,
the id every reference made before key ids existed carries.

Rotation (`docs/operations` in the README): put the new key first (`k2:<new>,k1:<old>`); lookups compute a person's
reference under every key of the ring, so a trail spans both versions at once. Then the audit log's lookup index is
given old -> new reference pairs computed from the NIKs of the current snapshot (`p3ke subject-keys pairs` where the
snapshot is, then `p3ke audit map-subject-refs`; only references cross, never a NIK; `p3ke audit subject-keys` shows
what each key alone still finds). A key may leave the ring once every reference made with it is mapped or past its
retention period: a person not in the snapshot the pairs were computed from is found under an old key only while
that key stays in the ring. Not yet re-keyed: delivery's subject-reference files and targeting's ledgers keep the
key they were written with, so the old key must stay in the ring while they are held.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

LEGACY_KEY_ID = "k1"
"""The id of the single `P3KE_SUBJECT_HASH_KEY`, and of every reference recorded before key ids existed."""
KEY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,15}")
KEY_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,15}$"
MIN_SECRET_LENGTH = 16
SETTING = "P3KE_SUBJECT_HASH_KEYS"


class KeyRingError(ValueError):
    """A malformed key ring; the message (Indonesian, then English) names the entry, never a secret."""


def subject_ref(secret: str, nik: str) -> str:
    """A keyed hash of a NIK: finds a data subject's trail without storing the NIK in the log."""
    return hmac.new(secret.encode(), nik.strip().encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SubjectKey:
    id: str
    secret: str

    def ref(self, nik: str) -> str:
        return subject_ref(self.secret, nik)

    def __repr__(self) -> str:  # never the secret
        return f"SubjectKey(id={self.id!r})"


@dataclass(frozen=True)
class KeyRing:
    """The keys, current first. Immutable: a rotation is a new configuration (and a restart)."""

    keys: tuple[SubjectKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyRingError(f"{SETTING}: cincin kunci kosong / the key ring is empty")

    @property
    def current(self) -> SubjectKey:
        return self.keys[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(k.id for k in self.keys)

    def get(self, key_id: str | None) -> SubjectKey | None:
        """The key with this id (None or "" is the legacy `k1`); None when it is not (or no longer) in the ring."""
        wanted = key_id or LEGACY_KEY_ID
        return next((k for k in self.keys if k.id == wanted), None)

    def ref(self, nik: str) -> str:
        """The person's reference under the current key (what new records carry)."""
        return self.current.ref(nik)

    def refs(self, nik: str) -> dict[str, str]:
        """The person's reference under every key of the ring, by key id: what a lookup searches for."""
        return {k.id: k.ref(nik) for k in self.keys}

    def pairs(self, niks: Iterable[str], old_id: str, new_id: str | None = None) -> Iterable[tuple[str, str]]:
        """(old reference, new reference) of each NIK, from key `old_id` to `new_id` (default the current key):
        what the audit log's lookup index is given so `old_id` can leave the ring."""
        old, new = self.get(old_id), self.get(new_id or self.current.id)
        if old is None or new is None:
            missing = old_id if old is None else new_id
            raise KeyRingError(f"{SETTING}: kunci {missing!r} tidak ada di cincin / key {missing!r} is not in the ring")
        if old.id == new.id:
            raise KeyRingError(f"{SETTING}: kunci lama dan baru sama ({old.id}) / the old and new key are the same")
        for nik in niks:
            if nik and nik.strip():
                yield old.ref(nik), new.ref(nik)

    def __repr__(self) -> str:
        return f"KeyRing(ids={self.ids!r})"


def parse_key_ring(text: str) -> KeyRing:
    """`<id>:<secret>` entries separated by commas or line breaks, current first. Raises KeyRingError."""
    entries = [e.strip() for e in re.split(r"[,\r\n]+", text) if e.strip()]
    if not entries:
        raise KeyRingError(f"{SETTING}: tidak ada kunci; tulis <id>:<rahasia>, yang terbaru dulu / no key given; "
                           "write <id>:<secret>, the newest first")
    keys: list[SubjectKey] = []
    for n, entry in enumerate(entries, start=1):
        key_id, sep, secret = entry.partition(":")
        key_id, secret = key_id.strip(), secret.strip()
        if not sep or not key_id:
            raise KeyRingError(f"{SETTING}: entri ke-{n} tidak berbentuk <id>:<rahasia> / entry {n} is not "
                               "<id>:<secret>")
        if not KEY_ID.fullmatch(key_id):
            raise KeyRingError(f"{SETTING}: id kunci entri ke-{n} harus 1-16 huruf kecil, angka atau '-' (mis. k2) / "
                               f"the key id of entry {n} must be 1-16 lower-case letters, digits or '-' (e.g. k2)")
        if len(secret) < MIN_SECRET_LENGTH:
            raise KeyRingError(f"{SETTING}: rahasia kunci {key_id} kurang dari {MIN_SECRET_LENGTH} karakter / the "
                               f"secret of key {key_id} is shorter than {MIN_SECRET_LENGTH} characters")
        if any(k.id == key_id for k in keys):
            raise KeyRingError(f"{SETTING}: id kunci {key_id} muncul dua kali / key id {key_id} appears twice")
        if any(k.secret == secret for k in keys):
            raise KeyRingError(f"{SETTING}: kunci {key_id} memakai rahasia yang sama dengan kunci lain; kunci baru "
                               f"perlu rahasia baru / key {key_id} reuses another key's secret; a new key needs a "
                               "new secret")
        keys.append(SubjectKey(key_id, secret))
    return KeyRing(tuple(keys))


def legacy_ring(secret: str) -> KeyRing:
    """The ring of a deployment with only `P3KE_SUBJECT_HASH_KEY`: that key as `k1`."""
    return KeyRing((SubjectKey(LEGACY_KEY_ID, secret),))


# -- the reference-pairs file: what a NIK holder hands the audit log (references only) -----------------------------

PAIRS_MAGIC = "p3ke-subject-ref-pairs v1"
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class PairsHeader:
    old_key_id: str
    new_key_id: str


def write_pairs(out: TextIO, pairs: Iterable[tuple[str, str]], header: PairsHeader) -> int:
    """`<magic> <old id> <new id>`, then `<old ref> <new ref>` a line, each pair once; the count written."""
    out.write(f"{PAIRS_MAGIC} {header.old_key_id} {header.new_key_id}\n")
    seen: set[str] = set()
    for old, new in pairs:
        if old not in seen:
            seen.add(old)
            out.write(f"{old} {new}\n")
    return len(seen)


def read_pairs(lines: Iterable[str]) -> tuple[PairsHeader, Iterator[tuple[str, str]]]:
    """The header and the pairs (read as consumed). Raises KeyRingError naming the line that is wrong."""
    it = iter(lines)
    first = next(it, "").split()
    if len(first) != 4 or " ".join(first[:2]) != PAIRS_MAGIC or not all(KEY_ID.fullmatch(k) for k in first[2:]):
        raise KeyRingError(f"baris pertama bukan '{PAIRS_MAGIC} <id lama> <id baru>' / the first line is not "
                           f"'{PAIRS_MAGIC} <old id> <new id>'")
    header = PairsHeader(first[2], first[3])

    def pairs() -> Iterator[tuple[str, str]]:
        for n, line in enumerate(it, start=2):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not all(_HEX64.fullmatch(p) for p in parts):
                raise KeyRingError(f"baris {n} bukan '<ref lama> <ref baru>' (64 heksadesimal masing-masing) / "
                                   f"line {n} is not '<old ref> <new ref>' (64 hex each)")
            yield parts[0], parts[1]

    return header, pairs()
