"""The `p3ke` command speaks Bahasa Indonesia unless English is asked for (`--lang en` anywhere on the line, or
`P3KE_LANG=en`; `LANG` is not consulted), in its own messages (PO domain `cli`) and in the services' answers: every
HTTP call it makes sends the language as `Accept-Language`. The services here are a real HTTP server (uvicorn)
answering with the platform's own error handlers, not a mock of the client."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request

from p3ke_platform import console, i18n
from p3ke_platform.api_errors import LocalizedHTTPException, install_error_handlers
from p3ke_platform.cli import main
from p3ke_platform.devstack.ports import free_port
from p3ke_platform.refusal import messages
from p3ke_platform.settings import ConfigurationError
from tests.threaded_server import ThreadedServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_language_set(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("P3KE_LANG", "LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    yield
    console.set_language(None)


# -- choosing the language -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "lang", "rest"), [
    (["ingest", "submit", "a.csv"], None, ["ingest", "submit", "a.csv"]),
    (["--lang", "en", "ingest", "submit", "a.csv"], "en", ["ingest", "submit", "a.csv"]),
    (["ingest", "submit", "a.csv", "--lang", "en"], "en", ["ingest", "submit", "a.csv"]),
    (["--lang=en", "topics", "--lang", "id"], "id", ["topics"]),  # the last one wins
    (["--lang", "EN-us", "topics"], "en", ["topics"]),
    (["audit", "verify", "--", "--lang", "en"], None, ["audit", "verify", "--", "--lang", "en"]),
])
def test_lang_is_taken_from_anywhere_on_the_line(argv: list[str], lang: str | None, rest: list[str]) -> None:
    assert console.split_language(argv) == (lang, rest)


@pytest.mark.parametrize("argv", [["--lang"], ["--lang", "--json"], ["--lang", "fr", "topics"], ["--lang=", "x"]])
def test_a_missing_or_unknown_language_is_refused(argv: list[str]) -> None:
    with pytest.raises(ConfigurationError):
        console.split_language(argv)


@pytest.mark.parametrize(("value", "lang"), [("id", "id"), ("in", "id"), ("id_ID.UTF-8", "id"), ("en", "en"),
                                             ("en_US.UTF-8", "en"), ("EN-GB", "en")])
def test_environment_language(monkeypatch: pytest.MonkeyPatch, value: str, lang: str) -> None:
    monkeypatch.setenv("P3KE_LANG", value)
    assert console.language() == lang


def test_indonesian_by_default_and_lang_is_not_consulted(monkeypatch: pytest.MonkeyPatch) -> None:
    """`LANG=en_US.UTF-8` is many servers' default whatever their users read: it does not switch the language."""
    assert console.language() == "id"
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")
    assert console.language() == "id"
    monkeypatch.setenv("P3KE_LANG", "")
    assert console.language() == "id"


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_help_in_the_chosen_language(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    text = _help(capsys)
    assert text.startswith("penggunaan: p3ke") and "Berbagi Data P3KE (Kemenko PMK - Kemnaker)" in text
    assert "jalankan Kafka dan kelima layanan" in text and "--lang {id,en}" in text and "opsi:" in text
    text = _help(capsys, "--lang", "en")
    assert text.startswith("usage: p3ke") and "Data P3KE sharing (Kemenko PMK - Kemnaker)" in text
    assert "start Kafka and all five services" in text and "options:" in text
    assert "perbarui basis data" in _help(capsys, "migrate")
    monkeypatch.setenv("P3KE_LANG", "en")
    assert "upgrade services' databases" in _help(capsys, "migrate")
    assert "perbarui basis data" in _help(capsys, "migrate", "--lang", "id")  # --lang wins over P3KE_LANG


def test_usage_errors_in_the_chosen_language(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["ingest", "submit", "a.csv"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("penggunaan: p3ke ingest submit")
    assert "p3ke ingest submit: argumen ini wajib diisi: --token" in err and "menjelaskan perintah ini" in err
    with pytest.raises(SystemExit):
        main(["ingest", "submit", "a.csv", "--lang", "en"])
    assert "p3ke ingest submit: the following arguments are required: --token" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["no-such-command"])
    assert "pilihan 'no-such-command' tidak dikenal" in capsys.readouterr().err


def test_an_unknown_language_stops_before_anything_runs(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P3KE_LANG", "fr")
    assert main(["topics"]) == 2
    assert "bahasa fr dari P3KE_LANG tidak dikenal: pakai id (Bahasa Indonesia) atau en (English)" in \
        capsys.readouterr().err
    assert main(["--lang", "de", "topics"]) == 2
    assert "bahasa de dari --lang tidak dikenal" in capsys.readouterr().err


# -- the services' answers: Accept-Language on every call ------------------------------------------------------


class _Service(ThreadedServer):
    """A real HTTP server on a free port: the platform's error handlers, and a record of the headers it got."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        app = FastAPI()
        install_error_handlers(app)
        refuse = messages("api")("auth.wrong_org", org="kemenkopmk")

        @app.post("/v1/uploads")
        @app.post("/v1/feedback-batches")
        async def upload(request: Request) -> None:
            await request.body()
            self.seen.append(dict(request.headers))
            raise LocalizedHTTPException(403, refuse)

        super().__init__(app, name="cli-language-api", lifespan="off")


@pytest.fixture(scope="module")
def service() -> Iterator[_Service]:
    with _Service() as running:
        yield running


_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """The exit code and what the command wrote for its user on stderr (log lines, which an earlier test's
    logging configuration may send there too, left out)."""
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, "".join(line for line in err.splitlines(keepends=True) if not _LOG_LINE.match(line))


@pytest.mark.parametrize("command", ["ingest", "feedback"])
def test_refusals_come_back_in_the_chosen_language(service: _Service, tmp_path: Path, command: str,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "a.csv"
    data.write_text("nik;nama\n")
    argv: list[Any] = (["ingest", "submit", str(data)] if command == "ingest" else
                       ["feedback", "upload", str(data), "--handover", "ho-1", "--program", "padat_karya"])
    argv += ["--api", service.url, "--token", "t0k"]
    prefix = f"p3ke {argv[0]} {argv[1]}: "

    code, err = _run(capsys, *argv)
    assert code == 1
    assert err == prefix + "unggahan a.csv ditolak: HTTP 403: Layanan ini hanya untuk kemenkopmk; akun Anda dari " \
        "instansi lain.\n"
    assert service.seen[-1]["accept-language"] == "id" and service.seen[-1]["authorization"] == "Bearer t0k"

    code, err = _run(capsys, *argv, "--lang", "en")
    assert code == 1
    assert err == prefix + "upload of a.csv refused: HTTP 403: This endpoint serves kemenkopmk only; your account " \
        "belongs to another organisation.\n"
    assert service.seen[-1]["accept-language"] == "en"

    monkeypatch.setenv("P3KE_LANG", "en")
    code, err = _run(capsys, *argv)
    assert "refused: HTTP 403: This endpoint serves kemenkopmk only" in err
    assert service.seen[-1]["accept-language"] == "en"


def test_an_unreachable_service_in_the_chosen_language(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "a.csv"
    data.write_text("nik\n")
    url = f"http://127.0.0.1:{free_port()}"
    code, err = _run(capsys, "ingest", "submit", str(data), "--api", url, "--token", "t")
    assert code == 1 and f"tidak dapat terhubung ke {url}: apakah layanannya berjalan?" in err
    code, err = _run(capsys, "--lang", "en", "ingest", "submit", str(data), "--api", url, "--token", "t")
    assert code == 1 and f"cannot connect to {url}: is the service running?" in err


# -- no message of the CLI's own is built outside the catalogue ------------------------------------------------

CLI_MODULES = ["libs/platform/p3ke_platform/cli.py", "libs/platform/p3ke_platform/console.py",
               "libs/platform/p3ke_platform/platform_cli.py"]
USES_TEXT = [*CLI_MODULES, "services/ingest/p3ke_ingest/entrypoints/cli.py",
             "services/feedback/p3ke_feedback/entrypoints/cli.py"]


def _literal(node: ast.expr | None) -> bool:
    if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return True
    return isinstance(node, ast.BinOp) and (_literal(node.left) or _literal(node.right))


@pytest.mark.parametrize("module", CLI_MODULES)
def test_cli_errors_come_from_the_catalogue(module: str) -> None:
    """`CommandError(...)`, `fail(...)` and `http_error(...)` in the CLI's own modules take catalogue texts."""
    found = []
    for node in ast.walk(ast.parse((ROOT / module).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            index = {"CommandError": 0, "fail": 1, "http_error": 1}.get(str(name))
            if index is not None and len(node.args) > index and _literal(node.args[index]):
                found.append(f"{node.lineno}: {ast.unparse(node)[:90]}")
    assert found == [], f"{module}: put these messages in the 'cli' catalogue"


@pytest.mark.parametrize("module", USES_TEXT)
def test_every_cli_key_used_exists_in_both_languages(module: str) -> None:
    keys = [node.args[0].value for node in ast.walk(ast.parse((ROOT / module).read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) == "text"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)]
    assert keys, f"{module} uses no catalogue text"
    for key in keys:
        for lang in i18n.LANGS:
            assert key in i18n.catalogue("cli", lang), f"{module}: cli:{key} missing ({lang})"
