#!/usr/bin/env bash
# Installs the tools that render and check deploy/k8s offline, pinned, into a per-user cache:
#   kustomize  built from source by the Go toolchain (module sigs.k8s.io/kustomize/kustomize/v5)
#   checkov    the outside policy checker (PyPI), in a virtual environment of its own with exactly the
#              versions of tools/k8s/checkov-requirements.txt (never in the workspace's .venv)
# Idempotent: does nothing when the pinned versions are already there. Prints the binaries' paths.
#
#   tools/k8s/install.sh            # -> ${XDG_CACHE_HOME:-~/.cache}/p3ke/bin/{kustomize,checkov}
#   P3KE_TOOLS_BIN=/opt/bin tools/k8s/install.sh
#
# tests/contract/test_k8s_manifests.py and test_k8s_production.py look in the same place and fail (they
# do not skip) when a binary is missing or not the pinned version. The schema checker,
# kubernetes-validate, is a Python package of the workspace's dev group, installed by `uv sync`.
set -euo pipefail

# v5.8.2 and later need Go >= 1.27; keep this in step with the machines' Go.
KUSTOMIZE_VERSION="v5.8.1"
# keep in step with the checkov line of tools/k8s/checkov-requirements.txt
CHECKOV_VERSION="3.3.30"

HERE="$(cd "$(dirname "$0")" && pwd)"
BIN_DIR="${P3KE_TOOLS_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/p3ke/bin}"

install_kustomize() {
    local target="$BIN_DIR/kustomize"
    if [[ -x "$target" ]] && [[ "$("$target" version 2>/dev/null || true)" == "$KUSTOMIZE_VERSION" ]]; then
        echo "$target"
        return 0
    fi
    if ! command -v go >/dev/null 2>&1; then
        echo "tools/k8s/install.sh: Go is needed to build kustomize (Debian: apt-get install golang-go)" >&2
        return 1
    fi
    local work
    work="$(mktemp -d)"
    # GOTOOLCHAIN=local: build with the Go that is here, never try to download another toolchain.
    echo "building kustomize $KUSTOMIZE_VERSION with $(go version)" >&2
    GOBIN="$work" GOTOOLCHAIN=local GOFLAGS="" \
        go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}" >&2
    mkdir -p "$BIN_DIR"
    mv -f "$work/kustomize" "$target"
    rm -rf "$work"
    local installed
    installed="$("$target" version)"
    if [[ "$installed" != "$KUSTOMIZE_VERSION" ]]; then
        echo "tools/k8s/install.sh: built kustomize reports $installed, expected $KUSTOMIZE_VERSION" >&2
        return 1
    fi
    echo "$target"
}

install_checkov() {
    local target="$BIN_DIR/checkov" requirements="$HERE/checkov-requirements.txt"
    local venv
    venv="$(dirname "$BIN_DIR")/checkov-$CHECKOV_VERSION"
    if ! grep -qx "checkov==$CHECKOV_VERSION" "$requirements"; then
        echo "tools/k8s/install.sh: $requirements does not pin checkov==$CHECKOV_VERSION" >&2
        return 1
    fi
    if [[ -x "$target" ]] && [[ "$("$target" --version 2>/dev/null || true)" == "$CHECKOV_VERSION" ]]; then
        echo "$target"
        return 0
    fi
    local uv python
    uv="$(command -v uv || echo "$HOME/.local/bin/uv")"
    # the machine's Python 3.11 (the workspace's version): never a downloaded interpreter
    python="$(command -v python3.11 || command -v python3)"
    echo "installing checkov $CHECKOV_VERSION into $venv" >&2
    rm -rf "$venv"
    if [[ -x "$uv" ]]; then
        UV_PYTHON_DOWNLOADS=never "$uv" venv --quiet --python "$python" "$venv" >&2
        UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-1}" "$uv" pip install --quiet --python "$venv/bin/python" \
            --no-deps -r "$requirements" >&2
    else
        "$python" -m venv "$venv" >&2
        "$venv/bin/python" -m pip install --quiet --no-deps -r "$requirements" >&2
    fi
    mkdir -p "$BIN_DIR"
    ln -sfn "$venv/bin/checkov" "$target"
    local installed
    installed="$("$target" --version)"
    if [[ "$installed" != "$CHECKOV_VERSION" ]]; then
        echo "tools/k8s/install.sh: installed checkov reports $installed, expected $CHECKOV_VERSION" >&2
        return 1
    fi
    echo "$target"
}

install_kustomize
install_checkov
