"""aria_shape: Character generation with Qwen3-family models and GRPO training.

Light imports only (pydantic): the model, GRPO and Ray modules load torch and are imported from
their own modules (``aria_actors.shape.model``, ``.training.grpo``, ``.training.policy``,
``.training.loop``). Packages by concern: ``characters/`` (templates, sampling, portraits,
personality), ``inference/`` (the backend contract, ``backends/``, A/B traffic, streams) and
``training/`` (GRPO, checkpoints, the queue job, the service's runs).
"""

from __future__ import annotations

from aria_actors.shape.characters.sampler import CharacterSampler
from aria_actors.shape.characters.templates import Character, Template, check_character, validate_character
from aria_actors.shape.errors import (
    ImpossibleTemplate,
    InvalidCharacter,
    InvalidTemplate,
    ModelLoadError,
    ShapeError,
    TemplateTooHard,
    TrainingDiverged,
    UnknownModelVersion,
    UnknownTemplate,
)

__all__ = [
    "Character",
    "CharacterSampler",
    "ImpossibleTemplate",
    "InvalidCharacter",
    "InvalidTemplate",
    "ModelLoadError",
    "ShapeError",
    "Template",
    "TemplateTooHard",
    "TrainingDiverged",
    "UnknownModelVersion",
    "UnknownTemplate",
    "check_character",
    "validate_character",
]
