"""What travels through the state machine.

Handlers validate their input into these models and return their ``model_dump``.
Only summaries and S3 URIs travel (Step Functions' payload limit is 256 KB);
large results live in S3.

Every field a step reads is checked here: a malformed one fails :func:`parse`
with an :class:`~retrain.errors.InvalidEvent` that names the field, what was
expected (the field's ``description``, or its type) and the value found.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    computed_field,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from retrain.clock import utc
from retrain.errors import InvalidEvent
from retrain.gates import Gate
from retrain.layout import MODEL_NAME_PATTERN

TriggerSource = Literal["schedule", "alarm", "manual"]
Mode = Literal["check", "always"]


def _timestamp(value: str) -> str:
    try:
        utc(value)
    except ValueError:
        raise PydanticCustomError("timestamp", "expected an ISO 8601 timestamp") from None
    return value


#: An ISO 8601 time, kept as the string it arrived as (so payloads keep their shape).
Timestamp = Annotated[str, AfterValidator(_timestamp), Field(description="an ISO 8601 timestamp")]
ModelName = Annotated[
    str, Field(pattern=MODEL_NAME_PATTERN, description=f"a model name (a string matching {MODEL_NAME_PATTERN})")
]
#: ``true`` or ``false`` only: lax parsing would read ``"yes"`` or ``"off"`` as a flag.
Flag = Annotated[bool, Strict(), Field(description="true or false")]
Version = Annotated[int, Field(ge=1, description="a version number (an integer >= 1)")]
Count = Annotated[int, Field(ge=0, description="a count (an integer >= 0)")]
EpochSeconds = Annotated[str, Field(pattern=r"^[0-9]+$", description="epoch seconds (a string of digits)")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="a sha256 (64 lowercase hex digits)")]
S3Uri = Annotated[str, Field(pattern=r"^s3://[^/]+/.+", description="an s3://bucket/key URI")]
#: A Step Functions execution name (1 to 80 characters there; direct callers may use longer ones).
ExecutionName = Annotated[
    str, Field(pattern=r"^\S{1,256}$", description="an execution name (1 to 256 characters, no spaces)")
]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Run(_Payload):
    """The normalized trigger: which model, why, and which window of data."""

    model: ModelName
    trigger: TriggerSource
    mode: Mode
    policy: Literal["any", "all"] = "any"
    reason: str
    event_id: str
    #: The alarm's name when an alarm state change triggered the run (None for other triggers).
    alarm: str | None = None
    event_time: Timestamp
    execution: ExecutionName
    window_start: Timestamp
    window_end: Timestamp
    training_window_start: Timestamp
    lock_pk: str
    lock_now: EpochSeconds
    lock_expires_at: EpochSeconds
    dedupe_sk: str = ""
    dedupe_expires_at: EpochSeconds = "0"
    force: Flag = False
    in_cooldown: Flag = False
    cooldown_until: Timestamp | None = None
    approval_required: Flag = False
    approval_timeout_seconds: Annotated[int, Field(ge=0, description="seconds (an integer >= 0)")] = 86400
    #: Where Train fits the candidate (``training.engine`` of the model's config); the state machine branches on it.
    training_engine: Literal["lambda", "sagemaker"] = "lambda"
    #: The champion when the run was normalized (None: no champion yet); messages name it.
    champion_version: Version | None = None

    @model_validator(mode="after")
    def _windows_end_at_window_end(self) -> Run:
        end = utc(self.window_end)
        for name in ("window_start", "training_window_start"):
            start = getattr(self, name)
            if utc(start) > end:
                raise _rule(name, start, f"a time no later than window_end ({self.window_end})")
        return self


class RunInput(_Payload):
    run: Run


class SnapshotRef(_Payload):
    id: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="a snapshot id (64 lowercase hex digits)")]
    uri: S3Uri
    manifest_uri: S3Uri
    rows: Count
    train_rows: Count
    holdout_rows: Count
    created: Flag


class RegistryKey(_Payload):
    pk: str
    sk: str


class Candidate(_Payload):
    model: ModelName
    version: Version
    artifact_uri: S3Uri
    sha256: Sha256
    registry_key: RegistryKey
    trained_rows: Count


class ValidationOut(_Payload):
    """The Validate step's verdict; the measurements are reported whether or not a gate limits them."""

    passed: Flag
    metric: str
    gates: list[Gate]
    reasons: list[str]
    candidate_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None = None
    champion_version: Version | None = None
    n_holdout: Count
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

    @model_validator(mode="after")
    def _candidate_of_the_run(self) -> ValidateInput:
        _same_model(self.run, self.candidate)
        return self


class PromoteInput(RunInput):
    candidate: Candidate
    validation: ValidationOut

    @model_validator(mode="after")
    def _candidate_of_the_run(self) -> PromoteInput:
        _same_model(self.run, self.candidate)
        return self


def _same_model(run: Run, candidate: Candidate) -> None:
    if candidate.model != run.model:
        raise _rule("candidate.model", candidate.model, f"the run's model ({run.model!r})")


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
    votes, so it never fires.

    Fields: ``enabled`` (the model's config turns on at least one of the
    check's signals), ``insufficient`` (some enabled signal lacked data),
    ``reason`` (why it fired, else why data was lacking), ``votes``, and
    ``details`` (the signals' results). Computed from ``votes`` (serialized,
    read by the state machine): ``fired``, ``dissent`` and ``voted``.
    """

    signal: str
    enabled: bool
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


class DriftPlan(_Payload):
    """Where the distributed drift check's batches are (``DriftCheck``'s output when the window is profiled in
    batches; the ``ProfileWindow`` Map reads ``manifest_key``, ``JudgeDrift`` gets it back)."""

    bucket: str
    manifest_key: str
    partials_prefix: str
    failures_prefix: str
    result_prefix: str
    objects: Count
    batches: Count
    bytes: Count
    max_concurrency: Annotated[int, Field(ge=1, le=1000, description="an integer from 1 to 1000")]


class DriftPlanOut(RunInput):
    """``DriftCheck``'s output on the distributed path: the run (for the Map's iterations) and the plan."""

    plan: DriftPlan


class DriftObject(_Payload):
    """One table object of the window, as the batch manifest lists it."""

    key: Annotated[str, Field(min_length=1, description="an S3 key")]
    etag: str
    size: Count


class DriftBatch(_Payload):
    """One item of the batch manifest: table objects profiled by one map iteration."""

    index: Count
    objects: Annotated[list[DriftObject], Field(min_length=1, description="a non-empty list of objects")]


class DriftProfileInput(RunInput):
    """``ProfileBatch``'s input (the Map's ``ItemSelector``): the run and one batch of the manifest."""

    batch: DriftBatch


class DriftProfileOut(_Payload):
    """What one map iteration profiled (the profile and sample themselves are in S3)."""

    index: int
    rows: int
    objects: int
    sample_rows: int


class MapOutcome(_Payload):
    """How the ``ProfileWindow`` Map ended: its ``ResultWriter`` details, or the error its Catch records."""

    Error: str | None = None
    Cause: str | None = None


class DriftJudgeInput(DriftPlanOut):
    """``JudgeDrift``'s input: the plan, and how the Map ended (``Error`` set when it failed)."""

    map: MapOutcome | None = None

    @property
    def map_error(self) -> MapOutcome | None:
        """The Map's error, or None when it succeeded."""
        return self.map if self.map is not None and self.map.Error is not None else None


def _rule(field: str, value: Any, expected: str) -> PydanticCustomError:
    """A rule across fields broken: ``field`` (relative to the model that checks it) holds ``value``."""
    context = {"field": field, "value": value, "shown": shown(value), "expected": expected}
    return PydanticCustomError("event_rule", "{field} == {shown}, expected {expected}", context)


def parse[T: BaseModel](model: type[T], event: Any, *, what: str, kind: str = "input") -> T:
    """Validate ``event`` into ``model``.

    Raises
    ------
    InvalidEvent
        ``"malformed <what> <kind>: <problem>; ..."``, one problem per malformed field (at most
        five): ``"<path> is missing, expected <what>"`` or ``"<path> == <value>, expected <what>"``,
        where ``path`` is the field's dotted path (``run.window_end``, ``detail.model``).
    """
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidEvent(f"malformed {what} {kind}: {describe_errors(model, exc)}") from exc


def describe_errors(model: type[BaseModel], exc: ValidationError, *, limit: int = 5) -> str:
    """The problems of a failed validation of ``model``, one per field, as :func:`parse` reports them."""
    problems: list[str] = []
    for error in exc.errors():
        problem = _problem(model, error)
        if problem not in problems:
            problems.append(problem)
    more = f"; and {len(problems) - limit} more" if len(problems) > limit else ""
    return "; ".join(problems[:limit]) + more


def _problem(model: type[BaseModel], error: Any) -> str:
    loc = tuple(error["loc"])
    path = ".".join(str(part) for part in loc)
    if error["type"] == "event_rule":
        ctx = error["ctx"]
        field = f"{path}.{ctx['field']}" if path else ctx["field"]
        return f"{field} == {shown(ctx['value'])}, expected {ctx['expected']}"
    expected = _expected(model, loc) or error["msg"]
    if error["type"] == "missing":
        return f"{path or 'input'} is missing, expected {expected}"
    return f"{path or 'input'} == {shown(error['input'])}, expected {expected}"


def shown(value: Any, width: int = 60) -> str:
    """``repr(value)``, cut to ``width`` characters."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _expected(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """What the field at ``loc`` of ``model`` expects: its ``description``, else its type in words."""
    annotation: Any = model
    info: FieldInfo | None = None
    for part in loc:
        inner = _single(annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            info = _field(inner, part)
            if info is None:
                return None
            annotation = info.annotation
        elif get_origin(inner) in (list, dict) and get_args(inner):
            info, annotation = None, get_args(inner)[-1]
        else:
            return None
    if info is not None and info.description:
        return info.description
    return _words(annotation)


def _field(model: type[BaseModel], name: Any) -> FieldInfo | None:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info
    return None


def _single(annotation: Any) -> Any:
    """``X`` of ``Annotated[X, ...]`` or ``X | None``."""
    if get_origin(annotation) is Annotated:
        return _single(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        kinds = [a for a in get_args(annotation) if a is not type(None)]
        return _single(kinds[0]) if len(kinds) == 1 else annotation
    return annotation


def _words(annotation: Any) -> str:
    """A type in words, as a message says what was expected (``null``, meaning "absent", goes unsaid)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        described = [m.description for m in args[1:] if isinstance(m, FieldInfo) and m.description]
        return described[0] if described else _words(args[0])
    if origin in (Union, types.UnionType):
        return _either([_words(a) for a in args if a is not type(None)])
    if origin is Literal:
        return _either([repr(a) for a in args])
    named = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if annotation in named:
        return named[annotation]
    if origin in (list, tuple) or annotation in (list, tuple):
        return "a list"
    if origin is dict or annotation is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return "an object"
    return "a value"


def _either(options: list[str]) -> str:
    return options[0] if len(options) == 1 else ", ".join(options[:-1]) + " or " + options[-1]


class ReportInput(_Payload):
    """The Report step's input: the state the run ends with, how it ends, and the execution (context object)."""

    state: dict[str, Any]
    status: Literal["SUCCEEDED", "FAILED"]
    execution: ExecutionName
    execution_arn: Annotated[str, Field(min_length=1, description="an execution ARN")]
    started_at: Timestamp | None = None


class ReportOut(_Payload):
    """Where the run's report is: ``report.json`` (the ``result.json`` contract) and the page."""

    json_uri: S3Uri
    html_uri: S3Uri
