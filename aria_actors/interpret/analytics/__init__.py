"""Analytics models of aria_interpret: behaviour patterns, interaction statistics, development
prediction, content-based and collaborative recommendations, each with its evaluation.

::

    patterns.py      action sequences -> PrefixSpan patterns, TF-IDF n-gram k-means clusters
    interactions.py  interactions     -> pair counts, Poisson rate CIs, binomial tests + BH, reciprocity
    development.py   version history  -> multinomial logistic model of the next change (vs frequency)
    content.py       embeddings       -> kNN similarity-weighted trait votes (vs popularity)
    cf.py            players' picks   -> implicit ALS / item-item cosine (vs popularity)
    synthetic.py     seeded inputs with planted structure for tests and the bench

Guarantees and caveats
----------------------
- Importing this package imports nothing heavy: numpy only; scipy and scikit-learn are imported
  by the functions that need them.
- Every entry point validates its input and raises aria_interpret's typed errors
  (``InvalidFeatures``, ``InvalidInteraction``, ``NotEnoughData``); results are JSON-able dicts.
"""

from __future__ import annotations

__all__: list[str] = []
