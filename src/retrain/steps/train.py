"""Train: fit a candidate on the snapshot's train part and register it (:func:`retrain.candidates.fit_and_register`).

The fitting itself is :func:`retrain.fitting.fit_snapshot`, which a SageMaker
training job runs too (engine ``sagemaker``); :func:`retrain.candidates.register_fitted`
registers either engine's result the same way.
"""

from __future__ import annotations

from retrain.candidates import fit_and_register
from retrain.contracts import Candidate, Run, SnapshotRef
from retrain.fitting import LIBRARIES, MIN_PROFILE_ROWS, library_versions, model_profile
from retrain.settings import Settings
from retrain.steps.model_config import load_model_config
from retrain.trigger_record import TriggerRecord

__all__ = [
    "LIBRARIES",
    "MIN_PROFILE_ROWS",
    "fit_and_register",
    "library_versions",
    "model_profile",
    "run",
]


def run(run: Run, ref: SnapshotRef, *, settings: Settings) -> Candidate:
    config = load_model_config(settings, run.model)
    return fit_and_register(
        settings, config, ref, trigger=run.trigger, execution=run.execution, triggered_by=TriggerRecord.of_run(run)
    )
