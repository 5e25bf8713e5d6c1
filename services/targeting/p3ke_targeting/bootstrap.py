from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from p3ke_platform.service import ServiceSpec
from p3ke_targeting import __doc__ as DESCRIPTION
from p3ke_targeting.adapters.orm import metadata, tables
from p3ke_targeting.config import TargetingSettings
from p3ke_targeting.service_layer.handlers import HANDLERS

if TYPE_CHECKING:
    from fastapi import APIRouter

    from p3ke_platform.service import Runtime


def routers(runtime: Runtime) -> Sequence[APIRouter]:
    """The HTTP API, imported only by the processes that serve it (not by workers or the CLI)."""
    from p3ke_targeting.entrypoints.api import routers as build

    return build(runtime)


SERVICE = ServiceSpec(
    name="targeting",
    title="Targeting",
    description=DESCRIPTION or "",
    package="p3ke_targeting",
    metadata=metadata,
    tables=tables,
    handlers=HANDLERS,
    routers=routers,
    settings_class=TargetingSettings,
)
