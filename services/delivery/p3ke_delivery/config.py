"""The delivery service's own settings (on top of the shared ones), `P3KE_DELIVERY_*`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from p3ke_platform.settings import Settings, missing_files
from p3ke_platform.shared_files import extracts_dir

DEFAULT_NUMBER_PATTERN = "{seq:03d}/BAST-P3KE/{program_short}/{month_roman}/{year}"


class DeliverySettings(Settings):
    delivery_storage_dir: Path | None = Field(
        default=None, description="BAST versions and packages; default <data_dir>/delivery")
    delivery_extract_root: Path | None = Field(
        default=None, description="extract files must lie under this directory; default <data_dir>/extracts, "
        "where targeting writes them")
    delivery_trust_anchors: Path | None = Field(
        default=None, description="PEM bundle of the CA(s) signatory certificates must chain to; "
        "default the development CA at <data_dir>/dev-ca/ca.pem (never in production)")
    delivery_signatory_certificates: Path | None = Field(
        default=None, description="YAML mapping certificates to the agreement's signatories; "
        "default <data_dir>/dev-ca/signatory-certificates.yaml (never in production)")
    delivery_server_key_file: Path | None = Field(
        default=None, description="32-byte secret sealing package passwords and signing download "
        "links; default a development key in <data_dir>/keys")
    delivery_bast_number_pattern: str = Field(
        default=DEFAULT_NUMBER_PATTERN,
        description="BAST number; placeholders {seq} {year} {month} {month_roman} {day} {program} "
        "{program_short}; {seq} counts within what the other placeholders fix")
    delivery_bast_place: str = Field(default="Jakarta", min_length=1, max_length=100)
    delivery_link_ttl_seconds: int = Field(
        default=900, ge=30, le=7 * 24 * 3600, description="lifetime of a download link")
    delivery_max_upload_bytes: int = Field(
        default=20 * 1024 * 1024, ge=64 * 1024, le=512 * 1024 * 1024, description="largest signed PDF")
    delivery_signing_skew_seconds: int = Field(
        default=300, ge=0, le=3600, description="tolerated clock difference of a signer's machine")
    delivery_revocation_mode: Literal["soft-fail", "hard-fail", "require"] = Field(
        default="require", description="revocation checking of signer certificates (pyhanko-certvalidator): "
        "`require` every certificate's status from a CRL or OCSP; `hard-fail` that of certificates naming a "
        "CRL or OCSP responder; `soft-fail` (development only) accepts an unknown status")
    delivery_fetch_revocation: bool = Field(
        default=False, description="fetch CRLs/OCSP from the URLs in the certificates while validating "
        "signatures (production: true, or give P3KE_DELIVERY_CRL_FILES)")
    delivery_crl_files: str = Field(
        default="", description="comma-separated CRL files (DER or PEM) checked besides what is fetched, read "
        "again for every signature; default outside production: the development CA's <data_dir>/dev-ca/ca.crl")
    delivery_prepare_in_api: bool = Field(
        default=True, description="run the preparer, which builds packages and BASTs: a background loop of the API "
        "process (or of `python -m p3ke_delivery jobs` when P3KE_JOBS_IN_API=false)")
    delivery_prepare_poll_ms: int = Field(default=500, ge=10, le=60_000)
    delivery_prepare_lease_seconds: int = Field(
        default=900, ge=10, le=86_400, description="how long one process may hold a preparation")
    delivery_prepare_attempts: int = Field(default=3, ge=1, le=100)
    delivery_batch_rows: int = Field(default=16_384, ge=1024, le=1_048_576,
                                     description="rows per batch while packaging (bounds memory)")
    # party 2's disposal certificate (berita acara pemusnahan): service_layer/disposal_certificates.py
    delivery_disposal_certificate_days: int = Field(
        default=30, ge=1, le=365, description="calendar days party 2 has to deliver its signed disposal certificate "
        "after a handover's purpose ended or the agreement ended (then the handover shows `disposal-overdue`)")
    delivery_disposal_number_pattern: str = Field(
        default="{seq:03d}/BAP-P3KE/{program_short}/{month_roman}/{year}",
        description="disposal certificate number; the placeholders of P3KE_DELIVERY_BAST_NUMBER_PATTERN")
    delivery_disposal_due_poll_seconds: int = Field(
        default=3600, ge=1, le=86_400, description="how often the `delivery-disposal-due` job looks for handovers "
        "whose agreement ended, to announce their disposal certificate as due (disposal-status-changed)")

    @field_validator("delivery_bast_number_pattern", "delivery_disposal_number_pattern")
    @classmethod
    def _pattern_formats(cls, value: str) -> str:
        from p3ke_delivery.domain.numbering import check_pattern

        check_pattern(value)
        return value

    @model_validator(mode="after")
    def _delivery_safe_in_production(self) -> DeliverySettings:
        if self.env != "production":
            return self
        problems = []
        if self.delivery_trust_anchors is None:
            problems.append("P3KE_DELIVERY_TRUST_ANCHORS: production needs the e-signature CA's certificate")
        if self.delivery_signatory_certificates is None:
            problems.append("P3KE_DELIVERY_SIGNATORY_CERTIFICATES: production needs the signatories' "
                            "certificate mapping")
        if self.delivery_server_key_file is None:
            problems.append("P3KE_DELIVERY_SERVER_KEY_FILE: production needs its own secret key file")
        if self.kek_file is None:
            problems.append("P3KE_KEK_FILE: production needs the key-encryption keys of the handovers' data keys")
        problems += revocation_problems(self)
        problems += missing_files(("P3KE_DELIVERY_TRUST_ANCHORS", self.delivery_trust_anchors),
                                  ("P3KE_DELIVERY_SIGNATORY_CERTIFICATES", self.delivery_signatory_certificates),
                                  ("P3KE_DELIVERY_SERVER_KEY_FILE", self.delivery_server_key_file),
                                  ("P3KE_KEK_FILE", self.kek_file),
                                  *(("P3KE_DELIVERY_CRL_FILES", path) for path in self.crl_paths))
        if problems:
            raise ValueError("unsafe production configuration:\n  " + "\n  ".join(problems))
        return self

    @property
    def storage_dir(self) -> Path:
        return self.delivery_storage_dir or Path(self.data_dir) / "delivery"

    @property
    def extract_root(self) -> Path:
        return self.delivery_extract_root or extracts_dir(self.data_dir)

    @property
    def dev_ca_dir(self) -> Path:
        return Path(self.data_dir) / "dev-ca"

    @property
    def trust_anchors_path(self) -> Path:
        return self.delivery_trust_anchors or self.dev_ca_dir / "ca.pem"

    @property
    def signatory_certificates_path(self) -> Path:
        return self.delivery_signatory_certificates or self.dev_ca_dir / "signatory-certificates.yaml"

    @property
    def crl_paths(self) -> list[Path]:
        """The revocation lists the verifier reads: the configured ones, else (outside production, with the
        development CA as trust anchor) the development CA's."""
        given = [Path(p.strip()) for p in self.delivery_crl_files.split(",") if p.strip()]
        if given or self.env == "production" or self.delivery_trust_anchors is not None:
            return given
        return [self.dev_ca_dir / "ca.crl"]

    @property
    def server_key_path(self) -> Path:
        return self.delivery_server_key_file or Path(self.data_dir) / "keys" / "delivery-server.key"



def revocation_problems(settings: DeliverySettings) -> list[str]:
    """Production refuses a signature whose certificate may have been revoked: revocation checking must
    fail hard, and the verifier must have where to learn the status from (fetching, or CRL files)."""
    problems = []
    if settings.delivery_revocation_mode == "soft-fail":
        problems.append(
            "P3KE_DELIVERY_REVOCATION_MODE: soft-fail menerima tanda tangan yang status pencabutan sertifikatnya "
            "tidak diketahui; produksi memerlukan require atau hard-fail / soft-fail accepts a signature whose "
            "certificate's revocation status is unknown; production needs require (or hard-fail)")
    if not settings.delivery_fetch_revocation and not settings.crl_paths:
        problems.append(
            "P3KE_DELIVERY_FETCH_REVOCATION or P3KE_DELIVERY_CRL_FILES: tidak ada sumber CRL/OCSP untuk memeriksa "
            "pencabutan sertifikat penandatangan; aktifkan pengambilan (true) atau berikan berkas CRL / no source "
            "of CRLs or OCSP responses to check signatory certificates against; turn fetching on (true) or give "
            "CRL files")
    return problems
