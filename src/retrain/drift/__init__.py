"""Data drift: univariate (every feature), multivariate (a domain classifier), prediction drift.

Pure numpy/pandas (no boto3). scipy is imported lazily where a p-value needs
it, scikit-learn only by the domain classifier, so importing this package costs
numpy, pandas and pydantic only.

- :mod:`.stats`        the statistics: KS, chi-squared, two proportions, PSI, JS, L-inf, Wasserstein, correction
- :mod:`.profile`      the reference profile, built once per snapshot and stored next to it
- :mod:`.comparison`   one feature's test and effect size (numeric CDFs or bins, categorical counts)
- :mod:`.univariate`   every feature's verdict and the data set's (:func:`detect_drift`)
- :mod:`.merge`        window profiles of partitions, merged for one verdict (:func:`merge_profiles`)
- :mod:`.multivariate` the domain classifier (:func:`domain_classifier`)
- :mod:`.prediction`   prediction drift and the prediction difference rate
"""

from retrain.drift.merge import (
    WindowProfile,
    merge_profiles,
    profile_partition,
    window_from_bytes,
    window_to_bytes,
)
from retrain.drift.multivariate import MultivariateDrift, domain_classifier
from retrain.drift.prediction import (
    PredictionDifferenceResult,
    PredictionDriftResult,
    prediction_difference,
    prediction_drift,
)
from retrain.drift.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
    from_bytes,
    to_bytes,
)
from retrain.drift.stats import (
    MAX_EXACT_N,
    adjust_p_values,
    chi2_table,
    chi2_test,
    jensen_shannon,
    ks_2samp,
    ks_p_values,
    linf,
    psi,
    two_proportion_test,
    wasserstein_distance,
)
from retrain.drift.univariate import DEFAULT_THRESHOLDS, DriftResult, FeatureDrift, Finding, detect_drift

__all__ = [
    "DEFAULT_THRESHOLDS",
    "MAX_EXACT_N",
    "CategoricalProfile",
    "DriftResult",
    "FeatureDrift",
    "Finding",
    "MultivariateDrift",
    "NumericProfile",
    "PredictionDifferenceResult",
    "PredictionDriftResult",
    "ReferenceProfile",
    "WindowProfile",
    "adjust_p_values",
    "build_profile",
    "chi2_table",
    "chi2_test",
    "detect_drift",
    "domain_classifier",
    "from_bytes",
    "jensen_shannon",
    "ks_2samp",
    "ks_p_values",
    "linf",
    "merge_profiles",
    "prediction_difference",
    "prediction_drift",
    "profile_partition",
    "psi",
    "to_bytes",
    "two_proportion_test",
    "wasserstein_distance",
    "window_from_bytes",
    "window_to_bytes",
]
