"""Errors of aria_tune: each says what went wrong and how to fix it, with the culprit as fields."""

from __future__ import annotations

from aria_actors.runtime.errors import AriaError


class TuneError(AriaError):
    """Something went wrong in aria_tune."""

    type = "tune"
    status = 500
    title = "Tuning error"


class InvalidSearchSpace(TuneError):
    """The search space is empty, or a parameter's range or choices are contradictory or too
    many; fix the named field (``space.<param>.<key>``)."""

    type = "tune-invalid-space"
    status = 400
    title = "Invalid search space"


class InvalidStudy(TuneError):
    """A study setting is out of range (direction, sampler, pruner, budget, parallelism); fix the
    named field."""

    type = "tune-invalid-study"
    status = 400
    title = "Invalid study"


class UnknownObjective(TuneError):
    """No objective is registered under this name; ``GET /v1/tune/objectives`` lists them (an
    operator adds more with ``ARIA_TUNE_OBJECTIVES``)."""

    type = "tune-unknown-objective"
    status = 400
    title = "Unknown objective"


class UnknownStudy(TuneError):
    """No study of this name is visible to the caller in its tenant; ``aria tune study ls``
    lists them."""

    type = "tune-unknown-study"
    status = 404
    title = "Unknown study"


class StudyExists(TuneError):
    """A study of this name exists in the tenant already; choose another name or delete it."""

    type = "tune-study-exists"
    status = 409
    title = "Study exists"


class StudyStateConflict(TuneError):
    """The study's status does not allow this now (a completed study optimizes further only with
    a larger budget); look at its status and retry."""

    type = "tune-study-state"
    status = 409
    title = "Study state conflict"
