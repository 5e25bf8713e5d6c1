"""Fuzz every service's HTTP API with schemathesis, in-process (ASGI), with authentication supplied.

Every default check must hold: no server errors, responses that match the published schema, and
`ignored_auth` on protected operations. The number of examples per operation comes from
P3KE_FUZZ_EXAMPLES (small in `make test`, larger in `make chaos`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime, installed_service
from p3ke_platform.settings import load_settings
from tests.security.support import record_figures

SERVICES = ["ingest", "targeting", "delivery", "feedback", "audit", "witness"]
ORG = {"ingest": "kemenkopmk", "audit": "kemenkopmk"}
ALL_ROLES = ["data-steward", "program-officer", "signatory", "compliance-auditor", "operator"]
EXAMPLES = int(os.environ.get("P3KE_FUZZ_EXAMPLES", "15"))
# All default checks stay on. Schema-valid input may still break a rule the schema cannot express
# (an unknown region code, a date after the agreement's end): that is a 422 with its reason; a raw
# upload body the schema cannot constrain (empty, truncated) is a 400 with its reason.
CONFIG = schemathesis.config.SchemathesisConfig.from_str("""
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429"]
""")


@schemathesis.serializer("application/pdf", "text/csv")
def raw_bytes(context: object, value: object) -> dict[str, object]:
    """Bodies the services take as raw bytes (signed PDFs, uploads): send what was generated."""
    return {"data": value if isinstance(value, bytes) else str(value).encode()}


def _app(service: str, tmp: Path) -> tuple[object, str]:
    spec = installed_service(service)
    config = load_settings(spec.settings_class, service=service, data_dir=tmp, env="test", relay_in_api=False,
                           kafka_bootstrap="127.0.0.1:1", rate_limit_per_minute=0)  # limits: test_resource_limits
    upgrade(spec, config)
    token = DevIssuer(config).mint("fuzzer", ORG.get(service, "kemnaker"), ALL_ROLES)
    return create_app(Runtime(spec, config)), token


@pytest.mark.parametrize("service", SERVICES)
def test_api_survives_fuzzing(service: str, tmp_path: Path) -> None:
    app, token = _app(service, tmp_path)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    schema = schema.exclude(path_regex="^/(healthz|readyz|metrics)$")
    failures: list[str] = []
    cases = 0

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        nonlocal cases
        cases += 1
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"})

    for result in schema.get_all_operations():
        operation = result.ok()
        test = operation.as_strategy()
        try:
            from hypothesis import given

            given(case=test)(run)()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's failures (schemathesis raises groups)
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    record_figures("security", {f"fuzz_cases_{service}": cases, f"fuzz_failures_{service}": len(failures),
                                "fuzz_examples_per_operation": EXAMPLES})
    assert failures == [], "\n\n".join(failures)
