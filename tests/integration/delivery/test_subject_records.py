"""A data subject's rows in delivery's handovers (UU PDP Art. 32), through the real app on PostgreSQL: found
through each handover's ledger of keyed references and read from the extract filtered by NIK; a revoked
handover answered as no longer current; membership only once the plaintext extract is gone; audited, and the
NIK in no event and no log line; compliance auditors only."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from p3ke_delivery.service_layer.subject_records import GONE
from p3ke_platform.logging import configure_logging
from tests.integration.delivery.conftest import Harness, make_harness
from tests.integration.helpers.subject_records import ask, assert_lookup_audited


@pytest.fixture
def harness(postgres_url: str, tmp_path: Path) -> Iterator[Harness]:
    h = make_harness(postgres_url, tmp_path)
    yield h
    h.runtime.engine.dispose()


def _party1_auditor(h: Harness) -> dict[str, str]:
    return {"Authorization": f"Bearer {h.issuer.mint('auditor-1', 'kemenkopmk', ['compliance-auditor'])}"}


def test_a_person_in_two_handovers(harness: Harness) -> None:
    h = harness
    logs = io.StringIO()
    configure_logging("delivery", "DEBUG", json=True, stream=logs)
    try:
        revoked = h.open_handover(rows=60)  # the same synthetic people in both extracts
        kept = h.open_handover(rows=60, fmt="csv")
        person = pq.read_table(h.extracts[revoked][0]).slice(17, 1).to_pylist()[0]
        nik = person["nik"]
        gone = h.client.post(f"/v1/handovers/{revoked}/revoke", json={"reason": "uji pencabutan"},
                             headers=h.headers("steward-1"))
        assert gone.status_code == 200, gone.text

        answer = ask(h.client, h.headers("auditor-2"), nik, "dsr-delivery-1")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["service"] == "delivery" and nik not in answer.text  # answered as its first 4 digits only
        first, second = body["records"]
        assert [r["resource_id"] for r in body["records"]] == [revoked, kept]
        assert {r["source"] for r in body["records"]} == {"extract"}
        assert {r["resource_type"] for r in body["records"]} == {"package"}
        assert (first["current"], second["current"]) == (False, True)
        assert "dicabut" in first["title"] and revoked in first["title"] and "padat_karya" in first["title"]
        # the row as handed over: Parquet values typed (a date as ISO text), CSV values as text
        assert first["fields"]["nik"] == nik[:4] + "*" * 12 and first["fields"]["nama"] == person["nama"]
        assert first["fields"]["tanggal_lahir"] == person["tanggal_lahir"].isoformat()
        assert first["fields"]["desil_kesejahteraan"] == person["desil_kesejahteraan"]
        assert second["fields"]["nama"] == person["nama"]
        assert second["fields"]["desil_kesejahteraan"] == str(person["desil_kesejahteraan"])
        assert first["held_since"] and second["held_since"]

        # targeting's retention removes the plaintext: the encrypted package remains, membership only
        h.extracts[kept][0].unlink()
        again = ask(h.client, _party1_auditor(h), nik, "dsr-delivery-2").json()["records"]
        assert again[1]["fields"] == {"keterangan": GONE, "kolom_diserahkan": ", ".join(person)}
        assert again[0]["fields"]["nama"] == person["nama"]

        # nobody else: absent from every ledger
        absent = "9999999999999999"
        nobody = ask(h.client, h.headers("auditor-2"), absent, "dsr-delivery-3")
        assert nobody.status_code == 200 and nobody.json()["records"] == []

        assert_lookup_audited(h.runtime, nik, "dsr-delivery-1", records=2)
        assert_lookup_audited(h.runtime, absent, "dsr-delivery-3", records=0)
        assert logs.getvalue() and nik not in logs.getvalue() and person["nama"] not in logs.getvalue()
    finally:
        configure_logging("delivery", "INFO")


@pytest.mark.parametrize("who", ["officer", "signatory-1", "steward-1"])
def test_only_compliance_auditors_may_ask(harness: Harness, who: str) -> None:
    refused = ask(harness.client, harness.headers(who), "9901010101010001", "dsr-x")
    assert refused.status_code == 403, refused.text
