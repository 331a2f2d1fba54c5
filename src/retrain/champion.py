"""The champion as serving code sees it: one SSM parameter per model, and rollback.

The registry's ``CHAMPION`` item is the truth; the SSM parameter is its published
copy. Promote writes the registry first (one transaction), then the parameter;
a parameter that could not be written is written again by the next step that
notices (:func:`sync_parameter`: Promote's retry, the failure handler, the next
run's ``Reconcile``).

Light on purpose (boto3 only): the promote function imports it.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from botocore.exceptions import ClientError

from retrain import aws, registry
from retrain.contracts import Promotion
from retrain.errors import AccessDenied, ChampionNotPublished
from retrain.settings import Settings

#: What :func:`sync_parameter` found: the parameter agreed, was (re)written, or there is no champion.
ParameterState = Literal["in-sync", "repaired", "no-champion"]


def champion_parameter(settings: Settings, model: str) -> str:
    return f"{settings.champion_parameter_prefix.rstrip('/')}/{model}"


def publish_champion(settings: Settings, model: str, promotion: Promotion) -> str:
    """Write the champion (version, artifact URI, sha256) to its SSM parameter; returns the name.

    Serving code reads this one parameter instead of the registry, and must check
    the artifact's sha256 before loading it.
    """
    name = champion_parameter(settings, model)
    _put(name, _value(model, promotion.champion_version, promotion.artifact_uri, promotion.sha256))
    return name


def _value(model: str, version: int, artifact_uri: str, sha256: str) -> dict[str, Any]:
    """The parameter's JSON object: what serving code needs to load the champion and check it."""
    return {"model": model, "version": version, "artifact_uri": artifact_uri, "sha256": sha256}


def _put(name: str, value: dict[str, Any]) -> None:
    try:
        with aws.translated(f"SSM PutParameter {name}"):
            aws.ssm().put_parameter(Name=name, Value=json.dumps(value), Type="String", Overwrite=True)
    except (ClientError, AccessDenied) as exc:
        raise ChampionNotPublished(
            f"could not write the champion v{value['version']} to SSM parameter {name}: {_why(exc)}"
        ) from exc


def _why(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"{aws.error_code(exc)} ({exc.response.get('Error', {}).get('Message', '')})"
    return str(exc)


def published(settings: Settings, model: str) -> dict[str, Any] | None:
    """The champion as its SSM parameter says (``None`` when there is no parameter)."""
    name = champion_parameter(settings, model)
    try:
        with aws.translated(f"SSM GetParameter {name}"):
            response = aws.ssm().get_parameter(Name=name)
    except (ClientError, AccessDenied) as exc:
        if isinstance(exc, ClientError) and aws.error_code(exc) == "ParameterNotFound":
            return None
        raise ChampionNotPublished(f"could not read SSM parameter {name}: {_why(exc)}") from exc
    try:
        value = json.loads(response["Parameter"]["Value"])
    except (KeyError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def sync_parameter(settings: Settings, model: str, champion: registry.ChampionPointer | None) -> ParameterState:
    """Make the SSM parameter say what the registry's champion pointer says.

    Returns ``"in-sync"`` when it already did, ``"repaired"`` when it was written
    now, ``"no-champion"`` when the registry has no champion (the parameter, if
    any, is left alone).

    Raises
    ------
    ChampionNotPublished
        The parameter could not be read or written (permissions); TransientError when throttled.
    """
    if champion is None:
        return "no-champion"
    current = published(settings, model)
    wanted = _value(model, champion.version, champion.artifact_uri, champion.sha256)
    if current is not None and all(current.get(key) == value for key, value in wanted.items()):
        return "in-sync"
    _put(champion_parameter(settings, model), wanted)
    return "repaired"


def rollback(settings: Settings, model: str, *, to: int | None = None, execution: str = "rollback") -> Promotion:
    """Restore a former champion (see :func:`retrain.registry.rollback`) and publish it."""
    promotion = registry.rollback(settings.registry_table, model, to=to, execution=execution)
    publish_champion(settings, model, promotion)
    return promotion
