"""One BLAS/OpenMP thread for the analytics fits.

The models here fit small dense problems (thousands of rows, tens to hundreds of columns), where
BLAS and OpenMP thread pools cost more in start-up and contention than they gain: measured on the
2-core dev machine, a multinomial logistic fit took 0.86 s with the default pools and 0.16 s with
one thread. The service also runs these next to other work in the same process.

Guarantees and caveats
----------------------
- Only limits the pools for the duration of the ``with`` block (threadpoolctl, a scikit-learn
  dependency); falls back to doing nothing when threadpoolctl is not installed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    try:
        # threadpoolctl comes with scikit-learn, which the callers import anyway; optional otherwise
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - without scikit-learn
        yield
        return
    with threadpool_limits(limits=1):
        yield
