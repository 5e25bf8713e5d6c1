"""Crypto-shredding of a handover on PostgreSQL, through the API and the real command line: the package at rest is
encrypted under the handover's data key, the download gives party 2 the exact ZIP the BAST names, and after
`destroy_handover_key` nothing the system still holds opens a copy of the stored package or of the sealed
password; after `p3ke keys rotate-kek`, not even a backup copy of the wrapped key."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from sqlalchemy import select

from p3ke_delivery.adapters import package
from p3ke_delivery.adapters.orm import data_keys, handovers
from p3ke_delivery.service_layer.data_keys import destroy_handover_key
from p3ke_platform.envelope import (
    DataKey,
    DataKeyStore,
    EnvelopeError,
    KeyDestroyed,
    encrypted_size,
    load_kek_ring,
    open_decrypted,
)
from p3ke_platform.settings import ConfigurationError
from tests.integration.delivery.conftest import Harness, make_harness
from tests.unit.delivery.support import SIG_1, SIG_2


@pytest.fixture
def h(postgres_url: str, tmp_path: Path) -> Iterator[Harness]:
    harness = make_harness(postgres_url, tmp_path)
    yield harness
    harness.runtime.engine.dispose()


def signed(h: Harness, handover_id: str) -> None:
    first = h.upload(handover_id, h.signed(h.bast(handover_id, "issued"), SIG_1, 1), "signatory-1")
    assert first.status_code == 201, first.text
    second = h.upload(handover_id, h.signed(h.bast(handover_id, who="signatory-2"), SIG_2, 2), "signatory-2")
    assert second.json()["status"] == "signed", second.text


def rows(h: Harness, table: Any, handover_id: str) -> dict[str, Any]:
    column = table.c.artefact_id if table is data_keys else table.c.handover_id
    with h.runtime.engine.connect() as conn:
        return dict(conn.execute(select(table).where(column == handover_id)).mappings().one())


def download(h: Harness, handover_id: str) -> Any:
    link = h.client.post(f"/v1/handovers/{handover_id}/package/links", headers=h.headers("officer"))
    assert link.status_code == 201, link.text
    return h.client.get(link.json()["url"], headers=h.headers("officer"))


def every_key_the_system_holds(h: Harness) -> list[DataKey]:
    """Every data key the service can still unwrap, and each KEK of its ring tried as a data key."""
    store = h.ctx.data_keys
    with h.runtime.engine.connect() as conn:
        live = conn.execute(select(data_keys).where(data_keys.c.wrapped_key.is_not(None))).mappings().all()
    found = [DataKey(r["key_id"], r["artefact_kind"], r["artefact_id"], store.unwrap(r)) for r in live]
    return found + [DataKey(k.id, "handover", "any", k.key) for k in store.ring.keys]


def test_a_handover_is_crypto_shredded(h: Harness, tmp_path: Path) -> None:
    handover_id, survivor = h.open_handover(rows=300), h.open_handover(rows=50)
    view = {**rows(h, handovers, handover_id), **h.get(handover_id)}
    stored = h.ctx.storage.path(handover_id, view["package_file"])

    # at rest: not a ZIP, but the ZIP encrypted under the handover's data key
    raw = stored.read_bytes()
    assert not zipfile.is_zipfile(stored) and raw.startswith(b"P3KEenc1")
    assert len(raw) == encrypted_size(view["package_size"])
    key_row = rows(h, data_keys, handover_id)
    assert key_row["artefact_kind"] == "handover" and key_row["wrapped_key"] is not None
    copies = tmp_path / "taken-before-disposal"  # a backup of the volume and of the database
    copies.mkdir()
    shutil.copy2(stored, copies / "package.enc")
    sealed_password = bytes(view["password_ciphertext"])

    # party 2 receives the exact package the BAST names, and it opens with the released password
    signed(h, handover_id)
    password = h.client.post(f"/v1/handovers/{handover_id}/password", headers=h.headers("officer"))
    assert password.status_code == 200, password.text
    got = download(h, handover_id)
    assert got.status_code == 200, got.text
    assert hashlib.sha256(got.content).hexdigest() == view["package_sha256"] == got.headers["x-package-sha256"]
    assert int(got.headers["content-length"]) == view["package_size"] == len(got.content)
    assert 'filename="' + view["package_file"] in got.headers["content-disposition"]
    with pyzipper.AESZipFile(io.BytesIO(got.content)) as zf:
        zf.setpassword(password.json()["password"].encode())
        assert zf.read(package.MANIFEST).startswith(b"{")

    # destroyed: a tombstone, the sealed password wiped, the download and the password answer 410
    destroyed = destroy_handover_key(h.ctx, handover_id, "purpose ended (retention rule packages)")
    assert destroyed is not None and destroyed.key_id == key_row["key_id"] and not destroyed.already_destroyed
    again = destroy_handover_key(h.ctx, handover_id, "again")
    assert again is not None and again.already_destroyed and again.destroyed_at == destroyed.destroyed_at
    assert rows(h, data_keys, handover_id)["wrapped_key"] is None
    assert rows(h, handovers, handover_id)["password_ciphertext"] is None
    gone = download(h, handover_id)
    assert gone.status_code == 410 and "dimusnahkan" in gone.json()["detail"]
    assert gone.json()["code"] == "disposed" and gone.json()["rule"] == "disposed"
    refused = h.client.post(f"/v1/handovers/{handover_id}/password", headers=h.headers("officer"))
    assert refused.status_code == 410 and "kunci datanya dihapus" in refused.json()["detail"]
    english = h.client.post(f"/v1/handovers/{handover_id}/password",
                            headers={**h.headers("officer"), "Accept-Language": "en"})
    assert english.status_code == 410 and english.headers["Content-Language"] == "en"
    assert english.json()["detail"].startswith(f"the package of handover {handover_id} was disposed of on ")
    assert ("download", "package") in {(e["action"], e["resource_type"]) for e in h.access(handover_id, "denied")}

    # the copy taken before disposal opens under nothing the system still holds
    aad = f"p3ke-delivery/package/{handover_id}/{view['package_file']}".encode()
    for key in every_key_the_system_holds(h):
        with pytest.raises(EnvelopeError):
            open_decrypted(copies / "package.enc", key, aad)
        with pytest.raises(EnvelopeError):
            key.open("package-password", sealed_password, handover_id.encode())
    with pytest.raises(KeyDestroyed):
        h.ctx.data_keys.unwrap(rows(h, data_keys, handover_id))

    # the backup's copy of the wrapped key opens only while its KEK lives: the real command rotates it away
    assert h.ctx.data_keys.unwrap(key_row)  # before the rotation it would
    env = {**os.environ, "P3KE_ENV": "test", "P3KE_DATA_DIR": str(h.data),
           "P3KE_DATABASE_URL": h.runtime.settings.database_url}
    rotated = subprocess.run([sys.executable, "-m", "p3ke_platform.cli", "keys", "rotate-kek", "--service",
                              "delivery", "--generate", "--retire"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert rotated.returncode == 0, rotated.stderr
    assert "data keys re-wrapped under KEK dev2" in rotated.stdout and "dev1" in rotated.stdout
    ring = load_kek_ring(h.runtime.settings)
    assert ring.ids == ("dev2",)
    after = DataKeyStore(data_keys, ring)
    with pytest.raises(ConfigurationError, match="KEK dev1"):
        after.unwrap(key_row)
    del h.ctx.data_keys  # the restart that follows a rotation
    signed(h, survivor)
    assert download(h, survivor).status_code == 200  # live handovers keep working under the new KEK


def test_rotate_kek_refuses_a_service_without_data_keys_and_a_production_secret(h: Harness, tmp_path: Path) -> None:
    env = {**os.environ, "P3KE_ENV": "test", "P3KE_DATA_DIR": str(h.data),
           "P3KE_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    run = subprocess.run([sys.executable, "-m", "p3ke_platform.cli", "keys", "rotate-kek", "--service", "delivery"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "keeps no data keys" in run.stderr
    secret = tmp_path / "kek"
    secret.write_text(subprocess.run([sys.executable, "-m", "p3ke_platform.cli", "keys", "new-kek", "--id", "k1"],
                                     capture_output=True, text=True, check=True).stdout)
    run = subprocess.run([sys.executable, "-m", "p3ke_platform.cli", "keys", "rotate-kek", "--service", "delivery",
                          "--generate"], env={**env, "P3KE_KEK_FILE": str(secret)}, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2 and "in production change the Secret" in run.stderr
