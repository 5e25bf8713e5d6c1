"""Structured JSON logging with correlation ids and redaction of personal data.

Every process calls `configure_logging` once at start-up. structlog loggers and stdlib loggers
(uvicorn, faust/mode, aiokafka, kafka-python, sqlalchemy, alembic, asyncio, warnings) end in the same
`ProcessorFormatter`, so every line is one JSON object with `timestamp`, `level`, `logger`, `service`,
`correlation_id` (when bound) and `event`.

Logs must never hold personal data (UU PDP; agreement art. 10). The redaction processor runs last
before rendering, on every record, and works in two ways:

* by key: a value whose key names personal data (`nik`, `nama`, `alamat`, `tanggal_lahir`, ...) is
  replaced by ``[REDACTED]``, in nested dicts and lists too, and ``'nama': '...'`` / ``nama='...'``
  pairs inside text (dict, dataclass and pydantic reprs in exception messages) lose their value, as do
  unquoted ``nama=Siti Aminah`` pairs (log lines, query strings);
* by place: SQLAlchemy's ``[parameters: ...]`` section and PostgreSQL's ``Key (...)=(...)`` and
  ``Failing row contains (...)`` values are row data and go whole (engines are also built with
  ``hide_parameters=True``, `p3ke_platform.db.make_engine`);
* by shape: a number of 16 or more digits (NIK, No. KK), also written with spaces (any Unicode space,
  tabs, doubled), dots, dashes, slashes, underscores or colons between groups, as UTF-16 (NULs between
  digits, or their repr escapes), glued to letters or hex, in spreadsheet notation (``3.20101E+15``)
  or behind an apostrophe, is masked down to its first 4 digits (the regency code):
  ``3201************``. Kept readable although they hold digit runs: UUIDs, hex digests of a digest's
  exact length (32/40/56/64/96/128 characters: checksums, subject refs) and dates/date-times. A NIK
  glued to hex into exactly a digest's length cannot be told from a digest and is kept: never build
  ids by concatenating personal data.

Exceptions are logged as `describe_error(exc)` (type and masked message), never ``repr(exc)``;
tracebacks are rendered as plain text (no frame locals) and masked like any other value.

A name or an address in free text has no shape to detect. They are protected by the key rule and
by the rule that code never logs row values: log ids, counts and checksums, never a record.

Wiring notes for entrypoints: start uvicorn with ``log_config=None`` and faust/mode workers with
``override_logging=False``, otherwise they install their own handlers after ours. Never create a
SQLAlchemy engine with ``echo=True``: it attaches its own handler that prints bound parameters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json as jsonlib
import logging
import math
import re
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import IO, Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "PERSONAL_KEYS",
    "REDACTED",
    "bind_correlation_id",
    "clear_correlation_id",
    "configure_logging",
    "correlation",
    "describe_error",
    "get_correlation_id",
    "get_logger",
    "is_personal_key",
    "redact",
    "redact_text",
]

REDACTED = "[REDACTED]"

# ---------------------------------------------------------------------------------------------------
# Redaction
# ---------------------------------------------------------------------------------------------------

#: Keys whose value is personal data, compared after lower-casing and turning `-`/space into `_`.
#: Field names of the real P3KE files (DOMAIN.md) plus their usual English forms. `input` and
#: `input_value` are pydantic's names for the offending value in validation errors.
PERSONAL_KEYS: frozenset[str] = frozenset({
    "nik", "no_nik", "nomor_nik", "nik_kepala_keluarga",
    "no_kk", "nkk", "nomor_kk", "kk", "nomor_kartu_keluarga",
    "nama", "name", "full_name", "fullname", "nama_lengkap", "first_name", "last_name",
    "kepala_keluarga", "nama_kepala_keluarga", "nama_ibu", "nama_ibu_kandung", "ibu_kandung", "mother_name",
    "alamat", "address", "alamat_lengkap", "street_address", "alamat_domisili",
    "tanggal_lahir", "tgl_lahir", "birth_date", "date_of_birth", "dob", "birthdate",
    "tempat_lahir", "place_of_birth", "birth_place",
    "phone", "phone_number", "telepon", "no_telepon", "no_telp", "telp", "no_hp", "nomor_hp", "hp",
    "email", "e_mail", "email_address", "surel",
    "input", "input_value",
})

#: Compound keys ending in one of these (`recipient_nik`, `penerima_alamat`) are personal too.
#: `name` is deliberately absent: `topic_name`, `service_name`, `file_name` are not personal.
_PERSONAL_SUFFIXES: tuple[str, ...] = (
    "nik", "nkk", "no_kk", "nomor_kk", "nama", "full_name", "nama_lengkap", "kepala_keluarga",
    "alamat", "address", "tanggal_lahir", "birth_date", "date_of_birth", "email", "phone",
    "telepon", "no_hp", "ibu_kandung",
)

_MAX_DEPTH = 12
_KEEP_DIGITS = 4
_MIN_DIGITS = 16  # NIK and No. KK are 16 digits; longer runs are masked as well

# What may stand between two digits of one number. Whitespace is any Unicode space (`\s` covers tabs,
# NBSP, U+2003 EM SPACE, U+3000 ...), control characters (UTF-16 text read as 8-bit has a NUL between
# digits) and the invisible format characters (zero-width space, soft hyphen, BOM), one to three of
# them; or the escape a repr() writes for such a character (`\t`, `\x00`, `\u2003`); or one
# punctuation mark (dot, dash, slash, underscore, colon, apostrophe, Unicode dashes) with at most one
# space or escape either side; or a bare comma (`3,201,014,...`). A comma followed by a space is a
# list separator (`[1001, 1002, ...]`) and joins nothing.
_WS = r"[\s\x00-\x1f\x7f\u00ad\u200b-\u200f\u2060\ufeff]"
_ESC = r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[tnrfv0])"
_GAP = rf"(?:{_WS}|{_ESC})"
_PUNCT = r"[.\-/_:'\u2010-\u2015\u2212\u00b7]"
_SEP = rf"(?:{_GAP}{{1,3}}|{_GAP}?{_PUNCT}{_GAP}?|,)"
_DIGIT_RUN = re.compile(rf"(?<!\d)\d(?:{_SEP}?\d)+(?!\d)")
_ESCAPE = re.compile(_ESC)
_PLAIN_DECIMAL = re.compile(r"(\d+)[.,]\d+")
# Spreadsheet forms of a 16-digit number: 3.2E+15, 3,201E+15, 3.20101234567e15.
# Standing alone: inside an id such as ho-5de28af3c5e24f10, "5e24" is not a number.
_SCIENTIFIC = re.compile(r"(?<![\w.,])([1-9])(?:[.,](\d{1,20}))?\s?[eE]\s?\+?\s?(1[5-9]|[2-9]\d)(?![\w])")
# Values kept as they are although they hold long digit runs (see `redact_text`):
# * a UUID (8-4-4-4-12 hex);
# * a hex digest: a token of exactly 32, 40, 56, 64, 96 or 128 hex characters, at least one a letter
#   (MD5, SHA-1, SHA-224, SHA-256 such as subject refs and checksums, SHA-384, SHA-512). About one
#   SHA-256 digest in 40 holds a run of 16 decimal digits by chance; masking it would break the id.
#   A hex run of any other length is not a digest, so a NIK glued to hex (`deadbeef3201...cafe`) is
#   masked;
# * a date or date-time: 2024-06-01, 2024-06-01T12:30:45.123456+07:00, 2024-06-01 12:30:45,123,
#   01/06/2024 12:30 (str(datetime) and the stdlib's asctime would otherwise read as 20+ digits).
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?"
_DATE = (r"(?:(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
         r"|(?:0[1-9]|[12]\d|3[01])/(?:0[1-9]|1[0-2])/(?:19|20)\d{2})")
_PROTECTED = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=[0-9a-fA-F]*[a-fA-F])(?:[0-9a-fA-F]{128}|[0-9a-fA-F]{96}|[0-9a-fA-F]{64}|[0-9a-fA-F]{56}"
    r"|[0-9a-fA-F]{40}|[0-9a-fA-F]{32}))(?![0-9A-Za-z])"
    rf"|(?<![\d])(?<!\d[-./_:])(?:{_DATE}(?:[T ]{_TIME})?)(?![\d])(?![-./_:]\d)"
)
_KEY_ALTERNATION = "|".join([
    *sorted((re.escape(k) for k in PERSONAL_KEYS), key=len, reverse=True),
    rf"\w*_(?:{'|'.join(_PERSONAL_SUFFIXES)})",
])
# 'nama': 'Siti', "alamat": "Jl. ...", nama='Siti', input_value='...'  (dict/JSON/dataclass/pydantic)
_KEYED_TEXT = re.compile(
    rf"""(?P<key>(?<![\w])["']?(?:{_KEY_ALTERNATION})["']?\s*[:=]\s*)"""
    r"""(?P<q>["'])(?:\\.|(?!(?P=q)).)*(?P=q)""",
    re.IGNORECASE | re.DOTALL,
)
# nama=Siti Aminah, nik = 3201..., name:Siti, input_value={...}: an unquoted value after `=` (or after a
# colon with no space: `nama: ...` is prose and left to the other rules). The value runs to the next
# `, ; & | ) ] }`, line break, next `key=`, a quote closing the text around it, or the end; a value
# opening with a bracket runs to its matching bracket.
_KEYED_BARE = re.compile(rf"(?<![\w])(?:{_KEY_ALTERNATION})(?:\s*=\s*|:(?=\S))(?=[^\s\"'])", re.IGNORECASE)
_BARE_END = re.compile(r"[,;&|)\]}\r\n]|\\[nr]|\s+[\w.\-]+\s*=|\s*$|[\"'](?=[\s,;&|)\]}]|\\[nr]|$)")
_CLOSING = {"{": "}", "[": "]", "(": ")"}
# SQLAlchemy writes the bound values of a failed statement into the exception text:
# "[parameters: ('3201...', 'Siti Aminah')]". The section ends with `]` at a line end (or a `\n` in a
# repr), before "(Background on this error ...)", or at the end of the text.
_SQL_PARAMETERS = re.compile(r"\[parameters: ")
_SQL_PARAMETERS_END = re.compile(r"\](?=[ \t]*(?:\n|\\n|\(Background on this error|\Z))")
# PostgreSQL's DETAIL lines quote row values: "Key (nik, nama)=(3201..., Siti) already exists.",
# "Failing row contains (1, 3201..., Siti, ...)." The values go up to the last `)` of the line.
_PG_ROW_VALUES = re.compile(r"(?P<head>(?:Key \((?:[^()\n]|\([^()\n]*\))*\)=|Failing row contains )\()[^\n]*\)")


def _normalise_key(key: object) -> str:
    return str(key).strip().lower().replace("-", "_").replace(" ", "_").lstrip("_")


def is_personal_key(key: object) -> bool:
    """True when a value stored under `key` is personal data and must not be logged."""
    name = _normalise_key(key)
    return name in PERSONAL_KEYS or any(name.endswith("_" + s) for s in _PERSONAL_SUFFIXES)


def _mask(digits: str, length: int) -> str:
    keep = digits[:_KEEP_DIGITS]
    return keep + "*" * max(length - len(keep), 0)


def _mask_run(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", _ESCAPE.sub("", text))
    if len(digits) < _MIN_DIGITS:
        return text
    decimal = _PLAIN_DECIMAL.fullmatch(text)
    if decimal and len(decimal.group(1)) < _MIN_DIGITS:
        return text  # an ordinary fraction such as 0.12345678901234567, not an identity number
    return _mask(digits, len(digits))


def _mask_scientific(match: re.Match[str]) -> str:
    digits = match.group(1) + (match.group(2) or "")
    return _mask(digits, int(match.group(3)) + 1)


def _value_end(text: str, start: int) -> int:
    """Where an unquoted value starting at `start` ends (see `_KEYED_BARE`)."""
    opening = text[start]
    if opening in _CLOSING:
        depth = 0
        for i in range(start, len(text)):
            if text[i] == opening:
                depth += 1
            elif text[i] == _CLOSING[opening]:
                depth -= 1
                if depth == 0:
                    return i + 1
        return len(text)  # unbalanced: everything after the key goes
    end = _BARE_END.search(text, start + 1)
    return end.start() if end else len(text)


def _redact_bare_values(text: str) -> str:
    out: list[str] = []
    last = 0
    for m in _KEYED_BARE.finditer(text):
        if m.start() < last:
            continue  # inside a value already redacted
        start = m.end()
        if text.startswith(REDACTED, start):
            continue
        end = _value_end(text, start)
        out += [text[last:start], REDACTED]
        last = end
    out.append(text[last:])
    return "".join(out)


def _redact_sql_parameters(text: str) -> str:
    out: list[str] = []
    last = 0
    for m in _SQL_PARAMETERS.finditer(text):
        if m.start() < last:
            continue
        end = _SQL_PARAMETERS_END.search(text, m.end())
        out += [text[last:m.end()], REDACTED]
        last = end.start() if end else len(text)
    out.append(text[last:])
    return "".join(out)


def _redact_numbers(text: str) -> str:
    text = _SCIENTIFIC.sub(_mask_scientific, text)
    return _DIGIT_RUN.sub(_mask_run, text)


def redact_text(text: str) -> str:
    """Mask NIK-like numbers and keyed personal values inside free text.

    In this order: NUL characters go (UTF-16 text read as bytes); SQLAlchemy's `[parameters: ...]`
    section and PostgreSQL's quoted row values become ``[REDACTED]``; values after a personal key,
    quoted or not, become ``[REDACTED]``; then every run of 16 or more digits (separators as in `_SEP`)
    outside a UUID, a hex digest or a date-time (`_PROTECTED`) is masked to its first 4 digits.
    """
    if not text:
        return text
    text = text.replace("\x00", "")
    if "[parameters: " in text:
        text = _redact_sql_parameters(text)
    text = _PG_ROW_VALUES.sub(lambda m: f"{m.group('head')}{REDACTED})", text)
    text = _KEYED_TEXT.sub(lambda m: f"{m.group('key')}{m.group('q')}{REDACTED}{m.group('q')}", text)
    text = _redact_bare_values(text)
    out: list[str] = []
    last = 0
    for m in _PROTECTED.finditer(text):
        out.append(_redact_numbers(text[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_redact_numbers(text[last:]))
    return "".join(out)


def _decode(data: bytes) -> str:
    """Bytes as text for redaction: UTF-16 when it has a BOM or a NUL in every other byte, else UTF-8."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", "replace")
    if len(data) >= 4 and data.count(0) * 3 >= len(data):
        odd_nuls = data[1::2].count(0)
        return data.decode("utf-16-le" if odd_nuls >= data[0::2].count(0) else "utf-16-be", "replace")
    return data.decode("utf-8", "replace")


def describe_error(exc: BaseException, limit: int = 300) -> str:
    """`Type: message` of an exception with personal data masked, cut to `limit` characters after
    masking (cutting first could leave 10 digits of a NIK unmasked). Use it instead of `repr(exc)`
    wherever an exception's text is logged or stored (dead-letter reasons, outbox errors)."""
    name = type(exc).__qualname__
    module = type(exc).__module__
    if module not in ("builtins", "__main__"):
        name = f"{module}.{name}"
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not hide the type
        message = "<pesan tidak terbaca / unreadable message>"
    text = redact_text(f"{name}: {message}" if message else name)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _redact_number(value: int | float) -> int | float | str:
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) < 1e15:
            return value
        value = int(value)
    digits = str(abs(value))
    return value if len(digits) < _MIN_DIGITS else _mask(digits, len(digits))


def redact(value: Any, _depth: int = 0) -> Any:
    """Return a JSON-safe copy of `value` without personal data (see the module docstring).

    Objects that are neither containers nor scalars are turned into text first, because a renderer
    would otherwise print their repr unredacted. Beyond a nesting depth it gives up and redacts the
    whole value: failing closed is the point.
    """
    if _depth > _MAX_DEPTH:
        return REDACTED
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _redact_number(value)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes | bytearray):
        return redact_text(_decode(bytes(value)))
    if isinstance(value, Mapping):
        return {
            _redact_key(k): REDACTED if is_personal_key(k) else redact(v, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, BaseException):
        return describe_error(value, limit=2000)
    dumped = _as_mapping(value)
    if dumped is not None:
        return redact(dumped, _depth + 1)
    return redact_text(str(value))


def _redact_key(key: object) -> str:
    return redact_text(key) if isinstance(key, str) else str(redact(key))


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    """Pydantic models and dataclasses as dicts, so that the key rule applies to their fields."""
    try:
        if hasattr(value, "model_dump") and callable(value.model_dump):
            dumped = value.model_dump(mode="json")
            return dumped if isinstance(dumped, Mapping) else None
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.asdict(value)
    except Exception:  # a broken model must not break logging; fall back to its text
        return None
    return None


def redact_event_dict(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: redact every key and value; on any failure drop the event's content."""
    try:
        return {
            k: REDACTED if is_personal_key(k) else redact(v) for k, v in event_dict.items()
        }
    except Exception:
        return {
            "event": "log event dropped: redaction failed",
            "level": str(event_dict.get("level", "error")),
            "logger": str(event_dict.get("logger", "")),
        }


# ---------------------------------------------------------------------------------------------------
# Correlation ids
# ---------------------------------------------------------------------------------------------------

_correlation_id: ContextVar[str | None] = ContextVar("p3ke_correlation_id", default=None)
# Ids arrive in HTTP headers and event headers, i.e. from outside: keep them short and plain.
_VALID_CORRELATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")


def bind_correlation_id(value: str | None = None) -> str:
    """Bind a correlation id to the current context (task/thread); a new one when `value` is unusable."""
    if not value or not _VALID_CORRELATION_ID.fullmatch(value):
        value = uuid.uuid4().hex
    _correlation_id.set(value)
    return value


def get_correlation_id() -> str | None:
    return _correlation_id.get()


def clear_correlation_id() -> None:
    _correlation_id.set(None)


@contextlib.contextmanager
def correlation(value: str | None = None) -> Iterator[str]:
    """Bind a correlation id for the duration of a block, restoring the previous one afterwards."""
    token = _correlation_id.set(None)
    try:
        yield bind_correlation_id(value)
    finally:
        _correlation_id.reset(token)


# ---------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------

#: Third-party loggers that must go through our handler instead of their own.
ROUTED_LOGGERS = (
    "uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "faust", "mode", "aiokafka", "kafka",
    "sqlalchemy", "sqlalchemy.engine", "alembic", "asyncio", "httpx", "httpcore", "py.warnings",
)
_CHATTY_LOGGERS = ("kafka", "aiokafka", "httpcore")
# SQLAlchemy's engine logs bound parameters and result rows at INFO/DEBUG: person data.
_ROW_LOGGERS = ("sqlalchemy.engine", "sqlalchemy.pool", "sqlalchemy.orm")

_state: dict[str, Any] = {"service": "", "handler": None, "excepthooks": None}
_lock = threading.Lock()


def _add_service(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    event_dict.setdefault("service", _state["service"])
    return event_dict


def _add_correlation_id(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    cid = _correlation_id.get()
    if cid is not None:
        event_dict.setdefault("correlation_id", cid)
    return event_dict


_FIRST_KEYS = ("timestamp", "level", "logger", "service", "correlation_id", "event")


def _order_keys(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    ordered = {k: event_dict.pop(k) for k in _FIRST_KEYS if k in event_dict}
    ordered.update(event_dict)
    return ordered


class _DropRowLogs(logging.Filter):
    """Drops SQLAlchemy's parameter/row chatter even if someone raises its level."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not record.name.startswith(_ROW_LOGGERS)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to a fixed stream, or to whatever `sys.stderr` is at emit time (test capture works).

    stderr keeps stdout free for command output (`p3ke dev-token` prints a token there).
    """

    def __init__(self, stream: IO[str] | None) -> None:
        self._fixed = stream
        super().__init__(stream or sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return self._fixed or sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:  # StreamHandler.__init__ assigns it; we ignore that
        pass

    def handleError(self, record: logging.LogRecord) -> None:
        # The stdlib default prints the record's raw message and arguments: that would leak.
        line = jsonlib.dumps({"level": "error", "logger": record.name, "service": _state["service"],
                              "event": "log record could not be formatted"})
        with contextlib.suppress(Exception):
            self.stream.write(line + "\n")
            self.flush()


def _level_number(level: str | int) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {level!r}")
    return number


def configure_logging(
    service: str, level: str | int = "INFO", json: bool = True, *, stream: IO[str] | None = None
) -> None:
    """Configure structlog and stdlib logging for this process; calling it again reconfigures.

    `stream` defaults to the current `sys.stderr`.
    """
    number = _level_number(level)
    with _lock:
        _state["service"] = service
        shared: list[Processor] = [
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
        ]
        renderer: Processor = (
            structlog.processors.JSONRenderer(serializer=jsonlib.dumps, ensure_ascii=False, default=str)
            if json
            # plain text: the default rich formatter would print every frame's local variables
            else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
        )
        formatter = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _add_service,
                _add_correlation_id,
                structlog.processors.format_exc_info,  # traceback as text, then redacted
                redact_event_dict,  # last before rendering
                _order_keys,
                renderer,
            ],
        )
        handler = _Handler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(_DropRowLogs())

        root = logging.getLogger()
        for old in list(root.handlers):  # ours from an earlier call, basicConfig's, pytest's are kept
            if isinstance(old, _Handler) or type(old) is logging.StreamHandler:
                root.removeHandler(old)
        root.addHandler(handler)
        root.setLevel(number)
        _state["handler"] = handler

        for name in ROUTED_LOGGERS:
            lg = logging.getLogger(name)
            lg.handlers.clear()
            lg.propagate = True
            lg.setLevel(logging.NOTSET)
        for name in _CHATTY_LOGGERS:
            logging.getLogger(name).setLevel(max(number, logging.WARNING))
        for name in _ROW_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        logging.captureWarnings(True)

        structlog.configure(
            processors=[
                structlog.stdlib.filter_by_level,
                *shared[:1],
                structlog.stdlib.PositionalArgumentsFormatter(),
                *shared[1:],
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=False,
        )
        _install_excepthooks()


def _install_excepthooks() -> None:
    """Uncaught exceptions go through the redacting logger instead of a raw traceback on stderr."""
    if _state["excepthooks"] is not None:
        return
    previous = (sys.excepthook, threading.excepthook)
    _state["excepthooks"] = previous

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous[0](exc_type, exc, tb)
            return
        logging.getLogger("p3ke.uncaught").critical("uncaught exception", exc_info=(exc_type, exc, tb))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        logging.getLogger("p3ke.uncaught").critical(
            "uncaught exception in thread",
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


def get_logger(name: str | None = None, **initial_values: Any) -> structlog.stdlib.BoundLogger:
    """A structlog logger; `configure_logging` decides where its lines go."""
    return structlog.stdlib.get_logger(name, **initial_values)
