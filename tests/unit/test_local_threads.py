"""The local cloud bounds native thread pools to one thread, unless the user sized them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

#: numpy first (its BLAS pool loads before the local cloud), scikit-learn's OpenMP after it.
PROBE = (
    "import json, numpy, os, retrain.local, sklearn.ensemble\n"
    "from threadpoolctl import threadpool_info\n"
    "print(json.dumps({'env': os.environ.get('OMP_NUM_THREADS'),"
    " 'pools': sorted({(i['internal_api'], i['num_threads']) for i in threadpool_info()})}))\n"
)


def _probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env={**clean, **env}
    )
    return json.loads(done.stdout)


def test_every_pool_gets_one_thread_when_nothing_sized_it() -> None:
    probed = _probe()

    assert probed["env"] == "1"
    assert {api for api, _ in probed["pools"]} >= {"openmp", "openblas"}
    assert all(threads == 1 for _, threads in probed["pools"]), probed


def test_a_size_the_user_chose_is_kept() -> None:
    probed = _probe(OMP_NUM_THREADS="2")

    assert probed["env"] == "2"
    assert ("openmp", 2) in [tuple(p) for p in probed["pools"]], probed
