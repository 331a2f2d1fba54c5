"""Reconcile: one truth for the champion, and no undecided version left behind.

Runs twice in a run's life, always under the model's lock:

- ``start`` (right after the lock is taken): the champion's SSM parameter is made
  to say what the registry says, and every version still ``training`` or
  ``candidate`` from an earlier execution (which can no longer be running: the
  lock says so) is marked ``failed`` and its artifacts tagged for expiry.
- ``failed`` (on every failure path while the lock is held): this execution's
  undecided version is marked ``failed`` with the step's error, its artifacts are
  tagged for expiry, and the parameter is repaired. If this execution's promotion
  had already committed (Promote failed after the registry transaction, e.g. at
  the SSM write), the run's outcome is the promotion: ``promoted`` is true.

Light on purpose (boto3 only).
"""

from __future__ import annotations

from collections.abc import Callable

from retrain import aws, registry
from retrain.champion import sync_parameter
from retrain.contracts import Failure, Promotion, Reconciliation, Run
from retrain.errors import ChampionNotPublished, DataNotFound
from retrain.layout import ARTIFACT_FILE, MODEL_PROFILE_FILE, artifact_key
from retrain.observability import logger
from retrain.settings import Settings

#: Tag that the artifact bucket's lifecycle rule expires (template.yaml ``FailedArtifactRetentionDays``).
EXPIRY_TAG = {"retrain-status": "failed"}
#: A version's files (``models/<model>/v<n>/``).
ARTIFACT_FILES = (ARTIFACT_FILE, MODEL_PROFILE_FILE)


def start(run: Run, *, settings: Settings) -> Reconciliation:
    """Repair the champion's SSM parameter and fail the undecided versions of earlier executions."""
    table = settings.registry_table
    champion = registry.get_champion(table, run.model)
    orphans = [v for v in _undecided(table, run.model) if v.execution != run.execution]
    done = _fail(
        settings,
        run.model,
        orphans,
        lambda v: f"run {v.execution} ended before deciding on v{v.version} (found by {run.execution})",
    )
    return _reconciled(run, champion, sync_parameter(settings, run.model, champion), done)


def after_failure(run: Run, failure: Failure, *, settings: Settings) -> Reconciliation:
    """Record a failed step: this run's undecided version becomes ``failed``; a committed promotion stands."""
    table = settings.registry_table
    champion = registry.get_champion(table, run.model)
    promoted = champion is not None and champion.execution == run.execution
    mine = [v for v in _undecided(table, run.model) if v.execution == run.execution]
    reason = f"{failure.step} failed: {failure.error}: {failure.cause or ''}".strip().rstrip(":")
    done = _fail(settings, run.model, mine, lambda v: reason)
    try:
        parameter: str = sync_parameter(settings, run.model, champion)
    except ChampionNotPublished as exc:  # the next run's start tries again (and fails the run if it still cannot)
        parameter = f"stale: {exc}"
    promotion = None
    if promoted and champion is not None:
        promotion = Promotion(
            champion_version=champion.version,
            previous_version=_previous(table, run.model, champion.version),
            artifact_uri=champion.artifact_uri,
            sha256=champion.sha256,
        )
    return _reconciled(run, champion, parameter, done, failure=failure, promotion=promotion)


def _undecided(table: str, model: str) -> list[registry.ModelVersion]:
    return [v for v in registry.list_versions(table, model) if v.status in registry.UNDECIDED]


def _fail(
    settings: Settings,
    model: str,
    versions: list[registry.ModelVersion],
    reason: Callable[[registry.ModelVersion], str],
) -> tuple[list[int], list[str]]:
    failed: list[int] = []
    expired: list[str] = []
    for version in versions:
        if registry.mark_failed(settings.registry_table, model, version.version, reason(version)):
            failed.append(version.version)
            expired.extend(expire_artifacts(settings, model, version.version))
    return failed, expired


def expire_artifacts(settings: Settings, model: str, version: int) -> list[str]:
    """Tag a failed version's files for the bucket's expiry rule; returns the URIs tagged (those that exist)."""
    tagged = []
    for name in ARTIFACT_FILES:
        key = artifact_key(model, version, name)
        try:
            aws.tag_object(settings.artifact_bucket, key, EXPIRY_TAG)
        except DataNotFound:
            continue
        tagged.append(aws.uri(settings.artifact_bucket, key))
    return tagged


def _previous(table: str, model: str, version: int) -> int | None:
    record = registry.get_version(table, model, version)
    return (record.compared_with or None) if record else None


def _reconciled(
    run: Run,
    champion: registry.ChampionPointer | None,
    parameter: str,
    done: tuple[list[int], list[str]],
    *,
    failure: Failure | None = None,
    promotion: Promotion | None = None,
) -> Reconciliation:
    """What reconciling ``run`` found, logged; ``done`` is :func:`_fail`'s versions failed and artifacts tagged.

    ``promotion`` is this run's promotion that committed before ``failure``: the run's outcome stays ``promoted``.
    """
    failed, expired = done
    result = Reconciliation(
        model=run.model,
        champion_version=champion.version if champion else None,
        parameter=parameter,
        failed_versions=failed,
        expired_artifacts=expired,
        promoted=promotion is not None,
        promotion=promotion,
    )
    logger.info(
        "reconciled %s: champion v%s, SSM parameter %s, failed versions %s",
        result.model,
        result.champion_version,
        result.parameter,
        result.failed_versions or "none",
        extra={"reconciliation": result.model_dump(mode="json"), "failure": failure and failure.model_dump()},
    )
    return result
