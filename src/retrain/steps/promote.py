"""Promote: move the champion pointer to the candidate, atomically, then publish it."""

from __future__ import annotations

from retrain import registry
from retrain.champion import publish_champion
from retrain.contracts import Candidate, Promotion, Run, ValidationOut
from retrain.errors import PromotionConflict
from retrain.observability import logger
from retrain.settings import Settings


def run(run: Run, candidate: Candidate, validation: ValidationOut, *, settings: Settings) -> Promotion:
    """Promote a candidate that passed validation, and write it to the champion's SSM parameter.

    The pointer moves only if it still points at the champion the candidate was
    validated against (``validation.champion_version``); otherwise
    :class:`~retrain.errors.PromotionConflict` and nothing changes.

    Idempotent per execution: when the registry's pointer already names this
    candidate and this execution (a retry after the transaction committed but the
    SSM write failed or the function timed out), only the SSM write is done.
    A throttled SSM write raises :class:`~retrain.errors.TransientError` (retried);
    a refused one :class:`~retrain.errors.ChampionNotPublished`.
    """
    if not validation.passed:
        raise PromotionConflict(f"{run.model} v{candidate.version} did not pass validation; refusing to promote")
    champion = registry.get_champion(settings.registry_table, run.model)
    if champion and champion.version == candidate.version and champion.execution == run.execution:
        logger.info("%s v%s is already champion by this execution: publishing it", run.model, candidate.version)
        promotion = Promotion(
            champion_version=candidate.version,
            previous_version=validation.champion_version,
            artifact_uri=champion.artifact_uri,
            sha256=champion.sha256,
        )
    else:
        promotion = registry.promote(
            settings.registry_table,
            run.model,
            candidate.version,
            expected=validation.champion_version,
            execution=run.execution,
        )
    publish_champion(settings, run.model, promotion)
    return promotion
