#!/usr/bin/env bash
# Everything `make` needs before the Python workspace can be synced, installed where missing, pinned.
#
#   tools/bootstrap.sh python   uv (lint, schemas)
#   tools/bootstrap.sh run      + the system packages of `make run` and the walkthrough
#   tools/bootstrap.sh test     + the system packages of `make test`, kustomize and checkov (tools/k8s/install.sh)
#
# Idempotent and quiet when nothing is missing; the Makefile runs it before every target that needs it,
# so the README's two commands work on a fresh machine with nothing run first.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-test}"
UV_VERSION="0.13.9" 

tools/install-system-packages.sh "$profile"

if ! command -v uv >/dev/null && [ ! -x "$HOME/.local/bin/uv" ]; then
  # Debian's python3 is "externally managed" (PEP 668): uv is a standalone tool, in the user's ~/.local/bin
  echo "installing uv $UV_VERSION into $HOME/.local/bin"
  python3 -m pip install --quiet --user "uv==$UV_VERSION" 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages "uv==$UV_VERSION"
fi

if [ "$profile" = test ]; then
  tools/k8s/install.sh >/dev/null
fi
