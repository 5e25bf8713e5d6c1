from p3ke_ingest.adapters.orm import metadata
from p3ke_platform.migrations import run_env

run_env(metadata)
