"""The ``result.json`` / ``report.json`` contract: one run's outcome, checks, candidate, champion and gates.

One builder, :func:`assemble`, makes it from a run's state data: the
state machine's last step (Report) calls it with the state it ends with and
writes ``report.json`` and ``report.html``; the local CLI writes the same dict
as ``result.json`` (or, when an execution ended before its Report step ran,
builds it from the execution's history with :func:`build`).

Stable field names (later versions add fields, never rename these): ``outcome``
(promoted | rejected | no-retrain | already-running | duplicate | cooldown |
insufficient-data | failed), ``trigger``, ``execution_arn``, ``triggered``,
``reasons``, ``champion_version`` (after the run), ``checks`` (``metrics``,
``drift``, ``flagged``, ``estimated``), ``snapshot``, ``candidate``,
``champion``, ``lineage``, ``gates``, ``error`` (``ErrorType: message``),
``error_type``, ``insufficient`` (for ``insufficient-data``: how many labelled
rows the training window had, and ``training.min_rows``), ``invalid_input``
(true when the inputs were refused before anything ran), ``reconcile`` (what
the run's first step found and repaired: the champion's SSM parameter,
versions earlier runs left undecided), ``model``, ``execution``,
``started_at``, ``finished_at``, ``report`` (``json_uri``, ``html_uri``: where
the Report step wrote it), ``distributions`` (each feature's reference and
current distributions, from the drift check:
:mod:`retrain.drift.distributions`).

``triggered`` is the run's decision (retraining was due); every signal's own
result says ``fired``, with its ``threshold``, ``reason`` and ``insufficient``:
``checks.metrics.fired`` (the performance signal), ``checks.flagged.fired``,
``checks.estimated.fired``, ``checks.drift.fired`` (the data set's verdict),
``checks.drift.features[*].fired`` and the drift check's ``multivariate``,
``prediction`` and ``prediction_difference`` results. Reports written before
these names (``drifted``, ``triggered``, ``bound``, ``limit`` on those results)
are read by :func:`upgrade`.

A failed run keeps what it learned: ``triggered``, ``reasons``, ``checks``,
``snapshot`` and ``gates`` come from the state it failed with.
"""

from __future__ import annotations

import json
from typing import Any

OUTCOMES = (
    "promoted",
    "rejected",
    "no-retrain",
    "already-running",
    "duplicate",
    "cooldown",
    "insufficient-data",
    "failed",
)


def _lambda_error(cause: str | None) -> dict[str, Any]:
    """A Lambda error's cause as a dict (``errorType``, ``errorMessage``); {} for a plain-text or no cause."""
    try:
        parsed = json.loads(cause) if cause else None
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def error_text(error: str | None, cause: str | None) -> str:
    """``ErrorType: message`` from a failed execution's error and cause.

    A SageMaker training job's description (the cause of ``TrainingJobFailed``) reads
    ``TrainingJobFailed: training job <name> Failed: <FailureReason>``.
    """
    if cause:
        parsed = _lambda_error(cause)
        if "errorMessage" in parsed:
            return f"{parsed.get('errorType', error)}: {parsed['errorMessage']}"
        if "TrainingJobName" in parsed and "TrainingJobStatus" in parsed:
            status = parsed["TrainingJobStatus"]
            secondary = parsed.get("SecondaryStatus")
            ended = f"{status} ({secondary})" if secondary and secondary != status else str(status)
            reason = parsed.get("FailureReason")
            text = f"training job {parsed['TrainingJobName']} {ended}" + (f": {reason}" if reason else "")
            return f"{error}: {text}" if error else text
        return f"{error}: {cause}" if error else cause
    return error or "unknown error"


def _checks(state: dict[str, Any]) -> dict[str, Any]:
    checks = state.get("checks") or {}
    out: dict[str, Any] = {}
    for name in ("metrics", "drift"):
        check = checks.get(name)
        if isinstance(check, dict) and check.get("failed"):  # the check's step failed; the other's findings stand
            out[name] = {
                "failed": True,
                "fired": False,
                "error": error_text(check.get("error"), check.get("cause")),
            }
    perf = checks.get("metrics")
    if perf and "metrics" not in out:
        details = perf.get("details") or {}
        signal = (details.get("signals") or {}).get("performance") or {}
        out["metrics"] = {
            **(details.get("metrics") or {}),
            "n": details.get("n", 0),
            "match_rate": details.get("match_rate"),
            "metric": details.get("metric"),
            "threshold": details.get("threshold", details.get("bound")),
            "enabled": signal.get("enabled", perf.get("enabled")),
            "fired": signal.get("fired", perf.get("fired")),
            "insufficient": signal.get("insufficient", perf.get("insufficient")),
            "reason": details.get("reason") if signal else perf.get("reason"),
            "value": details.get("value"),
            "use": details.get("use"),
            "statistic": details.get("statistic", details.get("judged")),
            "ci": details.get("ci") or {},
            "confidence": details.get("confidence"),
            "unavailable": details.get("unavailable") or {},
            "n_predictions": details.get("n_predictions"),
        }
        if details.get("flagged"):
            out["flagged"] = details["flagged"]
        if details.get("estimated"):
            out["estimated"] = details["estimated"]
    drift = checks.get("drift")
    if drift and "drift" not in out:
        details = drift.get("details") or {}
        out["drift"] = {
            "share": details.get("share"),
            "fired": bool(details.get("fired")),
            "n_drifted": details.get("n_drifted"),
            "n_features": details.get("n_features"),
            "threshold_share": details.get("threshold_share"),
            "enabled": drift.get("enabled"),
            "insufficient": drift.get("insufficient"),
            "reason": drift.get("reason"),
            "features": details.get("features") or {},
            "p_value": details.get("p_value"),
            "correction": details.get("correction"),
            "critical_drifted": details.get("critical_drifted") or [],
            "weighted_share": details.get("weighted_share"),
            "importance_share": details.get("importance_share"),
            "schema_drifted": details.get("schema_drifted") or [],
            "findings": details.get("findings") or [],
            "votes": details.get("votes") or {},
            "multivariate": details.get("multivariate"),
            "prediction": details.get("prediction"),
            "prediction_difference": details.get("prediction_difference"),
            "n_reference": details.get("n_reference"),
            "n_current": details.get("n_current"),
            "profile": details.get("profile"),
            "engine": details.get("engine"),
            "n_sample": details.get("n_sample"),
            "distributions_uri": details.get("distributions_uri"),
        }
        if details.get("features_omitted"):
            out["drift"]["features_omitted"] = details["features_omitted"]
    return out


def _reasons(state: dict[str, Any]) -> list[str]:
    reasons: list[str] = []
    run = state.get("run") or {}
    if run.get("trigger") in {"alarm", "manual"} or run.get("mode") == "always":
        reasons.append(str(run.get("reason")))
    for check in (state.get("checks") or {}).values():
        if isinstance(check, dict) and check.get("fired") and check.get("reason"):
            reasons.append(str(check["reason"]))
    validation = state.get("validation") or {}
    if validation and not validation.get("passed"):
        reasons.extend(validation.get("reasons") or [])
    return reasons


def _blank(
    trigger: str | None,
    *,
    execution_arn: str | None = None,
    status: str | None = None,
    champion_before: int | None = None,
    champion_after: int | None = None,
) -> dict[str, Any]:
    """A ``failed`` result that learned nothing yet: every contract field, empty."""
    return {
        "outcome": "failed",
        "model": None,
        "trigger": trigger,
        "execution": execution_arn.rsplit(":", 1)[-1] if execution_arn else None,
        "execution_arn": execution_arn,
        "status": status,
        "started_at": None,
        "finished_at": None,
        "triggered": False,
        "reasons": [],
        "champion_version": champion_after,
        "checks": {},
        "snapshot": None,
        "candidate": None,
        "champion": {"version": champion_before, "metrics": None},
        "gates": [],
        "error": None,
        "error_type": None,
        "reconcile": None,
        "lineage": None,
        "distributions": {},
        "report": None,
    }


def refused(trigger: str, exc: Exception, *, invalid_input: bool = True) -> dict[str, Any]:
    """``result.json`` of a run that never started: ``invalid_input`` when its inputs were refused."""
    result = _blank(trigger)
    result.update(error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__, invalid_input=invalid_input)
    return result


def error_type(error: str | None, cause: str | None) -> str | None:
    """The error's class name (``SchemaMismatch``) from a failed execution's or state's error and cause."""
    return str(_lambda_error(cause).get("errorType") or "") or error


def last_state(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The state data the execution held last: the input of the last state it entered (its Fail state's, if failed).

    A failed execution has no output; what its checks found, its snapshot and
    its gates are in the input of the state it failed in.
    """
    for event in reversed(history):
        details = event.get("stateEnteredEventDetails") or {}
        if details.get("input"):
            try:
                state = json.loads(details["input"])
            except json.JSONDecodeError:
                return None
            return state if isinstance(state, dict) else None
    return None


def build(
    described: dict[str, Any],
    *,
    trigger: str,
    champion_before: int | None,
    champion_after: int | None,
    history: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``result.json`` from ``DescribeExecution`` (and, for a failed run, its history): :func:`assemble`'s dict.

    A failed execution has no output: ``history`` (its ``GetExecutionHistory``
    events) gives the state it failed with, so the result keeps what the checks
    found, whether a retrain was triggered and why, the snapshot and any gates.
    """
    status = str(described.get("status"))
    state = json.loads(described.get("output") or "{}") if status == "SUCCEEDED" else last_state(history or []) or {}
    started: Any = described.get("startDate")
    return assemble(
        state,
        status=status,
        trigger=trigger,
        execution_arn=described.get("executionArn"),
        started_at=started.isoformat() if hasattr(started, "isoformat") else started,
        champion_before=champion_before,
        champion_after=champion_after,
        error=described.get("error"),
        cause=described.get("cause"),
    )


def assemble(
    state: dict[str, Any],
    *,
    status: str,
    trigger: str | None,
    execution_arn: str | None,
    champion_before: int | None,
    champion_after: int | None,
    started_at: str | None = None,
    error: str | None = None,
    cause: str | None = None,
) -> dict[str, Any]:
    """The result of one execution from the state data it ended with (the one builder of the contract).

    ``status`` is the execution's (``SUCCEEDED``, ``FAILED``, ``TIMED_OUT``,
    ``ABORTED``); a failed one's ``error`` and ``cause`` default to the
    state's ``failure`` (what the state machine records for its Fail state).
    """
    result = _blank(
        trigger,
        execution_arn=execution_arn,
        status=status,
        champion_before=champion_before,
        champion_after=champion_after,
    )
    run: dict[str, Any] = state["run"] if isinstance(state.get("run"), dict) else {}
    result.update(model=run.get("model") or (state.get("failure") or {}).get("model"), started_at=started_at)
    if run.get("execution"):
        result["execution"] = run["execution"]
    if status == "SUCCEEDED":
        result["outcome"] = state.get("outcome", "failed")
    elif status == "FAILED":
        failure = state.get("failure") or {}
        error, cause = error or failure.get("error"), cause or failure.get("cause")
        result["error"] = error_text(error, cause)
        result["error_type"] = error_type(error, cause)
    else:
        result["error"] = result["error_type"] = status
    _fill(result, state)
    return result


def _fill(result: dict[str, Any], state: dict[str, Any]) -> None:
    """What the run learned, from its state data: checks, the decision and its reasons, snapshot, candidate, gates."""
    validation = state.get("validation") or {}
    candidate = state.get("candidate")
    result.update(
        triggered=bool(state.get("retrain")),
        reasons=_reasons(state),
        checks=_checks(state),
        gates=validation.get("gates") or [],
        reconcile=state.get("reconcile"),
    )
    if result["outcome"] == "insufficient-data":
        error = state.get("error") or {}
        result["insufficient"] = error_text(error.get("Error"), error.get("Cause"))
    if state.get("snapshot"):
        snap = state["snapshot"]
        result["snapshot"] = {k: snap.get(k) for k in ("id", "rows", "train_rows", "holdout_rows", "manifest_uri")}
    if isinstance(candidate, dict) and candidate.get("version") is not None:
        result["candidate"] = {
            "version": candidate.get("version"),
            "metrics": validation.get("candidate_metrics"),
            "artifact_uri": candidate.get("artifact_uri"),
            "sha256": candidate.get("sha256"),
        }
    if validation:
        result["champion"] = {
            "version": validation.get("champion_version"),
            "metrics": validation.get("champion_metrics"),
        }


#: A signal result's fields as reports written before the names were unified call them (old -> current).
_RENAMED = {
    "drifted": "fired",
    "triggered": "fired",
    "bound": "threshold",
    "limit": "threshold",
    "judged": "statistic",
}


def _renamed(result: Any, *, drop: tuple[str, ...] = ()) -> Any:
    """A signal result (dict) with its fields under their current names; a current name already there wins."""
    if not isinstance(result, dict):
        return result
    out: dict[str, Any] = {}
    for key, value in result.items():
        name = _RENAMED.get(str(key), str(key))
        if key in drop or (name != key and name in result):
            continue
        out[name] = value
    return out


def upgrade(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` (a ``report.json`` dict) with its signal results' fields under the current names.

    Reports written before the names were unified (kept in S3 for good) call a
    signal's verdict ``drifted`` or ``triggered``, its threshold ``bound`` or
    ``limit`` and the value it compared ``judged``; a gate's threshold was ``limit``. Their ``checks.drift`` had both
    the data set's verdict (``drifted``, now ``fired``) and the whole check's
    (``triggered``, dropped: ``votes`` holds it). The run's own ``triggered``
    keeps its name. Returns a new dict; a current report comes back equal.
    """
    if not isinstance(report, dict):
        return report
    out = dict(report)
    checks = report.get("checks")
    if isinstance(checks, dict):
        checks = {name: _renamed(check) if name != "drift" else check for name, check in checks.items()}
        drift = checks.get("drift")
        if isinstance(drift, dict):
            drift = _renamed(drift, drop=("triggered",) if "drifted" in drift else ())
            features = drift.get("features")
            if isinstance(features, dict):
                drift["features"] = {name: _renamed(feature) for name, feature in features.items()}
            for name in ("multivariate", "prediction", "prediction_difference"):
                if isinstance(drift.get(name), dict):
                    drift[name] = _renamed(drift[name])
            if isinstance(drift.get("prediction"), dict) and "result" in drift["prediction"]:
                drift["prediction"]["result"] = _renamed(drift["prediction"]["result"])
            checks["drift"] = drift
        out["checks"] = checks
    if isinstance(report.get("gates"), list):
        out["gates"] = [_renamed(gate) for gate in report["gates"]]
    return out


LINEAGE_FIELDS = (
    "version",
    "status",
    "snapshot_id",
    "snapshot_manifest",
    "config_sha256",
    "estimator",
    "libraries",
    "trigger",
    "execution",
    "artifact_uri",
    "sha256",
    "trained_rows",
    "created_at",
)


def lineage(record: dict[str, Any]) -> dict[str, Any]:
    """Where a model version came from (its registry record's lineage fields)."""
    return {key: record.get(key) for key in LINEAGE_FIELDS}
