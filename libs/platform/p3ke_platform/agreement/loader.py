"""Read the agreement's YAML records from a directory (default: the bundled PKS as signed).

Why so strict: these files decide who receives personal data. A misspelt key, a wrong date or an
addendum that names a program that does not exist must stop start-up with a message naming the
file and the field, never be silently ignored.

Example records (`example: true`) are skipped unless the caller asks for them with
`include_examples=True` or names the file itself in `files`: a demo addendum must never extend a
real agreement by accident.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import ValidationError

from .model import (
    RECORD_KINDS,
    Addendum,
    Agreement,
    AgreementFile,
    DisclosureConsent,
    Record,
    TerminationNotice,
    WrittenApproval,
)

BUNDLED_DIR = Path(__file__).parent / "data"
"""The PKS as signed (plus the clearly marked example addendum, skipped by default)."""


class _Loader(yaml.SafeLoader):
    """Safe YAML, but dates stay text so that pydantic parses them and a bad one names its field."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


class AgreementConfigError(ValueError):
    """A record file is unreadable or inconsistent; the message names the file and the field."""


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def load_record(path: Path) -> Record:
    """Parse and validate one YAML record file; the `kind` key decides which model it is."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except OSError as exc:
        raise AgreementConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise AgreementConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        kind_of = type(data).__name__
        raise AgreementConfigError(f"{path}: must hold a YAML mapping (key: value), not {kind_of}")
    kind = data.get("kind")
    model = RECORD_KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise AgreementConfigError(
            f"{path}: kind: must be one of {', '.join(RECORD_KINDS)} (got {_short(kind)})"
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"])
            where = f"{loc}: " if loc else ""
            got = f" (got {_short(err['input'])})" if loc and err["type"] != "missing" else ""
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{path}: {where}{msg}{got}")
        raise AgreementConfigError("\n".join(lines)) from None


def _record_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise AgreementConfigError(f"{directory}: agreement directory does not exist")
    return sorted(
        p for p in directory.iterdir()
        if p.suffix in {".yaml", ".yml"} and p.is_file() and not p.name.startswith(".")
    )


def load_agreement(
    directory: Path | None = None,
    include_examples: bool = False,
    *,
    files: Sequence[Path] = (),
) -> Agreement:
    """Load the agreement from `directory` (None: the bundled PKS as signed) plus extra `files`.

    The directory must hold exactly one `kind: agreement` file and any number of addenda, written
    approvals, disclosure consents and termination notices. Files named in `files` are loaded even
    when they are examples, because naming a file is asking for it.
    """
    source_dir = directory if directory is not None else BUNDLED_DIR
    parsed: list[tuple[Path, Record]] = []
    for path in _record_files(source_dir):
        record = load_record(path)
        if record.example and not include_examples:
            continue
        parsed.append((path, record))
    parsed += [(Path(path), load_record(Path(path))) for path in files]

    bases = [(p, r) for p, r in parsed if isinstance(r, AgreementFile)]
    if len(bases) != 1:
        found = ", ".join(str(p) for p, _ in bases) or "none"
        raise AgreementConfigError(
            f"{source_dir}: need exactly one file with kind: agreement (found: {found})"
        )
    sources: dict[str, Path] = {bases[0][1].id: bases[0][0]}
    for path, record in parsed:
        if isinstance(record, AgreementFile):
            continue
        if record.id in sources:
            raise AgreementConfigError(f"{path}: id: '{record.id}' is already used by {sources[record.id]}")
        sources[record.id] = path
    agreement = Agreement(
        base=bases[0][1],
        addenda=tuple(r for _, r in parsed if isinstance(r, Addendum)),
        approvals=tuple(r for _, r in parsed if isinstance(r, WrittenApproval)),
        consents=tuple(r for _, r in parsed if isinstance(r, DisclosureConsent)),
        terminations=tuple(r for _, r in parsed if isinstance(r, TerminationNotice)),
    )
    problems = agreement.problems()
    if problems:
        raise AgreementConfigError(
            "\n".join(f"{sources.get(p.record_id, source_dir)}: {p.field}: {p.message}" for p in problems)
        )
    return agreement
