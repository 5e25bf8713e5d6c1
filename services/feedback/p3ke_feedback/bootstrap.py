from __future__ import annotations

from p3ke_feedback import __doc__ as DESCRIPTION
from p3ke_feedback.adapters.orm import metadata, tables
from p3ke_feedback.config import FeedbackSettings
from p3ke_feedback.entrypoints.cli import register
from p3ke_feedback.service_layer.context import Context
from p3ke_feedback.service_layer.handlers import HANDLERS
from p3ke_platform.retention import disposal
from p3ke_platform.service import ServiceSpec, lazy_routers

SERVICE = ServiceSpec(
    name="feedback",
    title="Feedback",
    description=DESCRIPTION or "",
    package="p3ke_feedback",
    metadata=metadata,
    tables=tables,
    handlers=HANDLERS,
    routers=lazy_routers("p3ke_feedback.entrypoints.api"),
    register_cli=register,
    settings_class=FeedbackSettings,
    context=Context,
    loops=[disposal.loop()],  # destroys what the retention schedule says is due (feedback raw files)
)
