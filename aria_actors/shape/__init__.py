"""aria_shape: Character generation with Qwen3-family models and GRPO training.

Light imports only (pydantic): the model, GRPO and Ray modules load torch and are imported from
their own modules (``aria_actors.shape.model``, ``.grpo``, ``.policy``, ``.training``).
"""

from __future__ import annotations

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
from aria_actors.shape.sampler import CharacterSampler
from aria_actors.shape.templates import Character, Template, check_character, validate_character

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
