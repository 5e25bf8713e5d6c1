"""The shipped production overlay starts, with every secret as a file, and refuses weak transports (issue 15).

The production overlay is rendered with the real kustomize. For every container of every service workload,
the environment it would get (its ConfigMaps and env) is handed to that service's settings class, with the
files its Secrets and ConfigMaps would mount replaced by placeholders made here (generated Ed25519 keys, a
self-signed CA, random passwords: nothing real, nothing from the repository); the production validation
must accept it, and the platform's own loaders must accept the key files. Without any one mounted Secret or
ConfigMap key, start-up must stop, naming the setting that reads it. Every such file must be in the
runbook's secrets table.

Also: no Secret as an environment variable, images pinned by digest and pulled Always, Kafka's external
listener limited to source ranges, the settings refusing SASL_PLAINTEXT and `sslmode=require`, and the
outside policy checker (checkov, pinned, tools/k8s/install.sh) finding none of its three kinds of finding.
Missing tools fail the tests with instructions; nothing is skipped.
"""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import json
import re
import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from p3ke_platform.settings import ConfigurationError, Settings, load_settings
from p3ke_schemas.topics import ALL_SERVICES
from tests.contract.k8s_tools import checkov_findings, render, render_overlay
from tools.k8s import policy
from tools.k8s.manifests import (
    K8S,
    check_images_by_digest,
    check_kafka_external_listeners,
    check_pull_policy,
    check_secrets_as_files,
    check_services,
    check_settings_accept_environment,
    container_environment,
    container_files,
    kind_of,
    named,
    pod_spec,
    service_workloads,
    volume_files,
)

PROD = ("prod", None)
OVERLAYS = (("dev", None), PROD)

# --------------------------------------------------------------------------------------------
# placeholder files: generated here, never real, never from the repository


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _private_pem(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Placeholders:
    """Content for each (kind, object, key) the manifests mount; LookupError for anything else, so a new
    Secret or ConfigMap key gets a placeholder (and a runbook row) deliberately."""

    def __init__(self) -> None:
        self.event_keys = {svc: ed25519.Ed25519PrivateKey.generate() for svc in ALL_SERVICES}
        ca_key = ed25519.Ed25519PrivateKey.generate()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "P3KE placeholder CA (tests only)")])
        now = datetime.datetime.now(datetime.UTC)
        self.ca = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, None)
        )
        self._cache: dict[tuple[str, str, str], bytes] = {}

    def event_jwk(self, svc: str) -> dict[str, str]:
        raw = self.event_keys[svc].public_key().public_bytes(serialization.Encoding.Raw,
                                                             serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}

    def event_kid(self, svc: str) -> str:
        """The RFC 7638 thumbprint, the key id a service signs with when P3KE_EVENT_SIGNING_KEY_ID is unset."""
        jwk = self.event_jwk(svc)
        canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
        return _b64url(hashlib.sha256(canonical.encode()).digest())

    def __call__(self, kind: str, name: str, key: str) -> bytes:
        if (kind, name, key) not in self._cache:
            self._cache[(kind, name, key)] = self._make(kind, name, key)
        return self._cache[(kind, name, key)]

    def _make(self, kind: str, name: str, key: str) -> bytes:
        ca_pem = self.ca.public_bytes(serialization.Encoding.PEM)
        for svc in ALL_SERVICES:
            if (kind, name, key) == ("Secret", f"p3ke-{svc}-event-key", "private-key.pem"):
                return _private_pem(self.event_keys[svc])
            if (kind, name, key) in {("Secret", f"p3ke-{svc}", "password"),
                                     ("Secret", f"p3ke-{svc}-db-app", "password")}:
                return secrets.token_urlsafe(24).encode()
            if (kind, name, key) == ("Secret", f"p3ke-{svc}-db-ca", "ca.crt"):
                return ca_pem
            if (kind, name, key) == ("Secret", f"p3ke-{svc}-legal-holds-token", "token"):  # not a real token
                return f"placeholder-{secrets.token_urlsafe(24)}\n".encode()
        if (kind, name, key) == ("ConfigMap", "p3ke-event-trust", "event-trust.yaml"):
            keys = [{"kid": self.event_kid(s), "owner": s, "jwk": self.event_jwk(s)} for s in ALL_SERVICES]
            return yaml.safe_dump({"keys": keys}).encode()
        if (kind, name, key) == ("ConfigMap", "p3ke-delivery-trust", "signatory-certificates.yaml"):
            pin = hashlib.sha256(self.ca.public_bytes(serialization.Encoding.DER)).hexdigest()
            return yaml.safe_dump({"kind": "signatory-certificates",
                                   "certificates": [{"signatory_id": "placeholder-signatory", "sha256": pin}]}
                                  ).encode()
        fixed: dict[tuple[str, str, str], Callable[[], bytes]] = {
            ("Secret", "p3ke-token-issuer", "public-key.pem"): lambda: ed25519.Ed25519PrivateKey.generate()
            .public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
            ("Secret", "p3ke-subject-hash-key", "key"): lambda: base64.b64encode(secrets.token_bytes(48)),
            ("Secret", "p3ke-cluster-ca-cert", "ca.crt"): lambda: ca_pem,
            ("Secret", "p3ke-audit-checkpoint-key", "checkpoint-key.pem"):
                lambda: _private_pem(ed25519.Ed25519PrivateKey.generate()),
            ("Secret", "p3ke-delivery-server-key", "server.key"): lambda: secrets.token_hex(32).encode() + b"\n",
            ("Secret", "p3ke-delivery-kek", "kek-ring"):
                lambda: b"k1:" + base64.b64encode(secrets.token_bytes(32)) + b"\n",
            ("ConfigMap", "p3ke-delivery-trust", "trust-anchors.pem"): lambda: ca_pem,
            # generated from the repository: the real manifest (its hashes are public)
            ("ConfigMap", "p3ke-agreement-manifest", "agreement.sha256"): lambda: (K8S / "base" / "agreement.sha256")
            .read_bytes(),
        }
        if (kind, name, key) in fixed:
            return fixed[(kind, name, key)]()
        raise LookupError(f"{kind} {name} key {key}")


def start_up(doc: dict, settings: Settings) -> list[str]:
    """What the services load at start-up from these files, through their own loaders."""
    from p3ke_platform.event_keys import KeyRing, service_signer

    try:
        service_signer(settings, settings.service, KeyRing.configured(settings, []))
        if settings.service == "delivery":
            from p3ke_delivery.adapters.certificates import load_mapping, load_trust_anchors
            from p3ke_delivery.adapters.keys import load_or_create_key

            load_or_create_key(settings.server_key_path, create=False)
            assert load_trust_anchors(settings.trust_anchors_path)
            assert not load_mapping(settings.signatory_certificates_path).development
        if settings.service == "audit":
            from p3ke_audit.adapters.keys import signer

            signer(settings)
    except ConfigurationError as exc:
        return [f"{named(doc)}: {exc}"]
    return []


@pytest.fixture(scope="module")
def placeholders() -> Placeholders:
    return Placeholders()


# --------------------------------------------------------------------------------------------
# the production overlay starts


@pytest.mark.parametrize("variant", OVERLAYS, ids=lambda v: v[0])
def test_every_service_container_passes_its_production_settings_check(
    variant: tuple[str, None], tmp_path: Path, placeholders: Placeholders
) -> None:
    docs = render(variant)
    workloads = service_workloads(docs)
    assert {d["metadata"]["labels"]["app.kubernetes.io/name"] for d in workloads} == set(ALL_SERVICES)
    assert check_settings_accept_environment(docs, tmp_path, placeholders, then=start_up) == []


def _mounted_sources(doc: dict) -> dict[tuple[str, str], set[str]]:
    """(kind, object) mounted with listed keys -> the settings of the workload's containers naming its files."""
    spec = pod_spec(doc)
    out: dict[tuple[str, str], set[str]] = {}
    for volume in spec.get("volumes", []):
        files, _ = volume_files(volume)
        for kind, name, _key in files.values():
            out.setdefault((kind, name), set())
    return out


def _settings_naming(docs: list[dict], doc: dict) -> dict[tuple[str, str], set[str]]:
    readers = _mounted_sources(doc)
    spec = pod_spec(doc)
    for c in spec["containers"]:
        env = container_environment(docs, c)
        for path, (kind, name, _key) in container_files(spec, c).items():
            readers[(kind, name)] |= {var for var, value in env.items() if path in value}
    return readers


def _without(doc: dict, kind: str, name: str) -> dict:
    """`doc` with the Secret or ConfigMap `name` taken out of its pod's volumes."""
    doc = copy.deepcopy(doc)
    key = "secret" if kind == "Secret" else "configMap"
    for volume in pod_spec(doc)["volumes"]:
        if "projected" in volume:
            sources = volume["projected"]["sources"]
            volume["projected"]["sources"] = [s for s in sources if s.get(key, {}).get("name") != name]
        whole = volume.get("secret", {}).get("secretName") if kind == "Secret" else volume.get(key, {}).get("name")
        if whole == name:
            volume.pop(key)
            volume["emptyDir"] = {}
    return doc


def test_without_any_one_mounted_secret_start_up_stops_naming_its_setting(
    tmp_path: Path, placeholders: Placeholders
) -> None:
    docs = render(PROD)
    config_maps = kind_of(docs, "ConfigMap")
    tried = 0
    for doc in service_workloads(docs):
        for (kind, name), settings in sorted(_settings_naming(docs, doc).items()):
            assert settings, f"{named(doc)}: mounts {kind} {name}, but no setting names its files"
            problems = check_settings_accept_environment([*config_maps, _without(doc, kind, name)], tmp_path,
                                                         placeholders)
            assert problems, f"{named(doc)} starts without {kind} {name}"
            message = "\n".join(problems)
            assert all(s in message for s in settings), (named(doc), kind, name, settings, message)
            tried += 1
    assert tried >= 5 * 3 * 6  # every role of every service, each of its Secrets and ConfigMaps


def test_delivery_and_audit_name_their_own_keys(tmp_path: Path, placeholders: Placeholders) -> None:
    """The keys the issue names reach exactly the services that need them."""
    docs = render(PROD)
    for doc in service_workloads(docs):
        svc = doc["metadata"]["labels"]["app.kubernetes.io/name"]
        spec = pod_spec(doc)
        env = container_environment(docs, spec["containers"][0])
        files = container_files(spec, spec["containers"][0])
        sources = {files.get(env.get(var, "")) for var in env}
        assert ("Secret", f"p3ke-{svc}-event-key", "private-key.pem") in sources, named(doc)
        assert ("ConfigMap", "p3ke-event-trust", "event-trust.yaml") in sources, named(doc)
        delivery = {("Secret", "p3ke-delivery-server-key", "server.key"), ("Secret", "p3ke-delivery-kek", "kek-ring"),
                    ("ConfigMap", "p3ke-delivery-trust", "trust-anchors.pem"),
                    ("ConfigMap", "p3ke-delivery-trust", "signatory-certificates.yaml")}
        audit = {("Secret", "p3ke-audit-checkpoint-key", "checkpoint-key.pem")}
        assert (delivery <= sources) == (svc == "delivery") and not (delivery & set(files.values())) - sources
        assert (audit <= sources) == (svc == "audit") and not (audit & set(files.values())) - sources
        others = {f"p3ke-{s}-event-key" for s in ALL_SERVICES if s != svc}
        assert not {name for _, name, _ in files.values()} & others, f"{named(doc)} mounts another's key"


def test_an_environment_the_production_settings_refuse_fails(tmp_path: Path, placeholders: Placeholders) -> None:
    docs = copy.deepcopy(render(PROD))
    worker = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "feedback-worker")
    env = pod_spec(worker)["containers"][0]["env"]
    env[:] = [v for v in env if v["name"] != "P3KE_KAFKA_USERNAME"] + [
        {"name": "P3KE_KAFKA_SECURITY_PROTOCOL", "value": "SASL_PLAINTEXT"}]
    config = next(d for d in kind_of(docs, "ConfigMap") if d["metadata"]["name"].startswith("p3ke-config-"))
    config["data"]["P3KE_AUTH_DEV_ISSUER"] = "true"
    database = next(d for d in kind_of(docs, "ConfigMap") if d["metadata"]["name"].startswith("p3ke-audit-database"))
    database["data"]["P3KE_DATABASE_URL"] = database["data"]["P3KE_DATABASE_URL"].replace("verify-full", "require")
    problems = check_settings_accept_environment(docs, tmp_path, placeholders)
    assert any("feedback-worker" in p and "SASL_PLAINTEXT" in p for p in problems), problems
    assert any("ingest-api" in p and "P3KE_AUTH_DEV_ISSUER" in p for p in problems), problems
    assert any("audit-migrate" in p and "sslmode=require" in p for p in problems), problems


# --------------------------------------------------------------------------------------------
# the runbook


def _runbook_rows() -> list[list[str]]:
    text = (K8S / "README.md").read_text()
    section = text[text.index("## Secrets and configuration to create"):text.index("## First deploy")]
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.startswith("| ") and not line.startswith("| object")]


def _names_in(cell: str) -> list[re.Pattern[str]]:
    return [re.compile(re.escape(n).replace(re.escape("<service>"), "(" + "|".join(ALL_SERVICES) + ")") + "$")
            for n in re.findall(r"`([^`]+)`", cell)]


def test_every_mounted_file_is_in_the_runbooks_secrets_table() -> None:
    """Every Secret and ConfigMap key a production container reads: its row names the key, the setting and
    how the object is made."""
    rows = _runbook_rows()
    assert rows
    docs = render(PROD)
    for doc in service_workloads(docs):
        readers = _settings_naming(docs, doc)
        spec = pod_spec(doc)
        for c in spec["containers"]:
            for kind, name, key in set(container_files(spec, c).values()):
                row = next((r for r in rows if r[0].startswith(kind) and any(p.match(name) for p in _names_in(r[0]))),
                           None)
                assert row, f"the runbook's secrets table has no row for {kind} {name} ({named(doc)})"
                assert f"`{key}`" in row[1], f"the runbook's row for {kind} {name} does not name the key {key}"
                for setting in readers[(kind, name)] - {"P3KE_DATABASE_URL"}:
                    assert setting in row[2], f"the runbook's row for {kind} {name} does not name {setting}"
                assert len(row) == 4 and row[3], f"the runbook's row for {kind} {name} does not say how to make it"


def test_the_runbooks_key_id_recipe_is_the_thumbprint_the_services_sign_with(tmp_path: Path,
                                                                              placeholders: Placeholders) -> None:
    text = (K8S / "README.md").read_text()
    x_line = re.search(r"^\s*x=\$\((.+)\)$", text, re.MULTILINE)
    kid_line = re.search(r"^\s*kid=\$\((.+)\)$", text, re.MULTILINE)
    assert x_line and kid_line
    (tmp_path / "event-ingest.pem").write_bytes(placeholders("Secret", "p3ke-ingest-event-key", "private-key.pem"))
    script = f"s=ingest\nx=$({x_line.group(1)})\nkid=$({kid_line.group(1)})\necho \"$x $kid\"\n"
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert done.stdout.split() == [placeholders.event_jwk("ingest")["x"], placeholders.event_kid("ingest")]


# --------------------------------------------------------------------------------------------
# secrets as files, images by digest, pull policy, Kafka's external listener


@pytest.mark.parametrize("variant", OVERLAYS, ids=lambda v: v[0])
def test_secrets_reach_containers_as_files_only(variant: tuple[str, None]) -> None:
    docs = render(variant)
    assert check_secrets_as_files(docs) == []
    assert "secretKeyRef" not in json.dumps(docs)


@pytest.mark.parametrize("variant", OVERLAYS, ids=lambda v: v[0])
def test_images_are_pulled_always(variant: tuple[str, None]) -> None:
    assert check_pull_policy(render(variant)) == []


def test_production_pins_images_by_digest() -> None:
    assert check_images_by_digest(render(PROD)) == []


def test_productions_external_kafka_listener_admits_only_its_source_ranges() -> None:
    docs = render(PROD)
    assert check_kafka_external_listeners(docs) == []
    (kafka,) = kind_of(docs, "Kafka")
    assert any(listener["type"] != "internal" for listener in kafka["spec"]["kafka"]["listeners"])


def test_the_production_checks_catch_what_they_claim_to() -> None:
    docs = copy.deepcopy(render(PROD))
    api = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "targeting-api")
    container = pod_spec(api)["containers"][0]
    container["image"] = "registry.p3ke.invalid/p3ke/p3ke:0.1.0"
    container["imagePullPolicy"] = "IfNotPresent"
    container["env"].append({"name": "P3KE_KAFKA_PASSWORD",
                             "valueFrom": {"secretKeyRef": {"name": "p3ke-targeting", "key": "password"}}})
    container["envFrom"].append({"secretRef": {"name": "p3ke-subject-hash-key"}})
    assert any("targeting-api" in p and "digest" in p for p in check_images_by_digest(docs))
    assert any("targeting-api" in p and "IfNotPresent" in p for p in check_pull_policy(docs))
    secret_env = check_secrets_as_files(docs)
    assert any("P3KE_KAFKA_PASSWORD" in p for p in secret_env) and any("envFrom" in p for p in secret_env)
    (kafka,) = kind_of(docs, "Kafka")
    external = next(li for li in kafka["spec"]["kafka"]["listeners"] if li["type"] != "internal")
    external["networkPolicyPeers"] = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    external["configuration"].pop("externalTrafficPolicy")
    problems = check_kafka_external_listeners(docs)
    for needle in ("admit every address", "differ from", "externalTrafficPolicy"):
        assert any(needle in p for p in problems), (needle, problems)
    del external["networkPolicyPeers"], external["configuration"]
    problems = check_kafka_external_listeners(docs)
    assert any("anyone may connect" in p for p in problems) and any("loadBalancerSourceRanges" in p for p in problems)
    # a service signing with another's key, a migration with the Kafka password
    worker = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "audit-worker")
    migrate = next(d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "ingest-migrate")
    for source in next(v for v in pod_spec(worker)["volumes"] if v["name"] == "secrets")["projected"]["sources"]:
        if source.get("secret", {}).get("name") == "p3ke-audit-event-key":
            source["secret"]["name"] = "p3ke-ingest-event-key"
    next(v for v in pod_spec(migrate)["volumes"] if v["name"] == "secrets")["projected"]["sources"].append(
        {"secret": {"name": "p3ke-ingest", "items": [{"key": "password", "path": "kafka-password"}]}})
    problems = check_services(docs)
    assert any("audit-worker" in p and "P3KE_EVENT_SIGNING_KEY_FILE" in p for p in problems), problems
    assert any("ingest-migrate" in p and "Kafka password" in p for p in problems), problems


# --------------------------------------------------------------------------------------------
# the settings refuse weak transports


def _safe(tmp_path: Path) -> dict[str, object]:
    """Production settings that pass, with real files for every key they name."""
    files = Placeholders()
    for name, content in {"ca.pem": files("Secret", "p3ke-audit-db-ca", "ca.crt"),
                          "event.pem": files("Secret", "p3ke-audit-event-key", "private-key.pem"),
                          "trust.yaml": files("ConfigMap", "p3ke-event-trust", "event-trust.yaml"),
                          "issuer.pem": files("Secret", "p3ke-token-issuer", "public-key.pem"),
                          "hash.key": files("Secret", "p3ke-subject-hash-key", "key")}.items():
        (tmp_path / name).write_bytes(content)
    return {"env": "production", "service": "audit",
            "database_url": f"postgresql+psycopg://audit@db:5432/audit?sslmode=verify-full&sslrootcert={tmp_path}/ca.pem",
            "auth_dev_issuer": False, "auth_public_key_file": tmp_path / "issuer.pem",
            "kafka_security_protocol": "SASL_SSL", "kafka_ssl_cafile": tmp_path / "ca.pem",
            "event_dev_keys": False, "event_signing_key_file": tmp_path / "event.pem",
            "event_trust_file": tmp_path / "trust.yaml", "subject_hash_key_file": tmp_path / "hash.key"}


def test_production_accepts_tls_that_verifies(tmp_path: Path) -> None:
    settings = load_settings(**_safe(tmp_path))
    assert settings.env == "production" and len(settings.subject_hash_key) >= 16


@pytest.mark.parametrize(("change", "named_in_refusal"), [
    ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "P3KE_KAFKA_SECURITY_PROTOCOL: SASL_PLAINTEXT"),
    ({"kafka_security_protocol": "PLAINTEXT"}, "P3KE_KAFKA_SECURITY_PROTOCOL: PLAINTEXT"),
    ({"database_url": "postgresql+psycopg://audit@db/audit?sslmode=require&sslrootcert=/x"}, "sslmode=require"),
    ({"database_url": "postgresql+psycopg://audit@db/audit?sslmode=verify-ca&sslrootcert=/x"}, "sslmode=verify-ca"),
    ({"database_url": "postgresql+psycopg://audit@db/audit"}, "sslmode=(unset)"),
    ({"database_url": "postgresql+psycopg://audit@db/audit?sslmode=verify-full"}, "no sslrootcert"),
    ({"database_url": "postgresql+psycopg://audit@db/audit?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"},
     "sslrootcert: /nonexistent/ca.pem is not a readable file"),
    ({"kafka_ssl_cafile": "/nonexistent/kafka-ca.crt"}, "P3KE_KAFKA_SSL_CAFILE"),
    ({"event_signing_key_file": "/nonexistent/event.pem"}, "P3KE_EVENT_SIGNING_KEY_FILE"),
    ({"subject_hash_key_file": "/nonexistent/key"}, "P3KE_SUBJECT_HASH_KEY_FILE"),
    ({"kafka_password_file": "/nonexistent/password"}, "P3KE_KAFKA_PASSWORD_FILE"),
    ({"database_password_file": "/nonexistent/password"}, "P3KE_DATABASE_PASSWORD_FILE"),
])
def test_production_refuses_weak_transports_and_missing_files(tmp_path: Path, change: dict[str, object],
                                                              named_in_refusal: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(**{**_safe(tmp_path), **change})
    assert named_in_refusal in str(refused.value)


def test_a_password_file_completes_the_database_url(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("p@ss:w/rd\n")
    settings = load_settings(**{**_safe(tmp_path), "database_password_file": tmp_path / "password"})
    from sqlalchemy.engine import make_url

    url = make_url(settings.effective_database_url)
    assert (url.username, url.password, url.query["sslmode"]) == ("audit", "p@ss:w/rd", "verify-full")
    assert "p@ss" not in repr(settings) and "p%40ss" not in repr(settings)
    with pytest.raises(ConfigurationError, match="P3KE_DATABASE_URL holds a password"):
        load_settings(database_url="postgresql+psycopg://audit:other@db/audit", database_password="x")


# --------------------------------------------------------------------------------------------
# the outside policy checker


def test_checkov_finds_nothing_in_the_production_overlay() -> None:
    """checkov's checks of secrets as environment variables, image digests and pull policy (policy.POLICY_CHECKS)
    over `kustomize build deploy/k8s/overlays/prod`: all pass, and each ran."""
    assert checkov_findings(render_overlay("prod")) == []


def test_checkov_reports_the_three_kinds_of_finding() -> None:
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "old-style", "namespace": "p3ke"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {
            "metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{
                "name": "api", "image": "registry.p3ke.invalid/p3ke/p3ke:0.1.0",
                "env": [{"name": "P3KE_KAFKA_PASSWORD",
                         "valueFrom": {"secretKeyRef": {"name": "p3ke-ingest", "key": "password"}}}]}]}}},
    }
    found = checkov_findings(yaml.safe_dump(deployment))
    assert {f.split()[0] for f in found} == set(policy.POLICY_CHECKS), found
