from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from p3ke_delivery import __doc__ as DESCRIPTION
from p3ke_delivery.adapters.orm import metadata, tables
from p3ke_delivery.config import DeliverySettings
from p3ke_delivery.entrypoints.cli import register
from p3ke_delivery.service_layer.handlers import HANDLERS
from p3ke_platform.service import ServiceSpec

if TYPE_CHECKING:
    from fastapi import APIRouter

    from p3ke_platform.service import Runtime


def routers(runtime: Runtime) -> Sequence[APIRouter]:
    """The HTTP API, imported only by the processes that serve it (not by workers or the CLI)."""
    from p3ke_delivery.entrypoints.api import routers as build

    return build(runtime)


SERVICE = ServiceSpec(
    name="delivery",
    title="Delivery",
    description=DESCRIPTION or "",
    package="p3ke_delivery",
    metadata=metadata,
    tables=tables,
    handlers=HANDLERS,
    routers=routers,
    register_cli=register,
    settings_class=DeliverySettings,
)
