"""Settings shared by every service process, read from `P3KE_*` environment variables.

One process runs one role of one service, so the environment is per process (12-factor). Defaults
are the embedded local setup (SQLite, a local data directory, a development token issuer); in
`production` unsafe values stop start-up with a message naming the setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound="Settings")

DEFAULT_PORTS = {"ingest": 8101, "targeting": 8102, "delivery": 8103, "feedback": 8104, "audit": 8105}


class ConfigurationError(RuntimeError):
    """Bad configuration: the message names the setting and what is wrong."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="P3KE_", extra="ignore", frozen=True)

    env: Literal["local", "test", "production"] = "local"
    service: str = Field(default="", description="which service this process runs")
    data_dir: Path = Field(default=Path("var/local"), description="snapshots, extracts, packages, keys")
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite in data_dir")
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"] = "PLAINTEXT"
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle of the brokers (e.g. Strimzi's)")
    kafka_sasl_mechanism: str | None = None
    kafka_username: str | None = None
    kafka_password: str | None = None
    consumer_group: str = Field(default="", description="Kafka consumer group; default p3ke-<service>")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=0, ge=0, le=65535, description="0 = the service's default port")
    worker_port: int = Field(default=0, ge=0, le=65535, description="faust web (health) port; 0 = free")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    # authentication: tokens from the ministries' identity provider (OIDC), or the local dev issuer
    auth_issuer: str = "p3ke-dev-issuer"
    auth_audience: str = "p3ke"
    auth_jwks_url: str | None = None
    auth_public_key_file: Path | None = None
    auth_dev_issuer: bool = Field(default=True, description="accept tokens of the local dev issuer")
    # the agreement
    agreement_dir: Path | None = Field(default=None, description="agreement + addenda YAML; default bundled")
    agreement_include_examples: bool = Field(
        default=False, description="also load addenda marked `example: true` (tests and the demo only)")
    # the outbox relay
    relay_in_api: bool = True
    jobs_in_api: bool = Field(default=True, description="run the service's background jobs in the API process "
                                                         "(false: in their own `jobs` process)")
    relay_batch: int = Field(default=500, ge=1, le=10_000)
    relay_idle_ms: int = Field(default=5, ge=1, le=10_000, description="poll interval of an idle relay")
    worker_batch: int = Field(default=500, ge=1, le=10_000, description="events applied per transaction")
    worker_batch_ms: int = Field(default=5, ge=1, le=10_000, description="longest wait to fill a batch")
    worker_session_timeout_s: float = Field(
        default=10.0, ge=6, le=300, description="a worker that stops heartbeating leaves its consumer group after "
        "this long, and its partitions move to the others (faust's default is 60 s)")
    # OWASP API4: each caller (token principal, else client address) gets a token bucket per process
    rate_limit_per_minute: int = Field(default=6000, ge=0, le=10_000_000,
                                       description="HTTP requests a minute per caller, bursts up to the same; 0 = off")
    # data subject lookup (UU PDP Art. 32): HMAC key for NIK references in audit events
    subject_hash_key: str = Field(default="local-development-subject-key", min_length=16)

    @field_validator("service")
    @classmethod
    def _known_service(cls, value: str) -> str:
        if value and value not in DEFAULT_PORTS:
            raise ValueError(f"P3KE_SERVICE must be one of {', '.join(DEFAULT_PORTS)}")
        return value

    @model_validator(mode="after")
    def _safe_in_production(self) -> Settings:
        if self.env != "production":
            return self
        problems = []
        if self.effective_database_url.startswith("sqlite"):
            problems.append("P3KE_DATABASE_URL: SQLite is the embedded default; production needs PostgreSQL")
        if self.auth_dev_issuer:
            problems.append("P3KE_AUTH_DEV_ISSUER: the local development token issuer must be off")
        if not (self.auth_jwks_url or self.auth_public_key_file):
            problems.append("P3KE_AUTH_JWKS_URL or P3KE_AUTH_PUBLIC_KEY_FILE: no token issuer key configured")
        if self.auth_jwks_url and not self.auth_jwks_url.startswith("https://"):
            problems.append("P3KE_AUTH_JWKS_URL: must be https:// in production")
        if self.kafka_security_protocol == "PLAINTEXT":
            problems.append("P3KE_KAFKA_SECURITY_PROTOCOL: PLAINTEXT is not allowed in production")
        if self.agreement_include_examples:
            problems.append("P3KE_AGREEMENT_INCLUDE_EXAMPLES: example addenda are not real agreements")
        if self.subject_hash_key == "local-development-subject-key":
            problems.append("P3KE_SUBJECT_HASH_KEY: the development key must be replaced by a secret")
        if problems:
            raise ValueError("unsafe production configuration:\n  " + "\n  ".join(problems))
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        name = self.service or "p3ke"
        return f"sqlite:///{(self.data_dir / f'{name}.db').resolve()}"

    @property
    def effective_api_port(self) -> int:
        return self.api_port or DEFAULT_PORTS.get(self.service, 8100)

    def kafka_client_options(self) -> dict[str, object]:
        """Connection options in kafka-python's names (shared by producer, consumer and admin)."""
        opts: dict[str, object] = {
            "bootstrap_servers": self.kafka_bootstrap.split(","),
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_ssl_cafile:
            opts["ssl_cafile"] = str(self.kafka_ssl_cafile)
        if self.kafka_sasl_mechanism:
            opts.update(sasl_mechanism=self.kafka_sasl_mechanism,
                        sasl_plain_username=self.kafka_username, sasl_plain_password=self.kafka_password)
        return opts


def load_settings(cls: type[S] | None = None, **overrides: object) -> S:
    """Build settings from the environment (plus overrides); a bad value raises ConfigurationError.

    A service with settings of its own passes its subclass of Settings as `cls`.
    """
    from pydantic import ValidationError

    try:
        return (cls or Settings)(**overrides)  # type: ignore[arg-type,return-value]
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"])
            name = f"P3KE_{loc.upper()}" if loc else "configuration"
            lines.append(f"{name}: {err['msg']}")
        raise ConfigurationError("invalid configuration:\n  " + "\n  ".join(lines)) from None
