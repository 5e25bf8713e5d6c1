"""The whole agreement, end to end, as its users and the ministry platforms drive it.

One stack (its own Kafka broker, the five services on PostgreSQL, 5 APIs + 4 workers as real processes)
and the `p3ke` CLI as users run it. Nothing of a service is imported: HTTP to the APIs, the CLI in
subprocesses, Kafka consumers to read and check events, and a Kafka producer only where Kemnaker's
platform would publish (extract-requested). The steps run in order on one stack and share what they
learned (module-scoped `world`):

1. Party 1's data steward generates a synthetic snapshot (`p3ke synth`) and submits it (`p3ke ingest
   submit`): a dataset version is published and reaches targeting.
2. Party 2's program officer requests an extract for each of the four programs of Art. 3 and for a fifth
   added by party 1's written approval (Art. 10(2)), each with its purpose code: accepted, with counts;
   `extract-prepared` carries counts and a SHA-256, no person. The added program goes through to feedback.
3. Delivery opens a handover per extract; both parties' signatories sign the BAST with `p3ke bast sign`
   (development CA from `p3ke bast dev-ca`): `handover-signed` names both signers.
4. Party 2's program officer gets the password (once) and a personal link, downloads the package and
   7-Zip opens it: the manifest and the rows are the extract.
5. Data balikan per handover (served persons from the package, one person of P3KE not in the handover,
   one NIK not in P3KE, one invalid NIK): matched exactly as planted; party 2 learns only "not in this
   handover" for the two outsiders (party 1 sees the finer classes); `feedback-received` has counts only.
6. Reports: JSON, CSV, a chart, the yearly M&E PDF, all consistent with delivered and served.
7. Refusals, each with its precise reason: a request dated after the (extended) agreement's last day
   (platform path), a program outside Art. 3, a field the program may not receive, party 1 asking for
   the package, party 2 uploading a snapshot; then (7b) a signatory whose certificate the development CA
   revoked cannot sign a BAST.
8. Audit: every step and every refusal is in the log, `p3ke audit verify` finds it intact, and one
   person's trail (selected, downloaded, reported back) is found by NIK across services.
9. That person's NIK and name are in no service log, no event on any topic and no URL used.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from p3ke_platform.event_keys import dev_signer
from p3ke_platform.launcher import Stack, start_stack
from p3ke_schemas import (
    Actor,
    CloudEvent,
    ExtractCriteria,
    ExtractRequested,
    FeedbackReceived,
    HandoverSigned,
    from_kafka,
    sign_event,
)
from p3ke_schemas.signing import sign_headers
from tests.conftest import ROOT, new_postgres_database
from tests.integration.helpers.agreement_terms import far_agreement_dir

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.timeout(900),
              pytest.mark.usefixtures("seven_zip_installed")]

PLATFORM_KEY = dev_signer("party-2 platform")  # Kemnaker's platform, with the published development key
SERVICES = ("ingest", "targeting", "delivery", "feedback", "audit")
TOPICS = ("p3ke.dataset-updated.v1", "p3ke.extract-requested.v1", "p3ke.extract-prepared.v1",
          "p3ke.handover-signed.v1", "p3ke.feedback-received.v1", "p3ke.data-access.v1")
AGREEMENT = yaml.safe_load((ROOT / "libs/platform/p3ke_platform/agreement/data/pks-p3ke-2023.yaml").read_text())
ADDENDUM = yaml.safe_load(
    (ROOT / "libs/platform/p3ke_platform/agreement/data/example-addendum-extension.yaml").read_text())
APPROVAL = yaml.safe_load(  # Art. 10(2): party 1 approves in writing a fifth program (example record)
    (ROOT / "libs/platform/p3ke_platform/agreement/data/example-approval-pemagangan.yaml").read_text())
ADDED_PROGRAM = APPROVAL["program"]
JAKARTA = ZoneInfo("Asia/Jakarta")

FAMILIES = 1500  # about 5,900 persons: small, so the whole module stays within minutes
QUOTA = 150
SERVED = 20  # persons of each package reported back as served
FIELDS = {  # what each program asks for: within its list in the agreement (checked in step 2)
    "pelatihan_berbasis_kompetensi": ["nik", "nama", "kode_kemendagri", "desil_kesejahteraan", "pendidikan",
                                      "status_pekerjaan"],
    "padat_karya": ["nik", "nama", "kode_kemendagri", "desil_kesejahteraan", "pekerjaan"],
    "tenaga_kerja_mandiri": ["nik", "nama", "kode_kemendagri", "desil_kesejahteraan", "penerima_kur"],
    "pbi_jamsostek_pekerja_rentan": ["nik", "nama", "tanggal_lahir", "alamat", "kode_kemendagri",
                                     "desil_kesejahteraan"],
    ADDED_PROGRAM: ["nik", "nama", "tanggal_lahir", "kode_kemendagri", "desil_kesejahteraan", "pendidikan"],
}
PURPOSES = {**{program: "seleksi_calon_peserta" for program in FIELDS}, ADDED_PROGRAM: APPROVAL["purpose"]}
TRACED_PROGRAM = "padat_karya"  # the program of the person whose trail is followed
IDENTITIES = {  # name: (org, role, subject)
    "steward-1": ("kemenkopmk", "data-steward", "steward-1"),
    "signatory-1": ("kemenkopmk", "signatory", "deputi-account"),
    "auditor-1": ("kemenkopmk", "compliance-auditor", "inspektorat-1"),
    "officer-2": ("kemnaker", "program-officer", "officer-pusdatik-1"),
    "steward-2": ("kemnaker", "data-steward", "steward-kemnaker"),
    "signatory-2": ("kemnaker", "signatory", "kabarenbang-account"),
}
NIK_RUN = re.compile(r"(?<!\d)\d{16}(?!\d)")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _p3ke() -> list[str]:
    """The `p3ke` command as installed in the environment (what `uv run p3ke` runs)."""
    script = Path(sys.executable).with_name("p3ke")
    return [str(script)] if script.exists() else [sys.executable, "-m", "p3ke_platform.cli"]


def _cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    env.update(extra)
    return env


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([*_p3ke(), *args], env=env or _cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str], timeout: float = 240) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> str:
    code, out, err = _finish(_start(*args, env=env), timeout)
    assert code == 0, f"p3ke {' '.join(args[:2])} exited with {code}:\n{out[-2000:]}\n{err[-3000:]}"
    return out


def _wait(predicate: Callable[[], Any], what: str, timeout: float = 120, every: float = 0.5,
          explain: Callable[[], str] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                                 + (f"\n{explain()}" if explain else ""))
        time.sleep(every)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _jakarta_today() -> date:
    return datetime.now(JAKARTA).date()


@dataclass
class World:
    stack: Stack
    work: Path
    http: httpx.Client
    urls: list[str]
    tokens: dict[str, str]
    synth: subprocess.Popen[str]
    dev_ca: subprocess.Popen[str]
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    done: set[str] = field(default_factory=set)
    people: dict[str, dict[str, str]] = field(default_factory=dict)  # the snapshot as party 1 made it, by NIK
    dataset: dict[str, Any] = field(default_factory=dict)
    extracts: dict[str, dict[str, Any]] = field(default_factory=dict)  # by program: the request's final status
    handovers: dict[str, dict[str, Any]] = field(default_factory=dict)  # by program
    signed_bast: dict[str, Path] = field(default_factory=dict)
    packages: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # by program: the opened rows
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)  # by program
    refusals: dict[str, Any] = field(default_factory=dict)
    person: dict[str, str] = field(default_factory=dict)  # the one followed through the whole flow

    def api(self, service: str) -> str:
        return self.stack.endpoints[service]["api"]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, service: str, path: str, who: str, **kw: Any) -> httpx.Response:
        return self.http.get(self.api(service) + path, headers=self.auth(who), **kw)

    def post(self, service: str, path: str, who: str, headers: dict[str, str] | None = None,
             **kw: Any) -> httpx.Response:
        return self.http.post(self.api(service) + path, headers={**self.auth(who), **(headers or {})}, **kw)

    def needs(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.skip(f"an earlier step did not complete: {', '.join(missing)}")

    def logs(self, *names: str) -> Callable[[], str]:
        """The end of these processes' logs, to explain a wait that timed out."""
        def tails() -> str:
            return "\n".join(f"--- {name}.log\n" + (self.stack.data_dir / "logs" / f"{name}.log").read_text(
                errors="replace")[-2000:] for name in names)
        return tails


@pytest.fixture(scope="module")
def world(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    work = tmp_path_factory.mktemp("agreement")
    services_dir = work / "stack" / "services"  # the stack's shared P3KE_DATA_DIR (Stack.services_dir)
    services_dir.mkdir(parents=True)
    # while the stack starts (the slow part): party 1's snapshot is generated, the development tokens
    # are minted (the issuer key in the shared data directory is created once, race-free), and the
    # development CA that the local delivery service trusts by default (<P3KE_DATA_DIR>/dev-ca) is made
    started = {
        "synth": _start("synth", "--out", str(work / "snapshot"), "--families", str(FAMILIES), "--format", "csv",
                        "--seed", "2023", "--no-progress"),
        "dev-ca": _start("bast", "dev-ca", "--data-dir", str(services_dir)),
        **{who: _start("dev-token", "--org", org, "--role", role, "--subject", subject,
                       "--data-dir", str(services_dir))
           for who, (org, role, subject) in IDENTITIES.items()},
    }
    stack: Stack | None = None
    http: httpx.Client | None = None
    try:
        stack = start_stack(work / "stack", database_urls={s: new_postgres_database(postgres) for s in SERVICES},
                            extra_env={"P3KE_AGREEMENT_INCLUDE_EXAMPLES": "true", "P3KE_LOG_LEVEL": "INFO",
                                       # the bundled terms kept in force to 2099: the stack runs on real time
                                       "P3KE_AGREEMENT_DIR": str(far_agreement_dir(work))})
        assert stack.services_dir == services_dir
        tokens = {}
        for who in IDENTITIES:
            code, out, err = _finish(started[who])
            assert code == 0, f"dev-token {who}: {err[-2000:]}"
            tokens[who] = out.strip()
        urls: list[str] = []
        http = httpx.Client(timeout=httpx.Timeout(120.0),
                            event_hooks={"request": [lambda request: urls.append(str(request.url))]})
        yield World(stack=stack, work=work, http=http, urls=urls, tokens=tokens, synth=started["synth"],
                    dev_ca=started["dev-ca"])
    finally:
        if http is not None:
            http.close()
        for proc in started.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        if stack is not None:
            stack.stop()


# -- Kafka: read only (and publish only what a ministry platform would) --------------------------------
def _read(bootstrap: str, topics: tuple[str, ...] | list[str]) -> list[Any]:
    """Every message on the topics, from the beginning to their current end."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             consumer_timeout_ms=1000)
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        messages: list[Any] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < end[tp] for tp in partitions) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend(batch)
        return messages
    finally:
        consumer.close()


def _collect(world: World, topic: str, keys: set[str], want: int | None = None, timeout: float = 120) -> list[Any]:
    """The messages with these keys on the topic, once there are `want` of them (default one per key)."""
    want = len(keys) if want is None else want

    def found() -> list[Any] | None:
        got = [m for m in _read(world.stack.bootstrap, [topic]) if m.key and m.key.decode() in keys]
        return got if len(got) >= want else None

    return _wait(found, f"{want} message(s) on {topic}", timeout, every=1.0)


def _event(message: Any) -> Any:
    return from_kafka(message.key, message.value, message.headers).data


def _announced(world: World, topic: str, programs: dict[str, str], kind: type,
               id_field: str) -> list[tuple[Any, str, Any]]:
    """The `kind` events on `topic` keyed by the ids of `programs` (id -> program), one for each program:
    (the event, the program its `id_field` names, the message)."""
    messages = _collect(world, topic, set(programs))
    assert len(messages) == len(programs)
    found = []
    for message in messages:
        event = _event(message)
        assert isinstance(event, kind)
        found.append((event, programs[getattr(event, id_field)], message))
    return found


def _no_person_in(text: str, niks: set[str], what: str) -> None:
    leaked = set(NIK_RUN.findall(text)) & niks
    assert not leaked, f"{len(leaked)} NIK(s) of the snapshot in {what}"


# -- 1. the snapshot --------------------------------------------------------------------------------------
def test_1_party_1_publishes_a_snapshot_and_targeting_learns_it(world: World) -> None:
    code, _, err = _finish(world.synth)
    assert code == 0, err[-3000:]
    snapshot = world.work / "snapshot"
    manifest = json.loads((snapshot / "manifest.json").read_text())
    individuals, families = manifest["individuals"], manifest["families"]
    assert families == FAMILIES and individuals > FAMILIES
    with (snapshot / "individu.csv").open(newline="", encoding="utf-8") as fh:
        world.people = {row["nik"]: row for row in csv.DictReader(fh)}
    assert len(world.people) == individuals

    _run("ingest", "submit", str(snapshot / "individu.csv"), "--family", str(snapshot / "keluarga.csv"),
         "--api", world.api("ingest"), "--token", world.tokens["steward-1"], timeout=300)  # follows the job

    current = world.get("ingest", "/v1/dataset-versions/current", "steward-1")
    assert current.status_code == 200, current.text
    dataset = current.json()
    assert dataset["status"] == "published" and dataset["current"] is True
    assert (dataset["individuals"], dataset["families"], dataset["rows_rejected"]) == (individuals, families, 0)
    assert sum(dataset["counts_by_desil"].values()) == individuals
    assert sum(dataset["counts_by_province"].values()) == individuals
    assert dataset["agreement_id"] == AGREEMENT["id"]
    snapshot_file = Path(unquote(urlparse(dataset["snapshot_uri"]).path))
    assert _sha256(snapshot_file) == dataset["snapshot_sha256"]  # content-addressed and intact
    world.dataset = dataset
    version = dataset["dataset_version_id"]

    [announced] = _collect(world, "p3ke.dataset-updated.v1", {version})
    event = _event(announced)
    assert (event.individuals, event.families, event.snapshot_sha256) == (
        individuals, families, dataset["snapshot_sha256"])
    assert event.published_by.org == "kemenkopmk" and event.published_by.subject == "steward-1"

    def listed() -> dict[str, Any] | None:
        rows = world.get("targeting", "/v1/datasets", "officer-2").json()
        return next((r for r in rows if r["dataset_version_id"] == version), None)

    known = _wait(listed, "targeting to learn the dataset version", explain=world.logs("targeting-worker"))
    assert known["is_current"] and known["individuals"] == individuals
    assert known["snapshot_sha256"] == dataset["snapshot_sha256"]
    world.done.add("snapshot")


# -- 2. extracts for the four programs and one added by written approval -------------------------------
def test_2_party_2_gets_an_extract_for_each_program_including_one_added_by_written_approval(world: World) -> None:
    world.needs("snapshot")
    allowed = {p["code"]: p["fields"] for p in AGREEMENT["programs"]} | {ADDED_PROGRAM: APPROVAL["fields"]}
    assert set(allowed) == set(FIELDS)
    rules = world.get("targeting", "/v1/eligibility-rules", "officer-2")
    assert rules.status_code == 200, rules.text
    assert set(rules.json()["programs"]) == set(FIELDS) - {ADDED_PROGRAM} and rules.json()["rules_version"]

    requests = {}
    for program, fields in FIELDS.items():
        assert set(fields) <= set(allowed[program]), program
        request_id = f"e2e-{program}-{world.tag}"
        response = world.post("targeting", "/v1/extract-requests", "officer-2", json={
            "request_id": request_id, "program": program, "quota": QUOTA, "fields": fields,
            "justification": f"Sasaran {program} 2026 (uji ujung ke ujung)", "purpose": PURPOSES[program],
            "dataset_version_id": world.dataset["dataset_version_id"]})
        assert response.status_code == 202, response.text
        assert response.headers["location"] == f"/v1/extract-requests/{request_id}"
        assert response.json()["status"] == "submitted"
        requests[program] = request_id

    def decided(request_id: str) -> Callable[[], dict[str, Any] | None]:
        def check() -> dict[str, Any] | None:
            body = world.get("targeting", f"/v1/extract-requests/{request_id}", "officer-2").json()
            return body if body["status"] in ("accepted", "rejected") else None
        return check

    for program, request_id in requests.items():
        status = _wait(decided(request_id), f"the {program} extract", timeout=180,
                       explain=world.logs("targeting-api", "targeting-worker"))
        assert status["status"] == "accepted", status["reason"]
        assert status["record_count"] == QUOTA
        assert sum(status["counts_by_desil"].values()) == QUOTA
        assert sum(status["counts_by_region"].values()) == QUOTA
        assert status["dataset_version_id"] == world.dataset["dataset_version_id"]
        assert SHA256.match(status["file_sha256"]) and status["extract_id"]
        world.extracts[program] = status

    niks = set(world.people)
    names = {p["nama"] for p in world.people.values() if " " in p["nama"]}
    prepared = _collect(world, "p3ke.extract-prepared.v1", set(requests.values()))
    by_request = {m.key.decode(): m for m in prepared}
    assert len(prepared) == len(FIELDS)  # one extract per request
    for program, request_id in requests.items():
        raw = by_request[request_id].value.decode()
        event = _event(by_request[request_id])
        status = world.extracts[program]
        assert event.status == "accepted" and event.program == program and event.purpose == PURPOSES[program]
        assert (event.extract_id, event.record_count, event.file_sha256) == (
            status["extract_id"], QUOTA, status["file_sha256"])
        assert event.counts_by_desil == status["counts_by_desil"]
        assert sum(event.counts_by_region.values()) == QUOTA
        _no_person_in(raw, niks, f"extract-prepared {request_id}")
        assert not [n for n in names if n in raw], "a name in extract-prepared"
        assert '"nama":' not in raw and '"nik":' not in raw  # field names (in `fields`), never values
    world.done.add("extracts")


# -- 3. the BAST, signed by both parties -----------------------------------------------------------------
def _signatory(party: int) -> str:
    return next(s["id"] for s in AGREEMENT["signatories"] if s["party"] == party)


def test_3_both_parties_sign_the_bast_of_each_handover(world: World) -> None:
    world.needs("extracts")
    requests = {status["request_id"]: program for program, status in world.extracts.items()}

    def prepared() -> dict[str, dict[str, Any]] | None:
        rows = world.get("delivery", "/v1/handovers", "officer-2").json()
        mine = {requests[r["request_id"]]: r for r in rows if r["request_id"] in requests}
        ready = all(r["status"] == "awaiting-signatures" for r in mine.values())
        return mine if len(mine) == len(requests) and ready else None

    world.handovers = _wait(prepared, "a handover per extract awaiting signatures", timeout=180,
                            explain=world.logs("delivery-worker", "delivery-api"))
    for program, handover in world.handovers.items():
        assert handover["extract_id"] == world.extracts[program]["extract_id"]
        assert handover["record_count"] == QUOTA and handover["program"] == program
        assert handover["agreement_id"] == AGREEMENT["id"] and handover["bast_number"]

    # the development CA must be there before any signature is verified
    code, _, err = _finish(world.dev_ca)
    assert code == 0, err[-3000:]
    ca = world.stack.services_dir / "dev-ca"
    assert (ca / "ca.pem").is_file() and (ca / "signatory-certificates.yaml").is_file()

    folder = world.work / "bast"
    folder.mkdir(exist_ok=True)
    for party in (1, 2):
        who, signatory = f"signatory-{party}", _signatory(party)
        signing = {}
        for program, handover in world.handovers.items():
            got = world.get("delivery", f"/v1/handovers/{handover['handover_id']}/bast", who)
            assert got.status_code == 200 and got.headers["content-type"] == "application/pdf", got.text
            downloaded = folder / f"{program}-{party - 1}.pdf"
            downloaded.write_bytes(got.content)
            signing[program] = _start("bast", "sign", str(downloaded), "--party", str(party),
                                      "--key", str(ca / f"{signatory}.key.pem"),
                                      "--cert", str(ca / f"{signatory}.cert.pem"), "--chain", str(ca / "ca.pem"),
                                      "-o", str(folder / f"{program}-{party}.pdf"), "--location", "Jakarta")
        for program, proc in signing.items():  # signed on the signatory's machine, in parallel
            code, out, err = _finish(proc)
            assert code == 0, f"bast sign {program} party {party}: {out[-1000:]} {err[-2000:]}"
            signed = folder / f"{program}-{party}.pdf"
            handover_id = world.handovers[program]["handover_id"]
            response = world.post("delivery", f"/v1/handovers/{handover_id}/signatures", who,
                                  headers={"Content-Type": "application/pdf"}, content=signed.read_bytes())
            assert response.status_code == 201, response.text
            accepted = response.json()
            assert (accepted["party"], accepted["signatory_id"]) == (party, signatory)
            assert accepted["status"] == ("partially-signed" if party == 1 else "signed")
            assert accepted["bast_sha256"] == _sha256(signed)
            world.signed_bast[program] = signed

    ids = {h["handover_id"]: program for program, h in world.handovers.items()}
    for event, program, _ in _announced(world, "p3ke.handover-signed.v1", ids, HandoverSigned, "handover_id"):
        detail = world.get("delivery", f"/v1/handovers/{event.handover_id}", "officer-2").json()
        assert detail["status"] == "signed"
        assert [(s.party, s.org, s.signatory_id) for s in event.signers] == [
            (1, "kemenkopmk", _signatory(1)), (2, "kemnaker", _signatory(2))]
        assert event.bast_sha256 == _sha256(world.signed_bast[program])
        assert (event.extract_id, event.record_count, event.program) == (
            world.extracts[program]["extract_id"], QUOTA, program)
        assert event.bast_number == world.handovers[program]["bast_number"]
        world.handovers[program]["package_sha256"] = event.package_sha256

    if shutil.which("pdfsig"):  # an independent PDF reader accepts both signatures
        checked = subprocess.run(["pdfsig", str(world.signed_bast[TRACED_PROGRAM])], capture_output=True,
                                 text=True, timeout=60)
        assert checked.stdout.count("Signature is Valid.") == 2, checked.stdout + checked.stderr
        assert "TTD_PIHAK_KESATU" in checked.stdout and "TTD_PIHAK_KEDUA" in checked.stdout
    world.done.add("signed")


# -- 4. the package ---------------------------------------------------------------------------------------
def test_4_party_2_gets_the_password_and_opens_the_package(world: World) -> None:
    world.needs("signed")
    for program, handover in world.handovers.items():
        base = f"/v1/handovers/{handover['handover_id']}"
        released = world.post("delivery", f"{base}/password", "officer-2")
        assert released.status_code == 200, released.text
        assert released.headers["cache-control"] == "no-store"
        password = released.json()["password"]
        assert released.json()["package_sha256"] == handover["package_sha256"]
        again = world.post("delivery", f"{base}/password", "officer-2")
        assert again.status_code == 409 and "hanya diberikan satu kali" in again.json()["detail"]

        link = world.post("delivery", f"{base}/package/links", "officer-2")
        assert link.status_code == 201, link.text
        handover["link_url"] = link.json()["url"]
        got = world.get("delivery", link.json()["url"], "officer-2")
        assert got.status_code == 200, got.text
        assert hashlib.sha256(got.content).hexdigest() == got.headers["x-package-sha256"] == handover["package_sha256"]
        archive = world.work / "packages" / link.json()["package_name"]
        archive.parent.mkdir(exist_ok=True)
        archive.write_bytes(got.content)

        opened = world.work / "opened" / program
        done = subprocess.run(["7z", "x", "-y", f"-p{password}", f"-o{opened}", str(archive)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        manifest = json.loads((opened / "manifest.json").read_text())
        status = world.extracts[program]
        assert (manifest["handover_id"], manifest["program"], manifest["extract_id"], manifest["request_id"]) == (
            handover["handover_id"], program, status["extract_id"], status["request_id"])
        assert manifest["record_count"] == QUOTA and manifest["extract_sha256"] == status["file_sha256"]
        assert manifest["bast_number"] == handover["bast_number"]
        assert manifest["dataset_version_id"] == world.dataset["dataset_version_id"]
        assert [f["name"] for f in manifest["fields"]] == FIELDS[program]
        assert manifest["counts_by_desil"] == status["counts_by_desil"]
        for item in manifest["files"]:
            assert _sha256(opened / item["name"]) == item["sha256"] and item["rows"] == QUOTA
        csv_name = next(f["name"] for f in manifest["files"] if f["name"].endswith(".csv"))
        with (opened / csv_name).open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == QUOTA and list(rows[0]) == FIELDS[program]
        assert len({r["nik"] for r in rows}) == QUOTA
        for row in rows:  # every person handed over is a person of the snapshot, as published
            person = world.people[row["nik"]]
            assert (row["nama"], row["kode_kemendagri"]) == (person["nama"], person["kode_kemendagri"])
            assert person["padan_dukcapil"] == "Ya"
        world.packages[program] = rows
    world.done.add("packages")


# -- 5. data balikan --------------------------------------------------------------------------------------
HEADER = ["nik", "nama", "kode_wilayah", "program", "kegiatan", "tanggal_mulai", "tanggal_selesai", "status",
          "nilai_manfaat"]


def _balikan(world: World, program: str) -> tuple[Path, list[str]]:
    """SERVED persons of the package, then one person of P3KE not in this handover, one valid NIK that
    is not in P3KE and one invalid NIK. Returns the file and the served persons' NIKs."""
    rows = world.packages[program]
    delivered = {r["nik"] for r in rows}
    start = _jakarta_today().isoformat()
    end = (_jakarta_today() + timedelta(days=30)).isoformat()
    statuses = ["terdaftar", "selesai", "benefit_paid", "enrolled"]
    out = [HEADER]
    served = rows[:SERVED]
    for i, row in enumerate(served):
        status = statuses[i % len(statuses)]
        out.append([row["nik"], row["nama"], row["kode_kemendagri"], program, f"Kegiatan {program}", start,
                    end if status == "selesai" else "", status, "Rp 1.500.000,00" if i % 2 else ""])
    outsider = next(p for nik, p in sorted(world.people.items()) if nik not in delivered
                    and p["nik"] not in {r[0] for r in out})
    out.append([outsider["nik"], outsider["nama"], outsider["kode_kemendagri"], program, "Kegiatan", start, "",
                "aktif", ""])
    unknown = next(f"{r['nik'][:12]}{serial:04d}" for r in rows for serial in range(9999, 9000, -1)
                   if f"{r['nik'][:12]}{serial:04d}" not in world.people)
    out.append([unknown, "BUKAN WARGA P3KE", rows[0]["kode_kemendagri"], program, "Kegiatan", start, "", "enrolled",
                "250000"])
    out.append(["3.20101E+15", "NIK RUSAK", rows[0]["kode_kemendagri"], program, "Kegiatan", start, "", "enrolled",
                ""])
    path = world.work / "balikan" / f"{program}.csv"
    path.parent.mkdir(exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(out)
    return path, [r["nik"] for r in served]


def test_5_party_2_reports_back_who_it_served(world: World) -> None:
    world.needs("packages")
    ids = {h["handover_id"]: program for program, h in world.handovers.items()}

    def settled() -> list[dict[str, Any]] | None:
        rows = [r for r in world.get("feedback", "/v1/handovers", "officer-2").json() if r["handover_id"] in ids]
        return rows if len(rows) == len(ids) and all(r["delivered_state"] == "settled" for r in rows) else None

    for row in _wait(settled, "feedback to learn every signed handover",
                     explain=world.logs("feedback-worker")):
        program = ids[row["handover_id"]]
        assert (row["program"], row["record_count"], row["delivered_total"]) == (program, QUOTA, QUOTA)
        assert row["bast_number"] == world.handovers[program]["bast_number"] and row["current_batches"] == 0

    # party 2 learns only "in this handover / not in it / invalid NIK", never whether someone else is in P3KE;
    # party 1 sees the finer classes
    expected_classes = {"in_extract": SERVED, "not_in_handover": 2, "invalid_nik": 1}
    party_1_classes = {"in_extract": SERVED, "in_p3ke_not_delivered": 1, "not_in_p3ke": 1, "invalid_nik": 1}
    for program, handover in world.handovers.items():
        path, served = _balikan(world, program)
        response = world.post("feedback", "/v1/feedback-batches", "officer-2", headers={"Content-Type": "text/csv"},
                              params={"handover_id": handover["handover_id"], "program": program,
                                      "filename": path.name},
                              content=path.read_bytes())
        assert response.status_code == 201, response.text
        batch = response.json()
        assert batch["status"] == "current" and batch["duplicate"] is False
        assert batch["counts_by_match_class"] == expected_classes, batch
        assert (batch["rows"], batch["rows_rejected"], batch["served"]) == (SERVED + 3, 1, SERVED + 2)
        assert batch["dataset_version_id"] == world.dataset["dataset_version_id"]
        assert sum(batch["counts_by_status"].values()) == SERVED + 2
        assert batch["counts_by_finding"].get("nik_scientific") == 1, batch["counts_by_finding"]
        seen_by_party_1 = world.get("feedback", f"/v1/feedback-batches/{batch['batch_id']}", "steward-1")
        assert seen_by_party_1.status_code == 200, seen_by_party_1.text
        assert seen_by_party_1.json()["counts_by_match_class"] == party_1_classes
        batch["served_niks"] = served
        world.batches[program] = batch

    rows = world.packages[TRACED_PROGRAM][:SERVED]
    chosen = next(r for r in rows if " " in r["nama"])  # a full name, to look for in logs and events
    world.person = {"nik": chosen["nik"], "nama": chosen["nama"], "program": TRACED_PROGRAM,
                    "extract_id": world.extracts[TRACED_PROGRAM]["extract_id"],
                    "handover_id": world.handovers[TRACED_PROGRAM]["handover_id"],
                    "batch_id": world.batches[TRACED_PROGRAM]["batch_id"]}

    batch_ids = {b["batch_id"]: program for program, b in world.batches.items()}
    for event, program, message in _announced(world, "p3ke.feedback-received.v1", batch_ids, FeedbackReceived,
                                              "batch_id"):
        assert event.handover_id == world.handovers[program]["handover_id"] and event.program == program
        assert event.counts_by_match_class == expected_classes
        assert (event.rows, event.rows_rejected) == (SERVED + 3, 1)
        assert event.submitted_by.org == "kemnaker"
        raw = message.value.decode()
        _no_person_in(raw, set(world.people), "feedback-received")
        assert all(r["nama"] not in raw for r in world.packages[program][:SERVED])
    world.done.add("feedback")


# -- 6. reports -------------------------------------------------------------------------------------------
def test_6_reports_agree_with_what_was_delivered_and_served(world: World) -> None:
    world.needs("feedback")
    response = world.get("feedback", "/v1/reports", "steward-1", params={"level": "national", "period": "all"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["unsettled_handovers"] == 0 and report["overdue_handovers"] == []
    totals = {t["program"]: t for t in report["totals"]}
    assert set(totals) == set(FIELDS)
    for program, total in totals.items():
        assert (total["delivered"], total["served"], total["served_in_extract"]) == (QUOTA, SERVED + 2, SERVED)
        assert total["coverage"] == pytest.approx(SERVED / QUOTA, abs=1e-4)
        assert (total["rows"], total["rejected"]) == (SERVED + 3, 1)
        assert total["by_class"] == {"in_extract": SERVED, "in_p3ke_not_delivered": 1, "not_in_p3ke": 1,
                                     "invalid_nik": 1, "duplicate": 0}
        assert sum(total["by_status"].values()) == SERVED + 2
        desil = total["by_desil"]
        assert sum(d["delivered"] for d in desil.values()) == QUOTA
        assert sum(d["served"] for d in desil.values()) == SERVED + 2
        assert desil["0"]["served"] == 1  # the person not in P3KE has no desil
        assert total["share_desil_1"] == pytest.approx(desil["1"]["served"] / (SERVED + 2), abs=1e-4)
        expected_value = sum(1_500_000 for i in range(SERVED) if i % 2) + 250_000
        assert total["benefit_value"] == expected_value, program
    timeliness = report["timeliness"]
    handovers = len(FIELDS)
    assert sum(t["handovers"] for t in timeliness) == handovers
    assert sum(t["with_feedback"] for t in timeliness) == handovers

    def export(who: str) -> dict[str, dict[str, str]]:
        exported = world.get("feedback", "/v1/reports/export.csv", who, params={"level": "national", "period": "all"})
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv"), exported.text
        lines = list(csv.DictReader(exported.text.lstrip("\ufeff").splitlines()))
        return {r["program"]: r for r in lines if r["desil"] == "all"}

    summary = export("steward-1")
    assert set(summary) == set(FIELDS)
    for row in summary.values():
        assert (int(row["delivered"]), int(row["served"]), int(row["served_in_extract"])) == (
            QUOTA, SERVED + 2, SERVED)
        assert (int(row["in_extract"]), int(row["not_in_p3ke"]), int(row["invalid_nik"])) == (SERVED, 1, 1)
    coarse = export("officer-2")  # party 2: no P3KE membership of others, and small cells suppressed
    assert set(coarse) == set(FIELDS)
    for row in coarse.values():
        assert "not_in_p3ke" not in row and "in_p3ke_not_delivered" not in row
        assert (int(row["delivered"]), int(row["served"]), int(row["in_extract"])) == (QUOTA, SERVED + 2, SERVED)
        assert (row["not_in_handover"], row["invalid_nik"]) == ("", "")  # 2 and 1: under the smallest cell shown

    chart = world.get("feedback", "/v1/reports/charts/coverage", "auditor-1", params={"format": "png"})
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG"), chart.text[:300]
    svg = world.get("feedback", "/v1/reports/charts/classes", "officer-2", params={"format": "svg"})
    assert svg.status_code == 200 and b"<svg" in svg.content[:2000]

    year = _jakarta_today().year
    pdf = world.get("feedback", "/v1/reports/monitoring-evaluation.pdf", "officer-2", params={"year": year})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf", pdf.text[:300]
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 10_000
    assert f"laporan-monev-p3ke-{year}01_{year}12.pdf" in pdf.headers["content-disposition"]
    (world.work / "monev.pdf").write_bytes(pdf.content)
    world.done.add("reports")


# -- 7. refusals ------------------------------------------------------------------------------------------
def _platform_send(world: World, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
    """What Kemnaker's platform does: put extract-requested on the topic (binary CloudEvents)."""
    producer = KafkaProducer(bootstrap_servers=world.stack.bootstrap, acks="all")
    try:
        producer.send("p3ke.extract-requested.v1", key=key.encode(), value=value, headers=headers).get(60)
    finally:
        producer.close()


def test_7_refusals_are_precise(world: World) -> None:
    world.needs("packages")
    platform = Actor(org="kemnaker", subject="svc-pusdatik", roles=["program-officer"], service_account=True)
    last_day = date.fromisoformat(str(ADDENDUM["changes"]["last_day"]))
    assert last_day == date(2027, 2, 28)

    # (a) dated after the last day of the extended agreement, on the platform path (signed with party 2's
    # platform key): a claimed time months away from the broker's receipt is refused before any policy runs
    late_id = f"e2e-late-{world.tag}"
    late = ExtractRequested(request_id=late_id, agreement_id=AGREEMENT["id"], program="padat_karya",
                            criteria=ExtractCriteria(), quota=50, fields=["nik", "nama", "kode_kemendagri"],
                            justification="Padat karya 2027, diminta setelah masa berlaku", requested_by=platform,
                            purpose="seleksi_calon_peserta",
                            requested_at=datetime(2027, 3, 15, 2, 0, tzinfo=UTC))
    key, value, headers = sign_event(CloudEvent.of(late, source="urn:kemnaker:pusdatik:platform"), PLATFORM_KEY)
    _platform_send(world, key.decode(), value, headers)

    # (b) a program outside Art. 3, on both paths: accepted as a request, refused by the agreement's policy
    # (no written approval of party 1 covers it), ending in a rejected extract-prepared, audited
    oos_api_id = f"e2e-oos-api-{world.tag}"
    out_of_scope = world.post("targeting", "/v1/extract-requests", "officer-2", json={
        "request_id": oos_api_id, "program": "bantuan_sosial_pkh", "quota": 10,
        "fields": ["nik", "nama"], "justification": "Program di luar ruang lingkup PKS",
        "purpose": "seleksi_calon_peserta"})
    assert out_of_scope.status_code == 202, out_of_scope.text
    oos_id = f"e2e-oos-{world.tag}"
    raw = {**json.loads(late.model_dump_json()), "request_id": oos_id, "program": "bantuan_sosial_pkh",
           "requested_at": datetime.now(UTC).isoformat()}
    oos_value = json.dumps(raw).encode()
    oos_headers = sign_headers(PLATFORM_KEY, [(k, v) for k, v in headers if k != "ce_id"]
                               + [("ce_id", str(uuid.uuid4()).encode())], oos_value,
                               authtype="service_account", authid=platform.subject)
    _platform_send(world, oos_id, oos_value, oos_headers)

    # (c) a field the program may not receive (padat karya gets no address)
    field_id = f"e2e-field-{world.tag}"
    response = world.post("targeting", "/v1/extract-requests", "officer-2", json={
        "request_id": field_id, "program": "padat_karya", "quota": 10, "fields": ["nik", "nama", "alamat"],
        "justification": "Padat karya dengan alamat (tidak diizinkan)", "purpose": "seleksi_calon_peserta"})
    assert response.status_code == 202, response.text

    # (d) party 1, whatever its role, receives no package, link or password
    handover_id = world.handovers[TRACED_PROGRAM]["handover_id"]
    base = f"/v1/handovers/{handover_id}"
    for who in ("steward-1", "signatory-1"):
        org, role, _ = IDENTITIES[who]
        for path in (f"{base}/password", f"{base}/package/links"):
            refused = world.post("delivery", path, who)
            assert refused.status_code == 403, refused.text
            assert refused.headers["x-p3ke-refusal"] == "role"
            detail = refused.json()["detail"]  # Indonesian first, then the policy's reason
            assert detail.startswith("Ditolak: peran atau instansi yang meminta tidak diberi kewenangan"), detail
            assert (f"role {role} of {org} may not download-package (download-package is granted to: "
                    "program-officer of kemnaker)") in detail, detail
    officer_link = world.post("delivery", f"{base}/package/links", "officer-2")
    assert officer_link.status_code == 201, officer_link.text
    taken = world.get("delivery", officer_link.json()["url"], "steward-1")
    assert taken.status_code == 403 and taken.headers["x-p3ke-refusal"] == "link", taken.text
    assert taken.json()["code"] == "link.other_account"  # Indonesian by default; the code stays English
    assert taken.json()["detail"].startswith("Tautan unduhan ini diterbitkan untuk akun lain")

    # (e) party 2 publishes no snapshot
    snapshot = world.work / "snapshot" / "individu.csv"
    for who in ("steward-2", "officer-2"):
        org, role, _ = IDENTITIES[who]
        upload = world.post("ingest", "/v1/uploads", who, params={"filename": "individu.csv"},
                            headers={"Content-Type": "application/octet-stream"}, content=snapshot.read_bytes())
        assert upload.status_code == 403, upload.text
        assert upload.json()["detail"].startswith(  # the policy's reason, Indonesian by default
            f"peran {role} dari {org} tidak berwenang melakukan publish-dataset (publish-dataset diberikan kepada: "
            "data-steward dari kemenkopmk)"), upload.text
    submission = world.post("ingest", "/v1/submissions", "steward-2", json={"individual": {"path": str(snapshot)}})
    assert submission.status_code == 403, submission.text

    # outcomes of the asynchronous ones
    def decided(request_id: str) -> Callable[[], dict[str, Any] | None]:
        def check() -> dict[str, Any] | None:
            got = world.get("targeting", f"/v1/extract-requests/{request_id}", "officer-2")
            return got.json() if got.status_code == 200 and got.json()["status"] in ("accepted", "rejected") else None
        return check

    letters = {dict(m.headers)["p3ke_dlq_consumer"].decode(): dict(m.headers)["p3ke_dlq_reason"].decode()
               for m in _collect(world, "p3ke.extract-requested.v1.dlq", {late_id}, want=2)}
    by_service = {name.rsplit("-", 1)[-1]: reason for name, reason in letters.items()}
    assert set(by_service) == {"targeting", "audit"}, letters  # each consumer refuses it, unapplied
    late_reason = by_service["targeting"]
    assert by_service["audit"] == late_reason
    assert late_reason.startswith("origin not proven (time): requested_at is "), late_reason
    assert late_reason.endswith("after the broker received the event (at most 5 minute(s) allowed)"), late_reason
    assert world.get("targeting", f"/v1/extract-requests/{late_id}", "officer-2").status_code == 404
    field_status = _wait(decided(field_id), "the outcome of the request with a field not allowed")
    assert field_status["status"] == "rejected"
    assert field_status["reason"].startswith("elemen data 'alamat' tidak diizinkan untuk program padat_karya (Pasal 10 "
                                             "ayat (1), minimisasi data); yang diizinkan: "), field_status["reason"]
    assert " / field 'alamat' is not allowed for program padat_karya (Art. 10(1) data minimisation); allowed: " in (
        field_status["reason"])  # Indonesian / English
    [event] = [_event(m) for m in _collect(world, "p3ke.extract-prepared.v1", {field_id})]
    assert (event.status, event.reason, event.record_count, event.file_uri) == (
        "rejected", field_status["reason"], 0, None)

    scope = ("program 'bantuan_sosial_pkh' bukan salah satu dari 4 program Pasal 3 (pelatihan_berbasis_kompetensi, "
             "padat_karya, tenaga_kerja_mandiri, pbi_jamsostek_pekerja_rentan)")
    for request_id in (oos_api_id, oos_id):
        status = _wait(decided(request_id), "the out-of-scope request's outcome")
        assert status["status"] == "rejected" and status["reason"].startswith(scope), status
        assert "no written approval of party 1 (Art. 10(2)) covers it" in status["reason"], status
    rejected = {m.key.decode(): _event(m)
                for m in _collect(world, "p3ke.extract-prepared.v1", {oos_api_id, oos_id})}
    assert {k: (e.status, e.record_count, e.file_uri) for k, e in rejected.items()} == {
        oos_api_id: ("rejected", 0, None), oos_id: ("rejected", 0, None)}

    world.refusals = {"late": late_id, "field": field_id, "oos": oos_id, "oos_api": oos_api_id,
                      "late_reason": late_reason,
                      "field_reason": field_status["reason"], "handover_id": handover_id}
    world.done.add("refusals")


# -- 7b. a revoked signatory certificate signs nothing (Art. 6) -----------------------------------------
REVOKED_QUOTA = 10


def test_7b_a_revoked_signatory_certificate_signs_nothing(world: World) -> None:
    world.needs("signed", "refusals")
    request_id = f"e2e-revoked-{world.tag}"
    response = world.post("targeting", "/v1/extract-requests", "officer-2", json={
        "request_id": request_id, "program": TRACED_PROGRAM, "quota": REVOKED_QUOTA,
        "fields": FIELDS[TRACED_PROGRAM], "purpose": PURPOSES[TRACED_PROGRAM],
        "justification": "Padat karya tahap 2 (uji sertifikat yang dicabut)",
        "dataset_version_id": world.dataset["dataset_version_id"]})
    assert response.status_code == 202, response.text

    def awaiting() -> dict[str, Any] | None:
        rows = world.get("delivery", "/v1/handovers", "officer-2").json()
        return next((r for r in rows if r["request_id"] == request_id and r["status"] == "awaiting-signatures"), None)

    handover = _wait(awaiting, "the second padat karya handover awaiting signatures", timeout=180,
                     explain=world.logs("targeting-worker", "delivery-worker"))
    handover_id, services_dir = handover["handover_id"], world.stack.services_dir
    ca, signatory = services_dir / "dev-ca", _signatory(1)
    # the development CA revokes party 1's signatory certificate (its CRL, which delivery reads for every signature)
    _run("bast", "revoke", str(ca / f"{signatory}.cert.pem"), "--data-dir", str(services_dir))
    got = world.get("delivery", f"/v1/handovers/{handover_id}/bast", "signatory-1")
    assert got.status_code == 200, got.text
    unsigned, signed = world.work / "bast" / "revoked-0.pdf", world.work / "bast" / "revoked-1.pdf"
    unsigned.write_bytes(got.content)
    _run("bast", "sign", str(unsigned), "--party", "1", "--key", str(ca / f"{signatory}.key.pem"),
         "--cert", str(ca / f"{signatory}.cert.pem"), "--chain", str(ca / "ca.pem"), "-o", str(signed),
         "--location", "Jakarta")
    refused = world.post("delivery", f"/v1/handovers/{handover_id}/signatures", "signatory-1",
                         headers={"Content-Type": "application/pdf"}, content=signed.read_bytes())
    assert refused.status_code == 422, refused.text
    assert refused.headers["x-p3ke-refusal"] == "certificate-revoked"
    assert "telah dicabut (revoked)" in refused.json()["detail"], refused.text
    detail = world.get("delivery", f"/v1/handovers/{handover_id}", "officer-2").json()
    assert detail["status"] == "awaiting-signatures"  # the BAST stays unsigned
    world.refusals.update(revoked_handover=handover_id, revoked_extract=handover["extract_id"])
    world.done.add("revoked")


# -- 8. audit ---------------------------------------------------------------------------------------------
def _entries(world: World, **filters: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = 0
    while True:
        page = world.get("audit", "/v1/entries", "auditor-1", params={**filters, "after": after, "limit": 1000})
        assert page.status_code == 200, page.text
        entries += page.json()
        if len(page.json()) < 1000:
            return entries
        after = entries[-1]["seq"]


def test_8_the_audit_log_holds_every_access_and_refusal(world: World) -> None:
    world.needs("feedback", "refusals", "revoked")
    r = world.refusals
    handover_ids = {h["handover_id"] for h in world.handovers.values()}
    batch_ids = {b["batch_id"] for b in world.batches.values()}
    extract_ids = {e["extract_id"] for e in world.extracts.values()} | {r["revoked_extract"]}

    def denied(entries: list[dict[str, Any]], service: str, action: str, resource_type: str,
               resource_id: str | None = None) -> list[dict[str, Any]]:
        return [e for e in entries if (e["service"], e["action"], e["resource_type"], e["outcome"]) == (
            service, action, resource_type, "denied") and resource_id in (None, e["resource_id"])]

    def caught_up() -> list[dict[str, Any]] | None:
        entries = _entries(world)
        allowed = [e for e in entries if e["outcome"] == "allowed"]
        downloads = {e["resource_id"] for e in allowed if (e["action"], e["resource_type"]) == ("download", "package")}
        matches = {e["resource_id"] for e in allowed if e["action"] == "match"}
        ready = (downloads >= handover_ids and matches >= batch_ids
                 and denied(entries, "targeting", "refusal", "extract-requested", r["late"])
                 and denied(entries, "targeting", "refusal", "extract-request", r["field"])
                 and denied(entries, "targeting", "refusal", "extract-request", r["oos"])
                 and denied(entries, "targeting", "refusal", "extract-request", r["oos_api"])
                 and len(denied(entries, "ingest", "upload", "dataset-upload")) >= 2
                 and len(denied(entries, "delivery", "download", "package")) >= 1
                 and denied(entries, "delivery", "upload", "bast", r["revoked_handover"]))
        return entries if ready else None

    entries = _wait(caught_up, "the audit worker to record every step", timeout=180, every=1.0,
                    explain=world.logs("audit-worker"))

    # every kind of access of the flow, by the service that did it
    observed = {(e["service"], e["action"], e["resource_type"]) for e in entries if e["outcome"] == "allowed"
                and e["event_type"] == "p3ke.data-access.v1"}
    for expected in [("ingest", "upload", "dataset-upload"), ("ingest", "upload", "dataset-version"),
                     ("targeting", "select", "extract"), ("delivery", "read", "bast"), ("delivery", "upload", "bast"),
                     ("delivery", "release-key", "package-password"), ("delivery", "download", "package"),
                     ("feedback", "upload", "feedback-batch"), ("feedback", "match", "feedback-batch"),
                     ("feedback", "export", "feedback-report"), ("feedback", "export", "feedback-me-report")]:
        assert expected in observed, f"{expected} not in the audit log; seen: {sorted(observed)}"
    selects = [e for e in entries if e["action"] == "select"]
    assert {e["resource_id"] for e in selects} == extract_ids
    assert all(e["actor_org"] == "kemnaker" and e["program"] in FIELDS for e in selects)
    assert sum(e["record_count"] for e in selects) == len(FIELDS) * QUOTA + REVOKED_QUOTA
    downloads = [e for e in entries if (e["action"], e["outcome"]) == ("download", "allowed")
                 and e["resource_type"] == "package"]
    assert {e["resource_id"] for e in downloads} == handover_ids
    for e in downloads:
        assert e["actor_subject"] == IDENTITIES["officer-2"][2], e
        assert e["bast_number"] == next(h["bast_number"] for h in world.handovers.values()
                                        if h["handover_id"] == e["resource_id"]), e
    assert {e["event_type"] for e in entries} >= set(TOPICS)  # the domain events too, for context

    # every refusal, with its reason
    def reason(entry: dict[str, Any]) -> str:
        return entry["payload"]["reason"]

    late = next(e for e in denied(entries, "targeting", "refusal", "extract-requested", r["late"]))
    assert reason(late) == r["late_reason"] and late["actor_subject"] == "svc-pusdatik"
    [field_refusal] = denied(entries, "targeting", "refusal", "extract-request", r["field"])
    assert reason(field_refusal) == r["field_reason"] and field_refusal["program"] == "padat_karya"
    out_of_scope = [e for key in ("oos", "oos_api")
                    for e in denied(entries, "targeting", "refusal", "extract-request", r[key])]
    assert len(out_of_scope) == 2 and all(e["program"] == "bantuan_sosial_pkh" for e in out_of_scope)
    assert all("is not one of the 4 programs of Art. 3" in reason(e) for e in out_of_scope)
    party_1 = [e for e in entries if e["service"] == "delivery" and e["outcome"] == "denied"
               and e["actor_org"] == "kemenkopmk" and e["resource_id"] == r["handover_id"]]
    assert {(e["action"], e["resource_type"], e["actor_roles"][0]) for e in party_1} == {
        ("release-key", "package-password", "data-steward"), ("download", "download-link", "data-steward"),
        ("release-key", "package-password", "signatory"), ("download", "download-link", "signatory"),
        ("download", "package", "data-steward")}
    assert all("may not download-package" in reason(e) or "links are personal" in reason(e) for e in party_1)
    uploads = denied(entries, "ingest", "upload", "dataset-upload")
    assert {(e["actor_org"], e["actor_roles"][0]) for e in uploads} == {("kemnaker", "data-steward"),
                                                                         ("kemnaker", "program-officer")}
    assert all("may not publish-dataset" in reason(e) for e in uploads)
    since = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    violations = world.get("audit", "/v1/violations", "auditor-1", params={"since": since, "until": until})
    assert violations.status_code == 200, violations.text
    flagged = {e["seq"] for e in violations.json()["refused"]}
    assert {e["seq"] for e in [late, field_refusal, *out_of_scope, *party_1, *uploads]} <= flagged
    assert violations.json()["download_without_signed_bast"] == []
    assert violations.json()["outside_agreement_validity"] == []

    # the log is intact: the CLI re-derives the whole tree from the audit database
    env = _cli_env(P3KE_SERVICE="audit", P3KE_DATABASE_URL=world.stack.database_urls["audit"],
                   P3KE_DATA_DIR=str(world.stack.services_dir), P3KE_AGREEMENT_INCLUDE_EXAMPLES="true",
                   P3KE_AGREEMENT_DIR=str(far_agreement_dir(world.work)))
    report = json.loads(_run("audit", "verify", "--json", env=env).strip().splitlines()[-1])
    assert report["ok"] is True and report["problems"] == [], report
    assert report["tree_size"] >= len(entries) and report["entries_checked"] == report["tree_size"]
    assert report["checkpoints_checked"] >= 1
    integrity = world.get("audit", "/v1/integrity", "auditor-1").json()
    assert integrity["tree_size"] >= report["tree_size"] and integrity["latest_checkpoint"]
    assert integrity["last_verification"]["ok"] is True
    assert integrity["last_verification"]["tree_size"] == report["tree_size"]

    # one person's trail, by NIK (in the body only): selected, handed over, reported back
    person = world.person
    trail = world.post("audit", "/v1/subjects/trail", "auditor-1", json={"nik": person["nik"]})
    assert trail.status_code == 200, trail.text
    steps = {(e["service"], e["action"], e["resource_id"]) for e in trail.json()}
    assert ("targeting", "select", person["extract_id"]) in steps, steps
    assert ("delivery", "download", person["handover_id"]) in steps, steps
    assert ("feedback", "match", person["batch_id"]) in steps, steps
    assert all(e["outcome"] == "allowed" for e in trail.json())
    world.done.add("audit")


# -- 9. no personal data where it does not belong ---------------------------------------------------------
def test_9_the_person_is_in_no_log_no_event_and_no_url(world: World) -> None:
    world.needs("audit")
    nik, name = world.person["nik"], world.person["nama"]
    niks = set(world.people)
    delivered_names = {r["nama"] for rows in world.packages.values() for r in rows if " " in r["nama"]}

    logs = sorted((world.stack.data_dir / "logs").glob("*.log"))
    assert {p.stem for p in logs} >= {f"{s}-api" for s in SERVICES}
    for path in logs:
        text = path.read_text(errors="replace")
        assert nik not in text and name not in text, f"the person is in {path.name}"
        _no_person_in(text, niks, path.name)
        assert not [n for n in delivered_names if n in text], f"a delivered person's name in {path.name}"

    topics = [*TOPICS, *(f"{t}.dlq" for t in TOPICS)]
    messages = _read(world.stack.bootstrap, topics)
    seen = Counter(m.topic for m in messages)
    assert all(seen[t] > 0 for t in TOPICS), seen
    for message in messages:
        blob = b" ".join([message.key or b"", message.value or b"", *(v or b"" for _, v in message.headers)])
        text = blob.decode(errors="replace")
        assert nik not in text and name not in text, f"the person is in an event on {message.topic}"
        _no_person_in(text, niks, f"an event on {message.topic}")
    prepared_keys = [m.key.decode() for m in messages if m.topic == "p3ke.extract-prepared.v1"]
    assert prepared_keys.count(world.refusals["oos"]) == 1  # the out-of-scope request: one rejection, no extract

    assert world.urls, "no URL was recorded"
    for url in world.urls:
        assert nik not in url and name.replace(" ", "+") not in url and name not in unquote(url)
        _no_person_in(unquote(url), niks, "a URL")
