"""Errors of aria_workflow: each says what went wrong and how to fix it, with the culprit as fields.

Two families: errors of a request (a 4xx problem+json, stable ``type``), and what a running
workflow body meets (:class:`StepFailed`, :class:`SignalTimeout`, :class:`Cancelled`), which a
Python body may catch to recover.
"""

from __future__ import annotations

from typing import Any

from aria_actors.runtime.errors import AriaError, BadRequest, Conflict, NotFound


class WorkflowError(AriaError):
    """Something went wrong in aria_workflow."""

    type = "workflow"
    status = 500
    title = "Workflow error"


class InvalidDefinition(WorkflowError, BadRequest):
    """The workflow definition is malformed, cyclic, names something unknown, or has a step that can
    never run; the message names the place (``where``) and the problem."""

    type = "workflow-invalid-definition"
    status = 422
    title = "Invalid workflow definition"


class InvalidInput(WorkflowError, BadRequest):
    """A workflow's input, a signal's payload or an operator's edit does not validate; fix the
    named field."""

    type = "workflow-invalid-input"
    status = 422
    title = "Invalid workflow input"


class UnknownWorkflow(WorkflowError, NotFound):
    """No workflow definition of that name; `aria workflow definitions` lists them."""

    type = "workflow-unknown"
    status = 404
    title = "Unknown workflow"


class UnknownVersion(WorkflowError, NotFound):
    """The workflow has no such version; `aria workflow versions NAME` lists them."""

    type = "workflow-unknown-version"
    status = 404
    title = "Unknown workflow version"


class UnknownRun(WorkflowError, NotFound):
    """No run with that id (or not one the caller may see); `aria workflow runs` lists them."""

    type = "workflow-unknown-run"
    status = 404
    title = "Unknown workflow run"


class RunStateConflict(WorkflowError, Conflict):
    """The run is not in a state that allows this (a signal to a finished run, resuming a run that is
    not paused...); the message says the run's state and what it allows."""

    type = "workflow-run-state"
    status = 409
    title = "Workflow run state conflict"


class NonDeterminism(WorkflowError):
    """A resumed run asked for a different step than the one recorded at that place: the code of
    its version changed under it. Deploy changed code as a new version and migrate explicitly."""

    type = "workflow-non-determinism"
    status = 500
    title = "Workflow replay diverged"


class StepFailed(WorkflowError):
    """A step failed after its retries; ``key`` names it and ``error`` holds what it raised."""

    type = "workflow-step-failed"
    status = 500
    title = "Workflow step failed"

    def __init__(self, key: str, error: dict[str, Any], message: str | None = None) -> None:
        super().__init__(message or f"step {key!r} failed: {error.get('message') or error.get('type')}",
                         key=key, error=error)
        self.key = key
        self.error = error


class SignalTimeout(WorkflowError):
    """No signal of that name reached the run before its timeout."""

    type = "workflow-signal-timeout"
    status = 500
    title = "Workflow signal timed out"

    def __init__(self, name: str) -> None:
        super().__init__(f"no signal {name!r} arrived before the timeout", signal=name)
        self.name = name


class Cancelled(WorkflowError):
    """The run was cancelled by an operator."""

    type = "workflow-cancelled"
    status = 409
    title = "Workflow cancelled"
