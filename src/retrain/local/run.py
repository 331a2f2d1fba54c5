"""``retrain local-run``: one whole retraining run on the local cloud.

1. Deploy the template to moto.
2. Train the first champion from REF (``retrain bootstrap``'s code: version 1 is
   promoted, and the model registered - its config stored, its schedule and
   alarms created - only if it passes its gates; otherwise the run fails naming
   them).
3. Score CUR with the champion, as production would, and write the inference
   log (ids, timestamps spread over the monitoring window in CUR's order,
   features, predictions) and the labels to the data bucket.
4. Fire the trigger (the model's Scheduler schedule, one of its alarms, or a
   manual request through EventBridge), wait for the execution, and write
   ``result.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from retrain import aws, fleet, registry, reports, result, training
from retrain.config import ModelConfig
from retrain.data import inference_prefix, labels_prefix, partition_key, to_parquet_bytes
from retrain.errors import DataNotFound, RetrainError
from retrain.lifecycle import bootstrap
from retrain.local.inputs import Inputs, read_inputs, window_ids, window_stamps
from retrain.local.progress import StatePrinter as StatePrinter  # re-exported: it lived here
from retrain.settings import Settings
from retrain.triggers import retrain_request

if TYPE_CHECKING:
    from retrain.local.cloud import LocalCloud
    from retrain.local.progress import Phase, Progress

TRIGGERS = ("schedule", "alarm", "manual")
StateCallback = Callable[[dict[str, Any]], None]


def _phase(progress: Progress | None, text: str) -> AbstractContextManager[Phase | None]:
    """``progress.phase(text)``, or nothing (None) without a progress."""
    return nullcontext() if progress is None else progress.phase(text)


def _file_name(source: str) -> str:
    """A table's name for a progress line: ``--current window data/cur.csv`` -> ``cur.csv``."""
    return source.rsplit("/", 1)[-1]


def settings_of(cloud: LocalCloud) -> Settings:
    return Settings.model_validate(cloud.environment())


def production_log(
    config: ModelConfig,
    current: pd.DataFrame,
    champion: Any,
    *,
    end: datetime,
    prefix: str = "cur",
    flagged: Any = None,
    source: str = "current window",
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """What production would have logged for CUR: the inference log and the delayed labels.

    Ids and timestamps: a window that has the ``monitoring.id_column`` keeps its
    ids (they must be unique), and one that has the ``monitoring.timestamp_column``
    keeps its timestamps (see :func:`window_stamps`): rows are ordered by them,
    and if any lies outside the monitoring window ending at ``end`` they are
    shifted as a block so the last one falls just before ``end``. Otherwise ids
    are ``<prefix>-NNNNNNN`` and timestamps are spread evenly over the monitoring
    window, in CUR's order, leaving its first 1% (at most 10 minutes) empty: a
    trigger fired a little after ``end`` still finds every row in its window.

    Features CUR lacks are scored as missing (the model's imputers), but the
    log keeps CUR's own columns, so a schema change upstream reaches the checks
    as it would in production. A classifier's log
    also has its class probabilities, one column ``<monitoring.proba_prefix><class>``
    per class of the champion (what ROC AUC, log loss, Brier and the label-free
    estimate need). ``flagged`` (one boolean per row) becomes the
    ``monitoring.flagged_column`` column: the predictions people flagged.

    Raises
    ------
    SchemaMismatch
        CUR's own id column repeats an id, or its timestamp column holds a value
        that is not a timestamp (``source`` names CUR in the message).
    """
    mon = config.monitoring
    n = len(current)
    current = current.reset_index(drop=True)
    order = np.arange(n)
    if mon.timestamp_column in current.columns:
        stamps = window_stamps(current[mon.timestamp_column], end=end, window_days=mon.window_days, source=source)
        order = np.argsort(stamps.to_numpy(), kind="stable")
        current, stamps = current.iloc[order].reset_index(drop=True), stamps.iloc[order].reset_index(drop=True)
    else:
        span = timedelta(days=mon.window_days)
        margin = min(span / 100, timedelta(minutes=10))
        offsets = np.linspace(0.0, 1.0, n, endpoint=False) if n else np.array([])
        spread = [end - span + margin + (span - margin) * float(f) for f in offsets]
        stamps = pd.Series(pd.to_datetime(spread, utc=True))
    if mon.id_column in current.columns:
        ids = window_ids(current[mon.id_column], source=source)
    else:
        ids = pd.Series([f"{prefix}-{i:07d}" for i in range(n)])
    scoring = current.reindex(columns=[*config.features.all, *current.columns.difference(config.features.all)])
    predictions = training.predict(champion, scoring, config, source=source)
    log = current.drop(columns=[config.target, mon.id_column, mon.timestamp_column], errors="ignore").copy()
    log.insert(0, mon.timestamp_column, stamps.to_numpy())
    log.insert(0, mon.id_column, ids.to_numpy())
    log[mon.prediction_column] = predictions
    if config.problem == "classification" and hasattr(champion, "predict_proba") and n:
        proba = champion.predict_proba(training.feature_frame(scoring, config, source=source))
        for i, label in enumerate(champion.classes_):
            log[f"{mon.proba_prefix}{label}"] = proba[:, i]
    if flagged is not None:
        flags = np.asarray(flagged, dtype=bool)
        if flags.shape != (n,):
            raise ValueError(f"flagged has shape {flags.shape}, must be ({n},): one flag per row of current.")
        log[mon.flagged_column] = flags[order]
    labels = None
    if config.target in current.columns:
        labels = pd.DataFrame({mon.id_column: log[mon.id_column], config.target: current[config.target].to_numpy()})
        labels["labelled_at"] = log[mon.timestamp_column]
    return log, labels


def write_partitioned(bucket: str, prefix: str, frame: pd.DataFrame, column: str, name: str) -> list[str]:
    """Write ``frame`` as one Parquet object per day of ``column`` under ``prefix``."""
    keys = []
    days = pd.to_datetime(frame[column], utc=True).dt.date
    for day, part in frame.groupby(days, sort=True):
        key = partition_key(prefix, day, name)
        aws.put_bytes(bucket, key, to_parquet_bytes(part.reset_index(drop=True)))
        keys.append(key)
    return keys


def fire(cloud: LocalCloud, trigger: str, model: str, *, force: bool = False) -> str:
    """Fire one of the model's triggers; returns the execution it started."""
    if trigger == "schedule":
        started = cloud.fire_schedule(model)
    elif trigger == "alarm":
        # Exact names: another model's name may extend this one's ("churn", "churn-eu").
        alarms = [a["AlarmName"] for a in fleet.alarms_of(cloud.fleet, model)]
        if not alarms:
            raise RetrainError(f"model {model!r} has no alarm (its config disables every one)")
        started = cloud.set_alarm_state(alarms[0], "ALARM", "Threshold Crossed: local run")
    elif trigger == "manual":
        started = cloud.put_events([retrain_request(model, reason="manual trigger (local run)", force=force)])
    else:
        raise ValueError(f"trigger == {trigger!r}, must be one of {TRIGGERS}")
    if len(started) != 1:
        raise RetrainError(f"the {trigger} trigger started {len(started)} executions, expected 1")
    return started[0]


def run_in_cloud(
    cloud: LocalCloud,
    config: ModelConfig,
    config_text: str,
    reference: pd.DataFrame | None,
    current: pd.DataFrame,
    *,
    trigger: str = "schedule",
    force: bool = False,
    on_state: StateCallback | None = None,
    reference_source: str = "reference data",
    current_source: str = "current window",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run one window through a deployed local cloud; returns the ``result.json`` dict.

    A model without a champion first gets one from ``reference`` (see
    :func:`retrain.lifecycle.bootstrap`): a version 1 that fails a gate raises
    :class:`~retrain.errors.BootstrapRejected` and no window is run. A model with
    a champion is registered again (``retrain register``: config, schedule, alarms).
    ``progress`` (default: silent) is told each phase: the bootstrap, scoring CUR,
    firing the trigger, the execution.
    """
    settings = settings_of(cloud)
    if registry.get_champion(settings.registry_table, config.model) is None:
        if reference is None:
            raise RetrainError(f"model {config.model!r} has no champion and no reference data was given")
        # The first champion goes through `retrain bootstrap`'s gates; it registers the model once promoted.
        what = f"training the first champion (v1) from {_file_name(reference_source)}: {len(reference)} rows"
        with _phase(progress, what):
            bootstrap(settings, config, config_text, reference, source=reference_source, stack=cloud.fleet)
    else:
        cloud.register(config, config_text)
    champion = registry.require_champion(settings.registry_table, config.model)
    what = f"scoring {_file_name(current_source)} with the champion (v{champion.version}): {len(current)} rows"
    with _phase(progress, what):
        bucket, key = aws.split_uri(champion.artifact_uri)
        model = training.loads(aws.get_bytes(bucket, key), expected_sha256=champion.sha256)
        now = datetime.now(UTC)
        log, labels = production_log(
            config, current, model, end=now, prefix=now.strftime("%Y%m%d%H%M%S"), source=current_source
        )
        mon = config.monitoring
        write_partitioned(
            settings.data_bucket, inference_prefix(config.model), log, mon.timestamp_column, "predictions"
        )
        if labels is not None:
            write_partitioned(settings.data_bucket, labels_prefix(config.model), labels, "labelled_at", "labels")
    with _phase(progress, f"firing the {trigger} trigger"):
        execution = fire(cloud, trigger, config.model, force=force)
    with _phase(progress, "running the state machine") as phase:
        described = cloud.wait(execution, on_state=on_state)
        if phase is not None:
            phase.failed = described["status"] != "SUCCEEDED"
    try:  # what the run's Report step wrote: report.json is the result.json contract
        outcome = reports.fetch(settings.artifact_bucket, execution, model=config.model)
    except DataNotFound:  # its Report step did not run or could not write: the same builder, from the history
        outcome = _from_history(cloud, described, trigger=trigger, model=config.model, before=champion.version)
    return outcome


def _from_history(
    cloud: LocalCloud, described: dict[str, Any], *, trigger: str, model: str, before: int
) -> dict[str, Any]:
    """``result.json`` from DescribeExecution and the history, when the execution left no report."""
    table = settings_of(cloud).registry_table
    after = registry.get_champion(table, model)
    outcome = result.build(
        described,
        trigger=trigger,
        champion_before=before,
        champion_after=after.version if after else None,
        history=cloud.history(described["executionArn"]),
    )
    if outcome.get("candidate"):
        record = registry.get_version(table, model, int(outcome["candidate"]["version"]))
        outcome["lineage"] = result.lineage(record.fields() if record else {})
    return outcome


def local_run(
    config_path: str | Path,
    reference_path: str | Path,
    current_path: str | Path,
    *,
    trigger: str = "schedule",
    force: bool = False,
    out: str | Path = "retrain-out",
    on_state: StateCallback | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Check the inputs, deploy a local cloud, train v1 from REF, run CUR through the state machine.

    Always writes ``<out>/result.json``, ``report.json`` (the same) and ``report.html``.
    Inputs refused before anything ran give ``outcome: failed`` with ``invalid_input: true`` and the error naming the
    file (:func:`retrain.local.inputs.read_inputs`); a failed execution keeps
    what its checks found (:func:`retrain.result.build`).
    """
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger == {trigger!r}, must be one of {TRIGGERS}")
    try:
        inputs = read_inputs(config_path, reference_path, current_path)
    except RetrainError as exc:
        return _write(out, result.refused(trigger, exc))
    return run_inputs(inputs, trigger=trigger, force=force, out=out, on_state=on_state, progress=progress)


def run_inputs(
    inputs: Inputs,
    *,
    trigger: str = "schedule",
    force: bool = False,
    out: str | Path = "retrain-out",
    on_state: StateCallback | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Deploy a local cloud and run checked inputs through it; writes the run's files and returns ``result.json``.

    The files are the ones its Report step wrote (``report.json``, ``report.html``),
    with ``result.json`` a copy of ``report.json``; a run that left no report gets
    them from the same builder and renderer here.

    ``progress`` (default: silent) is told each phase, starting the local cloud first.
    """
    from retrain.local.cloud import LocalCloud

    try:
        with ExitStack() as stack:
            with _phase(progress, "starting the local cloud"):
                cloud = stack.enter_context(LocalCloud())
            outcome = run_in_cloud(
                cloud,
                inputs.config,
                inputs.config_text,
                inputs.reference,
                inputs.current,
                trigger=trigger,
                force=force,
                on_state=on_state,
                reference_source=inputs.reference_source,
                current_source=inputs.current_source,
                progress=progress,
            )
            page = reports.page(outcome)
    except RetrainError as exc:
        outcome, page = result.refused(trigger, exc, invalid_input=False), None
    return _write(out, outcome, page)


def _write(out: str | Path, outcome: dict[str, Any], page: bytes | None = None) -> dict[str, Any]:
    reports.write(out, outcome, page)
    return outcome
