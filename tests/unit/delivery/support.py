"""Helpers shared by the delivery tests (unit and integration) and the delivery benchmark."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from p3ke_delivery.adapters import dev_ca
from p3ke_delivery.adapters.bast_pdf import BastContent, PartyOnBast
from p3ke_delivery.adapters.signing import load_signer
from p3ke_platform.agreement import load_agreement
from p3ke_schemas import Actor, CloudEvent, ExtractCriteria, ExtractPrepared
from tests.unit.delivery.synthetic import write_extract

SIG_1 = "sig-kemenkopmk-deputi"
SIG_2 = "sig-kemnaker-kabarenbang"
SEVEN_ZIP = shutil.which("7z")

# a BAST as the preparer would fill it (fixed values, for rendering and signing tests)
CONTENT = BastContent(
    number="007/BAST-P3KE/PK/XI/2026", issued_on=date(2026, 11, 26), place="Jakarta",
    agreement_title="Pemanfaatan Data P3KE", agreement_signed_on=date(2023, 2, 28), terms_version="pks+add-1",
    parties=(PartyOnBast(1, "Kementerian Koordinator Bidang Pembangunan Manusia dan Kebudayaan", "Deputi",
                         "Jalan Medan Merdeka Barat Nomor 3", "003/PKS/DEP.1/KEMENKO/PMK/02/2023",
                         "Andie Megantara", "Plt. Deputi", "Kemenko PMK"),
             PartyOnBast(2, "Kementerian Ketenagakerjaan", "Barenbang", "Jalan Gatot Subroto 51",
                         "71668/KS.06/II/2023", "Ismail Pakaya", "Plt. Kepala Badan", "Kemnaker")),
    program_code="padat_karya", program_title="Program padat karya", program_article="3(b)",
    handover_id="ho-0123456789abcdef", request_id="req-1", extract_id="ex-1", dataset_version_id="dv-1",
    record_count=1234, fields=("nik", "nama"), counts_by_desil={"1": 1000, "2": 234},
    package_name="P3KE_padat_karya_ex-1.zip", package_size=4321, package_sha256="ab" * 32,
    extract_sha256="cd" * 32)


def signatories() -> list[dev_ca.SignatoryInfo]:
    terms = load_agreement(None, include_examples=True).timeline()[-1][1]
    return [dev_ca.SignatoryInfo(s.id, s.party, s.org, s.name, s.position, s.acting_for) for s in terms.signatories]


def make_dev_ca(directory: Path) -> dict[str, Path]:
    return dev_ca.write_dev_ca(directory, signatories())


def load_ca(directory: Path) -> dev_ca.Issued:
    key = serialization.load_pem_private_key((directory / "ca-key.pem").read_bytes(), None)
    cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    return dev_ca.Issued(key, cert)  # type: ignore[arg-type]


def signer(directory: Path, signatory_id: str) -> Any:
    return load_signer(key=directory / f"{signatory_id}.key.pem", cert=directory / f"{signatory_id}.cert.pem",
                       chain=[directory / "ca.pem"])


def signer_from(issued: dev_ca.Issued, directory: Path, name: str, chain: Path | None = None) -> Any:
    """A signer for a certificate made in a test (expired, untrusted, unregistered...)."""
    key, cert = directory / f"{name}.key.pem", directory / f"{name}.cert.pem"
    key.write_bytes(issued.key_pem())
    cert.write_bytes(issued.cert_pem())
    return load_signer(key=key, cert=cert, chain=[chain] if chain else [])


def expired_signer(ca_dir: Path, work: Path, like: str = SIG_1) -> Any:
    """A certificate of the dev CA, with the registered subject of `like`, that expired last week."""
    sig = next(s for s in signatories() if s.id == like)
    now = datetime.now(UTC)
    issued = dev_ca.issue(load_ca(ca_dir), common_name=sig.name, org=sig.acting_for[:64] if len(sig.acting_for) <= 64
                          else sig.org, unit=dev_ca.DEV_MARK, title=sig.position, days=7,
                          not_before=now - timedelta(days=14))
    return signer_from(issued, work, "expired", ca_dir / "ca.pem")


REQUESTER = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])
"""Who asked for the extracts of these tests (the integration harness's `officer`)."""
CRITERIA = ExtractCriteria(region_codes=["3201"], deciles=[1, 2], age_min=18, age_max=60,
                           reference_date=date(2026, 12, 1), sex="P")
JUSTIFICATION = "Padat karya Kabupaten Bogor 2026, tahap 1"


def extract_event(file: Path, sha256: str, rows: int, *, program: str = "padat_karya",
                  request_id: str | None = None, requester: Actor | None = REQUESTER,
                  recipient: Actor | None = None, **asked: Any) -> CloudEvent:
    """An accepted extract-prepared as targeting emits it, with what the request asked (`requester=None`
    for one from a targeting that did not report it yet)."""
    request_id = request_id or f"req-{uuid.uuid4().hex[:10]}"
    if requester is not None:
        asked = {"request_path": "api", "justification": JUSTIFICATION, "criteria": CRITERIA,
                 "fields": ["nik", "nama", "kode_kemendagri"], **asked}
    return CloudEvent.of(ExtractPrepared(
        request_id=request_id, extract_id=f"ex-{request_id[4:]}", agreement_id="pks-p3ke-2023",
        program=program, status="accepted", dataset_version_id="dv-test-1", rules_version="rules-1",
        record_count=rows, file_uri=file.as_uri(), file_sha256=sha256, prepared_at=datetime.now(UTC),
        requester=requester, recipient=recipient, **asked),
        source="urn:p3ke:service:targeting")


def synthetic_extract(data_dir: Path, rows: int, *, fmt: str = "parquet", seed: int = 7) -> tuple[Path, str]:
    path = data_dir / "extracts" / f"extract-{uuid.uuid4().hex[:8]}.{'parquet' if fmt == 'parquet' else 'csv'}"
    return path, write_extract(path, rows, fmt=fmt, seed=seed)


def seven_zip_extract(archive: Path, password: str, out: Path) -> subprocess.CompletedProcess[str]:
    assert SEVEN_ZIP, "7z is not installed (Debian: apt-get install p7zip-full)"
    return subprocess.run([SEVEN_ZIP, "x", "-y", f"-p{password}", f"-o{out}", str(archive)],
                          capture_output=True, text=True, timeout=300)
