"""What every benchmark prints first: the machine and libraries its timings were taken on."""

from __future__ import annotations

import os
import platform


def machine() -> str:
    """Threads, CPUs, load, numpy, pandas and Python versions, on one line: timings mean little without them."""
    import numpy as np
    import pandas as pd

    return (
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"CPUs {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), load {os.getloadavg()[0]:.2f}, "
        f"numpy {np.__version__}, pandas {pd.__version__}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
