"""Typed errors.

Handlers raise these; Lambda reports the class name as ``errorType`` and the
state machine's Retry/Catch match it by that name. Every message names the
problem (the column, the field, the model) so that the execution's output says
what to fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrain.lifecycle import BootstrapOutcome


class RetrainError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(RetrainError):
    """A model's configuration is missing or invalid."""


class ModelNotFound(RetrainError):
    """No configuration or no registered version exists for the model."""


class SchemaMismatch(RetrainError):
    """A data set lacks a required column, or a column has the wrong type."""

    def __init__(self, message: str, *, missing: list[str] | None = None) -> None:
        super().__init__(message)
        self.missing = list(missing or [])


class InsufficientData(RetrainError):
    """Too few rows (or labels) to compute what was asked."""


class DataNotFound(RetrainError):
    """An expected object or window of data does not exist in S3."""


class ArtifactIntegrityError(RetrainError):
    """A model artifact's sha256 differs from the one in the registry."""


class EstimatorNotAllowed(RetrainError):
    """The configured estimator is not on the allowlist, or its parameters are invalid."""


class PromotionConflict(RetrainError):
    """The champion pointer moved since the run read it; nothing was written."""


class ChampionNotPublished(RetrainError):
    """The registry's champion could not be written to its SSM parameter (the registry is the truth).

    The next run's first step (``Reconcile``) writes it again.
    """


class InvalidEvent(RetrainError):
    """A trigger event could not be understood."""


class TransientError(RetrainError):
    """A retryable failure of a dependency (throttling, timeouts)."""


class AccessDenied(RetrainError):
    """AWS refused a request this function needs (a missing permission, a key policy); retrying cannot help."""


class UnreadableData(RetrainError):
    """A data file exists but cannot be parsed as its format (CSV or Parquet)."""


class ChampionExists(RetrainError):
    """A first champion was asked for, but the model already has one; nothing was written."""

    def __init__(self, message: str, *, champion_version: int) -> None:
        super().__init__(message)
        self.champion_version = champion_version


class BootstrapRejected(RetrainError):
    """A bootstrapped version failed a gate: it is recorded as rejected and nothing was promoted.

    ``outcome`` (a :class:`retrain.lifecycle.BootstrapOutcome`) holds the version and every gate.
    """

    def __init__(self, message: str, *, outcome: BootstrapOutcome | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome


class StackNotFound(RetrainError):
    """The deployed stack cannot be described, or lacks an output the command needs."""


class BatchMismatch(RetrainError):
    """The distributed drift check's batch profiles do not cover exactly the objects of its manifest."""


class BatchFailed(RetrainError):
    """A batch of the distributed drift check failed for a reason that is not one of the other types."""
