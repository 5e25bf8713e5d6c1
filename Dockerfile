# syntax=docker/dockerfile:1.7
#
# One image for all five P3KE services. The command picks the service and the role:
#
#   docker run --rm IMAGE python -m p3ke_ingest api       # FastAPI on P3KE_API_HOST:P3KE_API_PORT
#   docker run --rm IMAGE python -m p3ke_ingest worker    # faust worker, health on P3KE_WORKER_PORT
#   docker run --rm IMAGE python -m p3ke_ingest migrate   # alembic upgrade head, then exits
#
# Build (from the repository root):  docker build -t p3ke:$(git rev-parse --short HEAD) .
# Stage `build` resolves the locked dependencies (uv.lock) into /opt/venv and installs the workspace
# packages as wheels (non-editable), so the final stage carries the virtual environment only: no
# source tree, no uv, no compiler, no pip. Everything a process reads at run time (alembic scripts,
# the bundled agreement, the contract files) must therefore live inside its package directory.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# uv from PyPI, pinned; the same version that wrote uv.lock.
ARG UV_VERSION=0.13.9
RUN python -m pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src

# 1. Third-party dependencies only: this layer is rebuilt when uv.lock or a pyproject.toml changes,
#    not on every source edit. Every workspace member's pyproject.toml must be listed here.
COPY pyproject.toml uv.lock ./
COPY schemas/pyproject.toml schemas/
COPY libs/platform/pyproject.toml libs/platform/
COPY services/ingest/pyproject.toml services/ingest/
COPY services/targeting/pyproject.toml services/targeting/
COPY services/delivery/pyproject.toml services/delivery/
COPY services/feedback/pyproject.toml services/feedback/
COPY services/audit/pyproject.toml services/audit/
COPY services/witness/pyproject.toml services/witness/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --no-install-workspace

# 2. The workspace packages themselves, built as wheels into the same environment.
COPY schemas/ schemas/
COPY libs/ libs/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable \
 && /opt/venv/bin/python -c "import p3ke_schemas, p3ke_platform"

FROM ${PYTHON_IMAGE} AS runtime
# pip and setuptools are not needed at run time (the venv has what it needs): remove them.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel 2>/dev/null || true \
 && groupadd --system --gid 10001 p3ke \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin p3ke
COPY --from=build --chown=root:root /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:${PATH} \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    P3KE_API_HOST=0.0.0.0 \
    P3KE_API_PORT=8080 \
    P3KE_WORKER_PORT=8081
# /tmp is the only place a process writes besides the mounted data directory; in Kubernetes it is
# an emptyDir and the root filesystem is read-only.
WORKDIR /tmp
USER 10001:10001
EXPOSE 8080 8081
CMD ["python", "-c", "print('usage: python -m p3ke_<ingest|targeting|delivery|feedback|audit|witness> <api|worker|relay|migrate>')"]
