"""The witness's own settings (on top of the shared ones), `P3KE_WITNESS_*`.

The witness emits and consumes no events, so the shared production rules about Kafka and event keys do not
apply to it: `_safe_in_production` below replaces the shared check (same name, so pydantic runs this one
instead) with the rules that matter here: PostgreSQL verifying the server, a real token issuer for the read
APIs, the witness's own key file and at least one log to witness.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from p3ke_platform.settings import Settings, database_tls_problems, missing_files
from p3ke_platform.tlog.dev_keys import DEV_WITNESS_NAME
from p3ke_platform.tlog.note import CheckpointError, parse_verifier_key


class WitnessSettings(Settings):
    relay_in_api: bool = Field(default=False, description="the witness emits no events, so it runs no outbox relay")
    witness_name: str = Field(
        default=DEV_WITNESS_NAME, pattern=r"^[^\s+]+$",
        description="the name in its cosignature lines, e.g. kemnaker.go.id/p3ke/witness")
    witness_key_file: Path | None = Field(
        default=None, description="Ed25519 private key (PEM, PKCS#8); outside production default a development "
        "key derived from a published seed (p3ke_platform.tlog.dev_keys)")
    witness_logs: str = Field(
        default="", description="JSON list of the witnessed logs' checkpoint verifier keys "
        "(`origin+hexid+base64(0x01||key)`; the key name is the log's origin)")
    witness_logs_file: Path | None = Field(
        default=None, description="file of more such keys, one a line (# comments), e.g. a mounted ConfigMap")
    witness_max_page: int = Field(default=1000, ge=1, le=100_000, description="most alarms one listing returns")

    @field_validator("witness_logs")
    @classmethod
    def _logs_are_keys(cls, value: str) -> str:
        if value.strip():
            _parse_json_keys(value)
        return value

    @model_validator(mode="after")
    def _logs_file_is_keys(self) -> WitnessSettings:
        if self.witness_logs_file is not None and Path(self.witness_logs_file).is_file():
            _ = self.log_keys()
        return self

    def log_keys(self) -> list[str]:
        """The verifier keys of every witnessed log: P3KE_WITNESS_LOGS, then P3KE_WITNESS_LOGS_FILE (each once)."""
        keys = _parse_json_keys(self.witness_logs) if self.witness_logs.strip() else []
        if self.witness_logs_file is not None:
            where = f"P3KE_WITNESS_LOGS_FILE {self.witness_logs_file}"
            try:
                text = Path(self.witness_logs_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"{where}: cannot read it ({exc})") from None
            for number, line in enumerate(text.splitlines(), 1):
                line = line.strip()
                if line and not line.startswith("#"):
                    keys.append(_checked_key(line, f"{where} line {number}"))
        return list(dict.fromkeys(keys))

    @model_validator(mode="after")
    def _safe_in_production(self) -> WitnessSettings:
        if self.env != "production":
            return self
        problems = []
        if self.effective_database_url.startswith("sqlite"):
            problems.append("P3KE_DATABASE_URL: SQLite is the embedded default; production needs PostgreSQL")
        problems += database_tls_problems(self.effective_database_url)
        if self.auth_dev_issuer:
            problems.append("P3KE_AUTH_DEV_ISSUER: the local development token issuer must be off")
        if not (self.auth_jwks_url or self.auth_public_key_file):
            problems.append("P3KE_AUTH_JWKS_URL or P3KE_AUTH_PUBLIC_KEY_FILE: no token issuer key configured")
        if self.auth_jwks_url and not self.auth_jwks_url.startswith("https://"):
            problems.append("P3KE_AUTH_JWKS_URL: must be https:// in production")
        if self.witness_key_file is None:
            problems.append("P3KE_WITNESS_KEY_FILE: production needs the witness's own signing key")
        if self.witness_name == DEV_WITNESS_NAME:
            problems.append("P3KE_WITNESS_NAME: name the witness (e.g. kemnaker.go.id/p3ke/witness)")
        problems += missing_files(("P3KE_WITNESS_KEY_FILE", self.witness_key_file),
                                  ("P3KE_WITNESS_LOGS_FILE", self.witness_logs_file),
                                  ("P3KE_AUTH_PUBLIC_KEY_FILE", self.auth_public_key_file))
        if not problems and not self.log_keys():
            problems.append("P3KE_WITNESS_LOGS or P3KE_WITNESS_LOGS_FILE: no log to witness (the log's checkpoint "
                            "verifier key, `p3ke audit public-key`)")
        if problems:
            raise ValueError("unsafe production configuration:\n  " + "\n  ".join(problems))
        return self


def _parse_json_keys(value: str) -> list[str]:
    try:
        keys = json.loads(value)
    except json.JSONDecodeError:
        raise ValueError("P3KE_WITNESS_LOGS must be a JSON list of verifier keys, "
                         'e.g. ["p3ke.local/audit+1a2b3c4d+AbC..."]') from None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ValueError("P3KE_WITNESS_LOGS must be a JSON list of verifier keys (strings)")
    return [_checked_key(k, f"P3KE_WITNESS_LOGS item {i + 1}") for i, k in enumerate(keys)]


def _checked_key(text: str, where: str) -> str:
    try:
        parse_verifier_key(text)
    except CheckpointError as exc:
        raise ValueError(f"{where}: {exc} (a log's checkpoint verifier key, origin+hexid+base64)") from None
    return text.strip()
