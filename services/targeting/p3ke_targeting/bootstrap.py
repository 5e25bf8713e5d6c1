from __future__ import annotations

from p3ke_platform.retention import disposal
from p3ke_platform.service import BackgroundLoop, ServiceSpec, lazy_routers
from p3ke_schemas import spec_for_type
from p3ke_targeting import __doc__ as DESCRIPTION
from p3ke_targeting.adapters.orm import metadata, tables
from p3ke_targeting.config import TargetingSettings
from p3ke_targeting.entrypoints.cli import register
from p3ke_targeting.service_layer.context import Context
from p3ke_targeting.service_layer.dead_letters import answer_dead_lettered_request
from p3ke_targeting.service_layer.handlers import HANDLERS

SERVICE = ServiceSpec(
    name="targeting",
    title="Targeting",
    description=DESCRIPTION or "",
    package="p3ke_targeting",
    metadata=metadata,
    tables=tables,
    handlers=HANDLERS,
    dead_letter_answers={spec_for_type("extract-requested").topic: answer_dead_lettered_request},
    routers=lazy_routers("p3ke_targeting.entrypoints.api"),
    register_cli=register,
    settings_class=TargetingSettings,
    context=Context,
    loops=[disposal.loop(),  # destroys what the retention schedule says is due (extracts, selection ledgers)
           BackgroundLoop(name="targeting-working-copy", run="p3ke_targeting.service_layer.working_copies:run",
                          role="worker", enabled=lambda ctx: ctx.settings.targeting_working_copy)],
)
