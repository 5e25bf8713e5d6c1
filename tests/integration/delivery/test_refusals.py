"""Every bad input of the delivery issue, through the API on SQLite and PostgreSQL: refused with a
precise reason and a 4xx status, recorded in the audit trail (outcome denied, same reason), and
nothing released."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from p3ke_delivery.adapters import dev_ca
from p3ke_platform.agreement import Policy, load_agreement
from tests.integration.delivery.conftest import Harness
from tests.unit.delivery.support import SIG_1, SIG_2, expired_signer, load_ca, signer, signer_from


def refused(h: Harness, handover_id: str, response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    reason = response.json()["detail"]
    for word in words:
        assert word in reason, reason
    last = h.access(handover_id, "denied")[-1]
    # the audit log keeps the reason as answered, or (a catalogue message) in both languages: "id / en"
    assert last["outcome"] == "denied"
    assert last["reason"] == reason or last["reason"].startswith(reason + " / ") or last["reason"].endswith(
        " / " + reason), (last["reason"], reason)
    return reason


def nothing_released(h: Harness, handover_id: str) -> None:
    allowed = {(e["action"], e["resource_type"]) for e in h.access(handover_id, "allowed")}
    assert ("release-key", "package-password") not in allowed
    assert ("download", "package") not in allowed


def test_bad_signatures(harness: Harness) -> None:
    h = harness
    handover_id = h.open_handover(rows=20)
    other_id = h.open_handover(rows=10)
    issued = h.bast(handover_id)
    ca = load_ca(h.ca)
    work = h.data

    good_1 = h.signed(issued, SIG_1, 1)
    tampered = bytearray(good_1)
    tampered[len(issued) + 40] ^= 0x01
    refused(h, handover_id, h.upload(handover_id, bytes(tampered), "signatory-1"), 422,
            "Dokumen diubah setelah ditandatangani")

    staff = dev_ca.issue(ca, common_name="Budi Staf Sintetis", org="kemenkopmk", unit=dev_ca.DEV_MARK)
    wrong_person = _sign(issued, signer_from(staff, work, "staff", h.ca / "ca.pem"), 1)
    refused(h, handover_id, h.upload(handover_id, wrong_person, "signatory-1"), 403,
            "bukan sertifikat penanda tangan mana pun dalam perjanjian", "Budi Staf Sintetis")

    expired = _sign(issued, expired_signer(h.ca, work), 1)
    refused(h, handover_id, h.upload(handover_id, expired, "signatory-1"), 422, " kedaluwarsa pada ")

    rogue_ca = dev_ca.create_ca("Rogue CA")
    rogue = dev_ca.issue(rogue_ca, common_name="Andie Megantara", org="kemenkopmk")
    untrusted = _sign(issued, signer_from(rogue, work, "rogue"), 1)
    refused(h, handover_id, h.upload(handover_id, untrusted, "signatory-1"), 422,
            "tidak tersambung ke trust anchor yang dikonfigurasi")

    other_bast = h.signed(h.bast(other_id), SIG_1, 1)
    refused(h, handover_id, h.upload(handover_id, other_bast, "signatory-1"), 422,
            "Tanda tangan dibubuhkan pada BAST lain", other_id)

    refused(h, handover_id, h.upload(handover_id, good_1, "signatory-2"), 403,
            f"'{SIG_1}' is not a signatory of kemnaker")
    refused(h, handover_id, h.upload(handover_id, good_1, "officer"), 403,
            "program-officer of kemnaker may not sign-bast")
    refused(h, handover_id, h.upload(handover_id, b"not a pdf at all", "signatory-1"), 422,
            "Unggahan bukan dokumen PDF")
    assert h.get(handover_id)["status"] == "awaiting-signatures"  # nothing of the above was kept

    accepted = h.upload(handover_id, good_1, "signatory-1")
    assert accepted.status_code == 201, accepted.text
    current = h.bast(handover_id)

    # the same party again: party 1's signatory in party 2's field
    twice = _sign(current, signer(h.ca, SIG_1), 2)
    refused(h, handover_id, h.upload(handover_id, twice, "signatory-1"), 409,
            "PIHAK KESATU sudah menandatangani BAST ini")
    # party 2 over the BAST as issued, not over party 1's signature
    stale = h.signed(issued, SIG_2, 2)
    refused(h, handover_id, h.upload(handover_id, stale, "signatory-2"), 409, "bukan pembaruan inkremental")

    # nothing leaves before both signatures
    refused(h, handover_id, h.client.post(f"/v1/handovers/{handover_id}/password", headers=h.headers("officer")),
            409, "Baru satu pihak yang menandatangani BAST")
    refused(h, handover_id, h.client.post(f"/v1/handovers/{handover_id}/package/links",
                                          headers=h.headers("officer")), 409, "memerlukan tanda tangan kedua pihak")

    # a signature after the agreement expired: the bundled terms (the example addendum's last day is 2027-02-28),
    # not the harness's test terms in force to 2099; checked at a time the signer's certificate (made now) is valid
    good_2 = h.signed(current, SIG_2, 2)
    real_clock, real_terms = h.ctx.clock, h.ctx.policy
    after_expiry = max(datetime(2027, 3, 10, 3, 0, tzinfo=UTC), real_clock() + timedelta(minutes=1))
    h.ctx.clock = lambda: after_expiry
    h.ctx.policy = Policy(load_agreement(None, include_examples=True))
    try:
        refused(h, handover_id, h.upload(handover_id, good_2, "signatory-2"), 403, "expired on 2027-02-28")
    finally:
        h.ctx.clock, h.ctx.policy = real_clock, real_terms
    assert h.events("p3ke.handover-signed.v1") == []
    nothing_released(h, handover_id)

    done = h.upload(handover_id, good_2, "signatory-2")
    assert done.status_code == 201 and done.json()["status"] == "signed"
    both = refused(h, handover_id, h.upload(handover_id, good_2, "signatory-2"), 409,
                   "Kedua pihak sudah menandatangani BAST ini")
    english = h.client.post(f"/v1/handovers/{handover_id}/signatures", content=good_2, headers={
        **h.headers("signatory-2"), "Content-Type": "application/pdf", "Accept-Language": "en"})
    assert english.status_code == 409 and english.json() == {"detail": "both parties have already signed this BAST",
                                                              "code": "signing.both_signed", "rule": "status"}
    assert both != english.json()["detail"]
    assert len(h.events("p3ke.handover-signed.v1")) == 1


def test_bad_releases_and_downloads(harness: Harness) -> None:
    h = harness
    handover_id = _signed_handover(h)
    other_id = _signed_handover(h)
    base = f"/v1/handovers/{handover_id}"

    refused(h, handover_id, h.client.post(f"{base}/password", headers=h.headers("steward-1")), 403,
            "data-steward of kemenkopmk may not download-package")
    refused(h, handover_id, h.client.post(f"{base}/package/links", headers=h.headers("signatory-2")), 403,
            "signatory of kemnaker may not download-package")
    refused(h, handover_id, h.client.post(f"{base}/package/links", headers=h.headers("auditor-2")), 403,
            "may not download-package")

    link = h.client.post(f"{base}/package/links", headers=h.headers("officer")).json()
    token = link["token"]
    refused(h, handover_id, h.client.get(f"{base}/package", params={"link": token},
                                         headers=h.headers("officer-2")), 403, "diterbitkan untuk akun lain")
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    refused(h, handover_id, h.client.get(f"{base}/package", params={"link": forged},
                                         headers=h.headers("officer")), 403, "not valid")
    other_link = h.client.post(f"/v1/handovers/{other_id}/package/links", headers=h.headers("officer")).json()
    refused(h, handover_id, h.client.get(f"{base}/package", params={"link": other_link["token"]},
                                         headers=h.headers("officer")), 403,
            f"diterbitkan untuk serah terima {other_id}")

    real_clock = h.ctx.clock
    h.ctx.clock = lambda: real_clock() + timedelta(seconds=h.ctx.settings.delivery_link_ttl_seconds + 1)
    try:
        refused(h, handover_id, h.client.get(f"{base}/package", params={"link": token},
                                             headers=h.headers("officer")), 410, "expired at")
    finally:
        h.ctx.clock = real_clock

    # the agreement's validity is checked again at release time: here the addendum is gone
    with_addendum = h.ctx.policy
    h.ctx.policy = Policy(load_agreement(None, include_examples=False))
    try:
        refused(h, handover_id, h.client.get(f"{base}/package", params={"link": token},
                                             headers=h.headers("officer")), 403, "expired on 2025-02-28")
        refused(h, handover_id, h.client.post(f"{base}/password", headers=h.headers("officer")), 403,
                "expired on 2025-02-28")
    finally:
        h.ctx.policy = with_addendum

    revoked_link = h.client.delete(f"{base}/package/links/{link['link_id']}", headers=h.headers("officer"))
    assert revoked_link.status_code == 200, revoked_link.text
    refused(h, handover_id, h.client.get(f"{base}/package", params={"link": token},
                                         headers=h.headers("officer")), 410, "tautan baru", "dicabut pada")
    nothing_released(h, handover_id)

    # revocation: only party 1's data steward; afterwards nothing more is released
    fresh = h.client.post(f"{base}/package/links", headers=h.headers("officer")).json()
    assert h.client.post(f"{base}/revoke", json={"reason": "wrong region selected"},
                         headers=h.headers("officer")).status_code == 403
    revoked = h.client.post(f"{base}/revoke", json={"reason": "wrong region selected"},
                            headers=h.headers("steward-1"))
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused(h, handover_id, h.client.get(f"{base}/package", params={"link": fresh["token"]},
                                         headers=h.headers("officer")), 410, "telah dicabut")
    refused(h, handover_id, h.client.post(f"{base}/password", headers=h.headers("officer")), 410, "telah dicabut")
    refused(h, handover_id, h.client.post(f"{base}/package/links", headers=h.headers("officer")), 410, "telah dicabut")
    view = h.get(handover_id)
    assert view["status"] == "revoked" and view["password_released_at"] is None
    assert not h.ctx.storage.path(handover_id, view["package_name"]).exists()
    nothing_released(h, handover_id)

    # the other handover is untouched: its officer gets the password and the package
    assert h.client.post(f"/v1/handovers/{other_id}/password", headers=h.headers("officer")).status_code == 200
    got = h.client.get(f"/v1/handovers/{other_id}/package", params={"link": other_link["token"]},
                       headers=h.headers("officer"))
    assert got.status_code == 200


def test_unknown_handover(harness: Harness) -> None:
    # handovers are listed to both parties, so saying that one does not exist reveals nothing
    response = harness.client.post("/v1/handovers/ho-nope/password", headers=harness.headers("officer"))
    refused(harness, "ho-nope", response, 404, "Serah terima ho-nope tidak ditemukan")


def test_refusals_speak_the_callers_language(harness: Harness) -> None:
    """A refusal is in Indonesian by default and in English with `Accept-Language: en`, with the same stable code
    and rule; the audit log keeps it in both languages. A validation error names the field in Indonesian and never
    echoes the value sent."""
    h = harness
    url = "/v1/handovers/ho-nope/password"
    default = h.client.post(url, headers=h.headers("officer"))
    english = h.client.post(url, headers={**h.headers("officer"), "Accept-Language": "en-US,en;q=0.9"})
    asked = h.client.post(url, params={"lang": "en"}, headers=h.headers("officer"))
    assert default.status_code == english.status_code == asked.status_code == 404
    assert default.json() == {"detail": "Serah terima ho-nope tidak ditemukan; periksa id-nya (daftar: GET "
                                        "/v1/handovers).", "code": "handover.not_found", "rule": "not-found"}
    assert english.json() == {"detail": "no handover ho-nope; check its id (list: GET /v1/handovers)",
                              "code": "handover.not_found", "rule": "not-found"}
    assert asked.json() == english.json()
    assert default.headers["content-language"] == "id" and english.headers["content-language"] == "en"
    assert default.headers["x-p3ke-refusal"] == english.headers["x-p3ke-refusal"] == "not-found"
    trail = h.access("ho-nope", "denied")
    assert [e["reason"] for e in trail] == [f"{default.json()['detail']} / {english.json()['detail']}"] * 3

    handover_id = _signed_handover(h)
    secret = "Siti Rahayu 3173014403900001"  # a name and a NIK-shaped number: never echoed
    for body, field_words in (({}, "wajib diisi"), ({"reason": "x" * 1001 + secret}, "paling banyak 1000 karakter")):
        bad = h.client.post(f"/v1/handovers/{handover_id}/revoke", json=body, headers=h.headers("steward-1"))
        assert bad.status_code == 422, bad.text
        problem = bad.json()
        assert problem["code"] == "invalid_input" and problem["message"].startswith("Ada 1 isian yang tidak valid")
        [error] = problem["detail"]
        assert error["loc"] == ["body", "reason"] and error["type"] in ("missing", "string_too_long")
        assert error["msg"].startswith("Kolom 'reason' (isi permintaan)") and field_words in error["msg"], error
        assert "Siti" not in bad.text and "3173014403900001" not in bad.text and "xxxxx" not in bad.text
    bad = h.client.post(f"/v1/handovers/{handover_id}/revoke", json={}, headers={**h.headers("steward-1"),
                                                                                "Accept-Language": "en"})
    assert bad.json()["detail"][0]["msg"] == "Field 'reason' (request body) is required; send a value for it."
    assert h.get(handover_id)["status"] == "signed"  # nothing was revoked


def _sign(pdf: bytes, signer_: Any, party: int) -> bytes:
    from p3ke_delivery.adapters.signing import sign_bast

    return sign_bast(pdf, signer_, party=party)


def _signed_handover(h: Harness) -> str:
    handover_id = h.open_handover(rows=25)
    first = h.upload(handover_id, h.signed(h.bast(handover_id), SIG_1, 1), "signatory-1")
    assert first.status_code == 201, first.text
    second = h.upload(handover_id, h.signed(h.bast(handover_id), SIG_2, 2), "signatory-2")
    assert second.status_code == 201, second.text
    return handover_id

