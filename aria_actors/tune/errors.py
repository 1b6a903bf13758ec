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


class UnknownService(TuneError):
    """No Aria service has this name; ``GET /v1/tune/resources`` lists them all."""

    type = "tune-unknown-service"
    status = 404
    title = "Unknown service"


class UnknownProposal(TuneError):
    """No resource proposal has this id; ``aria tune resources proposals`` lists them."""

    type = "tune-unknown-proposal"
    status = 404
    title = "Unknown proposal"


class ProposalDecided(TuneError):
    """The proposal was accepted or rejected already; a decision is final (record a new proposal)."""

    type = "tune-proposal-decided"
    status = 409
    title = "Proposal decided"


class UnknownCache(TuneError):
    """No service process reports a cache of this name; ``aria tune caches ls`` lists them."""

    type = "tune-unknown-cache"
    status = 404
    title = "Unknown cache"


class UnknownKnob(TuneError):
    """The auto-tuner has no knob of this name; ``aria tune autotune knobs`` lists them."""

    type = "tune-unknown-knob"
    status = 404
    title = "Unknown knob"


class UnknownTarget(TuneError):
    """The knob has no target of this name (a queue, ...); ``aria tune autotune knobs`` lists them."""

    type = "tune-unknown-target"
    status = 404
    title = "Unknown target"


class UnknownChange(TuneError):
    """No auto-tuning change has this id; ``aria tune autotune ls`` lists them."""

    type = "tune-unknown-change"
    status = 404
    title = "Unknown change"


class ChangeConflict(TuneError):
    """The change is not in a state that allows this, or another change of the same knob and
    target is open (proposed or being measured); wait for it or reject it."""

    type = "tune-change-conflict"
    status = 409
    title = "Change conflict"


class UnknownABTest(TuneError):
    """No A/B test has this name; ``aria tune ab ls`` lists them."""

    type = "tune-unknown-ab-test"
    status = 404
    title = "Unknown A/B test"


class ABTestConflict(TuneError):
    """The A/B test cannot do this now: the name is taken, the target runs another test, the test
    has ended, its split was replaced, or there is no verdict yet (collect more feedback); the
    fields say which."""

    type = "tune-ab-test-conflict"
    status = 409
    title = "A/B test conflict"
