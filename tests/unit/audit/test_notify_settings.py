"""The notification settings: addresses per party (checked, comma-separated), the SMTP relay only when a host is
configured, and messages that are Indonesian first, then English, without personal data."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from p3ke_audit.config import AuditSettings
from p3ke_audit.service_layer.notifications import incident_mail, obligation_mail
from p3ke_schemas import IncidentOpened, ObligationStatusChanged


def _settings(**kw: object) -> AuditSettings:
    return AuditSettings(service="audit", env="test", **kw)  # type: ignore[arg-type]


def test_recipients_per_party_and_no_smtp_without_a_host() -> None:
    s = _settings(notify_kemnaker="a@kemnaker.go.id, b@kemnaker.go.id", notify_kemenkopmk="c@kemenkopmk.go.id")
    assert s.recipients("kemnaker") == ("a@kemnaker.go.id", "b@kemnaker.go.id")
    assert s.recipients("kemenkopmk") == ("c@kemenkopmk.go.id",)
    assert s.recipients("both") == ("c@kemenkopmk.go.id", "a@kemnaker.go.id", "b@kemnaker.go.id")
    assert s.smtp is None
    relay = _settings(smtp_host="smtp.kemnaker.go.id", smtp_port=587, smtp_starttls=True).smtp
    assert relay is not None and (relay.host, relay.port, relay.starttls) == ("smtp.kemnaker.go.id", 587, True)


def test_a_bad_address_names_the_setting_in_indonesian_then_english() -> None:
    with pytest.raises(ValidationError) as caught:
        _settings(notify_kemnaker="kepatuhan@kemnaker.go.id; dpo")
    text = str(caught.value)
    assert "P3KE_NOTIFY_KEMNAKER" in text and "alamat email tidak sah" in text
    assert text.index("alamat email tidak sah") < text.index("not a valid email address")


def test_messages_are_indonesian_first_and_carry_no_personal_data() -> None:
    at = datetime(2026, 5, 13, 3, tzinfo=UTC)
    subject, body = obligation_mail(ObligationStatusChanged(
        obligation_id="lo-kemenkopmk-20260504-abc123", agreement_id="pks-p3ke-2023", kind="liaison-change-notice",
        article="Pasal 13 ayat (2)", responsible_org="kemenkopmk", due_date=date(2026, 5, 12), status="overdue",
        change="status", occurred_at=at))
    assert subject == ("[P3KE] Kewajiban lewat tenggat: liaison-change-notice (Pasal 13 ayat (2)) / "
                       "Obligation overdue")
    assert body.index("lewat tenggat 2026-05-12") < body.index("-- English --") < body.index("passed its deadline")
    subject, _ = obligation_mail(ObligationStatusChanged(
        obligation_id="expiry-pks-p3ke-2023-20270228", agreement_id="pks-p3ke-2023", kind="expiry-notice",
        article="Pasal 8 ayat (2)", responsible_org="both", due_date=date(2027, 1, 29), status="open",
        change="reminder", reminder_days_before_end=90, occurred_at=at))
    assert subject.startswith("[P3KE] Pengingat 90 hari sebelum perjanjian berakhir: expiry-notice")
    subject, body = incident_mail(IncidentOpened(
        incident_id="inc-1", source="forged-event", discovered_at=at, due_at=at, data_kinds=[], subject_count=None,
        resource_count=1, occurred_at=at))
    assert "2026-05-13 10:00 WIB" in subject and "belum diketahui" in body and "not yet known" in body
