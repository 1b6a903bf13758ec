"""Where one model version comes from: :class:`ModelSource`, what a process needs to load it.

Its own module, apart from the settings (:mod:`aria_actors.shape.config`) it is made of and the
model (:mod:`aria_actors.shape.model`) it loads, so that neither imports the other through it:
``model`` imports ``config``; this module imports ``config`` and, when a process loads a model,
``model``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aria_actors.shape.config import ShapeSettings


@dataclass(frozen=True)
class ModelSource:
    """Everything a process needs to load one model version: the config (its ``model_path`` the
    checkpoint, empty for the tiny model) and ``ARIA_HOME`` (where the tiny model is built).
    Picklable: it travels to Serve replicas and engine processes."""

    config: dict[str, Any]
    home: str | None = None
    # Aria's Ray namespace, where aria_storage is: a version trained on another node is fetched
    # from it where it is loaded (a Serve replica runs in Serve's namespace, not Aria's).
    namespace: str | None = None

    @classmethod
    def of(cls, config: ShapeSettings, home: Path | str | None = None, model_path: str = "",
           namespace: str | None = None) -> ModelSource:
        body = config.model_dump(mode="json")
        if model_path:
            body["model_path"] = model_path
        return cls(body, None if home is None else str(home), namespace)

    @classmethod
    def for_path(cls, model_path: str, num_threads: int = 1) -> ModelSource:
        return cls({"model_path": model_path, "num_threads": num_threads})

    @property
    def label(self) -> str:
        return str(self.config.get("model_path") or "tiny")

    def shape_config(self) -> ShapeSettings:
        return ShapeSettings(**self.config)

    def ensure_local(self) -> ModelSource:
        """This source with its checkpoint on this node: a version trained through aria_storage on
        another node (another ARIA_HOME, even) is fetched into this node's checkpoint root, and
        the source names it there; any other model is as it was."""
        path = str(self.config.get("model_path") or "")
        if path and self.home is not None:
            # light: the checkpoint sink's module, without torch; Ray only if something is missing
            from aria_actors.shape.training.checkpoints import fetch_trained

            local = fetch_trained(self.home, path, namespace=self.namespace)
            if local is not None and str(local) != path:
                return replace(self, config={**self.config, "model_path": str(local)})
        return self

    def load(self) -> Any:
        """The :class:`~aria_actors.shape.model.LoadedModel` (imports torch)."""
        # heavy: model.py imports torch and transformers; only a process that runs the model loads it
        from aria_actors.shape.model import load_model

        source = self.ensure_local()
        return load_model(source.shape_config(), home=None if self.home is None else Path(self.home))
