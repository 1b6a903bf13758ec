"""The generation backends of :mod:`aria_actors.shape.inference.contract`: in this process
(:mod:`.local`) or through Ray Serve (:mod:`.serve`, :mod:`.deployment`, :mod:`.engine`);
:mod:`.choose` picks one. Imports nothing, so that ``python -m ...backends.engine`` stays cheap."""
