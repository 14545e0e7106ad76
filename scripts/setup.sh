#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine of this kind:
# Debian's Chromium (browser tests) and Java 17 (PySpark), a virtualenv in .venv with torch 2.13.0 (CPU),
# the npm packages, the JS build, and the package itself in editable mode.
# Idempotent: run again after changing pyproject.toml or package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's packages: Chromium for the browser tests, Java 17 for PySpark in local mode.
apt_pkgs=()
command -v chromium >/dev/null 2>&1 || apt_pkgs+=(chromium fonts-dejavu-core)
command -v java >/dev/null 2>&1 || apt_pkgs+=(openjdk-17-jre-headless)
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_pkgs[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: this build lies on the machine's disk (a bare `torch`
# would pull a multi-GB CUDA build). The dev extra's `torch>=2.0` is then satisfied.
.venv/bin/python -m pip install -q "torch==2.13.0"

# `npm ci` trips over npm 11's optional-dependency check (npm/cli#4828 family);
# `npm install` honours the committed lock file all the same.
npm install --no-audit --no-fund --loglevel=error
npm run build --silent

# The constraint keeps lightning, transformers and torchmetrics on the torch above.
.venv/bin/python -m pip install -q -c <(echo "torch==2.13.0") -e ".[dev]"
