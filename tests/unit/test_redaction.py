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


# --- canaries per form (issue #20: gaps found by trying) ------------------------------------------------
# Every form goes through the real configuration (JSON renderer on a stream) and the rendered line must
# hold neither the NIK's last 12 digits (in any spelling) nor the name.

_G = NIK  # 3201014508900001, grouped 4-4-4-4 below
_GROUPS = (_G[:4], _G[4:8], _G[8:12], _G[12:])


def _joined(sep: str) -> str:
    return sep.join(_GROUPS)


def assert_no_nik_digits(text: str) -> None:
    """No 12-digit tail of the NIK, whatever stands between its digits (escapes, spaces, NULs)."""
    assert_clean(text)
    for escape in ("\\\\u2003", "\\\\u3000", "\\\\x00", "\\\\t", "\\u2003", "\\u3000", "\\u0000", "\\t"):
        text = text.replace(escape, "")
    digits_only = re.sub(r"\D", "", text)
    assert NIK[4:] not in digits_only, text


_NIK_FORMS = {
    "double spaces": _joined("  "),
    "slash": _joined("/"),
    "spaced slash": _joined(" / "),
    "underscore": _joined("_"),
    "colon": _joined(":"),
    "tab": _joined("\t"),
    "tab and space": _joined(" \t "),
    "em space U+2003": _joined("\u2003"),
    "ideographic space U+3000": _joined("\u3000"),
    "no-break space": _joined("\u00a0"),
    "zero-width space": _joined("\u200b"),
    "unicode dash": _joined("\u2013"),
    "line breaks": _joined("\r\n"),
    "glued to hex before and after": f"deadbeef{NIK}cafe",
    "glued to a 32-hex run (48 long, not a digest)": f"{'deadbeef' * 4}{NIK}",
    "utf-16 read as 8-bit text": NIK.encode("utf-16-le").decode("latin-1"),
    "utf-16-be read as 8-bit text": NIK.encode("utf-16-be").decode("latin-1"),
    "repr of utf-16 bytes": repr(NIK.encode("utf-16-le")),
    "repr of a tab-separated string": repr(_joined("\t")),
    "repr of an em-space string": repr(_joined("\u2003")),
    "full-width digits": NIK.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
}


@pytest.mark.parametrize("written", list(_NIK_FORMS.values()), ids=list(_NIK_FORMS))
def test_nik_form_canaries_in_event_and_field(output: io.StringIO, written: str) -> None:
    get_logger("p3ke.test").warning(f"cannot match {written} in batch", detail=f"row 7: {written}",
                                    values=[written])
    logging.getLogger("aiokafka").error("consumer saw %s", written)
    text = output.getvalue()
    assert_no_nik_digits(text)
    assert len(lines(text)) == 2


@pytest.mark.parametrize("value", [
    NIK.encode("utf-16-le"), NIK.encode("utf-16-be"), NIK.encode("utf-16"), ("nik " + NIK).encode("utf-16"),
    bytearray(NIK.encode("utf-16-le")), _joined("\u2003").encode("utf-16-le"), NIK.encode(),
], ids=["le", "be", "bom", "bom-with-text", "bytearray", "em-space-le", "utf-8"])
def test_nik_in_bytes_fields(output: io.StringIO, value: bytes) -> None:
    get_logger("p3ke.test").info("raw payload", payload=value, nested={"chunk": [value]})
    assert_no_nik_digits(output.getvalue())


@pytest.mark.parametrize("value", [int(NIK), -int(NIK), int(NO_KK) * 10, float(NIK)], ids=["int", "neg", "17", "f"])
def test_nik_as_number_in_fields(output: io.StringIO, value: int | float) -> None:
    get_logger("p3ke.test").info("number", count=value, items=[value], row={"x": value})
    [entry] = lines(output.getvalue())
    assert_no_nik_digits(output.getvalue())
    assert str(entry["count"]).endswith("*" * 12)


_NAME_FORMS = {
    "nama=": f"row rejected nama={NAME} rows=3",
    "nama = , then more": f"row rejected nama = {NAME}, desil=2",
    "nama_lengkap=": f"nama_lengkap={NAME}",
    "ibu_kandung=": f"ibu_kandung={NAME}; kk ok",
    "nama_ibu_kandung=": f"nama_ibu_kandung={NAME}",
    "Name= (case)": f"Name={NAME}",
    "name:no space": f"name:{NAME}",
    "query string": f"GET /v1/cari?nama={NAME.replace(' ', '%20')}&nik={NIK} 200",
    "key=value log line": f"level=info nama={NAME} alamat={ADDRESS} desil=1",
    "pydantic bare input_value": f"1 validation error\nnama\n  String too long [input_value={{'x': '{NAME}'}}, "
                                 "input_type=dict]",
    "bracketed tuple": f"nama=('{NAME}', 'x') done",
    "utf-16 text": f"nama={NAME}".encode("utf-16-le").decode("latin-1"),
}


@pytest.mark.parametrize("written", list(_NAME_FORMS.values()), ids=list(_NAME_FORMS))
def test_unquoted_name_canaries(output: io.StringIO, written: str) -> None:
    get_logger("p3ke.test").warning(written, detail=written)
    logging.getLogger("uvicorn.access").info("%s", written)
    text = output.getvalue()
    assert_no_nik_digits(text)
    assert REDACTED in text


def test_unquoted_rule_leaves_other_keys_and_prose_alone() -> None:
    text = "topic_name=p3ke.x file_name=a.csv service=ingest rows=3 nama berkas sudah benar; nama: lihat kolom B"
    assert redact_text(text) == text
    assert redact_text(f"nama={NAME} rows=3 file_name=a.csv") == f"nama={REDACTED} rows=3 file_name=a.csv"


_PG_TEXTS = {
    "unique violation": (f'duplicate key value violates unique constraint "uq_people_nik"\nDETAIL:  Key (nik, nama)=('
                         f"{NIK}, {NAME} (Ani)) already exists."),
    "not null violation": (f'null value in column "desil" violates not-null constraint\nDETAIL:  Failing row contains '
                           f"(1, {NIK}, {NAME}, null)."),
    "sqlalchemy parameters": (f"(psycopg.errors.UniqueViolation) duplicate key\n[SQL: INSERT INTO people (nik, nama) "
                              f"VALUES (%(nik)s, %(nama)s)]\n[parameters: {{'nik': '{NIK}', 'nama': '{NAME} ] x'}}]\n"
                              "(Background on this error at: https://sqlalche.me/e/20/gkpj)"),
    "sqlalchemy executemany tuples": f"(x) boom\n[SQL: INSERT ...]\n[parameters: [('{NIK}', '{NAME}'), ('1', '2')]]",
    "flattened without newlines": f"(x) boom [SQL: INSERT ...] [parameters: ('{NIK}', '{NAME}')]",
    "in a repr": repr(f"(x) boom\n[SQL: INSERT ...]\n[parameters: ('{NIK}', '{NAME}')]\n(Background on this error"),
}


@pytest.mark.parametrize("written", list(_PG_TEXTS.values()), ids=list(_PG_TEXTS))
def test_database_error_texts_lose_row_values(output: io.StringIO, written: str) -> None:
    try:
        raise RuntimeError(written)
    except RuntimeError as exc:
        get_logger("p3ke.test").exception("statement failed", error=exc, text=written)
    text = output.getvalue()
    assert_no_nik_digits(text)
    assert REDACTED in text and "Traceback" in text


def test_real_sqlalchemy_error_hides_parameters_and_text_rule_is_a_second_line(output: io.StringIO) -> None:
    import sqlalchemy as sa

    from p3ke_platform.db import make_engine

    texts = []
    for kwargs in ({}, {"hide_parameters": False}):
        engine = make_engine("sqlite://", **kwargs)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE people (nik TEXT PRIMARY KEY, nama TEXT)"))
        try:
            with engine.begin() as conn:
                for _ in range(2):
                    conn.execute(sa.text("INSERT INTO people VALUES (:a, :b)"), {"a": NIK, "b": NAME})
        except sa.exc.IntegrityError as exc:
            texts.append(str(exc))
            get_logger("p3ke.test").error("insert failed", error=exc, exc_info=True)
        engine.dispose()
    hidden, shown = texts
    assert NIK not in hidden and "hide_parameters=True" in hidden  # make_engine's default
    assert NIK in shown and NAME in shown  # what the text rule has to catch when someone opts out
    assert_no_nik_digits(output.getvalue())
    assert len(lines(output.getvalue())) == 2


# --- exceptions: type and redacted message, never locals ----------------------------------------------

def test_describe_error_masks_before_cutting() -> None:
    from p3ke_platform.logging import describe_error

    exc = ValueError("x" * 290 + " " + _joined("\t"))
    described = describe_error(exc)
    assert described.startswith("ValueError: ") and len(described) <= 300
    assert NIK[4:14] not in re.sub(r"\D", "", described)  # cutting repr(exc)[:300] left 10 digits
    assert describe_error(KeyError(f"nama={NAME}")) == "KeyError: 'nama=[REDACTED]'"
    import sqlalchemy as sa

    assert describe_error(sa.exc.OperationalError("SELECT 1", {"nik": NIK}, Exception("down"))).startswith(
        "sqlalchemy.exc.OperationalError: (builtins.Exception) down")


def test_no_code_logs_repr_of_an_exception() -> None:
    """The platform and every service: `describe_error(exc)` masks before it cuts; `repr(exc)[:300]` does not."""
    from pathlib import Path

    import p3ke_platform

    repo = Path(p3ke_platform.__file__).parents[3]
    roots = [repo / "libs" / "platform" / "p3ke_platform", *sorted((repo / "services").glob("*/p3ke_*"))]
    assert len(roots) >= 7, roots  # the platform and the six services
    offenders = [f"{p.relative_to(repo)}:{n}" for root in roots for p in root.rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1)
                 if re.search(r"repr\(exc\)|\{exc!r\}", line) and not line.lstrip().startswith(("#", "masking"))]
    offenders = [o for o in offenders if not o.startswith("libs/platform/p3ke_platform/logging.py:")]
    assert offenders == [], "use describe_error(exc): " + ", ".join(offenders)


@pytest.mark.parametrize("json_output", [True, False], ids=["json", "console"])
def test_tracebacks_show_no_frame_locals(json_output: bool) -> None:
    stream = io.StringIO()
    configure_logging("test-svc", "INFO", json=json_output, stream=stream)
    try:
        def handle(row_number: int) -> None:
            secret_nama = NAME  # noqa: F841 - a local a locals-printing formatter would show
            secret_nik = _joined("\u2003")  # noqa: F841
            raise LookupError(f"row {row_number} not found")

        try:
            handle(7)
        except LookupError:
            get_logger("p3ke.test").exception("lookup failed")
            logging.getLogger("faust").exception("lookup failed too")
    finally:
        configure_logging("test-svc", "INFO")
    text = stream.getvalue()
    assert "LookupError" in text and "row 7 not found" in text
    assert_no_nik_digits(text)
    assert "'Siti" not in text and "secret_nik = '" not in text  # the values of locals


# --- negative canaries: what must stay readable ----------------------------------------------------------

def _sha256_with_a_digit_run() -> str:
    import hashlib

    for i in range(100_000):
        digest = hashlib.sha256(str(i).encode()).hexdigest()
        if re.search(r"\d{16}", digest):
            return digest
    raise AssertionError("no digest with a 16-digit run in 100,000 tries")


def test_ids_digests_and_times_survive_the_new_separators() -> None:
    import datetime as dt
    import uuid

    from p3ke_platform.audit_client import subject_ref
    from p3ke_platform.ids import random_id

    digest = _sha256_with_a_digit_run()
    moment = dt.datetime(2024, 6, 1, 12, 30, 45, 123456, tzinfo=dt.UTC)
    keep = [
        f"sha256:{digest}", digest.upper(), f"file {digest[:40]} sha1", f"md5 {digest[:32]}",
        subject_ref("k" * 32, NIK), str(uuid.UUID(int=12345678901234567890123456789)),
        "550e8400-e29b-41d4-1716-446655440000", random_id("ex"),
        str(moment), moment.isoformat(), f"{moment:%Y-%m-%d %H:%M:%S},123 INFO", "01/06/2024 12:30:45",
        "2024-06-01 12:30:45.123456+07:00 until 2024-06-02 00:00:00+07:00",
        "offsets [1001, 1002, 1003, 1004, 1005]", "took 0.12345678901234567s", "epoch 1717243845.123456",
        "rows=123456789 rejected=1234567 version 1.2.3 port 9092", "ho-5de28af3c5e24f10",
    ]
    for text in keep:
        assert redact_text(text) == text, text


def test_a_nik_next_to_a_digest_or_a_date_is_still_masked() -> None:
    digest = _sha256_with_a_digit_run()
    assert redact_text(f"{digest} {NIK}") == f"{digest} 3201************"
    assert redact_text(f"2024-06-01 {_joined(':')}") == "2024-06-01 3201************"
    # a NIK whose first digits read as a date is not a date
    assert redact_text("1901-01-15-08-90-0001") == "1901************"
    # a NIK glued to hex up to exactly a digest's length (40) cannot be told from a SHA-1 digest: kept
    assert redact_text(f"{'deadbeef' * 3}{NIK}") == f"{'deadbeef' * 3}{NIK}"


def test_audit_events_keep_digests_and_mask_new_nik_forms() -> None:
    import datetime as dt

    from p3ke_platform.audit_client import access_event
    from p3ke_schemas import Actor

    digest = _sha256_with_a_digit_run()
    at = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    actor = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])
    kept = access_event(service="ingest", actor=actor, action="read", resource_type="file", resource_id=digest,
                        outcome="allowed", at=at)
    assert kept.resource_id == digest
    masked = access_event(service="ingest", actor=actor, action="read", resource_type="subject",
                          resource_id=f"/v1/subjects/{_joined('%09')}", reason=f"cari {_joined(chr(0x2003))}",
                          outcome="denied", at=at)
    assert_no_nik_digits(f"{masked.resource_id} {masked.reason}")
