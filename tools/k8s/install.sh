#!/usr/bin/env bash
# Installs the tools that render and check deploy/k8s offline, pinned, into a per-user cache:
#   kustomize  built from source by the Go toolchain (module sigs.k8s.io/kustomize/kustomize/v5)
# Idempotent: does nothing when the pinned version is already there. Prints the binary's path.
#
#   tools/k8s/install.sh            # -> ${XDG_CACHE_HOME:-~/.cache}/p3ke/bin/kustomize
#   P3KE_TOOLS_BIN=/opt/bin tools/k8s/install.sh
#
# tests/contract/test_k8s_manifests.py looks in the same place and fails (it does not skip) when
# the binary is missing or not the pinned version. The schema checker, kubernetes-validate, is a
# Python package of the workspace's dev group, installed by `uv sync`.
set -euo pipefail

# v5.8.2 and later need Go >= 1.27; keep this in step with the machines' Go.
KUSTOMIZE_VERSION="v5.8.1"

BIN_DIR="${P3KE_TOOLS_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/p3ke/bin}"
target="$BIN_DIR/kustomize"

if [[ -x "$target" ]] && [[ "$("$target" version 2>/dev/null || true)" == "$KUSTOMIZE_VERSION" ]]; then
    echo "$target"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    echo "tools/k8s/install.sh: Go is needed to build kustomize (Debian: apt-get install golang-go)" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# GOTOOLCHAIN=local: build with the Go that is here, never try to download another toolchain.
echo "building kustomize $KUSTOMIZE_VERSION with $(go version)" >&2
GOBIN="$work" GOTOOLCHAIN=local GOFLAGS="" \
    go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}" >&2
mkdir -p "$BIN_DIR"
mv -f "$work/kustomize" "$target"
installed="$("$target" version)"
if [[ "$installed" != "$KUSTOMIZE_VERSION" ]]; then
    echo "tools/k8s/install.sh: built kustomize reports $installed, expected $KUSTOMIZE_VERSION" >&2
    exit 1
fi
echo "$target"
