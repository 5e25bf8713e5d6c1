"""The authorisation matrix (OWASP API1 object level, API3 property level, API5 function level):
every operation of every service (read from each app's OpenAPI, plus the routes outside it) is called
as every role of both parties and without a token, on real objects, and the outcome is compared with
the table below, which declares who may call what. A new operation that is not declared fails the test.

An outcome is *admitted* when the answer is neither 401 nor 403 (the call got past authentication,
role, org and agreement-policy checks; it may still be 404, 409 or 422 for the object's sake). Without a
token every protected operation must answer 401. No operation may answer 5xx (except readiness, which
reports the unreachable broker with 503).

Object visibility: each object is created as one party and read as every principal; who could read it
is compared with what the agreement allows (`OBJECTS`).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from p3ke_platform.auth import ORGS, ROLES
from p3ke_schemas import Actor
from tests.integration.delivery.conftest import Harness
from tests.security.support import SERVICES, App, make_app, principals, record_figures
from tests.unit.delivery.support import SIG_1, SIG_2, make_dev_ca

P1, P2 = "kemenkopmk", "kemnaker"
Who = frozenset[tuple[str, str]]


def roles(*names: str, orgs: tuple[str, ...] = ORGS) -> Who:
    return frozenset((o, r) for o in orgs for r in names)


PUBLIC: Who | None = None  # no token needed
EVERYONE = roles(*ROLES)

READ_REPORTS = frozenset({(P1, "data-steward"), (P1, "compliance-auditor"), (P2, "program-officer"),
                          (P2, "compliance-auditor")})

# -- the declared expectations: (method, path) -> who is admitted ----------------------------------------
EXPECTED: dict[str, dict[tuple[str, str], Who | None]] = {
    "ingest": {
        # publishing is the agreement's `publish-dataset`: party 1's data steward (policy, audited)
        ("POST", "/v1/uploads"): roles("data-steward", orgs=(P1,)),
        ("POST", "/v1/submissions"): roles("data-steward", orgs=(P1,)),
        ("GET", "/v1/submissions"): roles("data-steward", "operator", orgs=(P1,)),
        ("GET", "/v1/submissions/{submission_id}"): roles("data-steward", "operator", orgs=(P1,)),
        ("GET", "/v1/submissions/{submission_id}/findings"): roles("data-steward", orgs=(P1,)),
        ("GET", "/v1/submissions/{submission_id}/findings.{fmt}"): roles("data-steward", orgs=(P1,)),
        ("GET", "/v1/dataset-versions"): roles("data-steward", "operator", orgs=(P1,)),
        ("GET", "/v1/dataset-versions/current"): roles("data-steward", "operator", orgs=(P1,)),
        ("GET", "/v1/dataset-versions/{version_id}"): roles("data-steward", "operator", orgs=(P1,)),
    },
    "targeting": {
        ("GET", "/v1/datasets"): roles("program-officer", "data-steward", "operator"),
        ("POST", "/v1/extract-requests"): roles("program-officer", "service-account", orgs=(P2,)),
        ("GET", "/v1/extract-requests/{request_id}"): roles("program-officer", "data-steward", "operator"),
        # the agreement's `plan-aggregates`: party 1's data steward, party 2's program officer
        ("POST", "/v1/plans"): frozenset({(P1, "data-steward"), (P2, "program-officer")}),
        ("GET", "/v1/eligibility-rules"): roles("program-officer", "data-steward", "operator"),
    },
    "delivery": {
        ("GET", "/v1/handovers"): roles("program-officer", "signatory", "data-steward", "operator"),
        ("GET", "/v1/handovers/{handover_id}"): roles("program-officer", "signatory", "data-steward", "operator"),
        ("GET", "/v1/handovers/{handover_id}/bast"): roles("program-officer", "signatory", "data-steward",
                                                           "operator"),
        # a party-1 signature: only party 1's signatory may upload it (`sign-bast`)
        ("POST", "/v1/handovers/{handover_id}/signatures"): frozenset({(P1, "signatory")}),
        # `download-package`: party 2's program officer
        ("POST", "/v1/handovers/{handover_id}/password"): frozenset({(P2, "program-officer")}),
        ("POST", "/v1/handovers/{handover_id}/package/links"): frozenset({(P2, "program-officer")}),
        ("GET", "/v1/handovers/{handover_id}/package"): frozenset({(P2, "program-officer")}),  # the link's holder
        # a link: its holder, or party 1's data steward
        ("DELETE", "/v1/handovers/{handover_id}/package/links/{link_id}"): frozenset(
            {(P2, "program-officer"), (P1, "data-steward")}),
        ("POST", "/v1/handovers/{handover_id}/revoke"): frozenset({(P1, "data-steward")}),
        # party 2's disposal certificate: the purpose ended (party 2's officer or party 1's steward), issued by party
        # 2's officer, signed by party 2's signatory, read by the handover roles
        ("POST", "/v1/handovers/{handover_id}/purpose-ended"): frozenset({(P2, "program-officer"),
                                                                         (P1, "data-steward")}),
        ("GET", "/v1/handovers/{handover_id}/disposal-certificate"): roles("program-officer", "signatory",
                                                                           "data-steward", "operator"),
        ("POST", "/v1/handovers/{handover_id}/disposal-certificate"): frozenset({(P2, "program-officer")}),
        ("GET", "/v1/handovers/{handover_id}/disposal-certificate.pdf"): roles("program-officer", "signatory",
                                                                               "data-steward", "operator"),
        ("POST", "/v1/handovers/{handover_id}/disposal-certificate/signature"): frozenset({(P2, "signatory")}),
    },
    "feedback": {
        ("GET", "/v1/handovers"): roles("program-officer", "data-steward", "compliance-auditor", "operator"),
        # `submit-feedback`: party 2's program officer
        ("POST", "/v1/feedback-batches"): frozenset({(P2, "program-officer")}),
        # `read-reports`: party 1's data steward, party 2's program officer, either party's auditors
        **{("GET", path): READ_REPORTS for path in (
            "/v1/feedback-batches", "/v1/feedback-batches/{batch_id}", "/v1/feedback-batches/{batch_id}/findings",
            "/v1/feedback-batches/{batch_id}/findings.csv", "/v1/reports", "/v1/reports/export.csv",
            "/v1/reports/charts/{chart}", "/v1/reports/monitoring-evaluation.pdf",
            "/v1/reports/publications/{publication_id}")},
        # `publish-report` is party 1's data steward or party 2's program officer, and needs the other party's
        # written consent (Art. 10(3)); the configuration here records none, so nobody may publish
        ("POST", "/v1/reports/publications"): frozenset(),
    },
    "audit": {
        (method, path): roles("compliance-auditor") for method, path in [
            ("GET", "/v1/entries"), ("GET", "/v1/entries/export.csv"), ("GET", "/v1/entries/{leaf_index}"),
            ("POST", "/v1/subjects/trail"), ("GET", "/v1/summary/monthly"), ("GET", "/v1/violations"),
            ("GET", "/v1/proofs/inclusion"), ("GET", "/v1/proofs/consistency"), ("GET", "/v1/checkpoints/latest"),
            ("GET", "/v1/checkpoints"), ("GET", "/v1/public-key"), ("GET", "/v1/integrity"),
            ("GET", "/v1/witnesses"), ("POST", "/v1/exports/bundle")]
    },
    "witness": {
        # C2SP tlog-witness: no token, the log's signature on the checkpoint is the authentication
        ("POST", "/add-checkpoint"): PUBLIC,
        ("GET", "/v1/logs"): roles("compliance-auditor", "operator"),
        ("GET", "/v1/alarms"): roles("compliance-auditor", "operator"),
    },
}
# the audit service's incident register and data-subject requests (UU PDP Art. 46, 32): compliance auditors of
# either party; the legal holds also for operators and the disposal jobs' service accounts
EXPECTED["audit"].update({(method, path): roles("compliance-auditor") for method, path in [
    ("POST", "/v1/incidents"), ("GET", "/v1/incidents"), ("GET", "/v1/incidents/{incident_id}"),
    ("POST", "/v1/incidents/{incident_id}/facts"), ("POST", "/v1/incidents/{incident_id}/notices"),
    ("POST", "/v1/incidents/{incident_id}/closure"), ("POST", "/v1/subject-requests"),
    ("GET", "/v1/subject-requests"), ("GET", "/v1/subject-requests/{request_id}"),
    ("GET", "/v1/subject-requests/{request_id}/response.pdf"),
    ("GET", "/v1/subject-requests/{request_id}/response.json"),
    ("POST", "/v1/subject-requests/{request_id}/answer")]})
EXPECTED["audit"][("GET", "/v1/legal-holds")] = roles("compliance-auditor", "operator", "service-account")
# the obligations desk (PKS deadlines): read by compliance auditors and operators of either party; force majeure,
# liaison officer changes and evidence recorded by compliance auditors
EXPECTED["audit"].update({(method, path): roles("compliance-auditor", "operator") for method, path in [
    ("GET", "/v1/obligations"), ("GET", "/v1/obligations/calendar.ics"), ("GET", "/v1/obligations/{obligation_id}"),
    ("GET", "/v1/liaison-officers")]})
EXPECTED["audit"].update({(method, path): roles("compliance-auditor") for method, path in [
    ("POST", "/v1/obligations/{obligation_id}/fulfilment"), ("POST", "/v1/force-majeure"),
    ("POST", "/v1/liaison-officers")]})
# the ROPA (UU PDP Art. 31) and the DPIA (Art. 34): read by compliance auditors and operators of either party; a new
# version issued by compliance auditors
EXPECTED["audit"].update({(method, path): roles("compliance-auditor", "operator") for method, path in [
    ("GET", "/v1/records-of-processing"), ("GET", "/v1/records-of-processing.pdf"), ("GET", "/v1/dpia"),
    ("GET", "/v1/dpia.pdf"), ("GET", "/v1/records-of-processing/versions")]})
EXPECTED["audit"][("POST", "/v1/records-of-processing/versions")] = roles("compliance-auditor")
# calendar feeds of the obligations desk: made, listed and revoked by compliance auditors (revoked by the maker's
# party only: service test); the feed itself by its secret URL, for calendar apps that send no token
EXPECTED["audit"].update({(method, path): roles("compliance-auditor") for method, path in [
    ("POST", "/v1/obligations/calendar-feeds"), ("GET", "/v1/obligations/calendar-feeds"),
    ("DELETE", "/v1/obligations/calendar-feeds/{feed_id}")]})
EXPECTED["audit"][("GET", "/v1/calendar-feeds/{token}.ics")] = PUBLIC
# what delivery and feedback hold about one person, for a data-subject access request (UU PDP Art. 32)
for _service in ("delivery", "feedback"):
    EXPECTED[_service][("POST", "/v1/subject-records")] = roles("compliance-auditor")
# ingest's snapshots hold the person too; the audit service's full answer asks the services above
EXPECTED["ingest"][("POST", "/v1/subject-records")] = roles("compliance-auditor")
EXPECTED["audit"][("POST", "/v1/subject-requests/{request_id}/response")] = roles("compliance-auditor")
# what each owning service keeps and when it is due under the retention schedule (the compliance page's panel)
for _service in ("ingest", "targeting", "delivery", "feedback"):
    EXPECTED[_service][("GET", "/v1/retention/due")] = roles("compliance-auditor", "operator")
for _ops in EXPECTED.values():
    _ops.update({("GET", "/healthz"): PUBLIC, ("GET", "/readyz"): PUBLIC})

# routes outside the OpenAPI document: public documentation and metrics, and the audit web page
OUTSIDE_SCHEMA = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/docs/assets", "/redoc", "/metrics"}
AUDIT_UI = {"/ui", "/ui/login", "/ui/logout", "/ui/subject", "/ui/entries/{leaf_index}", "/ui/entries.csv"}


@dataclass
class Objects:
    """Real objects of each service, created by their owners."""

    apps: dict[str, App]
    ids: dict[str, str] = field(default_factory=dict)
    pdf_party1: bytes = b""


def _delivery(app: App, root: Path) -> tuple[dict[str, str], bytes]:
    settings = app.runtime.settings
    make_dev_ca(settings.dev_ca_dir)  # type: ignore[attr-defined]
    h = Harness(app.runtime, app.client, app.issuer, root / "delivery", settings.dev_ca_dir)  # type: ignore[attr-defined]
    waiting = h.open_handover(rows=20)
    # the password and links are bound to the requester: here the matrix's program officer of party 2
    signed = h.open_handover(rows=20, requester=Actor(org=P2, subject=f"{P2}.program-officer",
                                                      roles=["program-officer"]))
    for party, sig, who in ((1, SIG_1, "signatory-1"), (2, SIG_2, "signatory-2")):
        response = h.upload(signed, h.signed(h.bast(signed), sig, party), who)
        assert response.status_code == 201, response.text
    holder = app.auth(P2, "program-officer")
    links = [app.client.post(f"/v1/handovers/{signed}/package/links", headers=holder) for _ in range(2)]
    assert all(r.status_code == 201 for r in links), links[0].text
    party1 = h.signed(h.bast(waiting, "issued"), SIG_1, 1)
    return {"waiting": waiting, "signed": signed, "link_token": links[0].json()["token"],
            "link_id": links[1].json()["link_id"]}, party1


def _ingest(app: App, root: Path) -> dict[str, str]:
    from p3ke_ingest.synth import generate

    result = generate(root / "synth", individuals=20, family_file=False, seed=3)
    steward = app.auth(P1, "data-steward")
    upload = app.client.post("/v1/uploads", params={"filename": "individu.csv"},
                             content=result.individual_path.read_bytes(),
                             headers={**steward, "Content-Type": "text/csv"})
    assert upload.status_code == 201, upload.text
    submission = app.client.post("/v1/submissions", json={"individual": {"upload_id": upload.json()["upload_id"]}},
                                 headers=steward)
    assert submission.status_code == 202, submission.text
    return {"upload_id": upload.json()["upload_id"], "submission_id": submission.json()["submission_id"]}


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Objects]:
    root = tmp_path_factory.mktemp("authz")
    apps = {
        "ingest": make_app("ingest", root / "ingest", jobs_in_api=False, rate_limit_per_minute=0),
        "targeting": make_app("targeting", root / "targeting", rate_limit_per_minute=0),
        "delivery": make_app("delivery", root / "delivery", delivery_prepare_in_api=False, rate_limit_per_minute=0),
        "feedback": make_app("feedback", root / "feedback", rate_limit_per_minute=0),
        "audit": make_app("audit", root / "audit", audit_checkpointer_in_api=False, rate_limit_per_minute=0),
        "witness": make_app("witness", root / "witness", rate_limit_per_minute=0),
    }
    for app in apps.values():  # the broker is unreachable on purpose: say so at once instead of retrying
        app.runtime._kafka_checked = (time.monotonic() + 3600, "NoBrokersAvailable")
    objs = Objects(apps)
    objs.ids.update(_ingest(apps["ingest"], root))
    officer = apps["targeting"].auth(P2, "program-officer")
    request = apps["targeting"].client.post("/v1/extract-requests", headers=officer, json={
        "program": "padat_karya", "quota": 10, "fields": ["nik"], "justification": "authorisation matrix test request",
        "purpose": "seleksi_calon_peserta"})
    assert request.status_code == 202, request.text
    objs.ids["request_id"] = request.json()["request_id"]
    delivery_ids, objs.pdf_party1 = _delivery(apps["delivery"], root)
    objs.ids.update(delivery_ids)
    yield objs
    for app in apps.values():
        app.runtime.engine.dispose()


def _call(service: str, method: str, path: str, objs: Objects) -> dict[str, Any]:
    """The request for an operation, on the real objects (or a missing id where none is needed)."""
    ids = objs.ids
    handover = ids["waiting"] if path.endswith(("/signatures", "/bast")) or path == "/v1/handovers/{handover_id}" \
        else ids["signed"]
    if path.endswith("/revoke"):
        handover = f"ho-missing-{uuid.uuid4().hex[:6]}"  # the matrix must not end the handover others use
    values = {"submission_id": ids.get("submission_id", "x"), "fmt": "csv", "version_id": "dv-missing",
              "batch_id": "fb-missing", "chart": "coverage", "publication_id": "pub-missing",
              "request_id": ids.get("request_id", "x"), "handover_id": handover, "link_id": ids.get("link_id", "x"),
              "leaf_index": "0", "incident_id": "inc-missing", "obligation_id": "obligation-missing",
              "feed_id": "cal-missing", "token": "no-such-feed-token"}
    url = path.format(**values)
    kwargs: dict[str, Any] = {"method": method, "url": url}
    if (service, method, path) == ("ingest", "POST", "/v1/uploads"):
        kwargs.update(content=b"nik\n3201010101010001\n", headers={"Content-Type": "text/csv"})
    elif (service, method, path) == ("ingest", "POST", "/v1/submissions"):
        kwargs["json"] = {"individual": {"upload_id": ids["upload_id"]}}
    elif (service, method, path) == ("feedback", "POST", "/v1/feedback-batches"):
        kwargs.update(params={"handover_id": "ho-missing", "program": "padat_karya"},
                      content=b"nik\n3201010101010001\n", headers={"Content-Type": "text/csv"})
    elif path == "/v1/reports/publications":
        kwargs["json"] = {"purpose": "authorisation matrix test publication"}
    elif path == "/v1/plans":
        kwargs["json"] = {"program": "padat_karya"}
    elif path.endswith("/signatures"):
        kwargs.update(content=objs.pdf_party1, headers={"Content-Type": "application/pdf"})
    elif path.endswith("/revoke"):
        kwargs["json"] = {"reason": "authorisation matrix"}
    elif path.endswith("/package"):
        kwargs["params"] = {"link": ids["link_token"]}
    elif path == "/v1/proofs/inclusion":
        kwargs["params"] = {"leaf_index": 0}
    elif path == "/v1/proofs/consistency":
        kwargs["params"] = {"first": 1, "second": 1}
    elif path == "/add-checkpoint":
        kwargs["content"] = b"old 0\n\nnot a checkpoint\n"  # anyone gets the protocol's answer (here 400)
    elif method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}  # admitted callers get 422: the body is checked after authorisation
    return kwargs


def _send(app: App, kwargs: dict[str, Any], who: tuple[str, str] | None) -> int:
    headers = dict(kwargs.pop("headers", {}))
    if who is not None:
        headers.update(app.auth(*who))
    response = app.client.request(headers=headers, **kwargs)
    return response.status_code


def _openapi_ops(app: App) -> list[tuple[str, str]]:
    paths = app.client.get("/openapi.json").json()["paths"]
    return [(m.upper(), p) for p, ops in paths.items() for m in ops if m in ("get", "post", "put", "patch", "delete")]


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_is_declared(service: str, objects: Objects) -> None:
    ops = set(_openapi_ops(objects.apps[service]))
    assert ops - set(EXPECTED[service]) == set(), "operations without a declared expectation"
    assert set(EXPECTED[service]) - ops == set(), "declared operations that do not exist"
    outside = {getattr(r, "path", None) for r in objects.apps[service].client.app.routes}  # type: ignore[attr-defined]
    outside -= {p for _, p in ops} | {None}
    assert outside - OUTSIDE_SCHEMA - (AUDIT_UI if service == "audit" else set()) == set()


MATRIX: dict[str, list[str]] = {}


@pytest.mark.parametrize("service", SERVICES)
def test_the_matrix_matches_the_declaration(service: str, objects: Objects) -> None:
    app = objects.apps[service]
    mismatches: list[str] = []
    calls = 0
    for method, path in _openapi_ops(app):
        expected = EXPECTED[service][(method, path)]
        everyone: list[tuple[str, str] | None] = [None, *principals()]
        # callers expected to be admitted go last: their call may change the object (a signature, a link)
        everyone.sort(key=lambda w: w is not None and expected is not None and w in expected)
        for who in everyone:
            status = _send(app, _call(service, method, path, objects), who)
            calls += 1
            if status >= 500 and not (path == "/readyz" and status == 503):
                mismatches.append(f"{method} {path} as {who}: server error {status}")
                continue
            admitted = status not in (401, 403)
            if expected is None:
                ok = admitted
            elif who is None:
                ok = status == 401
            else:
                ok = admitted == (who in expected)
            if not ok:
                mismatches.append(f"{method} {path} as {who or 'no token'}: {status}, expected "
                                  f"{'admitted' if expected is None or (who and who in expected) else 'refused'}")
    MATRIX[service] = mismatches
    record_figures("security", {f"authz_calls_{service}": calls, f"authz_leaks_{service}": len(mismatches)})
    assert mismatches == []


# -- object visibility: created by one party, read by the other only where the agreement says so ----------
@dataclass(frozen=True)
class Visibility:
    service: str
    path: str  # a GET on the object
    owner: str
    readers: frozenset[str]  # the parties that may read it
    why: str
    params: dict[str, str] = field(default_factory=dict)


OBJECTS = [
    Visibility("ingest", "/v1/submissions/{submission_id}", P1, frozenset({P1}),
               "a submission is party 1's work before release (Art. 4(1))"),
    Visibility("targeting", "/v1/extract-requests/{request_id}", P2, frozenset({P1, P2}),
               "party 1 decides what leaves (Art. 4(1)), so it sees the request it answers"),
    Visibility("delivery", "/v1/handovers/{waiting}", P1, frozenset({P1, P2}),
               "the BAST is signed by both parties (Art. 6(1))"),
    Visibility("delivery", "/v1/handovers/{waiting}/bast", P1, frozenset({P1, P2}), "as above"),
    Visibility("delivery", "/v1/handovers/{signed}/package", P1, frozenset({P2}),
               "the package goes to party 2's program officer only, with a personal link",
               params={"link": "{link_token}"}),
]


def test_no_object_of_one_party_is_readable_by_the_other_unless_the_agreement_says_so(objects: Objects) -> None:
    leaks = []
    for obj in OBJECTS:
        app = objects.apps[obj.service]
        url = obj.path.format(**objects.ids)
        params = {k: v.format(**objects.ids) for k, v in obj.params.items()}
        read_by = {org for org, role in principals()
                   if app.client.get(url, params=params, headers=app.auth(org, role)).status_code == 200}
        if not read_by <= obj.readers:
            leaks.append(f"{obj.service} {obj.path}: read by {sorted(read_by - obj.readers)} ({obj.why})")
        if obj.owner in obj.readers and obj.owner not in read_by:
            leaks.append(f"{obj.service} {obj.path}: its owner {obj.owner} cannot read it")
        if not read_by:
            leaks.append(f"{obj.service} {obj.path}: nobody could read it (the test did not reach the object)")
    # lists: party 2 sees no ingest submission or dataset version of party 1 at all
    ingest = objects.apps["ingest"]
    for role in ROLES:
        for path in ("/v1/submissions", "/v1/dataset-versions"):
            response = ingest.client.get(path, headers=ingest.auth(P2, role))
            if response.status_code == 200:
                leaks.append(f"ingest {path}: listed to {P2} {role}")
    record_figures("security", {"object_leaks": len(leaks)})
    assert leaks == []


def test_the_audit_web_page_serves_compliance_auditors_only(objects: Objects) -> None:
    app = objects.apps["audit"]
    client = app.client
    seen: dict[tuple[str, str] | None, int] = {}
    for who in [None, *principals()]:
        client.cookies.clear()
        if who is not None:
            csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui").text)  # the form's CSRF token
            assert csrf is not None
            login = client.post("/ui/login", data={"token": app.token(*who), "csrf": csrf.group(1)},
                                follow_redirects=False)
            assert login.status_code == 303
        page = client.get("/ui")
        assert page.status_code < 500
        seen[who] = page.status_code if "integrity" in page.text.lower() and page.status_code == 200 else 0
    client.cookies.clear()
    readers = {w for w, status in seen.items() if status == 200}
    assert readers == set(roles("compliance-auditor"))

