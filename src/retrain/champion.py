"""The champion as serving code sees it: one SSM parameter per model, and rollback.

Light on purpose (boto3 only): the promote function imports it.
"""

from __future__ import annotations

import json

from retrain import aws, registry
from retrain.contracts import Promotion
from retrain.settings import Settings


def champion_parameter(settings: Settings, model: str) -> str:
    return f"{settings.champion_parameter_prefix.rstrip('/')}/{model}"


def publish_champion(settings: Settings, model: str, promotion: Promotion) -> str:
    """Write the champion (version, artifact URI, sha256) to its SSM parameter; returns the name.

    Serving code reads this one parameter instead of the registry, and must check
    the artifact's sha256 before loading it.
    """
    name = champion_parameter(settings, model)
    value = {
        "model": model,
        "version": promotion.champion_version,
        "artifact_uri": promotion.artifact_uri,
        "sha256": promotion.sha256,
    }
    aws.ssm().put_parameter(Name=name, Value=json.dumps(value), Type="String", Overwrite=True)
    return name


def rollback(settings: Settings, model: str, *, to: int | None = None, execution: str = "rollback") -> Promotion:
    """Restore a former champion (see :func:`retrain.registry.rollback`) and publish it."""
    promotion = registry.rollback(settings.registry_table, model, to=to, execution=execution)
    publish_champion(settings, model, promotion)
    return promotion
