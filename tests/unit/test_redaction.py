"""Logs never contain personal data: canaries planted in every kind of log call must not come out.

Each test reads what the handler really wrote (a StringIO stream, or stderr through capsys) and
checks that every line is one JSON object.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import sys
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, Field, ValidationError

from p3ke_platform.logging import (
    REDACTED,
    bind_correlation_id,
    clear_correlation_id,
    configure_logging,
    correlation,
    get_correlation_id,
    get_logger,
    is_personal_key,
    redact,
    redact_text,
)

NIK = "3201014508900001"  # a woman born 05-08-1990 in Kab. Bogor (day + 40)
NO_KK = "3271022202200007"
NAME = "Siti Nurhaliza Kanari"
ADDRESS = "Jl. Kenanga Kanari No. 17 RT 003 RW 005"
BIRTH_DATE = "1990-08-05"
CANARIES = (NIK, NIK[4:], NO_KK, NO_KK[4:], NAME, "Kanari", ADDRESS)


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("test-svc", "DEBUG", json=True, stream=stream)
    yield stream
    clear_correlation_id()
    configure_logging("test-svc", "INFO")  # back to the (captured) stderr for later tests


def lines(text: str) -> list[dict[str, object]]:
    """Every non-empty line must be a JSON object; returns them parsed."""
    parsed = []
    for line in text.splitlines():
        if line.strip():
            obj = json.loads(line)
            assert isinstance(obj, dict), line
            parsed.append(obj)
    assert parsed, "nothing was logged"
    return parsed


def assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"personal data leaked into the log: {canary!r}\n{text}"
    compact = re.sub(r"[ .\-,']", "", text)
    assert NIK[4:] not in compact and NO_KK[4:] not in compact


# --- structlog calls ----------------------------------------------------------------------------------

def test_structlog_keys_nested_values_and_positional_args(output: io.StringIO) -> None:
    log = get_logger("p3ke.test")
    log.info(
        "row %s rejected",
        NIK,
        nik=NIK,
        NAMA=NAME,
        Alamat=ADDRESS,
        tanggal_lahir=BIRTH_DATE,
        recipient_nik=NIK,
        row={"no_kk": NO_KK, "anggota": [{"nama": NAME, "nik": int(NIK)}, ("x", NIK)], "desil": 1},
        nik_as_float=float(NIK),
        note=f"see {NIK[:6]} {NIK[6:12]} {NIK[12:]}",
        rows=3,
    )
    text = output.getvalue()
    assert_clean(text)
    [entry] = lines(text)
    assert entry["nik"] == entry["NAMA"] == entry["Alamat"] == entry["tanggal_lahir"] == REDACTED
    assert entry["recipient_nik"] == REDACTED
    assert entry["row"]["no_kk"] == REDACTED  # type: ignore[index]
    assert entry["row"]["anggota"][0] == {"nama": REDACTED, "nik": REDACTED}  # type: ignore[index]
    assert entry["row"]["desil"] == 1  # type: ignore[index]
    assert entry["event"] == "row 3201************ rejected"
    assert entry["note"] == "see 3201************"
    assert entry["nik_as_float"] == "3201************"
    assert entry["rows"] == 3
    for key in ("timestamp", "level", "logger", "service", "event"):
        assert key in entry
    assert entry["level"] == "info" and entry["logger"] == "p3ke.test" and entry["service"] == "test-svc"


@pytest.mark.parametrize("written", [
    NIK,
    "3201 0145 0890 0001",
    "320101 450890 0001",
    "32.01.01.450890.0001",
    "3201-01-450890-0001",
    "'3201014508900001",
    "3.201.014.508.900.001",
    "3201014508900001.0",
    "NIK3201014508900001",
])
def test_nik_spellings_are_masked(output: io.StringIO, written: str) -> None:
    get_logger("p3ke.test").warning(f"cannot match {written} in batch")
    text = output.getvalue()
    assert_clean(text)
    assert "3201************" in lines(text)[0]["event"]  # type: ignore[operator]


@pytest.mark.parametrize("written", ["3.20101E+15", "3,201E+15", "3.2010145089e15", "3.27E+15"])
def test_spreadsheet_notation_is_masked(written: str) -> None:
    masked = redact_text(f"value {written} from excel")
    assert written not in masked
    assert re.search(r"value \d{2,4}\*{12,14} from excel", masked), masked


def test_structlog_exception_with_traceback(output: io.StringIO) -> None:
    log = get_logger("p3ke.test")
    row = {"nik": NIK, "nama": NAME, "alamat": ADDRESS}
    try:
        raise ValueError(f"invalid row {row!r} (kk {NO_KK})")
    except ValueError:
        log.exception("validation failed")
    text = output.getvalue()
    assert_clean(text)
    [entry] = lines(text)
    assert "Traceback" in entry["exception"]  # type: ignore[operator]
    assert "'nama': '[REDACTED]'" in entry["exception"]  # type: ignore[operator]


def test_pydantic_validation_error_input_values(output: io.StringIO) -> None:
    class Person(BaseModel):
        nik: str = Field(pattern=r"^\d{16}$")
        nama: str = Field(max_length=5)

    try:
        Person(nik=NIK + "x", nama=NAME)
    except ValidationError as exc:
        get_logger("p3ke.test").error("bad person", errors=exc.errors(), error=exc, exc_info=True)
    assert_clean(output.getvalue())
    lines(output.getvalue())


def test_models_and_dataclasses_are_redacted_by_field(output: io.StringIO) -> None:
    class Row(BaseModel):
        nik: str
        nama: str
        desil: int

    @dataclasses.dataclass
    class Member:
        nama: str
        alamat: str

    get_logger("p3ke.test").info("objects", model=Row(nik=NIK, nama=NAME, desil=1),
                                 member=Member(NAME, ADDRESS), members={NIK: Member(NAME, ADDRESS)})
    text = output.getvalue()
    assert_clean(text)
    [entry] = lines(text)
    assert entry["model"] == {"nik": REDACTED, "nama": REDACTED, "desil": 1}


# --- stdlib loggers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["uvicorn.error", "aiokafka", "faust", "sqlalchemy", "alembic", "app"])
def test_stdlib_loggers_with_percent_args(output: io.StringIO, name: str) -> None:
    logging.getLogger(name).error("lookup of %s for %r failed at %s", NIK, {"nama": NAME}, ADDRESS[:0])
    text = output.getvalue()
    assert_clean(text)
    [entry] = lines(text)
    assert entry["logger"] == name and entry["level"] == "error" and entry["service"] == "test-svc"
    assert entry["event"] == "lookup of 3201************ for {'nama': '[REDACTED]'} failed at "


def test_stdlib_exception_traceback(output: io.StringIO) -> None:
    def parse(row: dict[str, str]) -> None:
        raise KeyError(f"duplicate {row['nik']} for {row}")

    try:
        parse({"nik": NIK, "no_kk": NO_KK, "alamat": ADDRESS})
    except KeyError:
        logging.getLogger("faust.agents").exception("agent crashed on %s", NO_KK)
    text = output.getvalue()
    assert_clean(text)
    [entry] = lines(text)
    assert "Traceback" in entry["exception"] and "KeyError" in entry["exception"]  # type: ignore[operator]


def test_chained_exceptions_and_stack_info(output: io.StringIO) -> None:
    log = get_logger("p3ke.test")
    try:
        try:
            int(f"nik {NIK}")
        except ValueError as inner:
            raise RuntimeError(f"while reading 'nama': '{NAME}'") from inner
    except RuntimeError:
        log.exception("failed", stack_info=True)
    assert_clean(output.getvalue())
    lines(output.getvalue())


def test_broken_format_args_do_not_leak_raw_arguments(output: io.StringIO) -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    # pytest's capture handler turns a formatting error into a test failure; only ours may run here
    root.handlers = [h for h in saved if type(h).__name__ != "LogCaptureHandler"]
    try:
        logging.getLogger("app").warning("only one placeholder %s", NIK, NAME)
    finally:
        root.handlers = saved
    text = output.getvalue()
    assert_clean(text)
    assert lines(text)[0]["event"] == "log record could not be formatted"


def test_sqlalchemy_parameter_logs_are_dropped(output: io.StringIO) -> None:
    engine_log = logging.getLogger("sqlalchemy.engine.Engine")
    engine_log.setLevel(logging.INFO)  # what create_engine(echo=True) does
    try:
        engine_log.info("[generated in 0.001s] %r", (NAME, ADDRESS))
        engine_log.warning("pool overflow")
    finally:
        engine_log.setLevel(logging.NOTSET)
    text = output.getvalue()
    assert_clean(text)
    assert [e["event"] for e in lines(text)] == ["pool overflow"]


def test_uncaught_exception_goes_through_the_redacting_logger(output: io.StringIO) -> None:
    try:
        raise ValueError(f"row nik={NIK} nama='{NAME}'")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)  # what the interpreter calls at exit
    text = output.getvalue()
    assert_clean(text)
    [entry] = lines(text)
    assert entry["level"] == "critical" and entry["event"] == "uncaught exception"


# --- stream, format, configuration ---------------------------------------------------------------------

def test_capsys_sees_json_on_stderr_and_nothing_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("test-svc", "INFO")
    try:
        get_logger("p3ke.test").info("to stderr", nama=NAME, detail=f"nik {NIK}")
        logging.getLogger("uvicorn.access").info('%s - "GET /subjects/%s HTTP/1.1" 200', "127.0.0.1", NIK)
        captured = capsys.readouterr()
    finally:
        configure_logging("test-svc", "INFO")
    assert captured.out == ""
    assert_clean(captured.err)
    entries = lines(captured.err)
    assert [e["logger"] for e in entries] == ["p3ke.test", "uvicorn.access"]


def test_configure_is_idempotent(output: io.StringIO) -> None:
    stream = io.StringIO()
    configure_logging("other", "INFO", stream=stream)
    configure_logging("other", "INFO", stream=stream)
    get_logger("p3ke.test").info("once")
    logging.getLogger("kafka").warning("once too")
    entries = lines(stream.getvalue())
    assert [e["event"] for e in entries] == ["once", "once too"]
    assert {e["service"] for e in entries} == {"other"}
    assert output.getvalue() == ""


def test_level_filters_structlog_and_stdlib() -> None:
    stream = io.StringIO()
    configure_logging("test-svc", "WARNING", stream=stream)
    try:
        get_logger("p3ke.test").info("hidden")
        logging.getLogger("uvicorn.error").info("hidden too")
        get_logger("p3ke.test").warning("shown")
    finally:
        configure_logging("test-svc", "INFO")
    assert [e["event"] for e in lines(stream.getvalue())] == ["shown"]


def test_console_renderer_redacts_too() -> None:
    stream = io.StringIO()
    configure_logging("test-svc", "INFO", json=False, stream=stream)
    try:
        get_logger("p3ke.test").info("console", nik=NIK, alamat=ADDRESS, text=f"nik {NIK}")
    finally:
        configure_logging("test-svc", "INFO")
    assert_clean(stream.getvalue())
    assert "console" in stream.getvalue()


# --- correlation ids -----------------------------------------------------------------------------------

def test_correlation_id_on_structlog_and_stdlib_lines(output: io.StringIO) -> None:
    with correlation("req-42") as cid:
        assert cid == "req-42" and get_correlation_id() == "req-42"
        get_logger("p3ke.test").info("inside")
        logging.getLogger("aiokafka").warning("inside too")
    get_logger("p3ke.test").info("outside")
    entries = lines(output.getvalue())
    assert [e.get("correlation_id") for e in entries] == ["req-42", "req-42", None]
    assert get_correlation_id() is None


def test_bind_generates_and_sanitises_ids() -> None:
    generated = bind_correlation_id()
    assert re.fullmatch(r"[0-9a-f]{32}", generated) and get_correlation_id() == generated
    assert bind_correlation_id("evt-1.2:3") == "evt-1.2:3"
    hostile = bind_correlation_id('x"\n{"level": "critical"}')
    assert re.fullmatch(r"[0-9a-f]{32}", hostile)
    with correlation("outer"):
        with correlation() as inner:
            assert get_correlation_id() == inner != "outer"
        assert get_correlation_id() == "outer"
    clear_correlation_id()
    assert get_correlation_id() is None


# --- redact() itself -----------------------------------------------------------------------------------

def test_personal_keys() -> None:
    for key in ("nik", "NIK", "No_KK", "no-kk", "nama", "Name", "full_name", "kepala_keluarga", "alamat",
                "address", "tanggal_lahir", "birth_date", "phone", "email", "nik_kepala_keluarga",
                "penerima_nik"):
        assert is_personal_key(key), key
    for key in ("event", "service", "topic_name", "file_name", "rows", "desil", "nik_count", "dataset_id"):
        assert not is_personal_key(key), key


def test_ids_checksums_and_ordinary_numbers_survive() -> None:
    checksum = "ab" + "1234567890" * 6 + "cd"
    uuid_text = "550e8400-e29b-41d4-1716-446655440000"
    text = (f"sha256:{checksum} id={uuid_text} rows=123456789 at 2024-06-01T12:30:45.123456Z "
            f"took 0.12345678901234567s port 9092 version 1.2.3")
    assert redact_text(text) == text
    assert redact({"count": 10**12, "ratio": 0.5, "ok": True, "none": None}) == {
        "count": 10**12, "ratio": 0.5, "ok": True, "none": None}


def test_redact_is_idempotent_and_json_safe() -> None:
    value = {"a": [NIK, {"nama": NAME}], 5: {NIK: 1}, "b": b"kk " + NO_KK.encode(), "c": {1, 2}}
    once = redact(value)
    assert redact(once) == once
    text = json.dumps(once)
    assert_clean(text)


def test_ids_with_an_exponent_like_run_stay_intact() -> None:
    from p3ke_platform.logging import redact_text

    for text in ("handover ho-5de28af3c5e24f10", "extract ex-1e17ab", "batch 9e16x"):
        assert redact_text(text) == text
    assert "27E" not in redact_text("nik 3.27E+15 in row 4")
