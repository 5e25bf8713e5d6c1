"""The subject hash key ring: the HMAC keys that turn a NIK into a keyed reference (`subject_ref`), by version.

`P3KE_SUBJECT_HASH_KEYS` (or `P3KE_SUBJECT_HASH_KEYS_FILE`) lists `<id>:<secret>` entries, separated by commas or
line breaks; the first is the current key (every new reference is computed with it), the others are older keys
still needed to find references made with them. Without it, the single legacy `P3KE_SUBJECT_HASH_KEY` is key `k1`,
the id every reference made before key ids existed carries.

Every store of references records the key it was written with: the audit log's entries and lookup index, targeting's
recipient ledgers (`extracts.ledger_key_id`), delivery's subject-reference files (`handovers.subject_key_id`), the
retention jobs' disposal records. Lookups compute a person's reference under every key of the ring, and
targeting compares a candidate with each ledger under that ledger's own key, so while both keys are in the ring a
trail spans both versions and earlier recipients stay excluded.

Rotation (README, "Rotating the subject hash key"):
1. Put the new key first in every service's ring (`k2:<new>,k1:<old>`) and restart; new references use `k2`.
2. Where the NIKs are (ingest's current snapshot), `p3ke subject-keys pairs --from k1 --niks <snapshot> --out PAIRS`:
   old -> new reference of every NIK (references only, never a NIK; the file may be carried to the services).
3. With each service's settings: `p3ke audit map-subject-refs PAIRS` (the audit log's lookup index maps old
   references to new ones; its entries stay as recorded), `p3ke targeting rekey-ledgers --pairs PAIRS` and
   `p3ke delivery rekey-subject-refs --pairs PAIRS` (each file under the old key rewritten under the new one, aside,
   flushed and renamed, and its key id recorded; `--dry-run` first). A file holding a reference the pairs lack is
   refused and left as it was: compute pairs from a snapshot (or an extract) that holds those people and run again.
   The commands are restartable: a file an interrupted run rewrote is only recorded.
4. `p3ke audit subject-keys` shows what only the old key still finds. The old key may leave the ring once that is
   nothing (or past its retention period) and no ledger or subject-reference file is still under it (the commands
   report none left); targeting then also needs `P3KE_PERTURBATION_KEY` set to `k1`'s secret. A ledger whose key left
   the ring unrekeyed makes targeting refuse requests that exclude earlier recipients, saying so.

The shared part of step 3 is here: `RefPairs` loads a pairs file into DuckDB and maps each file's references
(neither a whole snapshot's pairs nor a file's references sit in Python), `rekey_files` decides per file (re-key,
refuse, record an interrupted run's work) and the services write their own formats and records.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from p3ke_platform.duckdb_engine import hmac_keys

if TYPE_CHECKING:
    import duckdb

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


def subject_refs(secret: str, niks: Iterable[str]) -> list[str]:
    """`subject_ref` of each NIK, in order. The key's padded blocks are hashed once and their SHA-256 states copied
    per NIK (RFC 2104 with precomputed inner and outer states): 0.7 µs a NIK on OpenSSL's SHA-256, against 1.8 µs
    for `subject_ref` and 1.9 µs for the same HMAC in DuckDB's SQL (`duckdb_engine.hmac_keys`), measured on 50,000
    NIKs."""
    opad, ipad = hmac_keys(secret)
    inner, outer = hashlib.sha256(ipad), hashlib.sha256(opad)
    refs = []
    for nik in niks:
        i = inner.copy()
        i.update(nik.strip().encode())
        o = outer.copy()
        o.update(i.digest())
        refs.append(o.hexdigest())
    return refs


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


def parse_pairs_header(line: str) -> PairsHeader:
    """The first line of a pairs file, `<magic> <old id> <new id>`. Raises KeyRingError."""
    first = line.split()
    if len(first) != 4 or " ".join(first[:2]) != PAIRS_MAGIC or not all(KEY_ID.fullmatch(k) for k in first[2:]):
        raise KeyRingError(f"baris pertama bukan '{PAIRS_MAGIC} <id lama> <id baru>' / the first line is not "
                           f"'{PAIRS_MAGIC} <old id> <new id>'")
    if first[2] == first[3]:
        raise KeyRingError(f"kunci lama dan baru sama ({first[2]}) / the old and new key are the same")
    return PairsHeader(first[2], first[3])


def read_pairs(lines: Iterable[str]) -> tuple[PairsHeader, Iterator[tuple[str, str]]]:
    """The header and the pairs (read as consumed). Raises KeyRingError naming the line that is wrong."""
    it = iter(lines)
    header = parse_pairs_header(next(it, ""))

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


# -- re-keying files of references with a pairs file (targeting's ledgers, delivery's subject-reference files) -----

_US = "\x1f"  # a byte no pairs or references file holds: DuckDB reads each line whole


def _lines_sql(param: str, skip: int) -> str:
    """The lines of a text file as (ord, line), trimmed (a blank line is NULL or ''); `ord` numbers them in the
    file's order."""
    return (f"SELECT row_number() OVER () AS ord, trim(line) AS line FROM read_csv(${param}, "
            f"columns={{'line': 'VARCHAR'}}, delim='{_US}', header=false, quote='', escape='', skip={int(skip)}, "
            "auto_detect=false, strict_mode=false)")


@dataclass(frozen=True)
class Mapped:
    """What mapping one file's references through the pairs found (they are in the temp table `rekeyed`)."""

    refs: int
    """References in the file."""
    missing: int
    """Of them, how many have no pair: the file cannot be re-keyed with these pairs."""
    already: bool
    """Every reference is already a new one of the pairs: an earlier run rewrote the file and stopped before
    recording it (only the record is left to update)."""


@dataclass(frozen=True)
class FileOutcome:
    """One file of a re-keying run, for the report (no reference in it)."""

    resource_id: str
    old_key_id: str
    new_key_id: str
    outcome: str
    """`rekeyed`, `would-rekey` (dry run), `recorded` (rewritten by an interrupted run, now recorded),
    `refused` (references without a pair; the file is left as it was) or `absent` (the file is not there)."""
    refs: int = 0
    missing: int = 0


REKEYED, WOULD_REKEY, RECORDED, REFUSED, ABSENT = "rekeyed", "would-rekey", "recorded", "refused", "absent"


@dataclass(frozen=True)
class RekeyReport:
    """A re-keying run: the pairs' keys and each file's outcome."""

    header: PairsHeader
    files: tuple[FileOutcome, ...]

    @property
    def refused(self) -> int:
        return sum(f.outcome == REFUSED for f in self.files)

    @property
    def rekeyed(self) -> int:
        return sum(f.outcome in (REKEYED, RECORDED, WOULD_REKEY) for f in self.files)


class RefPairs:
    """A pairs file (`p3ke subject-keys pairs`) loaded once into a DuckDB connection as a temp table
    `subject_ref_pairs_<n>(old, new)`, to re-key the references of many files. The pairs (a whole snapshot's) and a
    file's references are joined in SQL, so neither sits in Python; DuckDB spills beyond its memory limit.

    Raises KeyRingError on a malformed file (the first wrong line named) or one that maps a reference twice."""

    _loaded = itertools.count(1)

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con, self.path = con, path
        self.table = table = f"subject_ref_pairs_{next(self._loaded)}"
        with path.open(encoding="ascii", errors="replace") as fh:
            self.header = parse_pairs_header(fh.readline())
        con.execute(f"CREATE OR REPLACE TEMP TABLE __pairs_lines AS {_lines_sql('path', 1)}", {"path": str(path)})
        bad = con.execute("SELECT min(ord) + 1, count(*) FROM __pairs_lines WHERE line IS NOT NULL AND line <> '' "
                          "AND NOT regexp_full_match(line, '[0-9a-f]{64}[ \t]+[0-9a-f]{64}')").fetchone()
        if bad and bad[1]:
            raise KeyRingError(f"{path.name}: {bad[1]} baris bukan '<ref lama> <ref baru>' (64 heksadesimal "
                               f"masing-masing), yang pertama baris {bad[0]} / {bad[1]} lines are not '<old ref> <new "
                               f"ref>' (64 hex each), the first line {bad[0]}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT DISTINCT left(line, 64) AS old, "
                    "right(line, 64) AS new FROM __pairs_lines WHERE line IS NOT NULL AND line <> ''")
        con.execute("DROP TABLE __pairs_lines")
        row = con.execute(f"SELECT count(*), count(DISTINCT old) FROM {table}").fetchone()
        assert row is not None
        if row[0] != row[1]:
            raise KeyRingError(f"{path.name}: {row[0] - row[1]} referensi lama dipasangkan dengan lebih dari satu "
                               "referensi baru; buat ulang berkas dengan `p3ke subject-keys pairs` / old references "
                               "paired with more than one new reference; make the file again with `p3ke subject-keys "
                               "pairs`")
        self.count = int(row[0])

    def map_lines(self, path: Path) -> Mapped:
        """Map a text file of references, one a line (delivery's `subject-refs.txt`), in the file's order."""
        return self._map(f"SELECT ord, line AS ref FROM ({_lines_sql('file', 0)}) WHERE line IS NOT NULL "
                         "AND line <> ''", {"file": str(path)})

    def map_parquet(self, path: Path, column: str = "subject_ref") -> Mapped:
        """Map a Parquet file's column of references (targeting's recipient ledgers)."""
        if not re.fullmatch(r"[a-z_]+", column):
            raise ValueError("unsafe column name")
        return self._map(f"SELECT file_row_number AS ord, {column} AS ref FROM read_parquet($file, "
                         f"file_row_number=true) WHERE {column} IS NOT NULL", {"file": str(path)})

    def _map(self, refs_sql: str, params: dict[str, Any]) -> Mapped:
        con = self.con
        con.execute(f"CREATE OR REPLACE TEMP TABLE __refs AS {refs_sql}", params)
        con.execute("CREATE OR REPLACE TEMP TABLE rekeyed AS SELECT r.ord, p.new AS ref FROM __refs r "
                    f"LEFT JOIN {self.table} p ON p.old = r.ref")
        row = con.execute("SELECT count(*), count(*) FILTER (WHERE ref IS NULL) FROM rekeyed").fetchone()
        assert row is not None
        refs, missing = int(row[0]), int(row[1])
        already = False
        if missing:
            left = con.execute(f"SELECT count(*) FROM __refs r ANTI JOIN {self.table} p ON p.new = r.ref").fetchone()
            already = left is not None and left[0] == 0
        con.execute("DROP TABLE __refs")
        return Mapped(refs=refs, missing=missing, already=already)


def check_new_key(ring: KeyRing, header: PairsHeader) -> None:
    """Files re-keyed to a key outside the ring could not be read: refuse such pairs (KeyRingError)."""
    if ring.get(header.new_key_id) is None:
        raise KeyRingError(f"kunci baru {header.new_key_id} tidak ada di {SETTING} ({', '.join(ring.ids)}); "
                           f"tambahkan dulu, lalu mulai ulang layanan / the new key {header.new_key_id} is not in "
                           f"{SETTING} ({', '.join(ring.ids)}); add it first, then restart the service")


def rekey_files(pairs: RefPairs, targets: Iterable[tuple[str, Path]], *, read: Callable[[RefPairs, Path], Mapped],
                write: Callable[[Path], None], record: Callable[[str], None], dry_run: bool = False,
                ) -> RekeyReport:
    """Re-key each (resource id, file) whose references were written with the pairs' old key.

    For each file: its references are mapped (`read`); a file with references missing from the pairs is refused
    and left as it is; else `write` rewrites it from the temp table `rekeyed` (under a temporary name, flushed,
    renamed over the file) and `record` notes the new key id (and whatever else) in the service's database. A file an
    interrupted run already rewrote (every reference a new one) is only recorded. Restartable: run it again after a
    failure, the files done are no longer named with the old key."""
    old, new = pairs.header.old_key_id, pairs.header.new_key_id
    outcomes = []
    for resource_id, path in targets:
        if not path.is_file():
            outcomes.append(FileOutcome(resource_id, old, new, ABSENT))
            continue
        mapped = read(pairs, path)
        if mapped.missing and mapped.already:
            outcome = WOULD_REKEY if dry_run else RECORDED
            if not dry_run:
                record(resource_id)
        elif mapped.missing:
            outcome = REFUSED
        else:
            outcome = WOULD_REKEY if dry_run else REKEYED
            if not dry_run:
                write(path)
                record(resource_id)
        outcomes.append(FileOutcome(resource_id, old, new, outcome, refs=mapped.refs,
                                    missing=0 if mapped.already else mapped.missing))
    return RekeyReport(pairs.header, tuple(outcomes))
