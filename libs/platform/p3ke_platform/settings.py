"""Settings shared by every service process, read from `P3KE_*` environment variables.

One process runs one role of one service, so the environment is per process (12-factor). Defaults
are the embedded local setup (SQLite, a local data directory, a development token issuer); in
`production` unsafe values stop start-up with a message naming the setting.

Secrets can be given as files (a mounted Kubernetes Secret): `P3KE_<NAME>_FILE` holds the path whose content
becomes `P3KE_<NAME>` (the database password, the Kafka password, the subject hash key). In production every
configured key, certificate and secret file must exist, Kafka must use TLS and PostgreSQL must verify the
server's certificate and name.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from p3ke_platform.subject_keys import KeyRing

S = TypeVar("S", bound="Settings")
ExposureMode = Literal["public", "authenticated", "off"]

DEFAULT_PORTS = {"ingest": 8101, "targeting": 8102, "delivery": 8103, "feedback": 8104, "audit": 8105,
                 "witness": 8106}

# secret settings that may come from a file instead: value field -> file field (P3KE_<FIELD>_FILE)
SECRET_FILES = {"database_password": "database_password_file", "kafka_password": "kafka_password_file",
                "subject_hash_key": "subject_hash_key_file", "subject_hash_keys": "subject_hash_keys_file",
                "perturbation_key": "perturbation_key_file"}
# Kafka security protocols that encrypt; PLAINTEXT and SASL_PLAINTEXT send events and passwords in clear text
KAFKA_TLS_PROTOCOLS = ("SSL", "SASL_SSL")


class ConfigurationError(RuntimeError):
    """Bad configuration: the message names the setting and what is wrong."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="P3KE_", extra="ignore", frozen=True)

    env: Literal["local", "test", "production"] = "local"
    service: str = Field(default="", description="which service this process runs")
    data_dir: Path = Field(default=Path("var/local"), description="snapshots, extracts, packages, keys")
    database_url: str = Field(
        default="", description="SQLAlchemy URL without password; default SQLite in data_dir. PostgreSQL in "
        "production: `?sslmode=verify-full&sslrootcert=<the server CA's PEM file>`")
    database_password: str | None = Field(
        default=None, repr=False, description="added to a PostgreSQL URL that names a user but no password")
    database_password_file: Path | None = Field(
        default=None, description="file holding P3KE_DATABASE_PASSWORD (a mounted Secret)")
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"] = "PLAINTEXT"
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle of the brokers (e.g. Strimzi's)")
    kafka_sasl_mechanism: str | None = None
    kafka_username: str | None = None
    kafka_password: str | None = Field(default=None, repr=False)
    kafka_password_file: Path | None = Field(default=None, description="file holding P3KE_KAFKA_PASSWORD")
    consumer_group: str = Field(default="", description="Kafka consumer group; default p3ke-<service>")
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=0, ge=0, le=65535, description="0 = the service's default port")
    worker_port: int = Field(default=0, ge=0, le=65535, description="the worker's /healthz and /readyz port; 0 = free")
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
    agreement_manifest: Path | None = Field(
        default=None, description="sha256sum-format list of the agreement files accepted (`p3ke agreement "
        "manifest`): a file not listed, or changed, stops start-up. Required by every service that loads the "
        "agreement in production")
    # the outbox relay
    relay_in_api: bool = True
    jobs_in_api: bool = Field(default=True, description="run the service's background jobs in the API process "
                                                         "(false: in their own `jobs` process)")
    relay_batch: int = Field(default=500, ge=1, le=10_000)
    relay_idle_ms: int = Field(default=5, ge=1, le=10_000, description="poll interval of an idle relay")
    worker_engine: Literal["kafka-python", "faust"] = Field(
        default="kafka-python", description="the client the worker reads its batches with: `kafka-python` (a batch "
        "poll loop) or `faust` (faust's agents); both apply a batch through the same inbox and commit after it")
    worker_batch: int = Field(default=500, ge=1, le=10_000, description="events applied per transaction")
    worker_batch_ms: int = Field(default=5, ge=1, le=10_000, description="longest wait to fill a batch")
    worker_verify_processes: int = Field(
        default=1, ge=0, le=32, description="helper processes that check every event signature of a batch of 64 or "
        "more, instead of the worker (0: the worker checks them itself)")
    worker_session_timeout_s: float = Field(
        default=10.0, ge=3, le=300, description="a worker that stops heartbeating leaves its consumer group after "
        "this long, and its partitions move to the others (the broker must allow it: group.min.session.timeout.ms, "
        "6 s by default)")
    # operational endpoints (p3ke_platform.ops_endpoints): who may read the API description and the metrics
    api_docs: ExposureMode | None = Field(
        default=None, description="`/docs` (Swagger UI), `/redoc` and `/openapi.json`: `public`, `authenticated` "
        "(a bearer token with the operator, compliance-auditor or service-account role) or `off`; default public, "
        "in production authenticated")
    metrics: ExposureMode | None = Field(
        default=None, description="`/metrics` (Prometheus): `public`, `authenticated` (a bearer token with the "
        "operator or service-account role) or `off`; default public, in production authenticated")
    # the ingress: whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's forwarded_allow_ips)
    forwarded_allow_ips: str = Field(
        default="127.0.0.1,::1", description="addresses or CIDR networks (comma-separated) of the reverse proxies "
        "(the ingress controller) whose X-Forwarded-For and X-Forwarded-Proto headers are trusted: the client "
        "address (rate limit of anonymous calls, logs) and the scheme (https, Secure cookies) come from them; "
        "`*` trusts every peer (only where nothing but the proxy can reach the API)")
    # OWASP API4: each caller (token principal, else client address) gets a token bucket per process
    rate_limit_per_minute: int = Field(default=6000, ge=0, le=10_000_000,
                                       description="HTTP requests a minute per caller, bursts up to the same; 0 = off")
    # hostile uploads (p3ke_platform.tabular.archive_guard): what an uploaded ZIP/XLSX may hold, checked before
    # anything opens it (413 over a limit, 422 malformed)
    upload_zip_max_entries: int = Field(default=10_000, ge=1, description="entries in an uploaded ZIP/XLSX")
    upload_zip_max_entry_bytes: int = Field(default=4 * 2**30, ge=1,
                                            description="uncompressed size of one entry of an uploaded ZIP/XLSX")
    upload_zip_max_total_bytes: int = Field(default=16 * 2**30, ge=1,
                                            description="uncompressed size of all entries of an uploaded ZIP/XLSX")
    upload_zip_max_ratio: int = Field(default=200, ge=1, description="compression ratio of one entry (1 MiB or more)")
    upload_xlsx_max_shared_strings: int = Field(
        default=5_000_000, ge=1, description="distinct shared strings of an XLSX (8 bytes of memory each while read)")
    upload_xlsx_max_shared_strings_bytes: int = Field(default=2**30, ge=1,
                                                      description="uncompressed size of an XLSX's sharedStrings.xml")
    # data subject lookup (UU PDP Art. 32): HMAC key for NIK references in audit events
    subject_hash_key: str = Field(default="local-development-subject-key", min_length=16, repr=False)
    subject_hash_key_file: Path | None = Field(default=None, description="file holding P3KE_SUBJECT_HASH_KEY")
    # key rotation (p3ke_platform.subject_keys): the ring, current key first; without it the key above is `k1`
    subject_hash_keys: str | None = Field(
        default=None, repr=False, description="subject hash key ring: `<id>:<secret>` entries (commas or line "
        "breaks), the current key first, older keys after it while references made with them must still be found; "
        "replaces P3KE_SUBJECT_HASH_KEY (which may stay set only as the ring's `k1`)")
    subject_hash_keys_file: Path | None = Field(default=None, description="file holding P3KE_SUBJECT_HASH_KEYS")
    perturbation_key: str | None = Field(
        default=None, min_length=16, repr=False, description="secret targeting derives its cell-key perturbation and "
        "selection order from, so rotating the subject hash key changes no published answer; default the secret of "
        "key `k1` (the legacy P3KE_SUBJECT_HASH_KEY). Set it to that secret before `k1` leaves the ring")
    perturbation_key_file: Path | None = Field(default=None, description="file holding P3KE_PERTURBATION_KEY")
    # signed events (p3ke_schemas.signing): this service's private key, and the pinned public keys of all services
    event_signing_key_file: Path | None = Field(
        default=None, description="PKCS#8 PEM private key (Ed25519 or P-256) this service signs its events with")
    event_signing_key_id: str | None = Field(
        default=None, description="the key's id (JWS kid); default its RFC 7638 thumbprint")
    event_trust_file: Path | None = Field(
        default=None, description="YAML/JSON pinning each service's public event keys (owner, kid, JWK, validity)")
    event_dev_keys: bool = Field(
        default=True, description="trust the built-in development keys of every service and of both ministry "
        "platforms (local and test only)")
    event_clock_skew_s: int = Field(
        default=300, ge=0, le=3600, description="how far a platform's claimed time may be from the broker's receipt")
    # retention (UU PDP Art. 16(2), 43-44; p3ke_platform.retention): required in production (checked at start-up)
    retention_schedule: Path | None = Field(
        default=None, description="the retention schedule (YAML, one rule per kind of artefact); default the "
        "packaged one outside production")
    retention_disposal_seconds: int = Field(
        default=3600, ge=0, le=7 * 86_400, description="how often the owning services' disposal job runs; it runs "
        "only where P3KE_RETENTION_SCHEDULE is set explicitly (so never by default in `make run`); 0 = never")
    legal_holds_url: str | None = Field(
        default=None, description="the audit service's base URL, asked for legal holds before anything is disposed "
        "of (unset: nothing is disposed)")
    legal_holds_token_file: Path | None = Field(
        default=None, description="a bearer token (service-account role) for the legal holds; outside production "
        "the development issuer mints one when unset")
    # envelope encryption (p3ke_platform.envelope): the key-encryption keys that wrap every artefact's data key
    kek_file: Path | None = Field(
        default=None, description="the KEK ring (a mounted Secret): `<id>:<base64 of 32 bytes>` entries, current "
        "first; required in production by services keeping data keys; default a development ring in "
        "<data_dir>/keys/kek-ring")

    @field_validator("service")
    @classmethod
    def _known_service(cls, value: str) -> str:
        if value and value not in DEFAULT_PORTS:
            raise ValueError(f"P3KE_SERVICE must be one of {', '.join(DEFAULT_PORTS)}")
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        entries = [e.strip() for e in value.split(",") if e.strip()]
        bad = [e for e in entries if e != "*" and not _is_address_or_network(e)]
        if bad:
            raise ValueError(f"not an IP address or CIDR network: {', '.join(bad)} (e.g. 10.244.0.0/16,127.0.0.1)")
        return ",".join(entries)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """P3KE_<NAME>_FILE: the file's content (without its final line break) is P3KE_<NAME>."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for field, file_field in SECRET_FILES.items():
            path = data.get(file_field)
            if path is None or path == "":
                data[file_field] = None
                continue
            setting = f"P3KE_{file_field.upper()}"
            try:
                value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ValueError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None
            except UnicodeDecodeError:
                raise ValueError(f"{setting}: {path} is not UTF-8 text") from None
            if not value:
                raise ValueError(f"{setting}: {path} is empty")
            given = data.get(field)
            if given not in (None, "") and given != value:
                raise ValueError(f"P3KE_{field.upper()} and {setting}: set one of them, not both")
            data[field] = value
        return apply_key_ring(data)

    @model_validator(mode="after")
    def _database_password_fits(self) -> Settings:
        if self.database_password and self.database_url:
            parts = urlsplit(self.database_url)
            if parts.password is not None:
                raise ValueError("P3KE_DATABASE_URL holds a password, and P3KE_DATABASE_PASSWORD(_FILE) another")
            if not parts.username:
                raise ValueError("P3KE_DATABASE_URL names no user (user@host) for P3KE_DATABASE_PASSWORD(_FILE)")
        return self

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
        if self.kafka_security_protocol not in KAFKA_TLS_PROTOCOLS:
            problems.append(f"P3KE_KAFKA_SECURITY_PROTOCOL: {self.kafka_security_protocol} is not allowed in "
                            f"production (no TLS); use {' or '.join(KAFKA_TLS_PROTOCOLS)}")
        problems += database_tls_problems(self.effective_database_url)
        if self.agreement_include_examples:
            problems.append("P3KE_AGREEMENT_INCLUDE_EXAMPLES: example addenda are not real agreements")
        if self.event_dev_keys:
            problems.append("P3KE_EVENT_DEV_KEYS: the built-in development event keys must be off")
        if not self.event_signing_key_file:
            problems.append("P3KE_EVENT_SIGNING_KEY_FILE: no private key to sign this service's events with")
        if not self.event_trust_file:
            problems.append("P3KE_EVENT_TRUST_FILE: the services' public event keys are not pinned")
        if self.subject_hash_key == "local-development-subject-key":
            problems.append("P3KE_SUBJECT_HASH_KEY: the development key must be replaced by a secret")
        problems += missing_files(
            ("P3KE_AUTH_PUBLIC_KEY_FILE", self.auth_public_key_file),
            ("P3KE_KAFKA_SSL_CAFILE", self.kafka_ssl_cafile),
            ("P3KE_EVENT_SIGNING_KEY_FILE", self.event_signing_key_file),
            ("P3KE_EVENT_TRUST_FILE", self.event_trust_file),
            ("P3KE_AGREEMENT_MANIFEST", self.agreement_manifest),
            ("P3KE_LEGAL_HOLDS_TOKEN_FILE", self.legal_holds_token_file),
        )
        if problems:
            raise ValueError("unsafe production configuration:\n  " + "\n  ".join(problems))
        return self

    @property
    def effective_database_url(self) -> str:
        """The URL to connect with: P3KE_DATABASE_URL plus P3KE_DATABASE_PASSWORD(_FILE), else SQLite."""
        if self.database_url:
            return with_password(self.database_url, self.database_password)
        name = self.service or "p3ke"
        return f"sqlite:///{(self.data_dir / f'{name}.db').resolve()}"

    @property
    def subject_key_ring(self) -> KeyRing:
        """The subject hash keys, current first (P3KE_SUBJECT_HASH_KEYS, else P3KE_SUBJECT_HASH_KEY as `k1`)."""
        from p3ke_platform.subject_keys import legacy_ring, parse_key_ring

        return parse_key_ring(self.subject_hash_keys) if self.subject_hash_keys else legacy_ring(self.subject_hash_key)

    @property
    def perturbation_secret(self) -> str:
        """What targeting derives its perturbation record key and selection order from: stable across rotations of
        the subject hash key (P3KE_PERTURBATION_KEY, by default key k1's secret)."""
        return self.perturbation_key or self.subject_hash_key

    @property
    def effective_api_docs(self) -> ExposureMode:
        """P3KE_API_DOCS, by default `public`, in production `authenticated`."""
        return self.api_docs or ("authenticated" if self.env == "production" else "public")

    @property
    def effective_metrics(self) -> ExposureMode:
        """P3KE_METRICS, by default `public`, in production `authenticated`."""
        return self.metrics or ("authenticated" if self.env == "production" else "public")

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


AGREEMENT_MANIFEST_REQUIRED = (
    "P3KE_AGREEMENT_MANIFEST: tidak diatur; di produksi layanan hanya menerima berkas ketentuan perjanjian yang "
    "SHA-256-nya tercantum dalam manifest yang dipasang operator (buat dengan `p3ke agreement manifest --dir "
    "<direktori perjanjian>`) / not set: in production a service accepts only agreement terms files whose SHA-256 "
    "is listed in the manifest the operator deploys (make it with `p3ke agreement manifest --dir <agreement dir>`)"
)


def agreement_manifest_problems(settings: Settings) -> list[str]:
    """Production loads the agreement only under a manifest (checked where the agreement is loaded, so that a
    service that never reads it, the witness, needs none)."""
    if settings.env == "production" and settings.agreement_manifest is None:
        return [AGREEMENT_MANIFEST_REQUIRED]
    return []


def _is_address_or_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def missing_files(*settings: tuple[str, Path | None]) -> list[str]:
    """Problems for the configured (name, path) pairs whose path is not a readable file."""
    return [f"{name}: {path} is not a readable file (is its Secret or ConfigMap mounted?)"
            for name, path in settings
            if path is not None and not (Path(path).is_file() and os.access(path, os.R_OK))]


def database_tls_problems(url: str) -> list[str]:
    """A PostgreSQL URL must verify the server: `sslmode=verify-full` and `sslrootcert` (a CA file, or `system`)."""
    if not url.startswith(("postgresql", "postgres:")):
        return []
    query = parse_qs(urlsplit(url).query)
    mode = query.get("sslmode", [""])[-1]
    root = query.get("sslrootcert", [""])[-1]
    problems = []
    if mode != "verify-full":
        problems.append(f"P3KE_DATABASE_URL: sslmode={mode or '(unset)'} does not verify the server's certificate "
                        "and name; production needs sslmode=verify-full")
    if not root:
        problems.append("P3KE_DATABASE_URL: no sslrootcert (the CA file that signed the server's certificate)")
    elif root != "system":
        problems += missing_files(("P3KE_DATABASE_URL sslrootcert", Path(root)))
    return problems


def with_password(url: str, password: str | None) -> str:
    """`url` with `password` for the user it names (PostgreSQL URLs naming a user without a password only)."""
    if not password or not url.startswith(("postgresql", "postgres:")):
        return url
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at or not userinfo or ":" in userinfo:
        return url
    return urlunsplit(parts._replace(netloc=f"{userinfo}:{quote(password, safe='')}@{host}"))


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


def apply_key_ring(data: dict[str, Any]) -> dict[str, Any]:
    """With P3KE_SUBJECT_HASH_KEYS, `subject_hash_key` becomes the ring's current secret (what every new reference is
    computed with); `perturbation_key` defaults to the secret of key `k1`, the key targeting's perturbation was
    first derived from. Raises ValueError (Indonesian, then English) on a malformed ring or a contradiction."""
    from p3ke_platform.subject_keys import LEGACY_KEY_ID, parse_key_ring

    legacy = data.get("subject_hash_key") or None
    if data.get("subject_hash_keys") in (None, ""):
        data["subject_hash_keys"] = None
        if data.get("perturbation_key") in (None, "") and legacy:
            data["perturbation_key"] = legacy
        return data
    ring = parse_key_ring(str(data["subject_hash_keys"]))
    k1 = ring.get(LEGACY_KEY_ID)
    if legacy and (k1 is None or k1.secret != legacy):
        raise ValueError("P3KE_SUBJECT_HASH_KEY dan P3KE_SUBJECT_HASH_KEYS: atur salah satu saja, atau samakan "
                         "P3KE_SUBJECT_HASH_KEY dengan kunci k1 di cincin / set one of them, or make "
                         "P3KE_SUBJECT_HASH_KEY the ring's key k1")
    data["subject_hash_key"] = ring.current.secret
    if data.get("perturbation_key") in (None, ""):
        if k1 is None and data.get("service") == "targeting":
            raise ValueError("P3KE_PERTURBATION_KEY: kunci k1 sudah keluar dari P3KE_SUBJECT_HASH_KEYS; isi "
                             "P3KE_PERTURBATION_KEY dengan rahasia k1 agar jawaban perencanaan tidak berubah / key k1 "
                             "has left P3KE_SUBJECT_HASH_KEYS; set P3KE_PERTURBATION_KEY to k1's secret so that "
                             "planning answers do not change")
        data["perturbation_key"] = k1.secret if k1 else None
    return data
