"""Reading handovers and their BAST (the BAST holds no personal data of data subjects, but who read
it is still recorded)."""

from __future__ import annotations

from typing import Any, Literal

from p3ke_delivery.adapters.repository import get_handover, links_of, list_handovers, signatures_of
from p3ke_delivery.domain.messages import M
from p3ke_delivery.domain.model import UNPREPARED
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.auth import Principal
from p3ke_platform.refusal import Refused


def all_handovers(ctx: DeliveryContext, status: str | None, *, limit: int = 100, offset: int = 0) -> list[Any]:
    with ctx.unit_of_work() as uow:
        return list_handovers(uow.session, status, limit=limit, offset=offset)


def one_handover(ctx: DeliveryContext, handover_id: str) -> tuple[Any, list[Any], int]:
    with ctx.unit_of_work() as uow:
        row = get_handover(uow.session, handover_id)
        if row is None:
            raise Refused(404, M("handover.not_found", handover=handover_id), rule="not-found")
        return row, signatures_of(uow.session, handover_id), len(links_of(uow.session, handover_id))


def bast_document(ctx: DeliveryContext, handover_id: str, principal: Principal,
                  version: Literal["issued", "current"]) -> tuple[bytes, str]:
    with ctx.unit_of_work() as uow:
        row = get_handover(uow.session, handover_id)
        if row is None:
            raise Refused(404, M("handover.not_found", handover=handover_id), rule="not-found")
        if row["status"] in UNPREPARED or not row["bast_file"]:
            raise Refused(409, M("bast.not_issued", status=row["status"]), rule="status")
        name = row["bast_file"] if version == "issued" else row["current_file"]
        uow.record_access(actor=principal.actor(), action="read", resource_type="bast",
                          resource_id=handover_id, agreement_id=row["agreement_id"], program=row["program"],
                          reason=f"BAST {row['bast_number']} ({version})")
    filename = f"BAST_{row['handover_id']}_{version}.pdf"
    return ctx.storage.read(handover_id, name), filename
