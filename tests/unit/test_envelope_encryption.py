"""Envelope encryption's file format and key ring (p3ke_platform.envelope), on real files: round trips, every kind
of tampering detected, bounded memory for a 50 MB file, the KEK ring's configuration."""

from __future__ import annotations

import os
import secrets
import stat
import tracemalloc
from pathlib import Path

import pytest

from p3ke_platform.envelope import (
    HEADER_BYTES,
    TAG_BYTES,
    DataKey,
    EnvelopeError,
    encrypt_file,
    encrypted_size,
    load_kek_ring,
    new_kek_entry,
    open_decrypted,
    parse_kek_ring,
)
from p3ke_platform.settings import ConfigurationError, Settings

SEG = 4096
AAD = b"p3ke-delivery/package/ho-1/P3KE_x.zip"


def key(name: str = "ho-1") -> DataKey:
    return DataKey(secrets.token_hex(16), "handover", name, secrets.token_bytes(32))


def encrypted(tmp_path: Path, data: bytes, data_key: DataKey, aad: bytes = AAD) -> Path:
    src = tmp_path / "plain.bin"
    src.write_bytes(data)
    dst = tmp_path / "stored.enc"
    encrypt_file(src, dst, data_key, aad, segment_size=SEG)
    return dst


def read_all(path: Path, data_key: DataKey, aad: bytes = AAD) -> bytes:
    with open_decrypted(path, data_key, aad) as stream:
        return stream.read()


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 3 * SEG + 17])
def test_a_file_round_trips_whatever_its_size(tmp_path: Path, size: int) -> None:
    data, k = os.urandom(size), key()
    path = encrypted(tmp_path, data, k)
    assert path.stat().st_size == encrypted_size(size, SEG)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_all(path, k) == data
    # the plaintext does not show through (from 16 bytes on: a shorter random string turns up in any random
    # ciphertext by chance, one byte about once in 15 files)
    assert data[:64] not in path.read_bytes()[HEADER_BYTES:] or size < 16
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_the_same_plaintext_encrypts_differently_each_time(tmp_path: Path) -> None:
    k = key()
    one = encrypted(tmp_path, b"x" * 100, k).read_bytes()
    two = encrypted(tmp_path, b"x" * 100, k).read_bytes()
    assert one != two  # fresh salt and nonce prefix per file


def _segments(blob: bytes) -> tuple[bytes, list[bytes]]:
    body = blob[HEADER_BYTES:]
    size = SEG + TAG_BYTES
    return blob[:HEADER_BYTES], [body[i:i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("where", [0, HEADER_BYTES + 5, HEADER_BYTES + SEG + TAG_BYTES + 100, -1])
def test_a_changed_byte_anywhere_is_detected(tmp_path: Path, where: int) -> None:
    k = key()
    path = encrypted(tmp_path, os.urandom(3 * SEG + 10), k)
    blob = bytearray(path.read_bytes())
    blob[where] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(EnvelopeError):
        read_all(path, k)


def test_a_file_cut_at_a_segment_boundary_is_detected(tmp_path: Path) -> None:
    k = key()
    path = encrypted(tmp_path, os.urandom(3 * SEG + 10), k)
    header, segments = _segments(path.read_bytes())
    path.write_bytes(header + b"".join(segments[:2]))  # the last two segments gone, at a boundary
    with pytest.raises(EnvelopeError, match="segment 1"):
        read_all(path, k)
    path.write_bytes(header + b"".join(segments[:3]) + segments[3][:5])  # the final segment cut short
    with pytest.raises(EnvelopeError):
        read_all(path, k)
    path.write_bytes(header)
    with pytest.raises(EnvelopeError, match="truncated"):
        read_all(path, k)


def test_a_file_extended_or_reordered_is_detected(tmp_path: Path) -> None:
    k = key()
    path = encrypted(tmp_path, os.urandom(3 * SEG + 10), k)
    header, segments = _segments(path.read_bytes())
    path.write_bytes(header + b"".join(segments) + segments[1])  # a segment appended after the final one
    with pytest.raises(EnvelopeError, match="segment 3"):
        read_all(path, k)
    path.write_bytes(header + segments[1] + segments[0] + b"".join(segments[2:]))  # two segments swapped
    with pytest.raises(EnvelopeError, match="segment 0"):
        read_all(path, k)


def test_a_segment_from_another_file_under_the_same_key_is_detected(tmp_path: Path) -> None:
    k = key()
    first = encrypted(tmp_path, os.urandom(2 * SEG), k).read_bytes()
    second = encrypted(tmp_path, os.urandom(2 * SEG), k).read_bytes()
    header, segments = _segments(first)
    _, others = _segments(second)
    path = tmp_path / "spliced.enc"
    path.write_bytes(header + segments[0] + others[1])
    with pytest.raises(EnvelopeError):
        read_all(path, k)


def test_the_wrong_key_or_associated_data_fails_at_open(tmp_path: Path) -> None:
    k = key()
    path = encrypted(tmp_path, b"data of one handover", k)
    with pytest.raises(EnvelopeError, match="segment 0"):
        open_decrypted(path, key(), AAD)
    with pytest.raises(EnvelopeError, match="segment 0"):
        open_decrypted(path, k, b"p3ke-delivery/package/ho-2/P3KE_x.zip")  # another handover's file name
    plain = tmp_path / "plain.zip"
    plain.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(EnvelopeError, match="no header"):
        open_decrypted(plain, k)


def test_a_fifty_megabyte_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    src, dst = tmp_path / "big.bin", tmp_path / "big.enc"
    block = os.urandom(1 << 20)
    with src.open("wb") as fh:
        for i in range(50):
            fh.write(bytes([i]) + block[1:])
    k = key()
    tracemalloc.start()
    try:
        encrypt_file(src, dst, k, AAD)  # 1 MiB segments
        _, encrypt_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        seen = 0
        with open_decrypted(dst, k, AAD) as stream:
            while chunk := stream.read(256 * 1024):
                assert chunk[:1] == bytes([seen >> 20]) or seen % (1 << 20)
                seen += len(chunk)
        _, decrypt_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == 50 << 20
    assert dst.stat().st_size == encrypted_size(50 << 20)
    assert encrypt_peak < 8 << 20, encrypt_peak  # two segments and their ciphertext, not 50 MB
    assert decrypt_peak < 8 << 20, decrypt_peak


def test_a_sealed_value_opens_only_with_its_key_purpose_and_associated_data() -> None:
    k = key()
    sealed = k.seal("package-password", b"Abcde-Fghij", b"ho-1")
    assert k.open("package-password", sealed, b"ho-1") == b"Abcde-Fghij"
    for attempt in (lambda: key().open("package-password", sealed, b"ho-1"),
                    lambda: k.open("download-link", sealed, b"ho-1"),
                    lambda: k.open("package-password", sealed, b"ho-2")):
        with pytest.raises(EnvelopeError):
            attempt()


def test_the_kek_ring_is_parsed_current_first_and_its_problems_name_the_entry() -> None:
    first, second = new_kek_entry("k2"), new_kek_entry("k1")
    ring = parse_kek_ring(f"# rotated 2026-12\n{first}\n{second}  # retire after the next rotation\n")
    assert ring.ids == ("k2", "k1") and ring.current.id == "k2"
    assert "key=" not in repr(ring) and first.split(":")[1] not in repr(ring)
    with pytest.raises(ConfigurationError, match=r"entri ke-1.*entry 1"):
        parse_kek_ring("K1:abcd")
    with pytest.raises(ConfigurationError, match=r"32 byte.*32 bytes"):
        parse_kek_ring("k1:" + "QUJD")
    with pytest.raises(ConfigurationError, match="dua kali / id k1 appears twice"):
        parse_kek_ring(f"{second},{second}")
    with pytest.raises(ConfigurationError, match="kosong / the KEK ring is empty"):
        parse_kek_ring("# nothing\n")


def test_production_needs_a_kek_file_and_development_makes_one_once(tmp_path: Path) -> None:
    production = Settings.model_construct(env="production", data_dir=tmp_path, kek_file=None)
    with pytest.raises(ConfigurationError, match=r"P3KE_KEK_FILE: produksi memerlukan.*production needs"):
        load_kek_ring(production)
    local = Settings(env="local", data_dir=tmp_path)
    ring = load_kek_ring(local)
    assert ring.development and ring.ids == ("dev1",)
    assert stat.S_IMODE((tmp_path / "keys" / "kek-ring").stat().st_mode) == 0o600
    assert load_kek_ring(local).current.key == ring.current.key  # the same ring on the next start
    given = tmp_path / "secret" / "kek"
    with pytest.raises(ConfigurationError, match="tidak dapat dibaca / cannot be read"):
        load_kek_ring(Settings(env="local", data_dir=tmp_path, kek_file=given))
    given.parent.mkdir()
    given.write_text(new_kek_entry("k7") + "\n")
    mounted = load_kek_ring(Settings(env="local", data_dir=tmp_path, kek_file=given))
    assert mounted.ids == ("k7",) and not mounted.development
