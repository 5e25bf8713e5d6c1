"""Read the agreement's YAML records from a directory (default: the bundled PKS as signed).

Why so strict: these files decide who receives personal data. A misspelt key, a wrong date or an
addendum that names a program that does not exist must stop start-up with a message naming the
file and the field, never be silently ignored.

Example records (`example: true`) are skipped unless the caller asks for them with
`include_examples=True` or names the file itself in `files`: a demo addendum must never extend a
real agreement by accident.

Why hashes: the terms are files an operator can edit, and a changed `last_day` must not pass as the same
terms. Every file is read once, its SHA-256 taken over those exact bytes (then parsed), and the agreement
carries them (`Agreement.sources`, `Agreement.digest`). With a `manifest` (`sha256sum` format, what
`p3ke agreement manifest` prints; production requires one, P3KE_AGREEMENT_MANIFEST) every file in the
directory must be listed with its hash and every listed file must be there, or nothing loads.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import ValidationError

from p3ke_platform.settings import ConfigurationError

from .model import (
    RECORD_KINDS,
    Addendum,
    Agreement,
    AgreementFile,
    DisclosureConsent,
    Record,
    SourceFile,
    TerminationNotice,
    WrittenApproval,
)

BUNDLED_DIR = Path(__file__).parent / "data"
"""The PKS as signed (plus the clearly marked example addendum, skipped by default)."""


class _Loader(yaml.SafeLoader):
    """Safe YAML, but dates stay text so that pydantic parses them and a bad one names its field."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


class AgreementConfigError(ConfigurationError, ValueError):
    """A record file is unreadable, inconsistent or not the one the manifest lists; the message names the file
    and the field (or both hashes). A ConfigurationError, so that a service stops start-up printing it."""


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AgreementConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load_record(path: Path) -> Record:
    """Parse and validate one YAML record file; the `kind` key decides which model it is."""
    return parse_record(path, read_bytes(path))


def parse_record(path: Path, raw: bytes) -> Record:
    """Parse and validate the bytes `raw` read from `path` (named in errors)."""
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except UnicodeDecodeError:
        raise AgreementConfigError(f"{path}: not UTF-8 text") from None
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


def record_files(directory: Path) -> list[Path]:
    """The record files of an agreement directory (`*.yaml`, `*.yml`; hidden files, e.g. a ConfigMap's
    `..data`, are not records), sorted by name."""
    if not directory.is_dir():
        raise AgreementConfigError(f"{directory}: agreement directory does not exist")
    return sorted(
        p for p in directory.iterdir()
        if p.suffix in {".yaml", ".yml"} and p.is_file() and not p.name.startswith(".")
    )


_MANIFEST_LINE = re.compile(r"^(?P<sha>[0-9a-fA-F]{64}) [ *](?P<name>\S.*)$")


def read_manifest(path: Path) -> dict[str, str]:
    """A `sha256sum`-format manifest: file name -> lower-case SHA-256. Blank lines and `#` comments are
    allowed; a name is taken without its directory (the files are matched by name)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise AgreementConfigError(f"{path}: manifest berkas perjanjian tidak terbaca / cannot read the agreement "
                                   f"manifest: {why}") from None
    listed: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _MANIFEST_LINE.match(line.rstrip("\r"))
        if match is None:
            raise AgreementConfigError(
                f"{path}:{number}: baris manifest harus berbentuk '<sha256>  <nama berkas>' seperti keluaran "
                f"sha256sum / a manifest line must read '<sha256>  <file name>' as sha256sum prints it "
                f"(got {_short(line)})")
        name, sha = Path(match["name"].strip()).name, match["sha"].lower()
        if listed.get(name, sha) != sha:
            raise AgreementConfigError(f"{path}:{number}: {name} tercantum dua kali dengan hash berbeda / is listed "
                                       f"twice with different hashes")
        listed[name] = sha
    if not listed:
        raise AgreementConfigError(f"{path}: manifest kosong / the manifest lists no file")
    return listed


def manifest_problems(manifest: Path, hashes: dict[Path, str]) -> list[str]:
    """What makes the files read (path -> SHA-256) differ from the manifest: a file not listed, a hash that
    differs, a listed file that is not there. Indonesian first, then English; each names file and hashes."""
    listed = read_manifest(manifest)
    problems = []
    for path, sha in hashes.items():
        expected = listed.get(path.name)
        if expected is None:
            problems.append(
                f"{path}: berkas ketentuan perjanjian tidak tercantum dalam manifest {manifest} (SHA-256 berkas: "
                f"{sha}); hanya berkas yang tercantum yang diterima / the agreement terms file is not listed in "
                f"the manifest {manifest} (its SHA-256: {sha}); only listed files are accepted")
        elif expected != sha:
            problems.append(
                f"{path}: isi berkas ketentuan perjanjian berbeda dari manifest {manifest}: SHA-256 berkas {sha}, "
                f"manifest mencatat {expected}; berkas telah diubah, pulihkan berkas yang sah atau (hanya untuk "
                f"adendum yang ditandatangani, Pasal 14) perbarui manifest / the agreement terms file differs from "
                f"the manifest {manifest}: the file's SHA-256 is {sha}, the manifest lists {expected}; the file was "
                f"changed: restore the lawful file or (only for a signed addendum, Art. 14) update the manifest")
    present = {p.name for p in hashes}
    for name, sha in sorted(listed.items()):
        if name not in present:
            problems.append(
                f"{manifest}: berkas {name} (SHA-256 {sha}) tercantum dalam manifest tetapi tidak ada di antara "
                f"berkas perjanjian yang dimuat / {name} (SHA-256 {sha}) is listed in the manifest but is not among "
                f"the agreement files loaded")
    return problems


def load_agreement(
    directory: Path | None = None,
    include_examples: bool = False,
    *,
    files: Sequence[Path] = (),
    manifest: Path | None = None,
) -> Agreement:
    """Load the agreement from `directory` (None: the bundled PKS as signed) plus extra `files`.

    The directory must hold exactly one `kind: agreement` file and any number of addenda, written
    approvals, disclosure consents and termination notices. Files named in `files` are loaded even
    when they are examples, because naming a file is asking for it. With `manifest`, every file of the
    directory and every extra file must be listed there with the SHA-256 of its content, and every listed
    file must be one of them.
    """
    source_dir = directory if directory is not None else BUNDLED_DIR
    candidates = [(path, False) for path in record_files(source_dir)] + [(Path(path), True) for path in files]
    contents = {path: read_bytes(path) for path, _ in candidates}
    hashes = {path: hashlib.sha256(raw).hexdigest() for path, raw in contents.items()}
    if manifest is not None:
        problems = manifest_problems(Path(manifest), hashes)
        if problems:
            raise AgreementConfigError("\n".join(problems))
    parsed: list[tuple[Path, Record]] = []
    for path, named in candidates:
        record = parse_record(path, contents[path])
        if record.example and not include_examples and not named:
            continue
        parsed.append((path, record))

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
        sources=tuple(SourceFile(record_id=r.id, name=p.name, sha256=hashes[p]) for p, r in parsed),
    )
    problems = agreement.problems()
    if problems:
        raise AgreementConfigError(
            "\n".join(f"{sources.get(p.record_id, source_dir)}: {p.field}: {p.message}" for p in problems)
        )
    return agreement
