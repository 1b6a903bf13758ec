"""Errors of aria_shape: each says what went wrong and how to fix it, with the culprit as fields."""

from __future__ import annotations

from aria_actors.runtime.errors import AriaError


class ShapeError(AriaError):
    """Something went wrong in aria_shape."""

    type = "shape"
    status = 500
    title = "Character shaping error"


class InvalidTemplate(ShapeError):
    """The template is malformed (unknown trait or attribute in a constraint, empty range...);
    fix the named field."""

    type = "shape-invalid-template"
    status = 422
    title = "Invalid character template"


class ImpossibleTemplate(ShapeError):
    """No character can satisfy all of this template's constraints together; drop or relax one of
    the constraints named in `constraints`, or widen the trait count bounds."""

    type = "shape-impossible-template"
    status = 422
    title = "Template constraints cannot be met together"


class TemplateTooHard(ShapeError):
    """The constraint search gave up after its node budget without deciding the template; simplify
    the constraints or raise `node_budget`."""

    type = "shape-template-too-hard"
    status = 422
    title = "Template constraint search exhausted"


class InvalidCharacter(ShapeError):
    """The character does not fit its template; each entry of `errors` names a field and what is
    wrong with it."""

    type = "shape-invalid-character"
    status = 422
    title = "Invalid character"


class UnknownTemplate(ShapeError):
    """No template has this name; list templates to see which exist."""

    type = "shape-unknown-template"
    status = 404
    title = "Unknown template"


class UnknownModelVersion(ShapeError):
    """No model version has this id; list model versions to see which exist."""

    type = "shape-unknown-model-version"
    status = 404
    title = "Unknown model version"


class ModelVersionExists(ShapeError):
    """A model version with this id is registered already; versions are never overwritten, so
    give the new one another id."""

    type = "shape-model-version-exists"
    status = 409
    title = "Model version exists"


class ModelLoadError(ShapeError):
    """The model at `path` could not be loaded; point ARIA_SHAPE_MODEL_PATH (or ARIA_MODEL_PATH) at a
    directory holding a Qwen3 checkpoint (config.json, weights, tokenizer), or leave it empty to
    build the tiny local model."""

    type = "shape-model-load"
    status = 503
    title = "Model cannot be loaded"


class TrainingDiverged(ShapeError):
    """Training stopped because the loss became non-finite at `step`; the last good checkpoint is
    kept at `checkpoint`. Lower the learning rate or the clipping range and resume from it."""

    type = "shape-training-diverged"
    status = 500
    title = "Training diverged"


class TrainingConfigError(ShapeError):
    """The training configuration is inconsistent (batch not divisible by the group size or the
    number of learners...); fix the named field."""

    type = "shape-training-config"
    status = 400
    title = "Invalid training configuration"


class CheckpointNotTrusted(ShapeError):
    """A checkpoint version of the run was written by someone other than the run's caller (or
    aria_shape): anyone may put versions under a run's asset names, so a run reads back only its
    own. Resume under a new run (model version) id, or delete the foreign versions (`owner`)."""

    type = "shape-checkpoint-not-trusted"
    status = 409
    title = "Checkpoint written by someone else"


class TrainingRunConflict(ShapeError):
    """A training job for this model version that aria_shape did not start (enqueued directly on
    aria_queue, or with other arguments) holds the version's unique key; it is never registered.
    Cancel it, or train under another version id."""

    type = "shape-training-run-conflict"
    status = 409
    title = "Training job not started by aria_shape"


class VersionConflict(ShapeError):
    """The character changed since the version the caller's edit was made on (``expected_version``):
    nothing was stored; read the latest version and make the edit again on it."""

    type = "shape-version-conflict"
    status = 409
    title = "Character changed by someone else"


class InvalidTraffic(ShapeError):
    """The traffic split is invalid (no version, a negative weight, all weights zero); give each
    version a weight >= 0 with at least one above 0."""

    type = "shape-invalid-traffic"
    status = 400
    title = "Invalid traffic split"


class NoTrafficSplit(ShapeError):
    """No A/B test is running, so there is nothing to give feedback on; start one with
    ``PUT /v1/shape/traffic`` (set_traffic)."""

    type = "shape-no-traffic-split"
    status = 409
    title = "No A/B test running"


class UnknownResponse(ShapeError):
    """Feedback names a response this A/B test did not serve to the caller from that version (a
    response id from ``POST /v1/shape/complete`` or ``/stream``'s ``done`` event, with the version
    it answered, as the same caller; ids of an earlier split expire with it)."""

    type = "shape-unknown-response"
    status = 404
    title = "Unknown response"


class NothingToPromote(ShapeError):
    """Promotion needs a version: name one, or run an A/B test and collect feedback so that it
    has a leader."""

    type = "shape-nothing-to-promote"
    status = 409
    title = "Nothing to promote"


class EngineError(ShapeError):
    """The model engine process of a Serve replica failed a request or died (its message is
    included, `model` names the model path). If it died, restart the deployment: a new replica
    starts a new engine."""

    type = "shape-engine-error"
    status = 503
    title = "Model engine failed"


class InvalidText(ShapeError):
    """The text to read a personality from is empty or too long (`max_chars`); send one to a few
    sentences."""

    type = "shape-invalid-text"
    status = 422
    title = "Invalid text"
