"""Validate: the candidate against absolute gates and the champion on the same holdout.

The judging itself is :func:`retrain.candidates.evaluate`, which ``retrain bootstrap`` runs too.
"""

from __future__ import annotations

from retrain.candidates import evaluate
from retrain.contracts import Candidate, Run, SnapshotRef, ValidationOut
from retrain.settings import Settings
from retrain.steps.model_config import load_model_config
from retrain.windows import window_bounds


def run(run: Run, ref: SnapshotRef, candidate: Candidate, *, settings: Settings) -> ValidationOut:
    config = load_model_config(settings, run.model)
    return evaluate(settings, config, ref, candidate, window=window_bounds(run))
