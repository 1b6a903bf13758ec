"""A Ray job that talks to a running Aria, both through the SDK (HTTP) and through Ray itself.

    eval "$(aria env)"        # RAY_ADDRESS, RAY_AUTH_MODE=token, RAY_AUTH_TOKEN_PATH, ARIA_URL
    ray job submit --working-dir examples -- python hello_job.py

Exits non-zero unless all fourteen services are registered and none has failed.
"""

from __future__ import annotations

import os
import sys

import ray

from aria_actors.sdk import AriaClient


def main() -> int:
    ray.init(namespace="aria", log_to_driver=False)
    # Inside the cluster the boot actor says where the gateway is; ARIA_URL overrides it.
    aria = AriaClient(os.environ["ARIA_URL"]) if os.environ.get("ARIA_URL") else AriaClient.from_cluster()
    url = aria.url
    with aria:
        health = aria.health()
        services = aria.services()
        coordinate = aria.service("aria_coordinate")
    print(f"gateway {url}: {health.status}, phase {services.phase}, counts {services.counts}")
    print(f"aria_coordinate: {coordinate.status} ({coordinate.message})")

    # The job can also reach the boot actor directly.
    boot = ray.get_actor("aria_boot", namespace="aria")
    direct = ray.get(boot.status.remote())
    print(f"boot actor sees {len(direct['services'])} services")

    failed = [s.name for s in services.services if s.status == "failed"]
    if len(services.services) != 14 or failed or len(direct["services"]) != 14:
        print(f"unexpected: {len(services.services)} services, failed: {failed}", file=sys.stderr)
        return 1
    print("hello from a Ray job: Aria answered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
