"""The server key: sealed package passwords and signed, expiring download links."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from p3ke_delivery.adapters.keys import LinkClaims, LinkError, ServerKeys, generate_password, load_or_create_key
from p3ke_platform.settings import ConfigurationError


def test_password_shape_and_entropy() -> None:
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert re.fullmatch(r"([A-HJ-NP-Za-km-z2-9]{5}-){4}[A-HJ-NP-Za-km-z2-9]{5}", password)


def test_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "delivery-server.key"
    first = load_or_create_key(path, create=True)
    assert path.stat().st_mode & 0o077 == 0
    assert load_or_create_key(path, create=True) == first
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_or_create_key(tmp_path / "missing.key", create=False)
    (tmp_path / "short.key").write_text("abcd")
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        load_or_create_key(tmp_path / "short.key", create=False)


def test_sealed_password_opens_only_for_its_handover() -> None:
    keys = ServerKeys(b"k" * 32)
    sealed = keys.seal("ho-1", "abc-DEF")
    assert b"abc-DEF" not in sealed
    assert keys.open("ho-1", sealed) == "abc-DEF"
    with pytest.raises(InvalidTag):
        keys.open("ho-2", sealed)
    with pytest.raises(InvalidTag):
        ServerKeys(b"x" * 32).open("ho-1", sealed)


def test_links_expire_and_cannot_be_forged() -> None:
    keys = ServerKeys(b"k" * 32)
    now = datetime.now(UTC)
    token = keys.sign_link(LinkClaims("l1", "ho-1", "officer-1", now + timedelta(minutes=15)))
    claims = keys.verify_link(token, now=now)
    assert (claims.link_id, claims.handover_id, claims.issued_to) == ("l1", "ho-1", "officer-1")
    with pytest.raises(LinkError, match="expired"):
        keys.verify_link(token, now=now + timedelta(minutes=16))
    _, mac = token.split(".")
    forged = keys.sign_link(LinkClaims("l1", "ho-1", "someone-else", now + timedelta(minutes=15))).split(".")[0]
    with pytest.raises(LinkError, match="not valid"):
        keys.verify_link(f"{forged}.{mac}", now=now)
    with pytest.raises(LinkError, match="not valid"):
        ServerKeys(b"x" * 32).verify_link(token, now=now)
    with pytest.raises(LinkError, match="malformed"):
        keys.verify_link("no-dot-here", now=now)
