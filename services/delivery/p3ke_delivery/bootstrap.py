from __future__ import annotations

from p3ke_delivery import __doc__ as DESCRIPTION
from p3ke_delivery.adapters.orm import metadata, tables
from p3ke_delivery.config import DeliverySettings
from p3ke_delivery.entrypoints.cli import register
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_delivery.service_layer.handlers import HANDLERS
from p3ke_platform.retention import disposal
from p3ke_platform.service import BackgroundLoop, ServiceSpec, lazy_routers

SERVICE = ServiceSpec(
    name="delivery",
    title="Delivery",
    description=DESCRIPTION or "",
    package="p3ke_delivery",
    metadata=metadata,
    tables=tables,
    handlers=HANDLERS,
    routers=lazy_routers("p3ke_delivery.entrypoints.api"),
    register_cli=register,
    settings_class=DeliverySettings,
    context=DeliveryContext,
    # the preparer, imported only in the process that runs it (pyarrow, reportlab)
    loops=[BackgroundLoop(name="delivery-preparer", run="p3ke_delivery.service_layer.preparation:run", role="jobs",
                          enabled=lambda ctx: ctx.settings.delivery_prepare_in_api),
           # once the agreement has ended, every signed handover's disposal certificate is announced as due
           BackgroundLoop(name="delivery-disposal-due",
                          run="p3ke_delivery.service_layer.disposal_certificates:due_loop", role="jobs"),
           # destroys what the retention schedule says is due (packages, with their data keys; subject references)
           disposal.loop()],
)
