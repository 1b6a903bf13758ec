#!/usr/bin/env bash
# Waits until the Ray cluster Aria joins (ARIA_RAY_ADDRESS, its token from ARIA_RAY_TOKEN_PATH or
# RAY_AUTH_TOKEN_PATH) has N live nodes, then runs `aria up --detach`, so each service starts on
# the node ARIA_PLACEMENT prefers rather than on whichever node came up first.
#   cluster/aria-up-when-nodes.sh 3        (ray_cluster.yaml runs it on the head, in the background)
set -euo pipefail
want=${1:-3}
cd "$(dirname "$0")/.."
until .venv/bin/python - "$want" <<'PY'
import sys

import ray

from aria_actors.cli.localcluster import LocalCluster
from aria_actors.runtime.settings import load_settings

settings = load_settings()
LocalCluster(settings).apply_env()  # the cluster's token, as `aria up` joins
ray.init(address=settings.ray_address, log_to_driver=False, logging_level="ERROR")
alive = sum(1 for node in ray.nodes() if node["Alive"])
print(f"{alive} of {sys.argv[1]} nodes up", flush=True)
sys.exit(0 if alive >= int(sys.argv[1]) else 1)
PY
do
  sleep 5
done
exec .venv/bin/aria up --detach
