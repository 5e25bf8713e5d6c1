"""Bearer-token authentication and role/org authorisation, through a tiny FastAPI app.

Keys come from a PEM file, from a JWKS served over real HTTP on 127.0.0.1, and from the local dev
issuer. No test touches the network beyond loopback.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from p3ke_platform.api_errors import install_error_handlers
from p3ke_platform.auth import (
    DEV_ISSUER,
    DevIssuer,
    Principal,
    PrincipalDep,
    TokenVerifier,
    dev_key_path,
    require,
)
from p3ke_platform.auth.cli import register
from p3ke_platform.auth.tokens import load_or_create_dev_key
from p3ke_platform.settings import ConfigurationError, Settings

ISSUER = "https://sso.example.go.id/realms/p3ke"
AUDIENCE = "p3ke"


# --- fixtures ------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("P3KE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def pem_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def pem_file(tmp_path: Path, pem_key: ed25519.Ed25519PrivateKey) -> Path:
    path = tmp_path / "issuer.pub.pem"
    path.write_bytes(pem_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"env": "test", "data_dir": tmp_path / "data", "auth_issuer": ISSUER,
                              "auth_audience": AUDIENCE, "auth_dev_issuer": False}
    values.update(overrides)
    return Settings(**values)


# module level: FastAPI resolves the (postponed) annotations in the module's namespace
Officer = Annotated[Principal, Depends(require("program-officer", org="kemnaker"))]
Steward = Annotated[Principal, Depends(require("data-steward", "operator", org="kemenkopmk"))]
Auditor = Annotated[Principal, Depends(require("compliance-auditor"))]


def make_app(settings: Settings) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)  # the platform's error answers: Indonesian unless English is asked for
    app.state.token_verifier = TokenVerifier(settings)

    @app.get("/me")
    def me(principal: PrincipalDep) -> dict[str, Any]:
        return {**principal.model_dump(mode="json"), "roles": sorted(principal.roles)}

    @app.get("/officer")
    def officer(principal: Officer) -> dict[str, str]:
        return {"subject": principal.subject}

    @app.get("/steward")
    def steward(principal: Steward) -> dict[str, str]:
        return {"subject": principal.subject}

    @app.get("/audit")
    def audit(principal: Auditor) -> dict[str, str]:
        return {"subject": principal.subject}

    return app


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "org": "kemnaker",
                              "roles": ["program-officer"], "iat": now, "nbf": now, "exp": now + 600,
                              "jti": "token-1"}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(tmp_path: Path, pem_file: Path) -> TestClient:
    return TestClient(make_app(settings_for(tmp_path, auth_public_key_file=pem_file)))


def sign(key: Any, alg: str = "EdDSA", kid: str | None = None, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers={"kid": kid} if kid else None)


def assert_401(response: Any, token: str | None = None, detail: str | None = None) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    if detail is not None:  # the reason in Indonesian, the token's own problem quoted, a stable code
        body = response.json()
        assert body["detail"].startswith("Token bearer ditolak") or body["detail"].startswith("Perlu token bearer")
        assert detail in body["detail"] and body["code"].startswith("auth.token_")
    if token:  # the token is never echoed back, not even its signature
        signature = token.rsplit(".", 1)[-1]
        assert token not in response.text and (not signature or signature not in response.text)


# --- authentication: 401 -------------------------------------------------------------------------------

def test_no_token(client: TestClient) -> None:
    assert_401(client.get("/me"), detail="Perlu token bearer")
    english = client.get("/me", headers={"Accept-Language": "en"})
    assert english.json() == {"detail": "A bearer token is required: sign in and send it in the Authorization header.",
                              "code": "auth.token_required"}
    assert_401(client.get("/officer"))
    assert_401(client.get("/me", headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"}))
    assert_401(client.get("/me", headers={"Authorization": "Bearer "}))


@pytest.mark.parametrize("token", ["abc", "abc.def.ghi", "x" * 9000, "e30.e30.", "Zm9v.YmFy.YmF6"])
def test_malformed_token(client: TestClient, token: str) -> None:
    assert_401(client.get("/me", headers=bearer(token)), token)


@pytest.mark.parametrize("header", [{"kid": 5}, {"kid": None}, {"crit": ["exp"]}, {"alg": ["EdDSA"]}])
def test_hostile_headers_are_401_not_500(client: TestClient, header: dict[str, Any]) -> None:
    token = f"{_b64(json.dumps({'alg': 'EdDSA', 'typ': 'JWT', **header}).encode())}." \
            f"{_b64(json.dumps(claims()).encode())}.AAAA"
    assert_401(client.get("/me", headers=bearer(token)), token)


def test_expired_token(client: TestClient, pem_key: ed25519.Ed25519PrivateKey) -> None:
    now = int(time.time())
    token = sign(pem_key, iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    assert_401(client.get("/me", headers=bearer(token)), token, "token has expired")


def test_small_clock_skew_is_tolerated(client: TestClient, pem_key: ed25519.Ed25519PrivateKey) -> None:
    now = int(time.time())
    token = sign(pem_key, iat=now + 5, nbf=now + 5, exp=now - 5 + 600)
    assert client.get("/me", headers=bearer(token)).status_code == 200
    assert_401(client.get("/me", headers=bearer(sign(pem_key, nbf=now + 600, exp=now + 1200))),
               detail="token is not valid yet")


@pytest.mark.parametrize(("override", "detail"), [
    ({"aud": "another-system"}, "token was issued for another audience"),
    ({"iss": "https://evil.example"}, "token issuer is not trusted"),
    ({"iss": DEV_ISSUER}, "token issuer is not trusted"),
])
def test_wrong_audience_or_issuer(client: TestClient, pem_key: ed25519.Ed25519PrivateKey,
                                  override: dict[str, str], detail: str) -> None:
    token = sign(pem_key, **override)
    assert_401(client.get("/me", headers=bearer(token)), token, detail)


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "aud", "iss", "org", "roles"])
def test_required_claims(client: TestClient, pem_key: ed25519.Ed25519PrivateKey, missing: str) -> None:
    values = claims()
    del values[missing]
    token = jwt.encode(values, pem_key, algorithm="EdDSA")
    assert_401(client.get("/me", headers=bearer(token)), token)
    assert missing in client.get("/me", headers=bearer(token)).json()["detail"]


def test_unknown_org_and_bad_roles(client: TestClient, pem_key: ed25519.Ed25519PrivateKey) -> None:
    assert_401(client.get("/me", headers=bearer(sign(pem_key, org="kemenkeu"))))
    assert_401(client.get("/me", headers=bearer(sign(pem_key, roles=[1, 2]))))
    assert_401(client.get("/me", headers=bearer(sign(pem_key, sub=""))))


def test_alg_none_is_rejected(client: TestClient) -> None:
    token = jwt.encode(claims(), None, algorithm="none")  # type: ignore[arg-type]
    assert_401(client.get("/me", headers=bearer(token)), token)
    assert "algorithm" in client.get("/me", headers=bearer(token)).json()["detail"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_hs256_with_the_public_key_as_secret_is_rejected(client: TestClient, pem_file: Path) -> None:
    """The classic key-confusion forgery: HMAC keyed with the (public) PEM the verifier trusts."""
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}." \
                    f"{_b64(json.dumps(claims(roles=['operator'])).encode())}"
    signature = hmac.new(pem_file.read_bytes(), signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{_b64(signature)}"
    assert_401(client.get("/me", headers=bearer(token)), token)


def test_tampered_and_foreign_signatures(client: TestClient, pem_key: ed25519.Ed25519PrivateKey) -> None:
    header, _payload, signature = sign(pem_key).split(".")
    forged_payload = _b64(json.dumps(claims(org="kemenkopmk", roles=["data-steward"])).encode())
    forged = f"{header}.{forged_payload}.{signature}"
    assert_401(client.get("/steward", headers=bearer(forged)), forged, "token signature is not valid")
    stranger = sign(ed25519.Ed25519PrivateKey.generate())
    assert_401(client.get("/me", headers=bearer(stranger)), stranger, "token signature is not valid")
    rsa_token = sign(rsa.generate_private_key(public_exponent=65537, key_size=2048), alg="RS256")
    assert_401(client.get("/me", headers=bearer(rsa_token)), rsa_token,
               "token is not signed by a trusted issuer key")


# --- authorisation: 403 and 200 ------------------------------------------------------------------------

def test_good_token_gives_the_principal(client: TestClient, pem_key: ed25519.Ed25519PrivateKey) -> None:
    token = sign(pem_key, roles=["program-officer", "signatory", "offline_access"])
    response = client.get("/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json() == {"subject": "alice", "org": "kemnaker",
                               "roles": ["program-officer", "signatory"],
                               "service_account": False, "token_id": "token-1"}
    assert client.get("/officer", headers=bearer(token)).json() == {"subject": "alice"}


def test_wrong_role_is_403(client: TestClient, pem_key: ed25519.Ed25519PrivateKey) -> None:
    token = sign(pem_key, roles=["signatory"])
    response = client.get("/officer", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["detail"] == ("Perlu salah satu peran berikut: program-officer; minta administrator "
                                         "menambahkan peran itu ke akun Anda.")
    assert response.json()["code"] == "auth.wrong_role"
    no_roles = sign(pem_key, roles=[])
    assert client.get("/officer", headers=bearer(no_roles)).status_code == 403
    assert client.get("/me", headers=bearer(no_roles)).status_code == 200  # authenticated, no rights


def test_wrong_org_is_403(client: TestClient, pem_key: ed25519.Ed25519PrivateKey) -> None:
    other_party = sign(pem_key, org="kemenkopmk", roles=["program-officer", "data-steward"])
    response = client.get("/officer", headers=bearer(other_party))
    assert response.status_code == 403 and response.json()["code"] == "auth.wrong_org"
    assert response.json()["detail"] == "Layanan ini hanya untuk kemnaker; akun Anda dari instansi lain."
    english = client.get("/officer", headers={**bearer(other_party), "Accept-Language": "en-GB,en;q=0.9"})
    assert english.json()["detail"].startswith("This endpoint serves kemnaker only")
    steward_at_kemnaker = sign(pem_key, org="kemnaker", roles=["data-steward"])
    assert client.get("/steward", headers=bearer(steward_at_kemnaker)).status_code == 403
    assert client.get("/steward", headers=bearer(other_party)).status_code == 200
    # an org-neutral endpoint serves either party, by role only
    auditor = sign(pem_key, org="kemenkopmk", roles=["compliance-auditor"])
    assert client.get("/audit", headers=bearer(auditor)).status_code == 200
    assert client.get("/audit", headers=bearer(other_party)).status_code == 403


def test_service_account_flag(client: TestClient, pem_key: ed25519.Ed25519PrivateKey) -> None:
    by_role = client.get("/me", headers=bearer(sign(pem_key, roles=["service-account", "program-officer"])))
    by_claim = client.get("/me", headers=bearer(sign(pem_key, service_account=True)))
    assert by_role.json()["service_account"] is True and by_claim.json()["service_account"] is True


def test_require_refuses_to_be_built_wrong() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        require()
    with pytest.raises(ValueError, match="unknown role"):
        require("program_officer")
    with pytest.raises(ValueError, match="unknown org"):
        require("operator", org="kemenkeu")


def test_principal_is_frozen() -> None:
    principal = Principal(subject="a", org="kemnaker", roles=frozenset({"operator"}))
    with pytest.raises(ValueError):
        principal.org = "kemenkopmk"  # type: ignore[misc]


def test_verifier_built_from_app_settings_when_not_given(tmp_path: Path, pem_file: Path,
                                                         pem_key: ed25519.Ed25519PrivateKey) -> None:
    app = make_app(settings_for(tmp_path, auth_public_key_file=pem_file))
    del app.state.token_verifier
    app.state.settings = settings_for(tmp_path, auth_public_key_file=pem_file)
    assert TestClient(app).get("/me", headers=bearer(sign(pem_key))).status_code == 200
    assert isinstance(app.state.token_verifier, TokenVerifier)


def test_bad_public_key_file_fails_at_start(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigurationError, match="P3KE_AUTH_PUBLIC_KEY_FILE"):
        TokenVerifier(settings_for(tmp_path, auth_public_key_file=missing))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(ConfigurationError, match="P3KE_AUTH_PUBLIC_KEY_FILE"):
        TokenVerifier(settings_for(tmp_path, auth_public_key_file=garbage))


# --- JWKS over real HTTP -------------------------------------------------------------------------------

class JWKSServer:
    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/protocol/openid-connect/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> JWKSServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def jwk(public_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if alg == "RS256" else ECAlgorithm
    return {**algorithm.to_jwk(public_key, as_dict=True), "kid": kid, "alg": alg, "use": "sig"}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def jwks(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> Iterator[JWKSServer]:
    keys = [jwk(rsa_key.public_key(), "rsa-1", "RS256"), jwk(ec_key.public_key(), "ec-1", "ES256")]
    with JWKSServer(keys) as server:
        yield server


def test_jwks_rs256_and_es256(tmp_path: Path, jwks: JWKSServer, rsa_key: rsa.RSAPrivateKey,
                              ec_key: ec.EllipticCurvePrivateKey) -> None:
    client = TestClient(make_app(settings_for(tmp_path, auth_jwks_url=jwks.url)))
    rs = sign(rsa_key, alg="RS256", kid="rsa-1")
    es = sign(ec_key, alg="ES256", kid="ec-1", org="kemenkopmk", roles=["data-steward"])
    assert client.get("/officer", headers=bearer(rs)).status_code == 200
    assert client.get("/steward", headers=bearer(es)).json() == {"subject": "alice"}
    assert client.get("/officer", headers=bearer(rs)).status_code == 200
    assert jwks.fetches == 1  # cached


def test_jwks_rejections(tmp_path: Path, jwks: JWKSServer, rsa_key: rsa.RSAPrivateKey,
                         ec_key: ec.EllipticCurvePrivateKey) -> None:
    client = TestClient(make_app(settings_for(tmp_path, auth_jwks_url=jwks.url)))
    unknown_kid = sign(rsa_key, alg="RS256", kid="rotated-away")
    assert_401(client.get("/me", headers=bearer(unknown_kid)), unknown_kid)
    other_key = sign(rsa.generate_private_key(public_exponent=65537, key_size=2048), alg="RS256", kid="rsa-1")
    assert_401(client.get("/me", headers=bearer(other_key)), other_key, "token signature is not valid")
    alg_swap = sign(ec_key, alg="ES256", kid="rsa-1")  # an ES256 token naming the RSA key
    assert_401(client.get("/me", headers=bearer(alg_swap)), alg_swap)
    wrong_issuer = sign(rsa_key, alg="RS256", kid="rsa-1", iss="https://other-idp.example")
    assert_401(client.get("/me", headers=bearer(wrong_issuer)), wrong_issuer, "token issuer is not trusted")
    expired = sign(rsa_key, alg="RS256", kid="rsa-1", iat=1, nbf=1, exp=2)
    assert_401(client.get("/me", headers=bearer(expired)), expired, "token has expired")


def test_jwks_unreachable_is_503(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    with JWKSServer([]) as server:
        url = server.url
    client = TestClient(make_app(settings_for(tmp_path, auth_jwks_url=url)))
    response = client.get("/me", headers=bearer(sign(rsa_key, alg="RS256", kid="rsa-1")))
    assert response.status_code == 503
    assert response.json()["detail"] == "the identity provider's signing keys are unavailable"


# --- the local development issuer ----------------------------------------------------------------------

def test_dev_issuer_tokens_are_accepted_only_when_enabled(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, auth_dev_issuer=True, auth_issuer=DEV_ISSUER)
    token = DevIssuer(settings).mint("bob", "kemenkopmk", ["data-steward"], ttl_seconds=60)
    client = TestClient(make_app(settings))
    response = client.get("/steward", headers=bearer(token))
    assert response.status_code == 200 and response.json() == {"subject": "bob"}
    principal = client.get("/me", headers=bearer(token)).json()
    assert principal["org"] == "kemenkopmk" and principal["roles"] == ["data-steward"]
    assert principal["token_id"]

    key_file = dev_key_path(settings)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not [p for p in key_file.parent.iterdir() if p.name != key_file.name]  # no temp files left

    disabled = TestClient(make_app(settings.model_copy(update={"auth_dev_issuer": False})))
    assert_401(disabled.get("/me", headers=bearer(token)), token)


def test_dev_tokens_work_next_to_an_identity_provider(tmp_path: Path, pem_file: Path,
                                                      pem_key: ed25519.Ed25519PrivateKey) -> None:
    settings = settings_for(tmp_path, auth_dev_issuer=True, auth_public_key_file=pem_file)
    client = TestClient(make_app(settings))
    dev_token = DevIssuer(settings).mint("bob", "kemnaker", ["program-officer"], service_account=True)
    assert client.get("/me", headers=bearer(dev_token)).json()["service_account"] is True
    assert client.get("/me", headers=bearer(sign(pem_key))).status_code == 200
    # the dev key cannot vouch for the identity provider's issuer
    dev_key = load_or_create_dev_key(dev_key_path(settings))
    impostor = sign(dev_key, kid=DevIssuer(settings).key_id)
    assert_401(client.get("/me", headers=bearer(impostor)), impostor, "token issuer is not trusted")


def test_dev_key_creation_races_to_one_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "dev-issuer.pem"
    results: list[bytes] = []

    def create() -> None:
        key = load_or_create_dev_key(path)
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        results.append(raw)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1


def test_dev_issuer_validates_its_input(tmp_path: Path) -> None:
    issuer = DevIssuer(settings_for(tmp_path))
    with pytest.raises(ValueError):
        issuer.mint("a", "kemenkeu", ["operator"])
    with pytest.raises(ValueError):
        issuer.mint("a", "kemnaker", ["root"])
    with pytest.raises(ValueError):
        issuer.mint("a", "kemnaker", [])
    with pytest.raises(ValueError):
        issuer.mint("a", "kemnaker", ["operator"], ttl_seconds=0)


# --- the dev-token command -----------------------------------------------------------------------------

def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="p3ke")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_dev_token_cli_roundtrip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "var"
    rc = run_cli("dev-token", "--org", "kemnaker", "--role", "program-officer", "--role", "signatory",
                 "--subject", "alice", "--ttl", "120", "--service-account", "--data-dir", str(data_dir))
    out = capsys.readouterr().out
    assert rc == 0
    token = out.strip()
    assert out.count("\n") == 1 and token.count(".") == 2

    principal = TokenVerifier(Settings(env="local", data_dir=data_dir)).verify(token)
    assert principal.subject == "alice" and principal.org == "kemnaker"
    assert principal.roles == frozenset({"program-officer", "signatory"}) and principal.service_account
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert 100 < exp - time.time() <= 120


def test_dev_token_cli_rejects_unknown_roles(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        run_cli("dev-token", "--org", "kemnaker", "--role", "root", "--data-dir", str(tmp_path))


def test_production_refuses_dev_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    files = tmp_path / "files"
    files.mkdir()
    for name in ("event.pem", "trust.yaml"):
        (files / name).write_text("placeholder\n")  # production start-up checks that the files exist
    for name, value in {
        "P3KE_ENV": "production",
        "P3KE_DATABASE_URL": "postgresql+psycopg://p3ke@db.internal/p3ke?sslmode=verify-full&sslrootcert=system",
        "P3KE_AUTH_DEV_ISSUER": "false",
        "P3KE_AUTH_JWKS_URL": "https://sso.example.go.id/realms/p3ke/protocol/openid-connect/certs",
        "P3KE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "P3KE_SUBJECT_HASH_KEY": "a-real-secret-from-the-vault",
        "P3KE_EVENT_DEV_KEYS": "false",
        "P3KE_EVENT_SIGNING_KEY_FILE": str(files / "event.pem"),
        "P3KE_EVENT_TRUST_FILE": str(files / "trust.yaml"),
    }.items():
        monkeypatch.setenv(name, value)
    rc = run_cli("dev-token", "--org", "kemnaker", "--role", "operator", "--data-dir", str(tmp_path))
    captured = capsys.readouterr()
    assert rc == 2 and captured.out == "" and "production" in captured.err
    assert not (tmp_path / "keys").exists()
    with pytest.raises(ConfigurationError):
        DevIssuer(Settings())
