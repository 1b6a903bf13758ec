"""Prometheus metrics of aria_workflow: runs started and ended, step durations and failures.

Labels are workflow and step names (bounded by the definitions), never run ids.
"""

from __future__ import annotations

from aria_actors.runtime.metrics_text import Counter, Histogram, Registry

_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600)


class _Metrics:
    def __init__(self) -> None:
        self.registry = reg = Registry()  # this process's workflow series only (the shell renders its own)
        self.runs_started = Counter("aria_workflow_runs_started", "Workflow runs started (or resumed)",
                                    ["workflow"], registry=reg)
        self.runs_finished = Counter("aria_workflow_runs_finished", "Workflow runs ended, by final state",
                                     ["state"], registry=reg)
        self.run_seconds = Histogram("aria_workflow_run_seconds", "Time a run's task ran (per start or resume)",
                                     ["workflow"], buckets=_BUCKETS, registry=reg)
        self.step_seconds = Histogram("aria_workflow_step_seconds", "Duration of completed steps (all attempts)",
                                      ["workflow", "step"], buckets=_BUCKETS, registry=reg)
        self.step_failures = Counter("aria_workflow_step_failures", "Steps failed after their retries",
                                     ["workflow", "step"], registry=reg)

    def run_started(self, workflow: str) -> None:
        self.runs_started.labels(workflow).inc()

    def run_ended(self, workflow: str, seconds: float) -> None:
        self.run_seconds.labels(workflow).observe(seconds)

    def run_finished(self, state: str) -> None:
        self.runs_finished.labels(state).inc()

    def step_done(self, workflow: str, step: str, seconds: float) -> None:
        self.step_seconds.labels(workflow, step).observe(seconds)

    def step_failed(self, workflow: str, step: str) -> None:
        self.step_failures.labels(workflow, step).inc()


METRICS = _Metrics()
