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
    assert last["reason"] == reason and last["outcome"] == "denied"
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
            "altered after it was signed")

    staff = dev_ca.issue(ca, common_name="Budi Staf Sintetis", org="kemenkopmk", unit=dev_ca.DEV_MARK)
    wrong_person = _sign(issued, signer_from(staff, work, "staff", h.ca / "ca.pem"), 1)
    refused(h, handover_id, h.upload(handover_id, wrong_person, "signatory-1"), 403,
            "is not the certificate of any signatory", "Budi Staf Sintetis")

    expired = _sign(issued, expired_signer(h.ca, work), 1)
    refused(h, handover_id, h.upload(handover_id, expired, "signatory-1"), 422, "expired on")

    rogue_ca = dev_ca.create_ca("Rogue CA")
    rogue = dev_ca.issue(rogue_ca, common_name="Andie Megantara", org="kemenkopmk")
    untrusted = _sign(issued, signer_from(rogue, work, "rogue"), 1)
    refused(h, handover_id, h.upload(handover_id, untrusted, "signatory-1"), 422,
            "does not chain to a configured trust anchor")

    other_bast = h.signed(h.bast(other_id), SIG_1, 1)
    refused(h, handover_id, h.upload(handover_id, other_bast, "signatory-1"), 422,
            "different BAST", other_id)

    refused(h, handover_id, h.upload(handover_id, good_1, "signatory-2"), 403,
            f"'{SIG_1}' is not a signatory of kemnaker")
    refused(h, handover_id, h.upload(handover_id, good_1, "officer"), 403,
            "program-officer of kemnaker may not sign-bast")
    refused(h, handover_id, h.upload(handover_id, b"not a pdf at all", "signatory-1"), 422, "not a PDF")
    assert h.get(handover_id)["status"] == "awaiting-signatures"  # nothing of the above was kept

    accepted = h.upload(handover_id, good_1, "signatory-1")
    assert accepted.status_code == 201, accepted.text
    current = h.bast(handover_id)

    # the same party again: party 1's signatory in party 2's field
    twice = _sign(current, signer(h.ca, SIG_1), 2)
    refused(h, handover_id, h.upload(handover_id, twice, "signatory-1"), 409, "PIHAK KESATU has already signed")
    # party 2 over the BAST as issued, not over party 1's signature
    stale = h.signed(issued, SIG_2, 2)
    refused(h, handover_id, h.upload(handover_id, stale, "signatory-2"), 409, "not an incremental update")

    # nothing leaves before both signatures
    refused(h, handover_id, h.client.post(f"/v1/handovers/{handover_id}/password", headers=h.headers("officer")),
            409, "only one party has signed")
    refused(h, handover_id, h.client.post(f"/v1/handovers/{handover_id}/package/links",
                                          headers=h.headers("officer")), 409, "needs both signatures")

    # a signature after the agreement expired (the example addendum's last day is 2027-02-28)
    good_2 = h.signed(current, SIG_2, 2)
    real_clock = h.ctx.clock
    h.ctx.clock = lambda: datetime(2027, 3, 10, 3, 0, tzinfo=UTC)
    try:
        refused(h, handover_id, h.upload(handover_id, good_2, "signatory-2"), 403, "expired on 2027-02-28")
    finally:
        h.ctx.clock = real_clock
    assert h.events("p3ke.handover-signed.v1") == []
    nothing_released(h, handover_id)

    done = h.upload(handover_id, good_2, "signatory-2")
    assert done.status_code == 201 and done.json()["status"] == "signed"
    refused(h, handover_id, h.upload(handover_id, good_2, "signatory-2"), 409, "both parties have already signed")
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
                                         headers=h.headers("officer-2")), 403, "issued to another account")
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    refused(h, handover_id, h.client.get(f"{base}/package", params={"link": forged},
                                         headers=h.headers("officer")), 403, "not valid")
    other_link = h.client.post(f"/v1/handovers/{other_id}/package/links", headers=h.headers("officer")).json()
    refused(h, handover_id, h.client.get(f"{base}/package", params={"link": other_link["token"]},
                                         headers=h.headers("officer")), 403, f"issued for handover {other_id}")

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
                                         headers=h.headers("officer")), 410, "link was revoked")
    nothing_released(h, handover_id)

    # revocation: only party 1's data steward; afterwards nothing more is released
    fresh = h.client.post(f"{base}/package/links", headers=h.headers("officer")).json()
    assert h.client.post(f"{base}/revoke", json={"reason": "wrong region selected"},
                         headers=h.headers("officer")).status_code == 403
    revoked = h.client.post(f"{base}/revoke", json={"reason": "wrong region selected"},
                            headers=h.headers("steward-1"))
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused(h, handover_id, h.client.get(f"{base}/package", params={"link": fresh["token"]},
                                         headers=h.headers("officer")), 410, "revoked")
    refused(h, handover_id, h.client.post(f"{base}/password", headers=h.headers("officer")), 410, "revoked")
    refused(h, handover_id, h.client.post(f"{base}/package/links", headers=h.headers("officer")), 410, "revoked")
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
    refused(harness, "ho-nope", response, 404, "no handover ho-nope")


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

