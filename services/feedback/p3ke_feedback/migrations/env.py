from p3ke_platform.migrations import run_env
from p3ke_feedback.adapters.orm import metadata

run_env(metadata)
