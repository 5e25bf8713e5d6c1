"""Structured JSON logging with correlation ids and redaction of personal data.

Every process calls `configure_logging` once at start-up. structlog loggers and stdlib loggers
(uvicorn, faust/mode, aiokafka, kafka-python, sqlalchemy, alembic, asyncio, warnings) end in the same
`ProcessorFormatter`, so every line is one JSON object with `timestamp`, `level`, `logger`, `service`,
`correlation_id` (when bound) and `event`.

Logs must never hold personal data (UU PDP; agreement art. 10). The redaction processor runs last
before rendering, on every record, and works in two ways:

* by key: a value whose key names personal data (`nik`, `nama`, `alamat`, `tanggal_lahir`, ...) is
  replaced by ``[REDACTED]``, in nested dicts and lists too, and ``'nama': '...'`` / ``nama='...'``
  pairs inside text (dict, dataclass and pydantic reprs in exception messages) lose their value;
* by shape: a number of 16 or more digits (NIK, No. KK), also written with spaces, dots or dashes
  between groups, in spreadsheet notation (``3.20101E+15``) or behind an apostrophe, is masked
  down to its first 4 digits (the regency code): ``3201************``.

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
    "kepala_keluarga", "nama_kepala_keluarga", "nama_ibu", "nama_ibu_kandung",
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
    "telepon", "no_hp",
)

_MAX_DEPTH = 12
_KEEP_DIGITS = 4
_MIN_DIGITS = 16  # NIK and No. KK are 16 digits; longer runs are masked as well

# Digits with at most one separator between any two of them: 3201012345670001, 3201 0123 4567 0001,
# 32.01.01.010190.0001, 3201-01-010190-0001, 3.201.012.345.670.001.
_SEP = r"[ .,\-\u00a0\u202f]"
_DIGIT_RUN = re.compile(rf"(?<!\d)\d(?:{_SEP}?\d)+(?!\d)")
_PLAIN_DECIMAL = re.compile(r"(\d+)[.,]\d+")
# Spreadsheet forms of a 16-digit number: 3.2E+15, 3,201E+15, 3.20101234567e15.
# Standing alone: inside an id such as ho-5de28af3c5e24f10, "5e24" is not a number.
_SCIENTIFIC = re.compile(r"(?<![\w.,])([1-9])(?:[.,](\d{1,20}))?\s?[eE]\s?\+?\s?(1[5-9]|[2-9]\d)(?![\w])")
# Ids and checksums that may hold a long digit run by chance: UUIDs and hex digests (with a letter).
_PROTECTED = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{32,})(?![0-9A-Za-z])"
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
    digits = re.sub(r"\D", "", text)
    if len(digits) < _MIN_DIGITS:
        return text
    decimal = _PLAIN_DECIMAL.fullmatch(text)
    if decimal and len(decimal.group(1)) < _MIN_DIGITS:
        return text  # an ordinary fraction such as 0.12345678901234567, not an identity number
    return _mask(digits, len(digits))


def _mask_scientific(match: re.Match[str]) -> str:
    digits = match.group(1) + (match.group(2) or "")
    return _mask(digits, int(match.group(3)) + 1)


def _redact_segment(text: str) -> str:
    text = _KEYED_TEXT.sub(lambda m: f"{m.group('key')}{m.group('q')}{REDACTED}{m.group('q')}", text)
    text = _SCIENTIFIC.sub(_mask_scientific, text)
    return _DIGIT_RUN.sub(_mask_run, text)


def redact_text(text: str) -> str:
    """Mask NIK-like numbers and keyed personal values inside free text.

    UUIDs and hex digests are left alone so that ids and checksums stay useful in logs.
    """
    if not text:
        return text
    out: list[str] = []
    last = 0
    for m in _PROTECTED.finditer(text):
        out.append(_redact_segment(text[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_redact_segment(text[last:]))
    return "".join(out)


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
        return redact_text(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {
            _redact_key(k): REDACTED if is_personal_key(k) else redact(v, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
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
            else structlog.dev.ConsoleRenderer(colors=False)
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
