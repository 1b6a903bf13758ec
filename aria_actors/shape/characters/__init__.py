"""Characters: templates with constraints (:mod:`.templates`), sampling them (:mod:`.sampler`),
portraits (:mod:`.portrait`), personality profiles from a trained model (:mod:`.personality`, over
the sentence embeddings of :mod:`.embedding`) and the prompt format of trait descriptions
(:mod:`.corpus`). Plain Python, pydantic and numpy at import; torch and transformers load only
when :mod:`.embedding` first embeds text."""
