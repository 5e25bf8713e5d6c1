"""No user-facing message is built outside the catalogues in the modules converted to them: an AST scan that every
`Refused(...)`, `HTTPException(...)` and `LocalizedHTTPException(...)` there passes no string literal or f-string
as its reason (a catalogue `Message` instead, `p3ke_platform.refusal.messages`), and that every catalogue key
such a module names literally exists in its domain, in both languages.

Every module converted so far is listed in CONVERTED (its catalogue keys are checked); beyond the list, no module
of the services or the platform may build a refusal from a literal at all (`test_no_module_builds_a_literal_refusal`),
so a new module cannot slip back into English-only or untranslated reasons."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from p3ke_platform import i18n

ROOT = Path(__file__).resolve().parents[2]
DELIVERY = "services/delivery/p3ke_delivery"
TARGETING = "services/targeting/p3ke_targeting"
AUDIT = "services/audit/p3ke_audit"
FEEDBACK = "services/feedback/p3ke_feedback"
INGEST = "services/ingest/p3ke_ingest"

CONVERTED: dict[str, str] = {  # module -> its PO domain
    "libs/platform/p3ke_platform/api.py": "api",
    "libs/platform/p3ke_platform/api_errors.py": "api",
    "libs/platform/p3ke_platform/auth/deps.py": "api",
    f"{DELIVERY}/domain/messages.py": "delivery",
    f"{DELIVERY}/entrypoints/api.py": "delivery",
    f"{DELIVERY}/entrypoints/deps.py": "delivery",
    f"{DELIVERY}/service_layer/release.py": "delivery",
    f"{DELIVERY}/service_layer/queries.py": "delivery",
    f"{DELIVERY}/service_layer/signing.py": "delivery",
    f"{DELIVERY}/adapters/pdf_signatures.py": "delivery",
    f"{TARGETING}/entrypoints/api.py": "targeting",
    f"{TARGETING}/service_layer/plan_budget.py": "targeting",
    f"{AUDIT}/entrypoints/api.py": "audit",
    f"{AUDIT}/entrypoints/deps.py": "audit",
    f"{AUDIT}/entrypoints/incidents_api.py": "audit",
    f"{AUDIT}/entrypoints/subject_requests_api.py": "audit",
    f"{AUDIT}/entrypoints/calendar_feeds_api.py": "audit",
    f"{AUDIT}/entrypoints/obligations_api.py": "audit",
    f"{AUDIT}/entrypoints/processing_records_api.py": "audit",
    "libs/platform/p3ke_platform/uploads.py": "platform",
    "libs/platform/p3ke_platform/subject_records.py": "platform",
    "libs/platform/p3ke_platform/retention/api.py": "platform",
    f"{DELIVERY}/service_layer/data_keys.py": "delivery",
    f"{DELIVERY}/service_layer/disposal_certificates.py": "delivery",
    f"{DELIVERY}/domain/disposal_certificate.py": "delivery",
    f"{DELIVERY}/entrypoints/disposal_api.py": "delivery",
    f"{FEEDBACK}/entrypoints/api.py": "feedback",
    f"{FEEDBACK}/service_layer/queries.py": "feedback",
    f"{FEEDBACK}/service_layer/programs.py": "feedback",
    f"{FEEDBACK}/service_layer/subject_records.py": "feedback",
    f"{FEEDBACK}/service_layer/publication.py": "feedback",
    f"{FEEDBACK}/service_layer/batches.py": "feedback",
    f"{INGEST}/entrypoints/api.py": "ingest",
    "services/witness/p3ke_witness/entrypoints/deps.py": "witness",
    "libs/platform/p3ke_platform/agreement/policy.py": "agreement",
    "libs/platform/p3ke_platform/tabular/archive_guard.py": "findings",
    f"{TARGETING}/service_layer/extracts.py": "targeting",
    f"{TARGETING}/domain/selection.py": "targeting",
    f"{TARGETING}/domain/plan_dimensions.py": "targeting",
    f"{TARGETING}/adapters/snapshot.py": "targeting",
    f"{AUDIT}/domain/messages.py": "audit",
    f"{AUDIT}/domain/incidents.py": "audit",
    f"{AUDIT}/domain/subject_requests.py": "audit",
    f"{AUDIT}/domain/obligations.py": "audit",
    f"{AUDIT}/service_layer/queries.py": "audit",
    f"{AUDIT}/service_layer/proofs.py": "audit",
    f"{AUDIT}/service_layer/export.py": "audit",
    f"{AUDIT}/service_layer/calendar_feeds.py": "audit",
    f"{AUDIT}/service_layer/obligations.py": "audit",
    f"{AUDIT}/service_layer/subject_requests.py": "audit",
}

ERRORS = {"Refused", "HTTPException", "LocalizedHTTPException"}
CATALOGUE_CALLS = {"M", "_M"}  # `M = messages("<domain>")`: M("key", ...)


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_text(node: ast.expr | None) -> bool:
    """A string literal, an f-string, or text glued from them (`"a" + x`, `"a %s" % x`, `"...".format()`)."""
    if node is None:
        return False
    if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return True
    if isinstance(node, ast.BinOp):
        return _is_text(node.left) or _is_text(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _is_text(node.func.value)
    if isinstance(node, ast.IfExp):
        return _is_text(node.body) or _is_text(node.orelse)
    return False


def literal_reasons(source: str) -> list[str]:
    """`line: call` of every error built with a literal reason."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or _name(node.func) not in ERRORS:
            continue
        reason = node.args[1] if len(node.args) > 1 else None
        for keyword in node.keywords:
            if keyword.arg in ("detail", "reason"):
                reason = keyword.value
        if _is_text(reason):
            found.append(f"{node.lineno}: {ast.unparse(node)[:100]}")
    return found


def catalogue_keys(source: str) -> list[str]:
    """The keys a module names literally: M("key"), _M("key") and f-strings' constant prefixes are left out."""
    keys = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and _name(node.func) in CATALOGUE_CALLS and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            keys.append(node.args[0].value)
    return keys


@pytest.mark.parametrize("module", sorted(CONVERTED))
def test_converted_modules_build_no_message_outside_the_catalogue(module: str) -> None:
    source = (ROOT / module).read_text(encoding="utf-8")
    assert literal_reasons(source) == [], f"{module}: put these reasons in the {CONVERTED[module]!r} catalogue"
    domain = CONVERTED[module]
    for key in catalogue_keys(source):
        for lang in i18n.LANGS:
            assert key in i18n.catalogue(domain, lang), f"{module}: {key} not in {domain} ({lang})"


def test_no_module_builds_a_literal_refusal() -> None:
    """Across every service and the platform (migrations aside), no refusal is built from a literal."""
    found = {}
    for base in ("services", "libs/platform/p3ke_platform"):
        for path in sorted((ROOT / base).rglob("*.py")):
            if "migrations" not in path.parts and (hits := literal_reasons(path.read_text(encoding="utf-8"))):
                found[str(path.relative_to(ROOT))] = hits
    assert not found, f"refusals built from literals (use a catalogue message): {found}"


def test_the_scan_finds_literal_reasons() -> None:
    """The guard can fail: each shape of a literal reason is found, a catalogue message is not."""
    source = '''
raise Refused(404, "no handover")
raise Refused(404, f"no handover {x}", rule="not-found")
raise HTTPException(422, detail="bad " + x)
raise HTTPException(409, "a {}".format(x))
raise LocalizedHTTPException(413, M("upload.too_large", limit=1))
raise Refused(404, M("handover.not_found", handover=x), rule="not-found")
raise refusal_exception(refused)
'''
    assert [line.split(":")[0] for line in literal_reasons(source)] == ["2", "3", "4", "5"]
    assert catalogue_keys(source) == ["upload.too_large", "handover.not_found"]
