"""`python -m p3ke_<service> api|worker|jobs|relay|migrate`: one entry point, five roles, same settings.

api     the HTTP API (with the outbox relay and the "jobs" loops unless P3KE_RELAY_IN_API / P3KE_JOBS_IN_API
        are false), plus the service's "api" loops; behind the proxies P3KE_FORWARDED_ALLOW_IPS names
worker  the consumer applying events through the inbox (kafka-python, or faust with P3KE_WORKER_ENGINE=faust), plus
        the service's "worker" loops
jobs    the service's "jobs" loops alone (when P3KE_JOBS_IN_API=false), e.g. a deployment scaled on its own
relay   the outbox relay alone (when P3KE_RELAY_IN_API=false)
migrate create or upgrade the service's database
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from p3ke_platform import heap
from p3ke_platform.logging import configure_logging, get_logger
from p3ke_platform.service import Runtime, ServiceSpec
from p3ke_platform.settings import ConfigurationError, Settings, load_settings

ROLES = ("api", "worker", "jobs", "relay", "migrate")


def main(spec: ServiceSpec, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {spec.package}", description=spec.description)
    parser.add_argument("role", choices=ROLES)
    args = parser.parse_args(argv)
    try:
        settings = load_settings(spec.settings_class, service=spec.name)
    except ConfigurationError as exc:
        print(f"{spec.name}: {exc}", file=sys.stderr)
        return 2
    configure_logging(spec.name, settings.log_level, settings.log_json)
    runtime = Runtime(spec, settings)
    if args.role in ("api", "worker", "jobs"):
        try:
            runtime.context.check()  # bad configuration stops start-up, not the first request
            runtime.check_loops(args.role)  # and so does what this role's loops lack (e.g. the legal holds' URL)
            runtime.context.record_terms_loaded()  # audited: which agreement files (SHA-256) this process applies
        except ConfigurationError as exc:
            print(f"{spec.name}: {exc}", file=sys.stderr)
            return 2
    roles = {"api": run_api, "worker": run_worker, "jobs": run_jobs, "relay": run_relay, "migrate": run_migrate}
    return roles[args.role](runtime)


def run_api(runtime: Runtime) -> int:
    import uvicorn

    from p3ke_platform.api import create_app

    uvicorn.run(create_app(runtime), **uvicorn_options(runtime.settings))
    return 0


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How the API is served: its address, and the proxies (the ingress, P3KE_FORWARDED_ALLOW_IPS) whose
    X-Forwarded-For and X-Forwarded-Proto uvicorn believes, so that behind the ingress `request.client` is the
    caller and `request.url.scheme` is https; headers from any other peer are ignored."""
    return {"host": settings.api_host, "port": settings.effective_api_port, "log_config": None,
            "access_log": False, "timeout_graceful_shutdown": 20, "proxy_headers": True,
            "forwarded_allow_ips": settings.forwarded_allow_ips}


def run_worker(runtime: Runtime) -> int:
    settings = runtime.settings
    app_id = settings.consumer_group or f"p3ke-{runtime.spec.name}"
    inbox, origin = runtime.inbox(app_id), runtime.context.origin_check
    stop_loops = runtime.start_loops("worker")
    try:
        if settings.worker_engine == "faust":
            from p3ke_platform.messaging.faust_worker import build_faust_app, run_faust

            app = build_faust_app(app_id=app_id, settings=settings, topics=runtime.spec.topics, inbox=inbox,
                                  web_port=_worker_port(settings), readiness=runtime.readiness, origin=origin)
            heap.settle()
            return run_faust(app, settings)
        from p3ke_platform.health_server import serve_health
        from p3ke_platform.messaging.kafka_worker import KafkaWorker, run_kafka_worker
        from p3ke_platform.messaging.signature_pool import signature_pool
        from p3ke_platform.messaging.worker import BatchProcessor

        def processor(send_dead_letter: Any) -> BatchProcessor:
            return BatchProcessor(inbox, send_dead_letter, consumer=app_id, origin=origin,
                                  signatures=signature_pool(settings, origin))

        stop_health = serve_health(settings.api_host, _worker_port(settings), runtime.readiness)
        heap.settle()
        try:
            return run_kafka_worker(KafkaWorker(app_id=app_id, settings=settings, topics=runtime.spec.topics,
                                                processor=processor))
        finally:
            stop_health()
    finally:
        stop_loops(30.0)


def _worker_port(settings: Settings) -> int:
    from p3ke_platform.devstack.ports import free_port

    return settings.worker_port or free_port()


def _stop_on_signal() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def run_relay(runtime: Runtime) -> int:
    relay, stop = runtime.relay(), _stop_on_signal()
    heap.settle()
    relay.run(stop)
    return 0


def run_jobs(runtime: Runtime) -> int:
    stop = _stop_on_signal()
    if runtime.settings.jobs_in_api:
        print(f"{runtime.spec.name}: P3KE_JOBS_IN_API is true, so the API process runs the jobs; "
              "set it to false in both deployments to run them here", file=sys.stderr)
        return 2
    loops = runtime.loops_for("jobs")
    if not loops:
        get_logger(__name__).info("no background jobs", service=runtime.spec.name)
        return 0
    stop_loops = runtime.start_loops("jobs")
    stop.wait()
    stop_loops(30.0)
    return 0


def run_migrate(runtime: Runtime) -> int:
    from p3ke_platform.migrations import upgrade

    upgrade(runtime.spec, runtime.settings)
    get_logger(__name__).info("migrated", service=runtime.spec.name)
    return 0
