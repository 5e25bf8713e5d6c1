"""Console output shared by every ``p3ke`` command: results, errors, progress bars, streamed uploads.

The conventions every command follows:

- **stdout carries the result and nothing else**: a short human summary by default, or, with
  ``--json``, exactly one JSON document (an object, on one line). A script can always
  ``json.loads`` the whole of stdout.
- **stderr carries everything meant for a person while the command runs**: progress bars, notes and
  error messages. A bar draws only when stderr is a terminal and ``--no-progress`` is not given, so
  logs and pipes stay clean.
- **Errors**: one line ``p3ke <command>: <what went wrong>`` on stderr (an HTTP refusal quotes the
  service's reason and status) and a non-zero exit code. *With ``--json`` an error is also printed on
  stdout* as ``{"error": {"command": ..., "message": ..., "exit_code": ..., "status": ..., "detail": ...}}``
  (``status`` is the HTTP status or null), so stdout is one JSON document whatever happened. A result
  is never an object whose only key is ``error``.
- **Exit codes**: 0 done; 1 the operation could not be completed (network, a service refused the
  caller or failed, a check found a problem); 2 usage or local input (a missing file, bad option,
  refused configuration); 3 the operation ran but its outcome is negative (ingest refused the snapshot,
  feedback refused the file's content, a local check did not accept the files); 130 interrupted.

- **Language**: Bahasa Indonesia unless English is asked for, with ``p3ke --lang en`` (anywhere on the command
  line) or ``P3KE_LANG=en``; ``--lang`` wins over ``P3KE_LANG``. ``LANG``/``LC_ALL`` are *not* consulted: servers
  and fresh desktops commonly default to ``en_US.UTF-8`` whatever their users read, and this system's users read
  Indonesian first. The CLI's own messages come from the PO domain ``cli`` (``text(key, ...)``), and every HTTP
  call a command makes (``api_client``) sends the language as ``Accept-Language``, so a service's refusal comes
  back in it too.

Nothing here needs a dependency beyond the standard library and Babel's PO reader (``httpx`` is imported only
where a request is made or fails), so it costs little at start-up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn, TextIO

from p3ke_platform import i18n
from p3ke_platform.settings import ConfigurationError

Kind = Literal["count", "bytes", "fraction"]
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NEGATIVE = 3
UPLOAD_CHUNK = 1 << 20
LANG_ENV = "P3KE_LANG"
DOMAIN = "cli"

# -- language --------------------------------------------------------------------------------------------------

_chosen: i18n.Lang | None = None


def parse_language(value: str, source: str) -> i18n.Lang:
    """``id``/``en`` (also ``en_US.UTF-8``, ``id-ID``, ``in``), else a ConfigurationError naming ``source``."""
    primary = value.strip().lower().replace("_", "-").split(".")[0].split("-")[0]
    if primary in ("id", "in"):
        return "id"
    if primary == "en":
        return "en"
    raise ConfigurationError(i18n.t(DOMAIN, "lang.unknown", _chosen or i18n.DEFAULT, value=value, source=source))


def env_language() -> i18n.Lang:
    """The language ``P3KE_LANG`` asks for (Indonesian when it is unset or empty)."""
    value = os.environ.get(LANG_ENV, "").strip()
    return parse_language(value, LANG_ENV) if value else i18n.DEFAULT


def language() -> i18n.Lang:
    """The language of this command: what ``--lang`` chose (``set_language``), else ``P3KE_LANG``, else ``id``.
    An unusable ``P3KE_LANG`` counts as unset here (``cli.main`` refuses it before any command runs)."""
    if _chosen is not None:
        return _chosen
    try:
        return env_language()
    except ConfigurationError:
        return i18n.DEFAULT


def set_language(lang: i18n.Lang | None) -> None:
    """Fix the language for the rest of the command (``None``: back to ``P3KE_LANG``)."""
    global _chosen
    _chosen = lang


def text(key: str, /, **params: Any) -> str:
    """The CLI's message ``key`` (PO domain ``cli``) in the command's language."""
    return i18n.t(DOMAIN, key, language(), **params)


def split_language(argv: Sequence[str]) -> tuple[i18n.Lang | None, list[str]]:
    """``--lang X`` / ``--lang=X`` taken out of ``argv`` wherever it stands (before a ``--``), so ``p3ke --lang en
    ingest submit ...`` and ``p3ke ingest submit ... --lang en`` both work; the last one wins. Returns the language
    (None when not given) and the other arguments; a missing or unknown value is a ConfigurationError."""
    rest: list[str] = []
    chosen: i18n.Lang | None = None
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if item == "--":
            rest += items[i:]
            break
        if item == "--lang" or item.startswith("--lang="):
            if item == "--lang":
                if i + 1 >= len(items) or items[i + 1].startswith("-"):
                    raise ConfigurationError(text("lang.missing"))
                value, i = items[i + 1], i + 2
            else:
                value, i = item.split("=", 1)[1], i + 1
            chosen = parse_language(value, "--lang")
            continue
        rest.append(item)
        i += 1
    return chosen, rest


def api_headers(token: str | None = None) -> dict[str, str]:
    """The headers of every call a command makes to a service: its bearer token and the command's language."""
    headers = {"Accept-Language": language()}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def api_client(base_url: str, token: str | None = None, *, timeout: Any = None) -> Any:
    """An ``httpx.Client`` for a service's API: ``api_headers(token)`` on every request, 60 s to connect and write,
    no read limit by default (an upload's answer comes once the file is checked)."""
    import httpx

    return httpx.Client(base_url=base_url, headers=api_headers(token),
                        timeout=timeout if timeout is not None else httpx.Timeout(60.0, read=None))


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` speaking the command's language: its usage line, section titles, ``-h`` and the
    usual errors (argparse's own wording, which has no Indonesian catalogue, for the rare others). Subcommands made
    with ``add_subparsers`` are Parsers too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._positionals.title = text("argparse.positionals")
        self._optionals.title = text("argparse.options")
        for action in self._actions:
            if isinstance(action, argparse._HelpAction):
                action.help = text("argparse.help")

    def format_usage(self) -> str:
        formatter = self._get_formatter()
        formatter.add_usage(self.usage, self._actions, self._mutually_exclusive_groups, text("argparse.usage"))
        return formatter.format_help()

    def format_help(self) -> str:
        return super().format_help().replace("usage: ", text("argparse.usage"), 1)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        problem = text("argparse.error", problem=localize_usage_error(message), prog=self.prog)
        self.exit(EXIT_USAGE, f"{self.prog}: {problem}\n")


_ARGPARSE_ERRORS: tuple[tuple[str, str], ...] = (
    (r"the following arguments are required: (?P<names>.+)", "argparse.required"),
    (r"unrecognized arguments: (?P<names>.+)", "argparse.unrecognized"),
    (r"argument (?P<name>\S+): invalid choice: (?P<value>.+?) \(choose from (?P<choices>.+)\)",
     "argparse.invalid_choice"),
    (r"argument (?P<name>\S+): expected one argument", "argparse.expected_one"),
)


def localize_usage_error(message: str) -> str:
    """argparse's commonest errors in the command's language (others as argparse words them)."""
    import re

    for pattern, key in _ARGPARSE_ERRORS:
        found = re.fullmatch(pattern, message)
        if found:
            return text(key, **found.groupdict())
    return message


# -- command plumbing ------------------------------------------------------------------------------------------


def add_output_options(parser: argparse.ArgumentParser, *, json_help: str = "print one JSON document on stdout",
                       progress: bool = True) -> None:
    """``--json`` (and ``--no-progress`` when the command shows progress) on a subcommand."""
    parser.add_argument("--json", action="store_true", help=json_help)
    if progress:
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def count_arg(text: str) -> int:
    """An argparse type: a whole number of things, written ``10000000``, ``10_000_000`` or ``1e7``."""
    try:
        n = int(text.replace("_", ""))
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text}") from None
        if value != int(value):
            raise argparse.ArgumentTypeError(f"not a whole number: {text}") from None
        n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return n


def date_arg(text: str) -> dt.date:
    """An argparse type: a date ``YYYY-MM-DD``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a date YYYY-MM-DD") from None


class CommandError(Exception):
    """Raised inside a command to stop it with a precise message and exit code (see the module docstring)."""

    def __init__(self, message: str, *, code: int = EXIT_FAILED, status: int | None = None,
                 detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.detail = detail


def error_document(command: str, message: str, code: int, status: int | None = None,
                   detail: Any = None) -> dict[str, Any]:
    return {"error": {"command": command, "message": message, "exit_code": code, "status": status,
                      "detail": detail}}


def fail(command: str, message: str, *, as_json: bool = False, code: int = EXIT_FAILED, status: int | None = None,
         detail: Any = None, err: TextIO | None = None, out: TextIO | None = None) -> int:
    """Report an error as the module docstring says; returns the exit code."""
    print(f"{command}: {message}", file=err or sys.stderr, flush=True)
    if as_json:
        print(json.dumps(error_document(command, message, code, status, detail), ensure_ascii=False, default=str),
              file=out or sys.stdout, flush=True)
    return code


def emit(result: Mapping[str, Any], as_json: bool, human: Callable[[Mapping[str, Any]], str | Iterable[str]], *,
         out: TextIO | None = None) -> None:
    """Print ``result`` as one JSON document, or what ``human(result)`` makes of it (a string or lines)."""
    stream = out or sys.stdout
    if as_json:
        print(json.dumps(result, ensure_ascii=False, default=str), file=stream, flush=True)
        return
    text = human(result)
    if not isinstance(text, str):
        text = "\n".join(text)
    if text:
        print(text, file=stream, flush=True)


def guard(command: str, args: argparse.Namespace, body: Callable[[], int]) -> int:
    """Run a command's body, turning the failures a CLI expects into the documented message and exit code."""
    as_json = bool(getattr(args, "json", False))
    try:
        return int(body() or 0)
    except CommandError as exc:
        return fail(command, exc.message, as_json=as_json, code=exc.code, status=exc.status, detail=exc.detail)
    except ConfigurationError as exc:
        return fail(command, str(exc), as_json=as_json, code=EXIT_USAGE)
    except FileNotFoundError as exc:
        return fail(command, text("file.missing", file=exc.filename), as_json=as_json, code=EXIT_USAGE)
    except IsADirectoryError as exc:
        return fail(command, text("file.is_directory", file=exc.filename), as_json=as_json, code=EXIT_USAGE)
    except PermissionError as exc:
        return fail(command, text("file.permission", file=exc.filename), as_json=as_json, code=EXIT_USAGE)
    except OSError as exc:
        return fail(command, str(exc), as_json=as_json, code=EXIT_FAILED)
    except Exception as exc:
        message = _http_failure(exc)
        if message is None:
            raise
        return fail(command, message, as_json=as_json, code=EXIT_FAILED)


def _http_failure(exc: Exception) -> str | None:
    """A transport error of httpx as one line, or None for anything else."""
    if "httpx" not in sys.modules:
        return None
    import httpx

    if not isinstance(exc, httpx.HTTPError):
        return None
    where = ""
    try:
        request = exc.request  # type: ignore[attr-defined]
        where = f" {request.url.scheme}://{request.url.netloc.decode()}"
    except (AttributeError, RuntimeError):
        pass
    if isinstance(exc, httpx.ConnectError):
        return text("http.cannot_connect", where=where.strip() or text("http.the_api"), error=exc)
    if isinstance(exc, httpx.TimeoutException):
        return text("http.timeout", where=where, kind=type(exc).__name__)
    return text("http.no_answer", where=where, kind=type(exc).__name__, error=exc)


def http_error(response: Any, doing: str) -> CommandError:
    """A CommandError for a refused or failed HTTP answer, quoting the service's reason.

    ``response`` is an httpx response; its ``detail`` (FastAPI's error body, in the language the request asked
    for: ``api_client`` sends it) and the ``X-P3KE-Refusal`` rule, when present, go into the message. ``doing``
    names what was refused, in the command's language (``text("doing.upload", file=...)``)."""
    status = int(response.status_code)
    detail: Any = None
    try:
        body = response.json()
        detail = body.get("detail", body) if isinstance(body, dict) else body
    except ValueError:
        detail = (response.text or "").strip()[:500] or None
    reason = describe_detail(detail)
    rule = response.headers.get("x-p3ke-refusal")
    hint = text(f"http.hint.{status}") if status in (401, 404) else ""
    message = text("http.refused", doing=doing, status=status) + (f": {reason}" if reason else "") + \
        (" " + text("http.rule", rule=rule) if rule else "") + (" " + hint if hint else "")
    if status >= 500:
        message = text("http.failed", doing=doing, status=status) + (f": {reason}" if reason else "")
    return CommandError(message, code=EXIT_FAILED, status=status, detail=detail)


def describe_detail(detail: Any) -> str:
    """FastAPI's ``detail``: a string, or a list of validation errors (``loc``, ``msg``), as one line."""
    if detail is None:
        return ""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                loc = ".".join(str(p) for p in item.get("loc", []) if p not in ("body", "query"))
                parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return json.dumps(detail, ensure_ascii=False, default=str)


# -- human formatting ------------------------------------------------------------------------------------------


def human_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KiB``; bytes below 1 KiB as a whole number."""
    if n < 1024:
        return f"{int(n)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    """``75`` -> ``1m15s``; ``3700`` -> ``1h01m``."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def human_count(n: float) -> str:
    return f"{int(n):,}" if float(n).is_integer() else f"{n:,.1f}"


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str] | None = None, *, indent: str = "  ",
          align: str | None = None) -> str:
    """A plain text table; ``align`` is one letter per column (``l`` or ``r``), numbers right by default."""
    all_rows = [[_cell(v) for v in r] for r in rows]
    if headers is not None:
        all_rows.insert(0, list(headers))
    if not all_rows:
        return ""
    columns = max(len(r) for r in all_rows)
    widths = [max(len(r[i]) if i < len(r) else 0 for r in all_rows) for i in range(columns)]
    if align is None:
        sample = rows[0] if rows else []
        align = "".join("r" if i < len(sample) and isinstance(sample[i], int | float) else "l"
                        for i in range(columns))
    lines = []
    for r in all_rows:
        cells = [(c.rjust(w) if align[i:i + 1] == "r" else c.ljust(w)) for i, (c, w) in enumerate(zip(r, widths,
                                                                                                    strict=False))]
        lines.append((indent + "  ".join(cells)).rstrip())
    if headers is not None:
        lines.insert(1, indent + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def counts_line(counts: Mapping[str, int], limit: int = 8) -> str:
    """``{"b": 2, "a": 5}`` -> ``a 5, b 2`` (largest first, at most ``limit``, then ``+N more``)."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{k} {v:,}" for k, v in items[:limit])
    return shown + (f", +{len(items) - limit} more" if len(items) > limit else "")


# -- progress --------------------------------------------------------------------------------------------------


def progress_enabled(no_progress: bool = False, stream: TextIO | None = None) -> bool:
    """Whether to draw bars: stderr is a terminal, ``--no-progress`` was not given, TERM is not ``dumb``."""
    if no_progress or os.environ.get("TERM") == "dumb":
        return False
    stream = stream or sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _amount(value: float, kind: Kind) -> str:
    return human_bytes(value) if kind == "bytes" else human_count(value)


def render(done: float, total: float | None, *, label: str = "", kind: Kind = "count", elapsed: float = 0.0,
           width: int = 80, note: str = "") -> str:
    """One line of a progress bar (pure: the tests call it directly).

    ``label  42% |█████▌      | 4.2 MiB/10.0 MiB  1.1 MiB/s  ETA 5s  note`` with a total; without one,
    ``label  4.2 MiB  1.1 MiB/s  note``. ``fraction`` shows only the percentage. The line never exceeds
    ``width`` characters."""
    parts: list[str] = [label] if label else []
    rate = done / elapsed if elapsed > 0 else 0.0
    if total is not None and total > 0:
        share = max(0.0, min(done / total, 1.0))
        parts.append(f"{share:4.0%}")
        tail: list[str] = []
        if kind != "fraction":
            tail.append(f"{_amount(done, kind)}/{_amount(total, kind)}")
            if rate > 0:
                tail.append(f"{_amount(rate, kind)}/s")
        if 0 < share < 1 and elapsed > 0:
            tail.append(f"ETA {human_duration(elapsed * (1 - share) / share)}")
        elif share >= 1 and elapsed > 0:
            tail.append(human_duration(elapsed))
        if note:
            tail.append(note)
        room = width - len("  ".join(parts + tail)) - 4  # the bar, its two edges and one more separator
        if room >= 10:
            parts.append("|" + _blocks(share, min(room, 40)) + "|")
        line = "  ".join(parts + tail)
    else:
        parts.append(_amount(done, kind) if kind != "fraction" else "")
        if rate > 0 and kind != "fraction":
            parts.append(f"{_amount(rate, kind)}/s")
        if elapsed > 0:
            parts.append(human_duration(elapsed))
        if note:
            parts.append(note)
        line = "  ".join(p for p in parts if p)
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


_EIGHTHS = " ▏▎▍▌▋▊▉"


def _blocks(share: float, width: int) -> str:
    cells = share * width
    full = int(cells)
    if full >= width:
        return "█" * width
    return "█" * full + _EIGHTHS[int((cells - full) * 8)] + " " * (width - full - 1)


class Bar:
    """A one-line progress bar on stderr, redrawn at most every ``min_interval`` seconds.

    Disabled (every call a no-op) unless ``enabled``; use ``progress_enabled()`` to decide. Closing it
    draws the final state and ends the line. A context manager."""

    def __init__(self, total: float | None = None, *, label: str = "", kind: Kind = "count", enabled: bool = True,
                 stream: TextIO | None = None, min_interval: float = 0.1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.done = 0.0
        self.label = label
        self.kind: Kind = kind
        self.note = ""
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.min_interval = min_interval
        self._clock = clock
        self._start = clock()
        self._drawn_at: float | None = None
        self._last_len = 0
        self._closed = False

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def elapsed(self) -> float:
        return self._clock() - self._start

    def update(self, n: float) -> None:
        """Add ``n`` to what is done."""
        self.done += n
        self._maybe_draw()

    def set(self, done: float, total: float | None = None, note: str | None = None) -> None:
        """Set what is done (and the total or the note, when given)."""
        self.done = done
        if total is not None:
            self.total = total
        if note is not None:
            self.note = note
        self._maybe_draw(force=note is not None)

    def line(self, width: int | None = None) -> str:
        if width is None:
            width = shutil.get_terminal_size((80, 24)).columns - 1
        return render(self.done, self.total, label=self.label, kind=self.kind, elapsed=self.elapsed,
                      width=width, note=self.note)

    def _maybe_draw(self, force: bool = False) -> None:
        if not self.enabled or self._closed:
            return
        now = self._clock()
        if not force and self._drawn_at is not None and now - self._drawn_at < self.min_interval:
            return
        self._draw()
        self._drawn_at = now

    def _draw(self) -> None:
        text = self.line()
        pad = " " * max(self._last_len - len(text), 0)
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._last_len = len(text)

    def close(self) -> None:
        if self._closed:
            return
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
        self._closed = True


def bar(args: argparse.Namespace, total: float | None = None, *, label: str = "", kind: Kind = "count") -> Bar:
    """A Bar for a command: drawn when stderr is a terminal and the command has no ``--no-progress``."""
    return Bar(total, label=label, kind=kind, enabled=progress_enabled(bool(getattr(args, "no_progress", False))))


class FileUpload:
    """A file's bytes, chunk by chunk, for a streamed httpx upload (``content=upload``): never read whole
    into memory; counts and hashes what was sent and moves ``bar`` (bytes).

    ``headers`` carry the Content-Length, so the server can refuse an oversized file before the body
    and tell a truncated one from a complete one. Iterate it once per request."""

    def __init__(self, path: Path, bar: Bar | None = None, *, chunk_size: int = UPLOAD_CHUNK,
                 content_type: str = "application/octet-stream") -> None:
        self.path = Path(path)
        self.size = self.path.stat().st_size
        self.bar = bar
        self.chunk_size = chunk_size
        self.content_type = content_type
        self.sent = 0
        self._sha256 = hashlib.sha256()
        if bar is not None:
            bar.total = self.size
            bar.kind = "bytes"

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": self.content_type, "Content-Length": str(self.size)}

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def __iter__(self) -> Iterator[bytes]:
        self.sent = 0
        self._sha256 = hashlib.sha256()
        with self.path.open("rb") as f:
            while chunk := f.read(self.chunk_size):
                self.sent += len(chunk)
                self._sha256.update(chunk)
                if self.bar is not None:
                    self.bar.set(self.sent)
                yield chunk
