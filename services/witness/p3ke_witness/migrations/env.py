from p3ke_platform.migrations import run_env
from p3ke_witness.adapters.orm import metadata

run_env(metadata)
