from __future__ import annotations

from p3ke_audit.adapters.orm import metadata, tables
from p3ke_audit.config import AuditSettings
from p3ke_audit.entrypoints.cli import register
from p3ke_audit.service_layer.checkpoints import checkpointer
from p3ke_audit.service_layer.context import AuditContext
from p3ke_audit.service_layer.handlers import HANDLERS
from p3ke_platform.service import BackgroundLoop, ServiceSpec, lazy_routers

SERVICE = ServiceSpec(
    name="audit",
    title="Audit",
    description="The append-only record of every access to personal data (Art. 10, UU PDP Art. 31-32).",
    package="p3ke_audit",
    metadata=metadata,
    tables=tables,
    handlers=HANDLERS,
    routers=lazy_routers("p3ke_audit.entrypoints.routes"),
    register_cli=register,
    settings_class=AuditSettings,
    context=AuditContext,
    loops=[
        # signs due checkpoints (N entries or T seconds) while no batch arrives; the worker signs within batches
        BackgroundLoop(name="audit-checkpointer", run=checkpointer, role="jobs",
                       enabled=lambda ctx: ctx.settings.audit_checkpointer_in_api),
        # asks the configured witnesses to cosign the latest checkpoint (and retries) without the append lock
        BackgroundLoop(name="audit-witness", run="p3ke_audit.service_layer.witnessing:witness_loop", role="jobs",
                       enabled=lambda ctx: bool(ctx.settings.audit_witnesses)),
        # opens incidents from forged-event refusals and new violations in the log; marks overdue notices
        BackgroundLoop(name="audit-incidents", run="p3ke_audit.service_layer.incident_scan:incident_loop",
                       role="jobs", enabled=lambda ctx: ctx.settings.audit_incident_scan_in_api),
        # the agreement's obligations, and each obligation's status changes and reminders as the days pass
        BackgroundLoop(name="audit-obligations", run="p3ke_audit.service_layer.obligations:obligation_loop",
                       role="jobs"),
        # keeps the ROPA (UU PDP Art. 31) and the DPIA (Art. 34) current: a new version when the terms change
        BackgroundLoop(name="audit-processing-records",
                       run="p3ke_audit.service_layer.processing_records:processing_records_loop", role="jobs"),
    ],
)
