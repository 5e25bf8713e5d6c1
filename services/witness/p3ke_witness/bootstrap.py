from __future__ import annotations

from p3ke_platform.service import ServiceSpec, lazy_routers
from p3ke_witness.adapters.orm import metadata, tables
from p3ke_witness.config import WitnessSettings
from p3ke_witness.entrypoints.cli import register
from p3ke_witness.service_layer.context import WitnessContext

SERVICE = ServiceSpec(
    name="witness",
    title="Witness",
    description="Cosigns the audit log's checkpoints (C2SP tlog-witness) and refuses forks and rollbacks, "
                "so that the party that does not run the log has a cryptographic say in its history.",
    package="p3ke_witness",
    metadata=metadata,
    tables=tables,
    routers=lazy_routers("p3ke_witness.entrypoints.routes"),
    register_cli=register,
    settings_class=WitnessSettings,
    context=WitnessContext,
    kafka=False,
)
