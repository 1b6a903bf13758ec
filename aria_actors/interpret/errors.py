"""Errors of aria_interpret: each says what went wrong and how to fix it, with the culprit as fields."""

from __future__ import annotations

from aria_actors.runtime.errors import AriaError


class InterpretError(AriaError):
    """Something went wrong in aria_interpret."""

    type = "interpret"
    status = 500
    title = "Interpretation error"


class InvalidText(InterpretError):
    """The text is not a string, is blank, too long, or holds control characters; send 1 to
    ``max_chars`` characters."""

    type = "interpret-invalid-text"
    status = 422
    title = "Invalid text"


class InvalidFeatures(InterpretError):
    """A feature value is not a finite number, or an id is malformed; fix the named field."""

    type = "interpret-invalid-features"
    status = 422
    title = "Invalid features"


class InvalidInteraction(InterpretError):
    """An interaction record is malformed (unknown kind, bad id, non-finite value); fix the named
    field."""

    type = "interpret-invalid-interaction"
    status = 422
    title = "Invalid interaction"


class NotEnoughData(InterpretError):
    """The model needs more data than there is (e.g. no interactions yet); record some and retry."""

    type = "interpret-not-enough-data"
    status = 409
    title = "Not enough data"


class ModelArtifactError(InterpretError):
    """A stored model version cannot be loaded (corrupted, truncated, or of another format); the
    previously served version keeps serving. Train or register a new version."""

    type = "interpret-model-artifact"
    status = 422
    title = "Model version cannot be loaded"


class UnknownModelVersion(InterpretError):
    """No model version has this id; list versions to see which exist."""

    type = "interpret-unknown-model-version"
    status = 404
    title = "Unknown model version"


class NoModel(InterpretError):
    """No model version is served yet; train one (or wait for the scheduled training)."""

    type = "interpret-no-model"
    status = 409
    title = "No model served"


class InvalidTraffic(InterpretError):
    """The A/B split is malformed (unknown version, negative or zero weights); fix ``weights``."""

    type = "interpret-invalid-traffic"
    status = 422
    title = "Invalid traffic split"
