from __future__ import annotations

from p3ke_ingest import __doc__ as DESCRIPTION
from p3ke_ingest.adapters.orm import metadata, tables
from p3ke_ingest.config import IngestSettings
from p3ke_ingest.entrypoints.cli import register
from p3ke_ingest.service_layer.context import IngestContext
from p3ke_platform.retention import disposal
from p3ke_platform.service import BackgroundLoop, ServiceSpec, lazy_routers

SERVICE = ServiceSpec(
    name="ingest",
    title="Ingest",
    description=DESCRIPTION or "",
    package="p3ke_ingest",
    metadata=metadata,
    tables=tables,
    handlers={},
    routers=lazy_routers("p3ke_ingest.entrypoints.api"),
    register_cli=register,
    settings_class=IngestSettings,
    context=IngestContext,
    # validation jobs: in the API process (P3KE_JOBS_IN_API=true, the default) or `python -m p3ke_ingest jobs`
    # (imported only by the process that runs them: DuckDB, pyarrow)
    loops=[BackgroundLoop(name="ingest-jobs", run="p3ke_ingest.service_layer.jobs:run", role="jobs"),
           disposal.loop()],  # destroys what the retention schedule says is due (uploads, snapshots, findings)
)
