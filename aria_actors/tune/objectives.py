"""Objectives a study may name: registered here by name, never code or a path from a request.

::

    branin      2-d Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887 (three minimisers)
    hartmann6   6-d Hartmann on [0, 1]^6; minimum -3.32237 at (0.20169, 0.150011, 0.476874,
                0.275332, 0.311652, 0.6573)
    + what an operator configures: ``ARIA_TUNE_OBJECTIVES='{"name": "python:<module>:<attr>"}'``

An objective's ``evaluate(params)`` returns the trial's value, or an iterable of intermediate
values (one per step: the service stores each and may prune the trial after it; the last one is
the value). ``din`` (aria_interpret's recommender with the trial's hyperparameters, validation
AUC) is not offered yet: aria_interpret trains only as registered model versions through a queue
job longer than a service job's call may run (see docs/tune.md).

Guarantees and caveats
----------------------
- A name resolves to the built-ins first, then the configured ones; a configured target is
  imported when first named (an import that fails is a 400 naming the objective, not a crash).
- ``params`` (when an objective declares them) are exactly the parameters its space must hold.
- Objectives run in a thread of aria_tune's process: a configured one must be thread-safe and
  must not block for longer than ``trial_timeout_s`` per step.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aria_actors.tune.errors import UnknownObjective

Evaluate = Callable[[Mapping[str, Any]], Any]  # a float, or an iterable of intermediate values


@dataclass(frozen=True)
class Objective:
    """A named function of a trial's params."""

    name: str
    evaluate: Evaluate
    description: str = ""
    params: tuple[str, ...] | None = None  # the parameters it takes (None: any)
    direction: str | None = None  # the direction it is meant for (None: either)
    optimum: float | None = None  # the known best value, where there is one
    space: dict[str, dict[str, Any]] = field(default_factory=dict)  # its usual search space

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "params": list(self.params) if self.params is not None else None,
                "direction": self.direction, "optimum": self.optimum, "space": self.space}


# -- Branin-Hoo (Dixon & Szegő 1978; the usual a, b, c, r, s, t) -------------------------------------
_A, _B, _C, _R, _S, _T = 1.0, 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
BRANIN_MIN = 0.397887
BRANIN_MINIMISERS = ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475))


def branin(params: Mapping[str, Any]) -> float:
    x1, x2 = float(params["x1"]), float(params["x2"])
    return _A * (x2 - _B * x1 ** 2 + _C * x1 - _R) ** 2 + _S * (1 - _T) * math.cos(x1) + _S


# -- Hartmann 6-d --------------------------------------------------------------------------------------
_ALPHA = (1.0, 1.2, 3.0, 3.2)
_HA = ((10, 3, 17, 3.5, 1.7, 8), (0.05, 10, 17, 0.1, 8, 14), (3, 3.5, 1.7, 10, 17, 8), (17, 8, 0.05, 10, 0.1, 14))
_HP = tuple(tuple(v * 1e-4 for v in row) for row in (
    (1312, 1696, 5569, 124, 8283, 5886), (2329, 4135, 8307, 3736, 1004, 9991),
    (2348, 1451, 3522, 2883, 3047, 6650), (4047, 8828, 8732, 5743, 1091, 381)))
HARTMANN6_MIN = -3.32237
HARTMANN6_MINIMISER = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
_H6 = tuple(f"x{i}" for i in range(1, 7))


def hartmann6(params: Mapping[str, Any]) -> float:
    x = [float(params[name]) for name in _H6]
    return -sum(a * math.exp(-sum(aij * (xj - pij) ** 2 for aij, xj, pij in zip(arow, x, prow, strict=True)))
                for a, arow, prow in zip(_ALPHA, _HA, _HP, strict=True))


def _box(low: float, high: float) -> dict[str, Any]:
    return {"type": "float", "low": low, "high": high, "log": False}


BUILTIN: dict[str, Objective] = {
    "branin": Objective("branin", branin, "Branin-Hoo, 2-d, three global minima", ("x1", "x2"), "minimize",
                        BRANIN_MIN, {"x1": _box(-5.0, 10.0), "x2": _box(0.0, 15.0)}),
    "hartmann6": Objective("hartmann6", hartmann6, "Hartmann, 6-d on the unit cube", _H6, "minimize",
                           HARTMANN6_MIN, {name: _box(0.0, 1.0) for name in _H6}),
}


class Objectives:
    """The built-ins plus ``configured`` (name -> ``python:<module>:<attribute>``)."""

    def __init__(self, configured: Mapping[str, str] | None = None,
                 builtin: Mapping[str, Objective] | None = None) -> None:
        self._builtin = dict(BUILTIN if builtin is None else builtin)
        self._configured = {k: v for k, v in (configured or {}).items() if k not in self._builtin}
        self._loaded: dict[str, Objective] = {}

    def names(self) -> list[str]:
        return sorted({*self._builtin, *self._configured})

    def get(self, name: Any) -> Objective:
        if not isinstance(name, str) or (name not in self._builtin and name not in self._configured):
            raise UnknownObjective(f"no objective {name!r}; registered: {self.names()}", field="objective",
                                   objective=str(name)[:64], known=self.names())
        if name in self._builtin:
            return self._builtin[name]
        if name not in self._loaded:
            self._loaded[name] = _load(name, self._configured[name])
        return self._loaded[name]

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for name in self.names():
            try:
                out.append(self.get(name).describe())
            except UnknownObjective as exc:
                out.append({"name": name, "error": exc.message})
        return out


def _load(name: str, target: str) -> Objective:
    _, module, attr = target.split(":", 2)
    try:
        found = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise UnknownObjective(f"objective {name!r} is configured as {target!r}, which does not load: {exc}",
                               field="objective", objective=name) from None
    if isinstance(found, Objective):
        return Objective(name, found.evaluate, found.description, found.params, found.direction, found.optimum,
                         found.space)
    if not callable(found):
        raise UnknownObjective(f"objective {name!r} ({target}) is neither an Objective nor a function",
                               field="objective", objective=name)
    return Objective(name, found, (found.__doc__ or "").strip().splitlines()[0] if found.__doc__ else "")
