#!/usr/bin/env bash
# The Debian packages the project uses, installed where missing.
#
#   tools/install-system-packages.sh python   python3-pip where uv must still be installed
#   tools/install-system-packages.sh run      + Java 17, Maven (the Kafka broker's jars), curl, 7z and pdfsig
#                                              (the README's walkthrough opens packages and checks signed BASTs)
#   tools/install-system-packages.sh test     + PostgreSQL, Node.js + npm (AsyncAPI parser), Go (kustomize),
#                                              Chromium (the compliance page in a real browser), runuser
#
# `make run` and `make test` call it (through tools/bootstrap.sh). It installs with apt-get when it runs as
# root, or through `sudo -n` when that works without a password; otherwise it names the missing packages
# and the command that installs them, and fails. It prints nothing when everything is there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
profile="${1:-test}"
case "$profile" in python|run|test) ;; *) echo "usage: $0 [python|run|test]" >&2; exit 2 ;; esac

need=()
command -v uv >/dev/null || [ -x "$HOME/.local/bin/uv" ] || python3 -m pip --version >/dev/null 2>&1 \
  || need+=(python3-pip)
if [ "$profile" != python ]; then
  command -v java >/dev/null || need+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || need+=(maven)
  command -v curl >/dev/null || need+=(curl)
  command -v 7z >/dev/null || need+=(p7zip-full)
  command -v pdfsig >/dev/null || need+=(poppler-utils)
fi
if [ "$profile" = test ]; then
  command -v node >/dev/null || need+=(nodejs)
  command -v npm >/dev/null || need+=(npm)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v runuser >/dev/null || need+=(util-linux)
  command -v go >/dev/null || need+=(golang-go)
  command -v chromium >/dev/null || need+=(chromium)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n env DEBIAN_FRONTEND=noninteractive)
else
  {
    echo "Paket sistem belum terpasang / system packages missing: ${need[*]}"
    echo "Pasang dengan / install them with:"
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}"
    echo "lalu jalankan lagi perintah make tadi / then run the make command again."
  } >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${need[@]}"
