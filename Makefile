# P3KE data sharing: the two commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
# recursive (=): looked up when a recipe runs, i.e. after tools/bootstrap.sh may have installed uv
UV = $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_LINK_MODE ?= copy
# the system trust store (where a machine adds its proxy's CA), not only the roots bundled with uv
export UV_SYSTEM_CERTS ?= 1

# bench-% is a pattern rule: a name listed here (bench-events) would have no recipe at all
.PHONY: help bootstrap-python bootstrap-run bootstrap-test install jars run test test-fast lint schemas \
        schemas-check bench chaos clean k8s-policy

help:  ## list the targets
	@grep -E '^[a-z0-9%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# system packages (apt-get as root or with sudo, else a message naming them), uv, and for tests kustomize
bootstrap-python bootstrap-run bootstrap-test:
	@tools/bootstrap.sh $(patsubst bootstrap-%,%,$@)

.venv/.synced: uv.lock pyproject.toml $(wildcard */pyproject.toml */*/pyproject.toml) | bootstrap-python
	$(UV) sync --frozen
	@touch $@

tools/asyncapi/node_modules/.installed: tools/asyncapi/package-lock.json
	cd tools/asyncapi && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

install: bootstrap-test .venv/.synced tools/asyncapi/node_modules/.installed jars  ## install Python packages, the AsyncAPI parser and the Kafka jars

jars: .venv/.synced
	$(UV) run --frozen python -c "from p3ke_platform.devstack.kafka import ensure_jars; print('kafka jars:', ensure_jars())"

run: bootstrap-run .venv/.synced jars  ## start Kafka and all five services locally, seeded for the README's walkthrough; Ctrl-C stops
	$(UV) run --frozen p3ke run

test: install  ## run the whole suite against a real Kafka broker and real PostgreSQL (started and stopped here)
	$(UV) run --frozen pytest -q

test-fast: install  ## unit and contract tests only (no broker, no database server)
	$(UV) run --frozen pytest -q tests/unit tests/contract

lint: .venv/.synced  ## ruff
	$(UV) run --frozen ruff check .

k8s-policy: bootstrap-test .venv/.synced  ## checkov over the rendered production overlay (secrets as files, digests, pull policy)
	$(UV) run --frozen python -m tools.k8s.policy prod

schemas: .venv/.synced  ## regenerate the committed JSON Schema and AsyncAPI files from the models
	$(UV) run --frozen python -m p3ke_schemas.generate

schemas-check: .venv/.synced
	$(UV) run --frozen python -m p3ke_schemas.generate --check

bench: install  ## each benchmark at three sizes (BENCH_SIZES or BENCH_<NAME>_SIZES; default 10^5-10^7 rows, events and audit 10^4-10^6): charts and summary.md in bench/results/
	$(UV) run --frozen python -m bench.curves

chaos: install  ## the long reliability and security suite (25+ kills, restarts, replay, poison, fuzz 200/op); bench/results/chaos.json
	$(UV) run --frozen python -m bench.chaos

bench-%: install  ## run one benchmark, e.g. make bench-events
	$(UV) run --frozen python -m bench $*

clean:  ## remove local state (var/) and caches
	rm -rf var .pytest_cache .ruff_cache bench/results
