#!/usr/bin/env bash
# The Debian packages the project uses, installed where missing (run as root, or with sudo):
#   make run   Java 17 + Maven (the Kafka broker's jars from Maven Central), curl
#   walkthrough 7z (p7zip-full) to open packages, pdfsig (poppler-utils) to check signed BASTs
#   make test  all of the above, PostgreSQL, Node.js + npm (AsyncAPI parser), Go (kustomize),
#              chromium (the compliance page in a real browser), runuser (util-linux)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
command -v curl >/dev/null || need+=(curl)
command -v uv >/dev/null || python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)  # to install uv
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v runuser >/dev/null || need+=(util-linux)
command -v 7z >/dev/null || need+=(p7zip-full)
command -v pdfsig >/dev/null || need+=(poppler-utils)
command -v go >/dev/null || need+=(golang-go)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
else
  echo "system packages: all present"
fi
