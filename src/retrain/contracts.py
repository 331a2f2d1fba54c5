"""What travels through the state machine.

Handlers validate their input into these models and return their ``model_dump``.
Only summaries and S3 URIs travel (Step Functions' payload limit is 256 KB);
large results live in S3.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

TriggerSource = Literal["schedule", "alarm", "manual"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Run(_Payload):
    """The normalized trigger: which model, why, and which window of data."""

    model: str
    trigger: TriggerSource
    mode: Literal["check", "always"]
    policy: Literal["any", "all"] = "any"
    reason: str
    event_id: str
    event_time: str
    execution: str
    window_start: str
    window_end: str
    training_window_start: str
    lock_pk: str
    lock_now: str
    lock_expires_at: str
    dedupe_sk: str = ""
    dedupe_expires_at: str = "0"
    force: bool = False
    in_cooldown: bool = False
    cooldown_until: str | None = None
    approval_required: bool = False
    approval_timeout_seconds: int = 86400


class RunInput(_Payload):
    run: Run


class SnapshotRef(_Payload):
    id: str
    uri: str
    manifest_uri: str
    rows: int
    train_rows: int
    holdout_rows: int
    created: bool


class RegistryKey(_Payload):
    pk: str
    sk: str


class Candidate(_Payload):
    model: str
    version: int
    artifact_uri: str
    sha256: str
    registry_key: RegistryKey
    trained_rows: int


class GateOut(_Payload):
    """One gate: ``value`` held to ``limit``; ``low``/``high`` bound ``value``'s interval ("vs champion")."""

    name: str
    passed: bool
    value: float | None = None
    limit: float | None = None
    detail: str | None = None
    low: float | None = None
    high: float | None = None
    info: dict[str, Any] = Field(default_factory=dict)


class ValidationOut(_Payload):
    """The Validate step's verdict; the measurements are reported whether or not a gate limits them."""

    passed: bool
    metric: str
    gates: list[GateOut]
    reasons: list[str]
    candidate_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None = None
    champion_version: int | None = None
    n_holdout: int
    #: Share of recent inputs (the monitoring window) on which candidate and champion disagree.
    prediction_difference: float | None = None
    n_recent: int = 0
    #: p95 of the candidate's single-row prediction calls, in milliseconds.
    latency_p95_ms: float | None = None
    #: Size of the candidate's stored artifact.
    artifact_bytes: int | None = None


class TrainInput(RunInput):
    snapshot: SnapshotRef


class ValidateInput(TrainInput):
    candidate: Candidate


class PromoteInput(RunInput):
    candidate: Candidate
    validation: ValidationOut


class Promotion(_Payload):
    champion_version: int
    previous_version: int | None
    artifact_uri: str
    sha256: str


class Failure(_Payload):
    """A failed step, as the state machine's ``<Step>Error`` states record it (``$.failure``)."""

    step: str
    error: str | None = None
    cause: str | None = None


class ReconcileInput(RunInput):
    """``start``: the run's first step under the lock. ``failed``: a step failed (``failure`` says which)."""

    action: Literal["start", "failed"]
    failure: Failure | None = None


class Reconciliation(_Payload):
    """What ``Reconcile`` found and repaired.

    ``parameter`` is the SSM parameter's state (``in-sync``, ``repaired``,
    ``no-champion``, or ``stale: <why>`` when it could not be repaired);
    ``failed_versions`` the undecided versions marked ``failed``; on the
    ``failed`` action, ``promoted`` says this run's promotion had committed
    before the failure (its outcome stays ``promoted``; ``promotion`` holds it).
    """

    model: str
    champion_version: int | None
    parameter: str
    failed_versions: list[int] = Field(default_factory=list)
    expired_artifacts: list[str] = Field(default_factory=list)
    promoted: bool = False
    promotion: Promotion | None = None


class CheckOut(_Payload):
    """Common head of every check's output (the state machine reads these).

    ``votes`` holds one boolean per enabled signal of the check that had enough
    data (``True``: it fires). The state machine flattens every check's votes
    and applies the policy: ``any`` retrains when one vote is true, ``all``
    when there is at least one vote and none is false. Insufficient data never
    votes, so it never triggers.
    """

    signal: str
    enabled: bool
    triggered: bool
    insufficient: bool = False
    reason: str | None = None
    votes: list[bool] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)

    # Summaries of ``votes`` the state machine reads: a JSONPath over the votes themselves
    # (``$[*].votes[*]``) matches nothing when no check voted, which fails the state.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def fired(self) -> bool:
        """Some signal of this check fires."""
        return any(self.votes)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dissent(self) -> bool:
        """Some signal of this check voted against retraining."""
        return not all(self.votes)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def voted(self) -> bool:
        """At least one signal of this check had enough data to vote."""
        return bool(self.votes)


def parse[T: BaseModel](model: type[T], event: Any, *, what: str) -> T:
    """Validate ``event`` into ``model``; a malformed event raises :class:`InvalidEvent` naming the fields."""
    from pydantic import ValidationError

    from retrain.errors import InvalidEvent

    try:
        return model.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()[:5])
        raise InvalidEvent(f"malformed {what} input: {problems}") from exc
