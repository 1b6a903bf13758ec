#!/usr/bin/env bash
# Installs Aria and its system packages into .venv. Idempotent: re-running only adds what is missing.
# Usage: scripts/install.sh [--gpu]
set -euo pipefail
cd "$(dirname "$0")/.."
gpu=0; [ "${1:-}" = "--gpu" ] && gpu=1

# System packages the tests and the embedded defaults need (root on Debian; skipped elsewhere).
pkgs="softhsm2 casync openssh-server openssh-client"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=""
  for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
py=.venv/bin/python
$py -m pip install -q --upgrade pip >/dev/null
# Torch is resolved together with the project so nothing can swap the CPU build for a CUDA one
# (plain `torch` resolves to a CUDA build with gigabytes of nvidia wheels).
if [ "$gpu" = 1 ]; then torch_spec="torch==2.14.1"; else torch_spec="torch==2.13.0+cpu"; fi
# (pipefail keeps pip's exit status; the filter only drops the index's noise)
$py -m pip install -q -e '.[dev]' "$torch_spec" 2>&1 | { grep -v 'is ignored: it is neither' || true; }
$py -c 'import aria_actors, torch; print("installed: aria", aria_actors.__version__, "torch", torch.__version__)'
