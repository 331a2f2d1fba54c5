"""The data drift trigger: per-feature tests, thresholds, the multivariate and prediction signals, profiling."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from retrain.config.base import _Strict

#: Drift methods: the effect size that must reach its threshold (``auto`` picks one by the column's type).
DriftMethod = Literal["auto", "ks", "psi", "wasserstein", "js", "chi2", "linf"]
#: Methods for numeric features (``chi2`` and ``linf`` test them on bins) and for categorical ones.
NUMERIC_DRIFT_METHODS = ("auto", "ks", "psi", "wasserstein", "js", "chi2", "linf")
CATEGORICAL_DRIFT_METHODS = ("auto", "psi", "js", "chi2", "linf")


class DriftThresholds(_Strict):
    """Practical thresholds: the effect size a significant change must reach to count as drift.

    ``ks``: KS statistic (largest CDF gap); ``psi``: population stability index;
    ``wasserstein``: Wasserstein distance in reference standard deviations;
    ``js``: Jensen-Shannon distance (natural log); ``chi2``: Cramér's V;
    ``linf``: largest change of one category's (or bin's) share.
    """

    ks: float = Field(default=0.1, gt=0, le=1)
    """Threshold of the KS statistic (the largest gap between the two CDFs)."""
    psi: float = Field(default=0.2, gt=0)
    """Threshold of the population stability index (on ``bins`` quantile bins of the reference)."""
    wasserstein: float = Field(default=0.1, gt=0)
    """Threshold of the Wasserstein distance, in reference standard deviations."""
    js: float = Field(default=0.1, gt=0, le=1)
    """Threshold of the Jensen-Shannon distance (natural logarithm, as scipy's)."""
    chi2: float = Field(default=0.1, gt=0, le=1)
    """Threshold of Cramér's V."""
    linf: float = Field(default=0.1, gt=0, le=1)
    """Threshold of the largest change of one category's (or bin's) share."""


class DriftFeature(_Strict):
    """Per-feature drift settings: method, its threshold (default: ``thresholds.<method>``), critical."""

    method: DriftMethod = "auto"
    """The feature's effect size: ``auto`` (Wasserstein for a continuous numeric feature, Jensen-Shannon for one
    with at most 10 distinct reference values and for a categorical one), ``ks``, ``psi``, ``wasserstein``,
    ``js``, ``chi2`` or ``linf``; ``ks`` and ``wasserstein`` apply to numeric features only."""
    threshold: float | None = Field(default=None, gt=0)
    """The feature's practical threshold; ``null``: ``triggers.drift.thresholds.<method>``."""
    critical: bool = False
    """A critical feature that drifts makes the whole data set drift."""


class DomainClassifierDrift(_Strict):
    """Multivariate drift: a classifier told to separate reference rows from current rows.

    Fires when its cross-validated ROC AUC reaches ``auc`` and is significantly above 0.5.
    """

    auc: float = Field(default=0.55, gt=0.5, lt=1)
    """Cross-validated ROC AUC of the domain classifier at which the signal fires (when also significantly above
    0.5: Mann-Whitney at level ``triggers.drift.p_value``)."""
    max_rows: int = Field(default=5000, ge=50, le=200000)
    """Most rows taken from each window (reference sample and current window)."""
    folds: int = Field(default=3, ge=2, le=10)
    """Cross-validation folds."""


class PredictionDrift(_Strict):
    """Drift of the champion's predictions (classes or regression values) against their reference distribution."""

    method: DriftMethod = "auto"
    """Effect size of the change of the champion's outputs (its positive-class probability ``proba_<class>`` when
    logged, else its classes; regression values), as a feature's ``method``."""
    threshold: float | None = Field(default=None, gt=0)
    """Practical threshold; ``null``: ``triggers.drift.thresholds.<method>``."""
    min_samples: int = Field(default=100, ge=2)
    """Fewest predictions in the window; fewer is insufficient data and the signal does not vote."""


class PredictionDifference(_Strict):
    """Share of current rows where champion and latest candidate disagree (regression: by more than ``tolerance``).

    Fires when the share reaches ``max_rate``.
    """

    max_rate: float = Field(default=0.1, gt=0, le=1)
    """Share of the window's rows on which champion and latest candidate predict differently at which the signal
    fires."""
    tolerance: float = Field(default=0.0, ge=0)
    """Regression: predictions further apart than this (target unit) count as different."""
    min_samples: int = Field(default=100, ge=1)
    """Fewest rows in the window; fewer (or no candidate newer than the champion) is insufficient data."""


class DriftProfileSettings(_Strict):
    """How the reference profile is built (once per snapshot): see :mod:`retrain.drift.profile`."""

    points: int = Field(default=20000, ge=100, le=1000000)
    """Distinct values kept per numeric feature: exact up to this many; beyond, this many order statistics with
    exact counts, between which the CDF is interpolated (KS within 1/``points``)."""
    max_categories: int = Field(default=10000, ge=2, le=100000)
    """Most categories counted per categorical feature; the drift check compares every category the reference
    named up to this many."""
    sample_rows: int = Field(default=5000, ge=0, le=200000)
    """Rows of the seeded reference sample stored in the profile (the domain classifier's reference rows)."""


class DistributedDrift(_Strict):
    """How a window too large for one function is profiled: batches of partitions on a Distributed Map.

    See docs/drift.md, "Distributed drift check".
    """

    min_partitions: int = Field(default=64, ge=1)
    """With ``engine: auto``, the check runs distributed when the window has more table objects than this."""
    batch_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    """Target bytes of table objects per map iteration (objects are grouped in listing order; an object larger
    than this is a batch of its own)."""
    max_concurrency: int = Field(default=40, ge=1, le=1000)
    """Map iterations (batches) running at once."""
    points: int = Field(default=20000, ge=100, le=1000000)
    """Sketch points per numeric feature of each batch's profile (exact up to this many distinct values; beyond,
    KS within 1/``points``)."""
    sample_rows: int = Field(default=5000, ge=0, le=200000)
    """Rows of the seeded uniform sample of the window kept across batches, on which the domain classifier and
    the prediction difference rate run in distributed mode."""


class DriftTrigger(_Strict):
    """Retrain when the data drifts: enough features, a critical one, or the important ones.

    A feature drifts when its change is significant (adjusted for testing every
    feature: ``correction``) and its effect size reaches its threshold.
    """

    share: float = Field(default=0.3, gt=0, le=1)
    """Share of drifted features at which the data set drifts."""
    p_value: float = Field(default=0.05, gt=0, lt=1)
    """Level of the adjusted p-values (with ``bh``, the false discovery rate), and of the multivariate and
    prediction tests."""
    correction: Literal["bh", "bonferroni"] = "bh"
    """Multiple-testing correction across every test of the check: ``bh`` (Benjamini-Hochberg) or
    ``bonferroni``."""
    min_samples: int = Field(default=100, ge=2)
    """Rows each window needs; fewer is insufficient data and the signal does not vote."""
    bins: int = Field(default=10, ge=2, le=100)
    """Quantile bins of the reference for ``psi``, ``js``, ``linf`` and ``chi2`` on continuous features."""
    thresholds: DriftThresholds = Field(default_factory=DriftThresholds)
    """Practical threshold per method (a feature's own ``threshold`` overrides it)."""
    missing_threshold: float = Field(default=0.2, gt=0)
    """Cohen's h a significant change of a numeric feature's missing rate must reach to drift."""
    importance_share: float | None = Field(default=0.5, gt=0, le=1)
    """Share of the champion's permutation importance carried by the drifted features at which the data set
    drifts ("drift that matters"); ``null``: off."""
    features: dict[str, DriftFeature] = Field(default_factory=dict)
    """Per-feature settings, by feature name; a key that is not a feature, or a method that does not apply to the
    feature's kind, is an error."""
    multivariate: DomainClassifierDrift | None = None
    """Multivariate drift (a domain classifier): its own vote; off by default."""
    prediction: PredictionDrift | None = None
    """Prediction drift (the champion's outputs in the window against their distribution on its holdout): its own
    vote; off by default."""
    prediction_difference: PredictionDifference | None = None
    """Champion/candidate prediction difference rate: its own vote; off by default."""
    profile: DriftProfileSettings = Field(default_factory=DriftProfileSettings)
    """How each snapshot's reference profile is built (once, when the snapshot is made)."""
    engine: Literal["auto", "single", "distributed"] = "auto"
    """Where the window is read: ``single`` (the whole window in the DriftCheck function), ``distributed``
    (batches of partitions profiled on a Distributed Map, merged and judged), or ``auto`` (distributed when the
    window has more table objects than ``distributed.min_partitions``)."""
    distributed: DistributedDrift = Field(default_factory=DistributedDrift)
    """Batching and sketch settings of the distributed engine."""

    def check_features(self, numeric: list[str], categorical: list[str]) -> None:
        kinds = {**dict.fromkeys(numeric, "numeric"), **dict.fromkeys(categorical, "categorical")}
        for name, options in self.features.items():
            where = f"triggers.drift.features.{name}"
            if name not in kinds:
                raise ValueError(f"{where}: {name!r} is not a feature of the model ({', '.join(kinds)})")
            allowed = NUMERIC_DRIFT_METHODS if kinds[name] == "numeric" else CATEGORICAL_DRIFT_METHODS
            if options.method not in allowed:
                raise ValueError(
                    f"{where}.method == {options.method!r} does not apply to a {kinds[name]} feature, "
                    f"use one of {', '.join(allowed)}"
                )
