"""p3ke_platform.console: the output conventions every `p3ke` command follows (pure logic, no network)."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from p3ke_platform import console
from p3ke_platform.settings import ConfigurationError


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_human_formats() -> None:
    assert console.human_bytes(0) == "0 B"
    assert console.human_bytes(1023) == "1023 B"
    assert console.human_bytes(1536) == "1.5 KiB"
    assert console.human_bytes(5 * 1024**3) == "5.0 GiB"
    assert console.human_duration(5) == "5s"
    assert console.human_duration(75) == "1m15s"
    assert console.human_duration(3700) == "1h01m"
    assert console.human_duration(float("inf")) == "?"
    assert console.counts_line({"b": 2, "a": 5, "c": 2}) == "a 5, b 2, c 2"
    assert console.counts_line({str(i): i for i in range(10)}, limit=2) == "9 9, 8 8, +8 more"


def test_table_aligns_numbers_right() -> None:
    text = console.table([["in_extract", 1200], ["not_in_p3ke", 3]], ["class", "rows"])
    lines = text.splitlines()
    assert lines[0].split() == ["class", "rows"]
    assert set(lines[1].strip()) <= {"-", " "}
    assert lines[2].endswith("1,200") and lines[3].endswith("    3")
    assert console.table([]) == ""


def test_render_with_a_total() -> None:
    line = console.render(512, 1024, label="upload a.csv", kind="bytes", elapsed=2.0, width=100)
    assert line.startswith("upload a.csv   50%")
    assert "512 B/1.0 KiB" in line and "256 B/s" in line and "ETA 2s" in line
    assert "|" + "█" * 5 in line
    done = console.render(1024, 1024, label="x", kind="bytes", elapsed=4.0, width=100)
    assert "100%" in done and "ETA" not in done and "4s" in done
    frac = console.render(0.25, 1.0, label="job", kind="fraction", elapsed=1.0, width=100, note="running reading")
    assert "25%" in frac and "/s" not in frac and frac.endswith("running reading")


def test_render_without_a_total_and_narrow() -> None:
    line = console.render(3000, None, label="rows", kind="count", elapsed=2.0, width=100)
    assert line == "rows  3,000  1,500/s  2s"
    narrow = console.render(10, 100, label="a very long label indeed", kind="count", elapsed=1.0, width=30)
    assert len(narrow) <= 30 and narrow.endswith("…")
    assert "|" not in console.render(10, 100, label="x", width=24)  # no room for the bar: numbers only
    assert console.render(10, 100, label="x", width=30) == "x   10%  |█          |  10/100"
    for width in (1, 5, 20, 40, 80, 200):
        assert len(console.render(1, 3, label="label", kind="bytes", elapsed=1.0, width=width)) <= width


def test_bar_is_silent_unless_enabled() -> None:
    stream = io.StringIO()
    with console.Bar(10, label="x", enabled=False, stream=stream) as bar:
        bar.update(5)
    assert stream.getvalue() == ""
    assert not console.progress_enabled(False, io.StringIO())  # not a terminal
    assert console.progress_enabled(False, _Tty())
    assert not console.progress_enabled(True, _Tty())  # --no-progress


def test_bar_throttles_and_ends_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    clock, stream = _Clock(), io.StringIO()
    bar = console.Bar(100, label="rows", stream=stream, clock=clock, min_interval=0.5)
    bar.update(10)  # first draw
    bar.update(10)  # too soon: not drawn
    clock.now += 1
    bar.update(10)
    assert stream.getvalue().count("\r") == 2
    bar.set(40, note="phase")  # a new note is drawn at once
    assert stream.getvalue().count("\r") == 3
    bar.close()
    bar.close()
    out = stream.getvalue()
    assert out.endswith("\n") and out.count("\n") == 1 and "40%" in out.splitlines()[-1]


def test_file_upload_streams_counts_and_hashes(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    bar = console.Bar(label="up", enabled=False)
    upload = console.FileUpload(path, bar, chunk_size=4096)
    assert upload.headers == {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))}
    assert bar.total == len(data) and bar.kind == "bytes"
    chunks = list(upload)
    assert max(len(c) for c in chunks) == 4096 and b"".join(chunks) == data
    assert upload.sent == len(data) == bar.done
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join(upload) == data and upload.sent == len(data)  # a second pass starts over


def test_emit_human_or_one_json_document() -> None:
    out = io.StringIO()
    console.emit({"a": 1, "b": [1, 2]}, True, lambda r: "ignored", out=out)
    assert json.loads(out.getvalue()) == {"a": 1, "b": [1, 2]} and out.getvalue().count("\n") == 1
    out = io.StringIO()
    console.emit({"a": 1}, False, lambda r: [f"a is {r['a']}", "done"], out=out)
    assert out.getvalue() == "a is 1\ndone\n"


def test_fail_prints_stderr_and_with_json_an_error_document() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert console.fail("p3ke x", "it broke", as_json=False, code=2, out=out, err=err) == 2
    assert err.getvalue() == "p3ke x: it broke\n" and out.getvalue() == ""
    out, err = io.StringIO(), io.StringIO()
    assert console.fail("p3ke x", "refused", as_json=True, status=403, detail="no", out=out, err=err) == 1
    assert json.loads(out.getvalue()) == {"error": {"command": "p3ke x", "message": "refused", "exit_code": 1,
                                                    "status": 403, "detail": "no"}}
    assert err.getvalue() == "p3ke x: refused\n"


def _response(status: int, body: Any = None, text: str | None = None, headers: dict[str, str] | None = None,
              ) -> httpx.Response:
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/x")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_http_error_quotes_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P3KE_LANG", raising=False)
    e = console.http_error(_response(403, {"detail": "perjanjian berakhir"}, headers={"X-P3KE-Refusal": "validity"}),
                           console.text("doing.upload", file="a.csv"))
    assert e.message == "unggahan a.csv ditolak: HTTP 403: perjanjian berakhir [aturan validity]"  # Indonesian first
    assert e.status == 403 and e.code == 1 and e.detail == "perjanjian berakhir"
    e = console.http_error(_response(401, {"detail": "token ditolak"}), "pengajuan")
    assert "token ditolak" in e.message and "tokennya sah" in e.message
    monkeypatch.setenv("P3KE_LANG", "en")
    e = console.http_error(_response(403, {"detail": "the agreement expired"}, headers={"X-P3KE-Refusal": "validity"}),
                           console.text("doing.upload", file="a.csv"))
    assert e.message == "upload of a.csv refused: HTTP 403: the agreement expired [rule validity]"
    assert e.status == 403 and e.code == 1 and e.detail == "the agreement expired"
    e = console.http_error(_response(422, {"detail": [{"loc": ["query", "program"], "msg": "Input should be x"}]}),
                           "upload")
    assert e.message == "upload refused: HTTP 422: program: Input should be x"
    e = console.http_error(_response(401, {"detail": "bad token"}), "submission")
    assert "bad token" in e.message and "token valid" in e.message
    e = console.http_error(_response(502, text="Bad Gateway"), "submission")
    assert e.message == "submission failed on the server: HTTP 502: Bad Gateway"


def test_guard_maps_failures_to_exit_codes(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                           ) -> None:
    monkeypatch.delenv("P3KE_LANG", raising=False)
    args = argparse.Namespace(json=True)

    def raising(exc: BaseException) -> Any:
        def body() -> int:
            raise exc
        return body

    assert console.guard("p3ke t", args, lambda: 0) == 0
    assert console.guard("p3ke t", args, raising(console.CommandError("nope", code=3))) == 3
    assert json.loads(capsys.readouterr().out)["error"]["message"] == "nope"
    assert console.guard("p3ke t", args, raising(FileNotFoundError(2, "x", "/no/such"))) == 2
    assert "berkas tidak ada: /no/such" in capsys.readouterr().err
    assert console.guard("p3ke t", args, raising(ConfigurationError("P3KE_X: bad"))) == 2
    request = httpx.Request("GET", "http://127.0.0.1:9/v1/x")
    assert console.guard("p3ke t", args, raising(httpx.ConnectError("refused", request=request))) == 1
    captured = capsys.readouterr()
    assert "tidak dapat terhubung ke http://127.0.0.1:9" in captured.err
    assert json.loads(captured.out.splitlines()[-1])["error"]["exit_code"] == 1
    monkeypatch.setenv("P3KE_LANG", "en")
    assert console.guard("p3ke t", args, raising(FileNotFoundError(2, "x", "/no/such"))) == 2
    assert "no such file: /no/such" in capsys.readouterr().err
    assert console.guard("p3ke t", args, raising(httpx.ConnectError("refused", request=request))) == 1
    assert "cannot connect to http://127.0.0.1:9" in capsys.readouterr().err
    with pytest.raises(ZeroDivisionError):  # a bug is not hidden
        console.guard("p3ke t", args, raising(ZeroDivisionError()))


def test_add_output_options() -> None:
    parser = argparse.ArgumentParser()
    console.add_output_options(parser)
    assert vars(parser.parse_args(["--json", "--no-progress"])) == {"json": True, "no_progress": True}
    parser = argparse.ArgumentParser()
    console.add_output_options(parser, progress=False)
    assert vars(parser.parse_args([])) == {"json": False}


def test_count_and_date_arguments() -> None:
    import argparse
    import datetime as dt

    from p3ke_platform import console

    assert [console.count_arg(t) for t in ("10000000", "10_000_000", "1e7", "0")] == [10_000_000] * 3 + [0]
    for bad in ("1.5", "-1", "ten"):
        with pytest.raises(argparse.ArgumentTypeError):
            console.count_arg(bad)
    assert console.date_arg("2026-11-26") == dt.date(2026, 11, 26)
    with pytest.raises(argparse.ArgumentTypeError):
        console.date_arg("26/11/2026")
