"""Where aria_shape's generation runs: a backend per process, chosen once.

::

    ShapeService (generation.py, versions.py) --complete/embed/stream(version, ...)--> backend
        contract.py: the calls every backend answers (Backend, Completion) and what each keeps
                     per version (VersionBook); runner.py: one loaded model behind a lock
        backends/serve.py (inside a Ray actor): one Serve application per version
            aria_shape_inference_<version> -> ShapeInference replicas (backends/deployment.py,
            batched by batching.py) -> engine process (backends/engine.py)
        backends/local.py (unit tests, LocalLauncher, tools): each version's model in this process
        backends/choose.py: which of the two a process uses

Beside them: the A/B split (traffic.py), the served version and its metrics (versions.py) and
token streams (streams.py). Nothing here imports torch or ray at import time, except
``backends/deployment.py`` (ray), which only whoever deploys imports.
"""
