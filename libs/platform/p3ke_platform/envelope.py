"""Envelope encryption and crypto-shredding: every artefact at rest that holds personal data has its own data key.

Three layers:

- **Key-encryption keys (KEK)**, a ring of `<id>:<base64 of 32 bytes>` entries (commas or line breaks, `#` comments),
  the current key first. In production the ring is a file (`P3KE_KEK_FILE`, a mounted Kubernetes Secret) and a
  service that keeps data keys refuses to start without it; elsewhere a development ring is created once in
  `<data_dir>/keys/kek-ring` (0600), like delivery's development server key.
- **Data keys**, 32 random bytes per artefact (a handover, ...), stored in the owning service's own `data_keys` table
  *wrapped*: AES-256-GCM under the current KEK, the associated data binding the key id, the artefact and the KEK id,
  so a wrapped key copied onto another row does not open. `DataKeyStore.destroy` is crypto-shredding: the wrapped
  key is overwritten with NULL and the row stays as a tombstone (when, why, under which KEK it had been wrapped), so
  the destruction can be proven and the key is never re-created for that artefact.
- **Content**: files are encrypted in segments (`encrypt_file`, `open_decrypted`; bounded memory whatever the size)
  and small secrets (a package password) are sealed (`DataKey.seal`), each under a sub-key derived with HKDF-SHA256.

The file format follows Tink's AES-GCM-HKDF streaming AEAD, i.e. the STREAM construction of Hoang, Reyhanitabar,
Rogaway and Vizár ("Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015; age uses
the same with ChaCha20-Poly1305). It is not byte-compatible with Tink; the layout is::

    header  = "P3KEenc1" (8) || segment size (4, big-endian) || salt (16) || nonce prefix (7)
    key     = HKDF-SHA256(ikm = data key, salt = salt, info = "p3ke-envelope/stream/v1" || associated data)
    segment = AES-256-GCM(key, nonce = prefix || counter (4, big-endian) || final flag (1: 0x01 last, else 0x00),
                          plaintext segment, aad = header)

so a segment moved (counter), a file cut at a segment boundary or extended (the final flag), a header changed, a
file given another artefact's associated data or the wrong data key all fail authentication.

**Why destroying a data key reaches backups, WAL and dead rows.** Deleting a file removes one copy; its backups,
object-store versions, PostgreSQL's WAL and dead row versions keep others. Every such copy of the *content* is
ciphertext under the data key, and every copy of the *data key* is wrapped under a KEK. After `destroy`, the live
database no longer holds the wrapped key; old copies of it (a database backup, WAL, a dead tuple) stay decryptable
only while the KEK they were wrapped under lives. So the KEK is rotated on a schedule (and after disposals):
`p3ke keys rotate-kek --service <name>` re-wraps every live data key under the ring's current KEK, then the old KEK
is removed from the Secret (and the Secret's own history). From then on, nothing the system holds opens a data key
destroyed before the rotation, wherever its copies are. The KEK itself is never written to the database or to a
backup of it.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Column, DateTime, Index, LargeBinary, MetaData, String, Table, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from p3ke_platform.settings import ConfigurationError

if TYPE_CHECKING:
    from p3ke_platform.settings import Settings

KEY_BYTES = 32
KEK_SETTING = "P3KE_KEK_FILE"
KEK_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,15}")
DEV_KEK_FILE = Path("keys") / "kek-ring"

MAGIC = b"P3KEenc1"
SALT_BYTES = 16
PREFIX_BYTES = 7
TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + 4 + SALT_BYTES + PREFIX_BYTES
SEGMENT_BYTES = 1 << 20
MIN_SEGMENT, MAX_SEGMENT = 1 << 12, 1 << 26
_STREAM_INFO = b"p3ke-envelope/stream/v1"


class EnvelopeError(ValueError):
    """Ciphertext that does not open: damaged, cut, reordered, or not under this key and associated data."""


class KeyDestroyed(LookupError):
    """The artefact's data key was destroyed (crypto-shredded): what it protected can never be decrypted again."""

    def __init__(self, tombstone: Tombstone) -> None:
        super().__init__(f"data key {tombstone.key_id} of {tombstone.kind} {tombstone.artefact_id} was destroyed "
                         f"at {tombstone.destroyed_at.isoformat(timespec='seconds')}")
        self.tombstone = tombstone


# -- key-encryption keys -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kek:
    id: str
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class KekRing:
    """The KEKs, current first: new data keys are wrapped under the current one; the others still unwrap."""

    keys: tuple[Kek, ...]
    source: Path | None = None
    development: bool = False

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigurationError(f"{KEK_SETTING}: cincin KEK kosong / the KEK ring is empty")

    @property
    def current(self) -> Kek:
        return self.keys[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(k.id for k in self.keys)

    def get(self, kek_id: str) -> Kek | None:
        return next((k for k in self.keys if k.id == kek_id), None)


def new_kek_entry(kek_id: str) -> str:
    """A fresh `<id>:<base64>` ring entry (for a Secret, or the development ring)."""
    if not KEK_ID.fullmatch(kek_id):
        raise ConfigurationError(f"{KEK_SETTING}: id KEK {kek_id!r} tidak sah (huruf kecil, angka, '-'; maks. 16) / "
                                 "a KEK id is lower-case letters, digits and '-', at most 16")
    return f"{kek_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def parse_kek_ring(text: str, *, source: Path | None = None, development: bool = False) -> KekRing:
    """The ring from its text; every problem names the entry's position and id, never a key."""
    keys: list[Kek] = []
    entries = [e.strip() for line in text.splitlines() for e in line.split("#", 1)[0].split(",")]
    for n, entry in enumerate((e for e in entries if e), start=1):
        kek_id, sep, encoded = entry.partition(":")
        kek_id = kek_id.strip()
        if not sep or not KEK_ID.fullmatch(kek_id):
            raise ConfigurationError(f"{KEK_SETTING}: entri ke-{n} bukan `<id>:<base64>` dengan id huruf kecil/angka "
                                     f"/ entry {n} is not `<id>:<base64>` with a lower-case id")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise ConfigurationError(f"{KEK_SETTING}: kunci {kek_id} harus 32 byte dalam base64 (mis. `p3ke keys "
                                     f"new-kek`) / key {kek_id} must be 32 bytes in base64 (e.g. `p3ke keys new-kek`)")
        if any(k.id == kek_id for k in keys):
            raise ConfigurationError(f"{KEK_SETTING}: id {kek_id} muncul dua kali / id {kek_id} appears twice")
        keys.append(Kek(kek_id, key))
    return KekRing(tuple(keys), source, development)


def write_new_secret(path: Path, text: str) -> None:
    """Create `path` (0600, in a 0700 directory) holding `text`, atomically and only if it does not exist yet: when
    another process created it first, theirs is kept (every process then reads the same secret)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def replace_secret(path: Path, text: str) -> None:
    """Overwrite the secret file atomically (0600): the development ring's rotation."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def dev_kek_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / DEV_KEK_FILE


def load_kek_ring(settings: Settings) -> KekRing:
    """The ring of `P3KE_KEK_FILE`; required in production (a start-up error naming the setting), otherwise the
    development ring in the data directory, created on first use."""
    given = settings.kek_file
    if given is None:
        if settings.env == "production":
            raise ConfigurationError(
                f"{KEK_SETTING}: produksi memerlukan berkas cincin KEK (Secret Kubernetes yang di-mount; buat entri "
                f"dengan `p3ke keys new-kek`) / production needs the KEK ring file (a mounted Kubernetes Secret; make "
                f"an entry with `p3ke keys new-kek`)")
        path = dev_kek_path(settings)
        if not path.exists():
            write_new_secret(path, new_kek_entry("dev1") + "\n")
        return parse_kek_ring(path.read_text(encoding="ascii"), source=path, development=True)
    try:
        text = given.read_text(encoding="ascii")
    except OSError as exc:
        raise ConfigurationError(f"{KEK_SETTING}: {given} tidak dapat dibaca / cannot be read: "
                                 f"{exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{KEK_SETTING}: {given} bukan teks ASCII / is not ASCII text") from None
    return parse_kek_ring(text, source=given)


# -- data keys ---------------------------------------------------------------------------------------------------


def _hkdf(ikm: bytes, info: bytes, salt: bytes | None = None) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(ikm)


@dataclass(frozen=True)
class DataKey:
    """One artefact's data key, unwrapped (in memory only while it is used)."""

    key_id: str
    kind: str
    artefact_id: str
    secret: bytes = field(repr=False)

    def seal(self, purpose: str, plaintext: bytes, aad: bytes = b"") -> bytes:
        """A small secret sealed under this key (AES-256-GCM, sub-key HKDF(purpose)): nonce || ciphertext."""
        nonce = secrets.token_bytes(12)
        return nonce + AESGCM(self._sub(purpose)).encrypt(nonce, plaintext, aad)

    def open(self, purpose: str, sealed: bytes, aad: bytes = b"") -> bytes:
        try:
            return AESGCM(self._sub(purpose)).decrypt(sealed[:12], sealed[12:], aad)
        except InvalidTag:
            raise EnvelopeError("the sealed value does not open under this data key") from None

    def _sub(self, purpose: str) -> bytes:
        return _hkdf(self.secret, f"p3ke-envelope/seal/{purpose}".encode())


@dataclass(frozen=True)
class Tombstone:
    key_id: str
    kind: str
    artefact_id: str
    kek_id: str | None
    created_at: datetime
    destroyed_at: datetime
    reason: str


@dataclass(frozen=True)
class Rewrapped:
    rewrapped: int
    from_keks: dict[str, int]
    live_by_kek: dict[str, int]
    current: str

    @property
    def unused(self) -> list[str]:
        """Ring ids no live data key is wrapped under any more: they may leave the ring."""
        return [k for k in self.live_by_kek if self.live_by_kek[k] == 0 and k != self.current]


def data_keys_table(metadata: MetaData) -> Table:
    """The `data_keys` table of a service's own database (the same definition in every service)."""
    return Table(
        "data_keys", metadata,
        Column("key_id", String(40), primary_key=True),
        Column("artefact_kind", String(64), nullable=False),
        Column("artefact_id", String(200), nullable=False),
        Column("wrapped_key", LargeBinary, nullable=True),  # NULL once destroyed (the row stays as a tombstone)
        Column("kek_id", String(16), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("rewrapped_at", DateTime(timezone=True), nullable=True),
        Column("destroyed_at", DateTime(timezone=True), nullable=True),
        Column("destroyed_reason", String(500), nullable=True),
        Index("ix_data_keys_artefact", "artefact_kind", "artefact_id", unique=True),
    )


def _wrap_aad(key_id: str, kind: str, artefact_id: str, kek_id: str) -> bytes:
    return "\x00".join(("p3ke-data-key/v1", key_id, kind, artefact_id, kek_id)).encode()


class DataKeyStore:
    """Data keys in a service's `data_keys` table, wrapped under the KEK ring. Methods take the caller's session,
    so creating or destroying a key commits with what the caller records alongside (an audit entry, a status)."""

    def __init__(self, table: Table, ring: KekRing) -> None:
        self.table = table
        self.ring = ring

    def create(self, session: Session, kind: str, artefact_id: str, now: datetime) -> DataKey:
        """The artefact's data key, made now; the existing one when there is one (a retried preparation).
        Raises KeyDestroyed when the artefact's key was destroyed: a destroyed artefact is never re-keyed."""
        found = self.get(session, kind, artefact_id)
        if found is not None:
            return found
        kek = self.ring.current
        key = DataKey(secrets.token_hex(16), kind, artefact_id, secrets.token_bytes(KEY_BYTES))
        nonce = secrets.token_bytes(12)
        wrapped = nonce + AESGCM(kek.key).encrypt(nonce, key.secret, _wrap_aad(key.key_id, kind, artefact_id, kek.id))
        session.execute(self.table.insert().values(key_id=key.key_id, artefact_kind=kind, artefact_id=artefact_id,
                                                   wrapped_key=wrapped, kek_id=kek.id, created_at=now))
        return key

    def get(self, session: Session, kind: str, artefact_id: str) -> DataKey | None:
        """The artefact's data key, unwrapped; None when it never had one (made before data keys existed).
        Raises KeyDestroyed after `destroy`, ConfigurationError when its KEK left the ring."""
        row = session.execute(select(self.table).where(self.table.c.artefact_kind == kind,
                                                       self.table.c.artefact_id == artefact_id)).mappings().first()
        if row is None:
            return None
        if row["wrapped_key"] is None:
            raise KeyDestroyed(_tombstone(row))
        return DataKey(row["key_id"], kind, artefact_id, self.unwrap(row))

    def tombstone(self, session: Session, kind: str, artefact_id: str) -> Tombstone | None:
        row = session.execute(select(self.table).where(self.table.c.artefact_kind == kind,
                                                       self.table.c.artefact_id == artefact_id)).mappings().first()
        return _tombstone(row) if row is not None and row["wrapped_key"] is None else None

    def destroy(self, session: Session, kind: str, artefact_id: str, now: datetime, reason: str) -> Tombstone | None:
        """Crypto-shred: NULL the wrapped key, keep the tombstone. Idempotent (the first destruction is kept);
        None when the artefact never had a data key."""
        t = self.table
        session.execute(update(t).where(t.c.artefact_kind == kind, t.c.artefact_id == artefact_id,
                                        t.c.wrapped_key.is_not(None))
                        .values(wrapped_key=None, destroyed_at=now, destroyed_reason=reason[:500]))
        return self.tombstone(session, kind, artefact_id)

    def rewrap_all(self, session: Session, now: datetime, *, batch: int = 500) -> Rewrapped:
        """Re-wrap every live data key not under the ring's current KEK (KEK rotation); the counts per KEK after."""
        t, current = self.table, self.ring.current
        moved: dict[str, int] = {}
        while True:
            rows = session.execute(select(t).where(t.c.wrapped_key.is_not(None), t.c.kek_id != current.id)
                                   .order_by(t.c.key_id).limit(batch)).mappings().all()
            if not rows:
                break
            for row in rows:
                secret = self.unwrap(row)
                nonce = secrets.token_bytes(12)
                aad = _wrap_aad(row["key_id"], row["artefact_kind"], row["artefact_id"], current.id)
                session.execute(update(t).where(t.c.key_id == row["key_id"], t.c.kek_id == row["kek_id"])
                                .values(wrapped_key=nonce + AESGCM(current.key).encrypt(nonce, secret, aad),
                                        kek_id=current.id, rewrapped_at=now))
                moved[row["kek_id"]] = moved.get(row["kek_id"], 0) + 1
        return Rewrapped(sum(moved.values()), moved, self.live_by_kek(session), current.id)

    def live_by_kek(self, session: Session) -> dict[str, int]:
        """Live data keys per KEK id, every id of the ring listed (0 when unused)."""
        counts = {k: 0 for k in self.ring.ids}
        t = self.table
        for kek_id, count in session.execute(select(t.c.kek_id, func.count()).where(t.c.wrapped_key.is_not(None))
                                             .group_by(t.c.kek_id)):
            counts[kek_id] = int(count)
        return counts

    def unwrap(self, row: RowMapping) -> bytes:
        """The data key of a `data_keys` row (a live row, or a copy of one from a backup) under the ring."""
        if row["wrapped_key"] is None:
            raise KeyDestroyed(_tombstone(row))
        kek = self.ring.get(row["kek_id"])
        if kek is None:
            raise ConfigurationError(
                f"{KEK_SETTING}: kunci data {row['key_id']} terbungkus di bawah KEK {row['kek_id']} yang tidak ada di "
                f"cincin; kembalikan KEK itu, atau jalankan `p3ke keys rotate-kek` sebelum melepasnya / data key "
                f"{row['key_id']} is wrapped under KEK {row['kek_id']}, which is not in the ring; put it back, or run "
                f"`p3ke keys rotate-kek` before removing a KEK")
        wrapped: bytes = row["wrapped_key"]
        aad = _wrap_aad(row["key_id"], row["artefact_kind"], row["artefact_id"], kek.id)
        try:
            return AESGCM(kek.key).decrypt(wrapped[:12], wrapped[12:], aad)
        except InvalidTag:
            raise EnvelopeError(f"data key {row['key_id']} does not unwrap under KEK {kek.id} (altered, or moved "
                                f"to another artefact)") from None


def _tombstone(row: RowMapping) -> Tombstone:
    return Tombstone(row["key_id"], row["artefact_kind"], row["artefact_id"], row["kek_id"], row["created_at"],
                     row["destroyed_at"], row["destroyed_reason"] or "")


# -- files, in segments -------------------------------------------------------------------------------------------


def encrypted_size(plaintext_size: int, segment_size: int = SEGMENT_BYTES) -> int:
    """The size of the encrypted file of `plaintext_size` bytes (a damaged-file check needs no decryption)."""
    segments = max(1, -(-plaintext_size // segment_size))
    return HEADER_BYTES + plaintext_size + segments * TAG_BYTES


def _stream_key(data_key: DataKey, salt: bytes, aad: bytes) -> AESGCM:
    return AESGCM(_hkdf(data_key.secret, _STREAM_INFO + aad, salt))


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    if counter >= 1 << 32:
        raise EnvelopeError("too many segments")
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def encrypt_stream(source: IO[bytes], sink: IO[bytes], data_key: DataKey, aad: bytes = b"", *,
                   segment_size: int = SEGMENT_BYTES) -> int:
    """Encrypt `source` into `sink` one segment at a time (two segments in memory at most); the plaintext size."""
    if not MIN_SEGMENT <= segment_size <= MAX_SEGMENT:
        raise ValueError(f"segment size must be within {MIN_SEGMENT}..{MAX_SEGMENT}")
    salt, prefix = secrets.token_bytes(SALT_BYTES), secrets.token_bytes(PREFIX_BYTES)
    header = MAGIC + segment_size.to_bytes(4, "big") + salt + prefix
    aead = _stream_key(data_key, salt, aad)
    sink.write(header)
    current, counter, size = _read_full(source, segment_size), 0, 0
    while True:
        following = _read_full(source, segment_size) if len(current) == segment_size else b""
        last = not following
        sink.write(aead.encrypt(_nonce(prefix, counter, last), current, header))
        size += len(current)
        if last:
            return size
        current, counter = following, counter + 1


def _read_full(source: IO[bytes], n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = source.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


@dataclass(frozen=True)
class EncryptedFile:
    path: Path
    plaintext_size: int
    size: int


def encrypt_file(src: Path, dst: Path, data_key: DataKey, aad: bytes = b"", *,
                 segment_size: int = SEGMENT_BYTES) -> EncryptedFile:
    """Encrypt `src` to `dst` (0600; a temporary name, fsync, then renamed: a reader never sees half a file)."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.enc.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with src.open("rb") as source, os.fdopen(fd, "wb") as sink:
            size = encrypt_stream(source, sink, data_key, aad, segment_size=segment_size)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return EncryptedFile(dst, size, dst.stat().st_size)


class _Decrypting(io.RawIOBase):
    """The plaintext of an encrypted stream, decrypted a segment at a time as it is read."""

    def __init__(self, source: BinaryIO, data_key: DataKey, aad: bytes) -> None:
        self._source = source
        header = _read_full(source, HEADER_BYTES)
        if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
            raise EnvelopeError("not an encrypted P3KE file (no header)")
        self._segment = int.from_bytes(header[8:12], "big")
        if not MIN_SEGMENT <= self._segment <= MAX_SEGMENT:
            raise EnvelopeError("the encrypted file's header is damaged (segment size)")
        self._header = header
        self._prefix = header[12 + SALT_BYTES:]
        self._aead = _stream_key(data_key, header[12:12 + SALT_BYTES], aad)
        self._counter = 0
        self._done = False
        self._buffer = memoryview(b"")
        self._next = _read_full(source, self._segment + TAG_BYTES)
        self._advance()  # the first segment now: a wrong key fails at open, not halfway through a download

    def readable(self) -> bool:
        return True

    def _advance(self) -> None:
        current = self._next
        if len(current) < TAG_BYTES:
            raise EnvelopeError("the encrypted file is truncated")
        self._next = _read_full(self._source, self._segment + TAG_BYTES) if (
            len(current) == self._segment + TAG_BYTES) else b""
        last = not self._next
        try:
            plain = self._aead.decrypt(_nonce(self._prefix, self._counter, last), current, self._header)
        except InvalidTag:
            raise EnvelopeError(f"segment {self._counter} does not authenticate (damaged, truncated, reordered, "
                                f"or another key)") from None
        self._counter += 1
        self._done = last
        self._buffer = memoryview(plain)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._buffer:
            if self._done:
                return 0
            self._advance()
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()


def open_decrypted(path: Path, data_key: DataKey, aad: bytes = b"") -> io.BufferedReader:
    """A readable stream of the plaintext of `path`; raises EnvelopeError at once for a wrong key or a damaged
    header or first segment, and while reading for a later damaged, reordered or missing segment."""
    source = path.open("rb")
    try:
        return io.BufferedReader(_Decrypting(source, data_key, aad), buffer_size=SEGMENT_BYTES)
    except BaseException:
        source.close()
        raise


def chunks(stream: IO[bytes], size: int = SEGMENT_BYTES) -> Iterator[bytes]:
    """The stream's bytes in chunks, closing it at the end (for a streaming HTTP response)."""
    with stream:
        while chunk := stream.read(size):
            yield chunk
