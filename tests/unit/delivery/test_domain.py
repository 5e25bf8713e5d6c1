"""BAST numbering, Indonesian dates and numbers, and the delivery settings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from p3ke_delivery.bootstrap import SERVICE
from p3ke_delivery.config import DeliverySettings
from p3ke_delivery.domain import numbering
from p3ke_delivery.domain.bahasa import angka, hari_tanggal_terbilang, terbilang
from p3ke_platform.service import Runtime
from p3ke_platform.settings import ConfigurationError, load_settings


def test_default_pattern_numbers_per_program_and_month() -> None:
    pattern = DeliverySettings().delivery_bast_number_pattern
    day = date(2026, 11, 26)
    assert numbering.render(pattern, 7, day, "padat_karya") == "007/BAST-P3KE/PK/XI/2026"
    assert numbering.render(pattern, 12, day, "pelatihan_berbasis_kompetensi") == "012/BAST-P3KE/PBK/XI/2026"
    scope = numbering.scope(pattern, day, "padat_karya")
    assert scope != numbering.scope(pattern, day, "tenaga_kerja_mandiri")
    assert scope != numbering.scope(pattern, date(2026, 12, 1), "padat_karya")
    assert scope == numbering.scope(pattern, date(2026, 11, 1), "padat_karya")


def test_scope_follows_the_pattern() -> None:
    yearly = "{seq}/BAST/{year}"
    assert numbering.scope(yearly, date(2026, 1, 5), "padat_karya") == numbering.scope(
        yearly, date(2026, 12, 5), "tenaga_kerja_mandiri")


@pytest.mark.parametrize(("pattern", "problem"), [
    ("BAST/{year}", "needs {seq}"),
    ("{seq}/{nomor}", "unknown placeholder"),
    ("{seq", "not a valid pattern"),
    ("{seq:%Y}", "cannot format"),
])
def test_bad_patterns_stop_start_up_naming_the_setting(pattern: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(DeliverySettings, delivery_bast_number_pattern=pattern)
    assert "P3KE_DELIVERY_BAST_NUMBER_PATTERN" in str(info.value)
    assert problem in str(info.value)


def test_terbilang() -> None:
    assert terbilang(0) == "nol"
    assert terbilang(11) == "sebelas"
    assert terbilang(19) == "sembilan belas"
    assert terbilang(26) == "dua puluh enam"
    assert terbilang(100) == "seratus"
    assert terbilang(1000) == "seribu"
    assert terbilang(2026) == "dua ribu dua puluh enam"
    assert terbilang(1_000_000) == "satu juta"
    assert terbilang(1_250_311) == "satu juta dua ratus lima puluh ribu tiga ratus sebelas"
    assert angka(1_000_000) == "1.000.000"


def test_date_in_words() -> None:
    assert hari_tanggal_terbilang(date(2026, 11, 26)) == (
        "Kamis tanggal dua puluh enam bulan November tahun dua ribu dua puluh enam (26-11-2026)")


def test_production_needs_real_trust_configuration(tmp_path: Path) -> None:
    for name in ("event.pem", "trust.yaml", "ca.pem", "sig.yaml", "key", "kek"):
        (tmp_path / name).write_text("placeholder\n")  # production start-up checks that the files exist
    base = {"env": "production", "database_url": "postgresql+psycopg://x/y?sslmode=verify-full&sslrootcert=system",
            "auth_dev_issuer": False, "auth_jwks_url": "https://idp.example/jwks", "kafka_security_protocol": "SSL",
            "subject_hash_key": "a-real-secret-of-enough-length", "event_dev_keys": False,
            "event_signing_key_file": tmp_path / "event.pem", "event_trust_file": tmp_path / "trust.yaml"}
    names = ("P3KE_DELIVERY_TRUST_ANCHORS", "P3KE_DELIVERY_SIGNATORY_CERTIFICATES", "P3KE_DELIVERY_SERVER_KEY_FILE",
             "P3KE_KEK_FILE")
    with pytest.raises(ConfigurationError) as info:
        load_settings(DeliverySettings, **base)
    assert all(name in str(info.value) for name in names)
    with pytest.raises(ConfigurationError) as info:  # named, but not there (a Secret not mounted)
        load_settings(DeliverySettings, **base, delivery_trust_anchors="/nonexistent/ca.pem",
                      delivery_signatory_certificates="/nonexistent/sig.yaml", delivery_server_key_file="/nonexistent",
                      kek_file="/nonexistent")
    assert all(f"{name}: /nonexistent" in str(info.value) for name in names)
    ok = load_settings(DeliverySettings, **base, delivery_trust_anchors=tmp_path / "ca.pem",
                       delivery_signatory_certificates=tmp_path / "sig.yaml", delivery_server_key_file=tmp_path / "key",
                       kek_file=tmp_path / "kek", delivery_fetch_revocation=True)
    assert ok.trust_anchors_path.name == "ca.pem"


def test_a_plain_settings_gets_the_delivery_view(tmp_path: object) -> None:
    plain = load_settings(service="delivery", data_dir=tmp_path)
    view = Runtime(SERVICE, plain).settings  # the runtime upcasts a plain Settings
    assert isinstance(view, DeliverySettings)
    assert view.storage_dir == plain.data_dir / "delivery"
    assert view.trust_anchors_path == plain.data_dir / "dev-ca" / "ca.pem"
