"""PII hygiene: a whole scenario with planted canaries — synthetic NIKs, names and an address that
occur nowhere else — run through every service, and then a search for them everywhere they must not
be: log lines (structlog and stdlib, and the raw stdout/stderr), every event on every topic and DLQ
(keys, values, headers), every HTTP answer (bodies and headers, error answers included), every URL
the scenario used or was given, the services' databases, and every file the services wrote other than
the data files themselves (the uploaded table, the snapshot, the extract, the data balikan as received).

The services run in this process (their APIs through TestClient, their workers' code through the
inbox, exactly what `python -m p3ke_<service> worker` runs per batch), and their events travel over
the session's real Kafka broker: each outbox is published by the service's relay and consumed back.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import OffsetSpec

from p3ke_audit.service_layer import obligations
from p3ke_platform.logging import configure_logging
from p3ke_platform.messaging.inbox import Delivered
from p3ke_platform.messaging.worker import received_at
from p3ke_platform.retention.disposal import DisposalJob
from p3ke_platform.retention.holds import Holds
from p3ke_schemas import EVENTS, from_kafka
from tests.integration.delivery.conftest import Harness
from tests.security.support import App, make_app, record_figures
from tests.unit.delivery.support import SIG_1, SIG_2, make_dev_ca

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]

NAMES = ["ZEPHYRINA KANARIWATI", "BARTOLOMEUS KENARIPUTRA", "CANARIA SETYAWANTIKA"]
ADDRESS = "JALAN KENARI CANARY NOMOR 77"
DEFECT_NAME = "XAVERIA KANARIDEFEKTA"
STRANGER_NAME = "QUIRINUS KANARIASING"  # served by party 2 but not in Data P3KE
PROGRAM = "padat_karya"
ELIGIBLE_STATUS = {"Tidak Bekerja", "Pekerja Bebas", "Pekerja Keluarga/Tidak Dibayar"}
FIELDS = ["nik", "nama", "padan_dukcapil", "jenis_kelamin", "tanggal_lahir", "provinsi", "kabupaten_kota",
          "kecamatan", "desa_kelurahan", "kode_kemendagri", "desil_kesejahteraan", "pekerjaan", "status_pekerjaan"]


@dataclass
class Canaries:
    niks: list[str]
    defect_nik: str
    stranger_nik: str
    rows: list[dict[str, str]] = field(default_factory=list)

    @property
    def needles(self) -> list[str]:
        return [*self.niks, self.defect_nik, self.stranger_nik, *NAMES, ADDRESS, DEFECT_NAME, STRANGER_NAME]

    def found_in(self, text: str) -> list[str]:
        upper = text.upper()
        return [n for n in self.needles if n in upper]


def _plant(source: Path, target: Path) -> Canaries:
    """The synthetic table with three eligible persons turned into canaries, and one defective row."""
    with source.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    eligible = [r for r in rows if r["padan_dukcapil"] == "Ya" and r["status_pekerjaan"] in ELIGIBLE_STATUS
                and r["pekerjaan"] not in ("Pelajar/Mahasiswa", "Pensiunan") and 20 <= int(r["umur"] or 0) <= 55]
    assert len(eligible) >= 4, "the synthetic table has too few eligible persons"
    taken = {r["nik"] for r in rows}
    niks = []
    for n, row in enumerate(eligible[:3]):
        nik = next(row["nik"][:12] + f"{serial:04d}" for serial in range(9731 + n * 7, 9999)
                   if row["nik"][:12] + f"{serial:04d}" not in taken)
        taken.add(nik)
        row.update(nik=nik, nama=NAMES[n], alamat=ADDRESS)
        niks.append(nik)
    defect = eligible[3]
    defect.update(nik=defect["nik"][:15], nama=DEFECT_NAME)  # 15 digits: rejected with a masked finding
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return Canaries(niks=niks, defect_nik=defect["nik"], stranger_nik="3201019909950931",
                    rows=[dict(r) for r in eligible[:3]])


class Bus:
    """The services' events over the real broker: relays publish outboxes, consumers apply them."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            parts = [TopicPartition(t, p) for spec in EVENTS for t, n in ((spec.topic, spec.partitions), (spec.dlq, 1))
                     for p in range(n)]
            ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in parts})
        finally:
            admin.close()
        self.start = {tp: int(getattr(v, "offset", v)) for tp, v in ends.items()}
        self.consumers: dict[str, KafkaConsumer] = {}
        self.rejected: list[str] = []

    def relay(self, app: App) -> int:
        relay = app.runtime.relay()
        sent = 0
        while n := relay.run_once():
            sent += n
        if relay._producer is not None:
            relay.producer.flush()
            relay.producer.close()
        return sent

    def pump(self, app: App) -> int:
        """Apply every new event of the service's topics through its inbox, as its worker would."""
        consumer = self.consumers.get(app.service)
        if consumer is None:
            consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None)
            parts = [tp for tp in self.start if tp.topic in app.runtime.spec.topics]
            consumer.assign(parts)
            for tp in parts:
                consumer.seek(tp, self.start[tp])
            self.consumers[app.service] = consumer
        inbox = app.runtime.inbox(f"pii-{app.service}")
        applied = 0
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 1.0:
            batch = [m for ms in consumer.poll(timeout_ms=300).values() for m in ms]
            if not batch:
                continue
            quiet_since = time.monotonic()
            origin = app.runtime.context.origin_check  # the worker verifies each event's origin first
            items = [Delivered(m.topic, m.partition, m.offset, origin.verify(
                m.key, m.value, m.headers, from_kafka(m.key, m.value, m.headers), received_at(m))) for m in batch]
            self.rejected += [f"{app.service}: {reason}" for _, reason in inbox.apply_batch(items)]
            applied += len(items)
        return applied

    def everything(self) -> list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
        """Every message the scenario put on any topic or DLQ."""
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None,
                                 consumer_timeout_ms=3000)
        try:
            consumer.assign(list(self.start))
            for tp, offset in self.start.items():
                consumer.seek(tp, offset)
            return [(m.topic, m.key or b"", m.value or b"", list(m.headers or [])) for m in consumer]
        finally:
            consumer.close()

    def close(self) -> None:
        for consumer in self.consumers.values():
            consumer.close()


class Recorder:
    """Every request and answer of the scenario."""

    def __init__(self) -> None:
        self.urls: list[str] = []  # URLs the scenario used or was given by a service
        self.answers: list[tuple[str, int, str]] = []  # (request, status, headers + body)

    def call(self, app: App, method: str, url: str, *, probe: bool = False, **kwargs: Any) -> Any:
        response = app.client.request(method, url, **kwargs)
        shown = f"{method} {app.service}{url}"
        if not probe:
            self.urls.append(str(response.request.url))
        body = response.content.decode("utf-8", "replace") if not response.headers.get(
            "content-type", "").startswith(("application/zip", "application/pdf")) else ""
        self.answers.append((shown, response.status_code, json.dumps(dict(response.headers)) + body))
        for name in ("location",):
            if name in response.headers:
                self.urls.append(response.headers[name])
        if response.headers.get("content-type", "").startswith("application/json"):
            self.urls += _urls_in(response.json())
        return response


def _urls_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [u for k, v in value.items() for u in ([v] if k in ("url", "self", "href") and isinstance(v, str)
                                                       else _urls_in(v))]
    if isinstance(value, list):
        return [u for v in value for u in _urls_in(v)]
    return []


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("pii-scenario", "DEBUG", json=True, stream=stream)
    try:
        yield stream
    finally:
        configure_logging("pii-scenario", "INFO")


def test_canaries_appear_nowhere_but_in_the_data_files(tmp_path: Path, kafka_bootstrap: str, logs: io.StringIO,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    from p3ke_delivery.service_layer.preparation import Preparer
    from p3ke_ingest.service_layer.jobs import JobRunner
    from p3ke_ingest.synth import generate

    data, dbs = tmp_path / "data", tmp_path / "db"
    dbs.mkdir()

    def app(service: str, **extra: Any) -> App:
        return make_app(service, data, database_url=f"sqlite:///{dbs / service}.db", kafka_bootstrap=kafka_bootstrap,
                        consumer_group=f"pii-{service}", **extra)

    ingest, targeting, delivery = app("ingest"), app("targeting"), app("delivery", delivery_prepare_in_api=False)
    feedback, audit = app("feedback"), app("audit", audit_checkpointer_in_api=False)
    bus, rec = Bus(kafka_bootstrap), Recorder()
    synth = generate(tmp_path / "synth", individuals=400, family_file=False, seed=11)
    canaries = _plant(synth.individual_path, tmp_path / "individu.csv")
    steward, officer = ingest.auth("kemenkopmk", "data-steward"), ingest.auth("kemnaker", "program-officer")
    auditor = ingest.auth("kemnaker", "compliance-auditor")
    try:
        # 1. party 1 publishes the snapshot (the validation job, as the API process's "ingest-jobs" loop runs it)
        upload = rec.call(ingest, "POST", "/v1/uploads", params={"filename": "individu.csv"},
                          content=(tmp_path / "individu.csv").read_bytes(),
                          headers={**steward, "Content-Type": "text/csv"})
        assert upload.status_code == 201, upload.text
        submitted = rec.call(ingest, "POST", "/v1/submissions", json={"individual": {"upload_id": upload.json()[
            "upload_id"]}}, headers=steward)
        assert submitted.status_code == 202, submitted.text
        sid = submitted.json()["submission_id"]
        assert JobRunner(ingest.runtime.context).run_once()
        done = _wait(lambda: (r := rec.call(ingest, "GET", f"/v1/submissions/{sid}", headers=steward)).json()[
            "status"] not in ("queued", "running") and r, 120, "the validation job")
        assert done.json()["status"] == "published", done.text
        rec.call(ingest, "GET", f"/v1/submissions/{sid}/findings", params={"limit": 1000}, headers=steward)
        rec.call(ingest, "GET", f"/v1/submissions/{sid}/findings.csv", headers=steward)
        rec.call(ingest, "GET", "/v1/dataset-versions/current", headers=steward)
        bus.relay(ingest)

        # 2. party 2 asks for an extract; targeting selects (the canaries are eligible)
        bus.pump(targeting)
        bus.pump(feedback)
        request = rec.call(targeting, "POST", "/v1/extract-requests", headers=officer, json={
            "program": PROGRAM, "quota": 100_000, "fields": FIELDS, "justification": "PII hygiene scenario",
            "purpose": "seleksi_calon_peserta"})
        assert request.status_code == 202, request.text
        bus.relay(targeting)
        bus.pump(targeting)
        bus.relay(targeting)
        status = rec.call(targeting, "GET", f"/v1/extract-requests/{request.json()['request_id']}", headers=officer)
        assert status.json()["status"] == "accepted", status.text
        extract = next((data / "extracts").glob("*.parquet"))
        assert set(canaries.niks) <= set(pq.read_table(extract, columns=["nik"]).column("nik").to_pylist())

        # 3. the handover: package and BAST, both signatures, password, link, download
        bus.pump(delivery)
        Preparer(delivery.runtime.context).run_once()
        h = Harness(delivery.runtime, delivery.client, delivery.issuer, data, data / "dev-ca")
        make_dev_ca(data / "dev-ca")
        handover_id = rec.call(delivery, "GET", "/v1/handovers", headers=officer).json()[0]["handover_id"]
        for party, sig, who in ((1, SIG_1, "signatory-1"), (2, SIG_2, "signatory-2")):
            signed = h.upload(handover_id, h.signed(h.bast(handover_id), sig, party), who)
            assert signed.status_code == 201, signed.text
        rec.call(delivery, "GET", f"/v1/handovers/{handover_id}", headers=officer)
        assert rec.call(delivery, "POST", f"/v1/handovers/{handover_id}/password", headers=officer).status_code == 200
        link = rec.call(delivery, "POST", f"/v1/handovers/{handover_id}/package/links", headers=officer).json()
        package = rec.call(delivery, "GET", link["url"], headers=officer)
        assert package.status_code == 200, package.text[:300]
        # its purpose ends; party 2 destroys the data and signs its disposal certificate (a NIK in the notes is
        # refused without being repeated)
        disposal = f"/v1/handovers/{handover_id}/disposal-certificate"
        assert rec.call(delivery, "POST", f"/v1/handovers/{handover_id}/purpose-ended", json={},
                        headers=officer).status_code == 200
        facts = {"method": "crypto-shredding", "destroyed_at": datetime.now(UTC).isoformat()}
        assert rec.call(delivery, "POST", disposal, json={**facts, "notes": f"NIK {canaries.niks[0]}"},
                        headers=officer).status_code == 422
        assert rec.call(delivery, "POST", disposal, json=facts, headers=officer).status_code == 201
        certificate = rec.call(delivery, "GET", f"{disposal}.pdf", headers=officer).content
        certified = h.client.post(f"{disposal}/signature", content=h.signed(certificate, SIG_2, 2),
                                  headers={**h.headers("signatory-2"), "Content-Type": "application/pdf"})
        assert certified.status_code == 201, certified.text
        bus.relay(delivery)

        # 4. party 2 sends data balikan for the persons it served (and one it found itself)
        bus.pump(feedback)
        balikan = io.StringIO()
        writer = csv.writer(balikan)
        writer.writerow(["nik", "nama", "kode_wilayah", "program", "kegiatan", "tanggal_mulai", "tanggal_selesai",
                         "status", "nilai_manfaat"])
        for nik, name, row in zip(canaries.niks, NAMES, canaries.rows, strict=True):
            writer.writerow([nik, name, row["kode_kemendagri"], PROGRAM, "Padat karya desa", "2026-03-02", "",
                             "enrolled", "1500000"])
        writer.writerow([canaries.stranger_nik, STRANGER_NAME, canaries.rows[0]["kode_kemendagri"], PROGRAM,
                         "Padat karya desa", "2026-03-02", "", "enrolled", "1500000"])
        batch = rec.call(feedback, "POST", "/v1/feedback-batches", params={"handover_id": handover_id,
                                                                            "program": PROGRAM},
                         content=balikan.getvalue().encode(), headers={**officer, "Content-Type": "text/csv"})
        assert batch.status_code in (200, 201), batch.text
        batch_id = batch.json()["batch_id"]
        rec.call(feedback, "GET", f"/v1/feedback-batches/{batch_id}/findings", headers=officer)
        rec.call(feedback, "GET", f"/v1/feedback-batches/{batch_id}/findings.csv", headers=officer)
        rec.call(feedback, "GET", "/v1/reports", params={"program": PROGRAM}, headers=officer)
        bus.relay(feedback)

        # 5. the audit log holds every access, findable by the subject's NIK (in a body, never a URL)
        bus.pump(audit)
        trail = rec.call(audit, "POST", "/v1/subjects/trail", json={"nik": canaries.niks[0]}, headers=auditor)
        assert trail.status_code == 200 and trail.json(), trail.text
        now = datetime.now(UTC)
        window = {"since": (now - timedelta(days=1)).isoformat(), "until": (now + timedelta(hours=1)).isoformat()}
        rec.call(audit, "GET", "/v1/entries", params={"limit": 1000}, headers=auditor)
        rec.call(audit, "GET", "/v1/entries/export.csv", params=window, headers=auditor)
        bus.relay(audit)

        # 6. the obligations desk: an incident opened by hand naming canary subjects (keyed at once) and a force
        #    majeure whose notice becomes due soon ten days later; both announced on Kafka
        opened = rec.call(audit, "POST", "/v1/incidents", headers=auditor, json={
            "title": "Paket terkirim ke alamat yang salah", "niks": canaries.niks[:2], "data_kinds": ["nik", "nama"]})
        assert opened.status_code == 201, opened.text
        today = datetime.now(UTC)
        declared = rec.call(audit, "POST", "/v1/force-majeure", headers=auditor, json={
            "occurred_on": today.date().isoformat(), "summary": "Banjir besar merusak pusat data kantor wilayah"})
        assert declared.status_code == 201, declared.text
        ctx = audit.runtime.context
        for day in (today, today + timedelta(days=10)):
            ctx.clock = lambda day=day: day
            obligations.sweep(ctx)  # records the change to due soon and queues its announcement
        bus.relay(audit)

        # 7. retention: 40 days on, ingest disposes of the raw upload and the findings (the legal holds as the audit
        #    API lists them), recording an `erase` and announcing each artefact
        holds = rec.call(audit, "GET", "/v1/legal-holds", params={"active": "true"}, headers=auditor)
        assert holds.status_code == 200, holds.text
        ingest.runtime.context.clock = lambda: today + timedelta(days=40)
        report = DisposalJob(ingest.runtime.context, holds=lambda: Holds.of(holds.json())).run_once()
        assert report.count("disposed") >= 1, report.as_dict()
        bus.relay(ingest)

        # 8. error answers: canaries sent where they do not belong must not come back
        probes = [
            (audit, "POST", "/v1/subjects/trail", {"json": {"nik": canaries.niks[0] + "0"}}),
            (audit, "POST", "/v1/subjects/trail", {"json": {"nik": NAMES[0]}}),
            (audit, "POST", "/v1/subjects/trail", {"json": {"nik": canaries.niks[0], "limit": canaries.niks[1]}}),
            (audit, "GET", "/v1/entries", {"params": {"limit": canaries.niks[0]}}),
            (targeting, "POST", "/v1/extract-requests", {"json": {
                "program": PROGRAM, "quota": 5, "fields": ["nik"], "justification": "probe of error answers",
                "purpose": "seleksi_calon_peserta",
                "criteria": {"region_codes": [canaries.niks[0]]}}}),
            (targeting, "POST", "/v1/plans", {"json": {"program": PROGRAM, "criteria": {"sex": NAMES[1]}}}),
            (targeting, "GET", f"/v1/extract-requests/{canaries.niks[1]}", {}),
            (ingest, "POST", "/v1/submissions", {"json": {"individual": {"path": f"/tmp/{canaries.niks[2]}.csv"}}}),
            (delivery, "GET", f"/v1/handovers/{canaries.niks[2]}", {}),
            (feedback, "GET", f"/v1/feedback-batches/{canaries.niks[0]}", {}),
            (feedback, "POST", "/v1/feedback-batches", {
                "params": {"handover_id": handover_id, "program": PROGRAM}, "headers": {"Content-Type": "text/csv"},
                "content": f"nik,nama\n{canaries.niks[0]},{NAMES[0]}\n".encode()}),
        ]
        for target, method, url, kwargs in probes:
            role = {"audit": auditor, "ingest": steward}.get(target.service, officer)
            headers = {**role, **kwargs.pop("headers", {})}
            answer = rec.call(target, method, url, probe=True, headers=headers, **kwargs)
            assert 400 <= answer.status_code < 500, (url, answer.status_code, answer.text[:300])
        for service_app in (ingest, targeting, delivery, feedback, audit):  # what the refusals recorded
            bus.relay(service_app)
    finally:
        for service_app in (ingest, targeting, delivery, feedback, audit):
            service_app.runtime.engine.dispose()
    assert bus.rejected == [], bus.rejected

    # -- the search ---------------------------------------------------------------------------------
    leaks: list[str] = []
    out, err = capfd.readouterr()
    for where, text in (("log", logs.getvalue()), ("stdout", out), ("stderr", err)):
        leaks += [f"{where}: {n}" for n in canaries.found_in(text)]
    messages = bus.everything()
    bus.close()
    assert {t for t, *_ in messages} >= {s.topic for s in EVENTS}, "the scenario crossed every topic"
    for topic, key, value, headers in messages:
        text = key.decode("utf-8", "replace") + value.decode("utf-8", "replace") + repr(headers)
        leaks += [f"event on {topic}: {n}" for n in canaries.found_in(text)]
    for shown, status, text in rec.answers:
        leaks += [f"answer {status} to {shown}: {n}" for n in canaries.found_in(text)]
    leaks += [f"url {u}: {n}" for u in rec.urls for n in canaries.found_in(u)]
    for db in sorted(dbs.iterdir()):
        leaks += [f"database {db.name}: {n}" for n in canaries.found_in(db.read_bytes().decode("latin-1"))]
    files = _written_files(data)
    for path, allowed in files:
        if not allowed:
            leaks += [f"file {path.relative_to(data)}: {n}" for n in canaries.found_in(_file_text(path))]
    carrying = [p for p, allowed in files if allowed and canaries.found_in(_file_text(p))]
    record_figures("security", {"pii_needles": len(canaries.needles), "pii_events_scanned": len(messages),
                                "pii_answers_scanned": len(rec.answers), "pii_files_scanned": len(files),
                                "pii_leaks": len(leaks)})
    assert carrying, "the canaries reached the data files (the scenario really carried them)"
    assert leaks == [], "\n".join(sorted(set(leaks)))


# the data files themselves: the upload as received, the snapshot, the extract, data balikan as received
DATA_FILES = ("ingest/uploads/", "ingest/snapshots/", "extracts/", "feedback/batches/", "feedback/incoming/")


def _written_files(root: Path) -> list[tuple[Path, bool]]:
    out = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            out.append((path, any(rel.startswith(prefix) for prefix in DATA_FILES) and "findings" not in rel))
    return out


def _file_text(path: Path) -> str:
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return json.dumps(table.to_pylist(), default=str) + json.dumps(
            {k.decode(): v.decode("utf-8", "replace") for k, v in (table.schema.metadata or {}).items()})
    return path.read_bytes().decode("utf-8", "replace")



