from __future__ import annotations

from p3ke_platform.service import ServiceSpec, lazy_routers
from p3ke_targeting import __doc__ as DESCRIPTION
from p3ke_targeting.adapters.orm import metadata, tables
from p3ke_targeting.config import TargetingSettings
from p3ke_targeting.service_layer.context import Context
from p3ke_targeting.service_layer.handlers import HANDLERS

SERVICE = ServiceSpec(
    name="targeting",
    title="Targeting",
    description=DESCRIPTION or "",
    package="p3ke_targeting",
    metadata=metadata,
    tables=tables,
    handlers=HANDLERS,
    routers=lazy_routers("p3ke_targeting.entrypoints.api"),
    settings_class=TargetingSettings,
    context=Context,
)
