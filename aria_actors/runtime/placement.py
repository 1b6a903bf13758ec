"""Where a service runs on a multi-node Ray cluster: the ``placement`` setting, as Ray options.

``ARIA_PLACEMENT='{"aria_data": "aria-node=db", ...}'`` or, in aria.toml::

    [placement]
    aria_data = "aria-node=db"                   # only on nodes labelled aria-node=db
    aria_shape = "aria-node=gpu | *"             # there if one is up, else on any node
    aria_queue = "aria-node=in(w1,w2) | aria-node=db"
    aria_engine = "resource:planner"             # only on nodes with the custom resource `planner`
    aria_boot = "aria-node=head"                 # the boot actor itself

A value is a node label selector (``key=value``, several joined by ``,``; values as Ray's label
selectors write them: ``v``, ``!v``, ``in(a,b)``, ``!in(a,b)``), alternatives after ``|`` in order of
preference (Ray's ``fallback_strategy``), ``*`` for any node; or ``resource:NAME``, a node with that
custom resource (a tiny share of it, so any number of services fit). Labels come from
``ray start --labels`` (KubeRay: ``rayStartParams.labels``), resources from ``--resources``.

Guarantees and caveats
----------------------
- No entry for a service: it runs anywhere, as before (the default is an empty mapping).
- A hard constraint (no ``| *``) that no live node meets leaves the service waiting for one, and
  its start times out with the supervisor's ``start_timeout_s``; with ``| *`` it comes back on
  another node when its node is lost. Ray decides among the nodes that match.
- Applied where Aria creates a service: the actor or Serve replica (``aria_coordinate``'s gateway
  included) and the boot actor (``aria_boot``). Processes a service starts itself (queue workers,
  planners, model replicas) are placed by that service.
- Ray-free: this module only turns text into the options ``ray.remote(...).options`` takes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

BOOT = "aria_boot"
ANY = "*"
RESOURCE = "resource:"
# A tiny share of the custom resource: it only selects the node, it does not ration it.
RESOURCE_SHARE = 0.001
# Ray's fallback entries must select something: every node has its id as a label, and none has
# this one, so this selector matches any node.
ANY_NODE = {"ray.io/node-id": "!aria-any-node"}
_KEY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^!?(in\([^()|=]+\)|[A-Za-z0-9._-]+)$")
_PAIRS = re.compile(r",(?![^(]*\))")  # commas outside in(...)


class PlacementError(ValueError):
    """A placement value that does not parse; the message names the service and the value."""


def _selector(service: str, text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in _PAIRS.split(text):
        key, eq, value = (part.strip() for part in pair.partition("="))
        if not eq or not _KEY.match(key) or not _VALUE.match(value.replace(" ", "")):
            raise PlacementError(f"{service}: {pair.strip()!r} is not a node label selector "
                                 "(key=value, key=!value, key=in(a,b))")
        out[key] = value.replace(" ", "")
    return out


def ray_options(service: str, value: str) -> dict[str, Any]:
    """The Ray actor options that place ``service`` as ``value`` says (see the module docstring)."""
    value = value.strip()
    if not value:
        return {}
    if value.startswith(RESOURCE):
        name = value[len(RESOURCE):].strip()
        if not name or not _KEY.match(name):
            raise PlacementError(f"{service}: {value!r} names no custom resource (resource:NAME)")
        return {"resources": {name: RESOURCE_SHARE}}
    alternatives = [alt.strip() for alt in value.split("|")]
    if "" in alternatives:
        raise PlacementError(f"{service}: {value!r} has an empty alternative")
    if alternatives[0] == ANY:
        return {}  # anywhere first: nothing to constrain
    primary, *rest = alternatives
    options: dict[str, Any] = {"label_selector": _selector(service, primary)}
    fallback = []
    for alt in rest:
        fallback.append({"label_selector": dict(ANY_NODE) if alt == ANY else _selector(service, alt)})
        if alt == ANY:
            break  # nothing after "any node" is ever tried
    if fallback:
        options["fallback_strategy"] = fallback
    return options


def check(placement: Mapping[str, str], known: set[str] | None = None) -> None:
    """Raise :class:`PlacementError` for a value that does not parse or (with ``known``) a name that
    is neither a service nor the boot actor."""
    for service, value in placement.items():
        if known is not None and service not in known | {BOOT}:
            raise PlacementError(f"{service!r} is not a service (nor {BOOT}): "
                                 f"one of {', '.join(sorted(known | {BOOT}))}")
        ray_options(service, value)


def options_for(placement: Mapping[str, str], service: str) -> dict[str, Any]:
    """Ray options of ``service`` under ``placement`` (empty: anywhere)."""
    value = placement.get(service)
    return ray_options(service, value) if value else {}


def actor_options(spec: Any, settings: Any) -> dict[str, Any]:
    """Resources and placement of a service's actor or Serve replica (a ``ServiceSpec`` under
    ``AriaSettings``): what ``ray.remote(...).options`` and Serve's ``ray_actor_options`` take."""
    return {"num_cpus": spec.num_cpus, "num_gpus": spec.num_gpus,
            **options_for(settings.placement, spec.name)}
