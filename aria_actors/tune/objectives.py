"""Objectives a study may name: registered here by name, never code or a path from a request.

::

    branin      2-d Branin-Hoo on x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887 (three minimisers)
    hartmann6   6-d Hartmann on [0, 1]^6; minimum -3.32237 at (0.20169, 0.150011, 0.476874,
                0.275332, 0.311652, 0.6573)
    + what an operator configures: ``ARIA_TUNE_OBJECTIVES='{"name": "python:<module>:<attr>"}'``

    din         aria_interpret's DIN recommender trained with the trial's hyperparameters on a
                subset of MovieLens-100k (aria_interpret's din_trial_rows): validation GAUC per
                epoch (maximise; the median pruner may stop it between epochs)
    din-arch    the same over DIN's architecture (embedding sizes, attention and MLP layers and
                widths): {gauc, parameters, latency_ms}, for multi-objective architecture search
    qwen3-arch  aria_shape's tiny Qwen3 over (layers, hidden size, heads): {loss (held-out),
                parameters, latency_ms}, for architecture search (aria_shape's evaluate_architecture)
    din-pipeline  DIN's training settings (batch size, threads, bf16): {samples_per_s, gauc},
                for pipeline optimisation (pipeline.py)

An objective's ``evaluate(params)`` returns the trial's value, or an iterable of intermediate
values (one per step: the service stores each and may prune the trial after it; the last one is
the value); one with ``metrics`` returns a mapping of those metrics (a study picks one, an
architecture search several). One with ``bind`` calls other services: the service binds it to a
:class:`Context` (the trial's caller, a way to await a client's call from the objective's thread)
for each trial.

Guarantees and caveats
----------------------
- A name resolves to the built-ins first, then the configured ones; a configured target is
  imported when first named (an import that fails is a 400 naming the objective, not a crash).
- ``params`` (when an objective declares them) are exactly the parameters its space must hold.
- Objectives run in a thread of aria_tune's process: a configured one must be thread-safe and
  must not block for longer than ``trial_timeout_s`` per step.
- ``din`` and ``din-arch`` train in aria_interpret's process (its ``start_din_trial``,
  ``din_trial_epoch``, ``end_din_trial``), as the trial's caller (``interpret:trial:run``):
  aria_tune never loads torch. A pruned trial's run is ended without waiting; one abandoned
  (timeout, crash) is dropped by aria_interpret after ``din_trial_idle_s``. Their space is
  checked against :data:`DIN_LIMITS` when a study is created (a 400 naming ``space.<p>.<key>``),
  and by aria_interpret again at each trial.
"""

from __future__ import annotations

import asyncio
import importlib
import math
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aria_actors.tune.errors import InvalidSearchSpace, UnknownObjective

Evaluate = Callable[[Mapping[str, Any]], Any]  # a float, or an iterable of intermediate values


@dataclass(frozen=True)
class Context:
    """What a bound objective may use while its trial runs (in a worker thread)."""

    caller: Any  # the trial's Principal: the study's optimizer
    loop: asyncio.AbstractEventLoop  # the service's loop, where clients' calls run
    timeout_s: float  # the trial's limit: no call waits longer
    clients: Mapping[str, Any] = field(default_factory=dict)  # service name -> typed client
    settings: Any = None  # TuneSettings

    def client(self, service: str) -> Any:
        found = self.clients.get(service)
        if found is None:
            raise RuntimeError(f"{service} is not a dependency of this aria_tune: this objective cannot run")
        return found

    def call(self, coro: Awaitable[Any]) -> Any:
        """Await ``coro`` on the service's loop and wait for it here (never from the loop itself)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(self.timeout_s)  # type: ignore[arg-type]

    def fire(self, coro: Awaitable[Any]) -> None:
        """Run ``coro`` on the service's loop without waiting (safe from the loop's own thread: a
        pruned generator's clean-up runs there when the service closes it)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        future.add_done_callback(lambda f: f.exception())  # retrieved: a failed clean-up is not logged as lost


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
    # (metric, direction) of a mapping-valued objective (None: evaluate returns a value or steps)
    metrics: tuple[tuple[str, str], ...] | None = None
    bind: Callable[[Context], Evaluate] | None = None  # objectives calling services: evaluate per trial
    # the parameters it takes: a range's bounds (low, high), or a frozenset of allowed choices
    limits: Mapping[str, tuple[float, float] | frozenset[Any]] | None = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "params": list(self.params) if self.params is not None else
                sorted(self.limits) if self.limits is not None else None,
                "direction": self.direction, "optimum": self.optimum, "space": self.space,
                "metrics": None if self.metrics is None else [{"name": m, "direction": d} for m, d in self.metrics]}

    def bound(self, context: Context | None) -> Evaluate:
        """The function a trial runs: ``evaluate``, or ``bind(context)`` for one calling services."""
        if self.bind is None:
            return self.evaluate
        if context is None:
            raise RuntimeError(f"objective {self.name!r} calls other services and has no context here")
        return self.bind(context)

    def check_space(self, space: Mapping[str, Mapping[str, Any]]) -> None:
        """Refuse (400 naming ``space.<p>.<key>``) a parameter it does not take or a range past
        its bounds; a no-op for objectives without ``limits``."""
        if self.limits is None:
            return
        for name, spec in space.items():
            if name not in self.limits:
                raise InvalidSearchSpace(f"{self.name} takes no parameter {name!r}; it takes {sorted(self.limits)}",
                                         field=f"space.{name}")
            allowed = self.limits[name]
            if isinstance(allowed, frozenset):
                if spec["type"] != "categorical" or not set(spec["choices"]) <= allowed:
                    raise InvalidSearchSpace(f"{self.name}'s {name} is categorical, of {sorted(allowed)}",
                                             field=f"space.{name}.choices" if spec["type"] == "categorical"
                                             else f"space.{name}.type")
                continue
            low, high = allowed
            values = spec["choices"] if spec["type"] == "categorical" else [spec["low"], spec["high"]]
            for key, value in zip(("choices",) * len(values) if spec["type"] == "categorical" else ("low", "high"),
                                  values, strict=True):
                if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                    raise InvalidSearchSpace(f"{self.name}'s {name} must lie in [{low:g}, {high:g}]; got {value!r}",
                                             field=f"space.{name}.{key}")


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


# -- DIN (aria_interpret's evaluate-only trials) ---------------------------------------------------------
# What aria_interpret's start_din_trial takes (its TRIAL_LIMITS; it checks them again at each trial).
DIN_LIMITS: dict[str, tuple[float, float] | frozenset[Any]] = {
    "lr": (1e-5, 1.0), "reg": (0.0, 1.0), "dropout": (0.0, 0.9), "batch_size": (64, 8192),
    "item_dim": (2, 128), "category_dim": (1, 64), "attention_layers": (1, 3), "attention_width": (4, 256),
    "mlp_layers": (1, 3), "mlp_width": (8, 512), "threads": (1, 8), "precision": frozenset({"fp32", "bf16"}),
}
DIN_METRICS = (("gauc", "maximize"), ("parameters", "minimize"), ("latency_ms", "minimize"))


def _int_range(low: int, high: int) -> dict[str, Any]:
    return {"type": "int", "low": low, "high": high, "step": 1}


DIN_SPACE = {"lr": {"type": "float", "low": 3e-4, "high": 3e-2, "log": True},
             "reg": {"type": "float", "low": 0.0, "high": 0.05, "log": False},
             "dropout": {"type": "float", "low": 0.0, "high": 0.5, "log": False},
             "batch_size": {"type": "categorical", "choices": [256, 512, 1024, 2048]},
             "item_dim": _int_range(4, 32)}
DIN_ARCH_SPACE = {"item_dim": _int_range(4, 64), "category_dim": _int_range(2, 32),
                  "attention_layers": _int_range(1, 3), "attention_width": _int_range(8, 64),
                  "mlp_layers": _int_range(1, 3), "mlp_width": _int_range(16, 256)}


def _din_epochs(context: Context, key: str, default: int) -> int:
    return int(getattr(context.settings, key, default) or default)


def bind_din(context: Context) -> Evaluate:
    """Validation GAUC of aria_interpret's DIN with a trial's params, one value per epoch."""
    epochs = _din_epochs(context, "din_epochs", 3)

    def evaluate(params: Mapping[str, Any]) -> Iterator[float]:
        interpret = context.client("aria_interpret")
        trial = context.call(interpret.start_din_trial(context.caller, dict(params), epochs))["trial"]
        ended = False
        try:
            for _ in range(epochs):
                got = context.call(interpret.din_trial_epoch(context.caller, trial))
                yield float(got["valid"]["gauc"])
                if got["done"]:
                    break
            context.call(interpret.end_din_trial(context.caller, trial))
            ended = True
        finally:
            if not ended:  # pruned (closed on the service's loop) or failed: end it, do not wait
                context.fire(interpret.end_din_trial(context.caller, trial))

    return evaluate


def _run_din_trial(context: Context, params: Mapping[str, Any], epochs: int) -> dict[str, Any]:
    """One evaluate-only DIN trial in aria_interpret, epoch by epoch, ended whatever happens."""
    interpret = context.client("aria_interpret")
    trial = context.call(interpret.start_din_trial(context.caller, dict(params), epochs))["trial"]
    try:
        for _ in range(epochs):
            if context.call(interpret.din_trial_epoch(context.caller, trial))["done"]:
                break
    except BaseException:
        context.fire(interpret.end_din_trial(context.caller, trial))
        raise
    return context.call(interpret.end_din_trial(context.caller, trial))


def bind_din_arch(context: Context) -> Evaluate:
    """{gauc (best epoch's validation), parameters, latency_ms} of a DIN architecture."""
    epochs = _din_epochs(context, "din_arch_epochs", 2)

    def evaluate(params: Mapping[str, Any]) -> dict[str, float]:
        result = _run_din_trial(context, params, epochs)
        return {"gauc": float(result["valid"]["gauc"]), "parameters": float(result["parameters"]),
                "latency_ms": float(result["latency_ms"])}

    return evaluate


def bind_din_pipeline(context: Context) -> Evaluate:
    """{samples_per_s (training throughput), gauc (best epoch's validation)} of DIN's training
    pipeline settings (batch size, threads, precision)."""
    epochs = _din_epochs(context, "din_pipeline_epochs", 2)

    def evaluate(params: Mapping[str, Any]) -> dict[str, float]:
        result = _run_din_trial(context, params, epochs)
        return {"samples_per_s": float(result["samples_per_s"]), "gauc": float(result["valid"]["gauc"])}

    return evaluate


def _remote(params: Mapping[str, Any]) -> Any:
    raise RuntimeError("this objective runs in aria_interpret: a trial binds it (Objective.bound)")


DIN = Objective("din", _remote, "aria_interpret's DIN on a MovieLens-100k subset: validation GAUC per epoch",
                None, "maximize", None, DIN_SPACE, bind=bind_din, limits=DIN_LIMITS)
DIN_ARCH = Objective("din-arch", _remote, "DIN architectures: validation GAUC, parameter count, scoring latency",
                     None, "maximize", None, DIN_ARCH_SPACE, metrics=DIN_METRICS, bind=bind_din_arch,
                     limits=DIN_LIMITS)


# -- the tiny Qwen3 of aria_shape (its evaluate-only architecture trials) ---------------------------------
QWEN3_LIMITS: dict[str, tuple[float, float] | frozenset[Any]] = {"num_layers": (1, 6), "hidden_size": (16, 256),
                                                                 "num_heads": (1, 8)}
QWEN3_ARCH_SPACE = {"num_layers": _int_range(1, 3),
                    "hidden_size": {"type": "int", "low": 32, "high": 128, "step": 32},
                    "num_heads": {"type": "categorical", "choices": [2, 4]}}


def bind_qwen3_arch(context: Context) -> Evaluate:
    """{loss (held-out), parameters, latency_ms} of a tiny Qwen3 architecture, from aria_shape."""
    steps = _din_epochs(context, "qwen3_arch_steps", 30)

    def evaluate(params: Mapping[str, Any]) -> dict[str, float]:
        got = context.call(context.client("aria_shape").evaluate_architecture(context.caller, dict(params), steps))
        return {"loss": float(got["loss"]), "parameters": float(got["parameters"]),
                "latency_ms": float(got["latency_ms"])}

    return evaluate


QWEN3_ARCH = Objective("qwen3-arch", _remote, "aria_shape's tiny Qwen3 architectures: "
                       "held-out loss, parameter count, forward latency", None, "minimize", None, QWEN3_ARCH_SPACE,
                       metrics=(("loss", "minimize"), ("parameters", "minimize"), ("latency_ms", "minimize")),
                       bind=bind_qwen3_arch, limits=QWEN3_LIMITS)


DIN_PIPELINE_SPACE = {"batch_size": {"type": "categorical", "choices": [256, 512, 1024, 2048, 4096]},
                      "threads": _int_range(1, 2),
                      "precision": {"type": "categorical", "choices": ["fp32", "bf16"]}}
DIN_PIPELINE = Objective("din-pipeline", _remote, "DIN's training pipeline: samples per second and validation GAUC",
                         None, "maximize", None, DIN_PIPELINE_SPACE,
                         metrics=(("samples_per_s", "maximize"), ("gauc", "maximize")), bind=bind_din_pipeline,
                         limits=DIN_LIMITS)


BUILTIN: dict[str, Objective] = {
    "branin": Objective("branin", branin, "Branin-Hoo, 2-d, three global minima", ("x1", "x2"), "minimize",
                        BRANIN_MIN, {"x1": _box(-5.0, 10.0), "x2": _box(0.0, 15.0)}),
    "hartmann6": Objective("hartmann6", hartmann6, "Hartmann, 6-d on the unit cube", _H6, "minimize",
                           HARTMANN6_MIN, {name: _box(0.0, 1.0) for name in _H6}),
    "din": DIN,
    "din-arch": DIN_ARCH,
    "din-pipeline": DIN_PIPELINE,
    "qwen3-arch": QWEN3_ARCH,
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
                         found.space, found.metrics, found.bind, found.limits)
    if not callable(found):
        raise UnknownObjective(f"objective {name!r} ({target}) is neither an Objective nor a function",
                               field="objective", objective=name)
    return Objective(name, found, (found.__doc__ or "").strip().splitlines()[0] if found.__doc__ else "")
