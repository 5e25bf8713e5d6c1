from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from p3ke_audit.adapters.orm import metadata, tables
from p3ke_audit.config import AuditSettings
from p3ke_audit.entrypoints.cli import register
from p3ke_audit.service_layer.handlers import HANDLERS
from p3ke_platform.service import ServiceSpec

if TYPE_CHECKING:
    from fastapi import APIRouter

    from p3ke_platform.service import Runtime


def routers(runtime: Runtime) -> Sequence[APIRouter]:
    """The HTTP API, imported only by the processes that serve it (not by workers or the CLI)."""
    from p3ke_audit.entrypoints.api import routers as build

    return build(runtime)


SERVICE = ServiceSpec(
    name="audit",
    title="Audit",
    description="The append-only record of every access to personal data (Art. 10, UU PDP Art. 31-32).",
    package="p3ke_audit",
    metadata=metadata,
    tables=tables,
    handlers=HANDLERS,
    routers=routers,
    register_cli=register,
    settings_class=AuditSettings,
)
