"""Characters: templates with constraints (:mod:`.templates`), sampling them (:mod:`.sampler`),
portraits (:mod:`.portrait`), personality profiles (:mod:`.personality`) and the prompt format
of trait descriptions (:mod:`.corpus`). Plain Python and pydantic: no torch, no ray."""
