"""How a model runs in production: its approval step, its schedule, its alarms and the window its checks read."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from retrain.config.base import _Strict


class Approval(_Strict):
    """A person approves each candidate that passed its gates before it is promoted.

    The run waits (``retrain approve RUN`` / ``retrain reject RUN --reason TEXT``)
    for at most ``timeout_hours``; a timeout rejects the candidate.
    """

    required: bool = False
    """Whether a candidate that passed its gates waits for a person before it is promoted."""
    timeout_hours: float = Field(default=24.0, gt=0, le=24 * 365)
    """Hours to wait for ``retrain approve``/``reject``; no answer in time rejects the candidate ("approval timed
    out"). The model's lock lasts this much longer."""


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.*)\)$")


def check_schedule_expression(expression: str, *, where: str = "schedule.expression") -> str:
    """Check an EventBridge Scheduler recurrence: ``rate(N unit)`` or ``cron(6 fields)``.

    Raises
    ------
    ValueError
        Naming ``where`` and what is wrong (``rate(1 days)``: use the singular
        unit for 1; a cron needs 6 fields and a ``?`` in day-of-month or day-of-week).
    """
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            raise ValueError(f"{where} == {expression!r}, the rate must be >= 1")
        singular = not unit.endswith("s")
        if (value == 1) != singular:
            right = unit.rstrip("s") if value == 1 else f"{unit.rstrip('s')}s"
            raise ValueError(f"{where} == {expression!r}, write rate({value} {right})")
        return expression
    cron = _CRON.match(expression)
    if cron:
        fields = cron.group(1).split()
        if len(fields) != 6:
            raise ValueError(
                f"{where} == {expression!r}, a cron needs 6 fields (minutes hours day-of-month month "
                f"day-of-week year), got {len(fields)}"
            )
        if "?" not in (fields[2], fields[4]):
            raise ValueError(f"{where} == {expression!r}, day-of-month or day-of-week must be '?'")
        return expression
    raise ValueError(
        f"{where} == {expression!r}, must be 'rate(<n> minute[s]|hour[s]|day[s])' or 'cron(<6 fields>)', "
        "e.g. 'rate(1 day)' or 'cron(0 6 * * ? *)'"
    )


class Schedule(_Strict):
    """When and how the model's schedule runs.

    ``mode``: ``check`` runs the checks and retrains only if a signal fires;
    ``always`` retrains every period. ``expression``: the EventBridge Scheduler
    recurrence (``rate(...)`` or ``cron(...)``, UTC) of the model's own schedule,
    created by ``retrain register``. ``enabled: false`` keeps the schedule but
    disabled (alarm and manual triggers still run).
    """

    mode: Literal["check", "always"] = "check"
    """``check``: run the checks, retrain only if the policy over the signals fires; ``always``: retrain every
    period (alarm and manual triggers always retrain)."""
    expression: str = "rate(1 day)"
    """The schedule's EventBridge Scheduler recurrence, UTC: ``rate(N minute[s]|hour[s]|day[s])`` (singular for
    1) or ``cron(minutes hours day-of-month month day-of-week year)`` with a ``?`` in one of the day fields."""
    enabled: bool = True
    """``false`` keeps the schedule but disabled (alarm and manual triggers still run)."""

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        return check_schedule_expression(value.strip())


#: CloudWatch comparison operators an alarm may use (``ALARM`` when the metric compares so with the threshold).
Comparison = Literal[
    "LessThanThreshold", "LessThanOrEqualToThreshold", "GreaterThanThreshold", "GreaterThanOrEqualToThreshold"
]


class MetricAlarm(_Strict):
    """An alarm on one published metric: ``ALARM`` when ``metric`` ``comparison`` ``threshold``."""

    metric: str = Field(min_length=1)
    """A metric the checks publish for the model's problem type: ``performance``: a realized metric or its
    ``<metric>_ci_lower``/``_ci_upper``; ``estimated``: ``Estimated<Metric>`` (e.g. ``EstimatedAccuracy``) or its
    ``CiLower``/``CiUpper`` bound."""
    threshold: float
    """The value the metric is compared with."""
    comparison: Comparison = "LessThanThreshold"
    """CloudWatch comparison operator: ``LessThanThreshold``, ``LessThanOrEqualToThreshold``,
    ``GreaterThanThreshold`` or ``GreaterThanOrEqualToThreshold``."""


class Alarms(_Strict):
    """The model's CloudWatch alarms, created by ``retrain register`` as ``<stack>-<model>-<signal>``.

    An alarm going to ``ALARM`` starts a retraining run (trigger-based retraining).
    ``null`` disables one (``retrain register`` deletes it). The defaults are the
    former stack-wide ones; a regression model has no performance or estimated
    alarm unless its config names one (``accuracy`` is not a regression metric).
    ``drift_share``: ``DriftShare`` >= this share of drifted features;
    ``flagged_rate``: ``FlaggedRate`` >= this percent of predictions flagged.
    """

    performance: MetricAlarm | None = Field(
        default_factory=lambda: MetricAlarm(metric="accuracy", threshold=0.8, comparison="LessThanThreshold")
    )
    """Alarm ``<stack>-<model>-performance`` on a realized metric (Average); ``null``: none (the default for a
    regression model)."""
    drift_share: float | None = Field(default=0.3, gt=0, le=1)
    """Alarm ``<stack>-<model>-drift``: ``DriftShare`` (Maximum) >= this share of drifted features; ``null``:
    none."""
    flagged_rate: float | None = Field(default=5.0, gt=0, le=100)
    """Alarm ``<stack>-<model>-flagged``: ``FlaggedRate`` (Maximum) >= this percent of predictions flagged;
    ``null``: none."""
    estimated: MetricAlarm | None = Field(
        default_factory=lambda: MetricAlarm(metric="EstimatedAccuracy", threshold=0.8, comparison="LessThanThreshold")
    )
    """Alarm ``<stack>-<model>-estimated`` on a label-free estimate (Average; classification only); ``null``: none
    (the default for a regression model)."""


class Monitoring(_Strict):
    """Where the production window is read from and how its columns are named."""

    window_days: float = Field(default=7.0, gt=0)
    """Days of production the checks read, ending when the run starts."""
    id_column: str = "id"
    """Column of the inference log (and of the label and flag feeds) that identifies a prediction; labels are
    joined on it."""
    timestamp_column: str = "timestamp"
    """Column of the inference log holding when each prediction was made."""
    prediction_column: str = "prediction"
    """Column of the inference log holding the champion's prediction."""
    proba_prefix: str = Field(default="proba_", min_length=1)
    """Class probabilities (``predict_proba``): one column ``<proba_prefix><class>`` per class, e.g. ``proba_1``."""
    flagged_column: str = "flagged"
    """Boolean column: True when a person flagged the prediction (optional; a feed of flagged ids also counts)."""
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    """Two-sided level of every confidence interval."""
    bootstrap_resamples: int = Field(default=1000, ge=100, le=100_000)
    """Bootstrap resamples per interval (seeded: the same window always gives the same interval)."""
