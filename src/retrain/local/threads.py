"""One thread per native pool in the local cloud: a 2-core machine runs several Lambda functions at once.

On Lambda each function has its own sandbox and its own vCPU share. The local
cloud runs every function in one process, several at a time, beside moto and
often beside a test suite; OpenMP (scikit-learn's histogram boosting), OpenBLAS
and MKL each start a pool as wide as the machine, and their idle workers spin. On
a busy 2-core machine one small fit took 6.7 s with the pools against 0.32 s
without. :func:`bound_native_threads` gives each pool one thread unless the user
chose a size: through the environment before a library loads (OpenMP reads it
once, when scikit-learn first imports it) and through threadpoolctl for the ones
already loaded.
"""

from __future__ import annotations

import os
import sys

#: Environment variables that size the native pools numpy, scipy and scikit-learn use.
POOL_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def bound_native_threads() -> None:
    """One thread per native pool, unless ``OMP_NUM_THREADS`` (or a pool's own variable) says otherwise."""
    chosen = {name for name in POOL_VARIABLES if os.environ.get(name)}
    for name in POOL_VARIABLES:
        os.environ.setdefault(name, "1")
    if "OMP_NUM_THREADS" not in chosen and {"numpy", "sklearn", "scipy"} & set(sys.modules):
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)  # the pools loaded before this call (the environment is read at load)
