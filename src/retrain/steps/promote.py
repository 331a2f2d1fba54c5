"""Promote: move the champion pointer to the candidate, atomically."""

from __future__ import annotations

from retrain import registry
from retrain.champion import publish_champion
from retrain.contracts import Candidate, Promotion, Run, ValidationOut
from retrain.errors import PromotionConflict
from retrain.settings import Settings


def run(run: Run, candidate: Candidate, validation: ValidationOut, *, settings: Settings) -> Promotion:
    """Promote a candidate that passed validation.

    The pointer moves only if it still points at the champion the candidate was
    validated against (``validation.champion_version``); otherwise
    :class:`~retrain.errors.PromotionConflict` and nothing changes.
    """
    if not validation.passed:
        raise PromotionConflict(f"{run.model} v{candidate.version} did not pass validation; refusing to promote")
    promotion = registry.promote(
        settings.registry_table,
        run.model,
        candidate.version,
        expected=validation.champion_version,
        execution=run.execution,
    )
    publish_champion(settings, run.model, promotion)
    return promotion
