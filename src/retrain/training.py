"""Building the estimator from a model's config, fitting it, and its artifacts.

The estimator named in a config is resolved against :data:`ALLOWED_ESTIMATORS`
only, so a config cannot import arbitrary code. A fitted model is a
scikit-learn :class:`~sklearn.pipeline.Pipeline` (preprocessing + estimator),
stored with skops rather than pickle. :func:`loads` builds an artifact only after
its sha256 matches the registry's and :mod:`retrain.artifact_safety` has checked
the file without building anything: every type must be one these pipelines
contain (:data:`~retrain.artifact_safety.ARTIFACT_CLASSES`; the ones skops does
not trust by default are exactly :data:`TRUSTED_TYPES`, class names only, no
function and nothing that touches files or the OS), the top-level object a
Pipeline ending in an allowlisted estimator, and every index that compiled
predict code uses unchecked (decision-tree and histogram-boosting nodes, k-d and
ball trees, k-neighbors training data, gradient-boosting stages, one-hot output
counts) in range; gradient boosting's prediction width is checked on the built
model before it is returned. :func:`dumps` writes only artifacts that pass the
same checks.

This module is pure: it takes and returns DataFrames, arrays and bytes and
never touches AWS.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from retrain import artifact_safety
from retrain.artifact_safety import TRUSTED_TYPES
from retrain.config import ModelConfig, Problem
from retrain.errors import ArtifactIntegrityError, EstimatorNotAllowed, InsufficientData, SchemaMismatch
from retrain.frames import MISSING, require_columns
from retrain.targets import MAX_FLOAT_CLASSES, classification_target, float_label, numbers  # noqa: F401 - re-exported

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline

# scikit-learn and skops are imported where they are first needed: importing skops.io imports most of
# scikit-learn (its trusted-type list walks every estimator), which a step that only reads a config or
# prepares a training job never needs, and which would otherwise be every cold start's largest cost.

_CLASSIFIERS: dict[str, str] = {
    "LogisticRegression": "sklearn.linear_model",
    "RandomForestClassifier": "sklearn.ensemble",
    "ExtraTreesClassifier": "sklearn.ensemble",
    "GradientBoostingClassifier": "sklearn.ensemble",
    "HistGradientBoostingClassifier": "sklearn.ensemble",
    "DecisionTreeClassifier": "sklearn.tree",
    "KNeighborsClassifier": "sklearn.neighbors",
}
_REGRESSORS: dict[str, str] = {
    "LinearRegression": "sklearn.linear_model",
    "Ridge": "sklearn.linear_model",
    "Lasso": "sklearn.linear_model",
    "ElasticNet": "sklearn.linear_model",
    "RandomForestRegressor": "sklearn.ensemble",
    "ExtraTreesRegressor": "sklearn.ensemble",
    "GradientBoostingRegressor": "sklearn.ensemble",
    "HistGradientBoostingRegressor": "sklearn.ensemble",
    "DecisionTreeRegressor": "sklearn.tree",
    "KNeighborsRegressor": "sklearn.neighbors",
}

#: Estimator class name -> the public module that defines it (the only classes a config may name).
ALLOWED_ESTIMATORS: dict[str, str] = {**_CLASSIFIERS, **_REGRESSORS}

#: Estimator class name -> the problem type it solves.
ESTIMATOR_PROBLEM: dict[str, Problem] = {
    **dict.fromkeys(_CLASSIFIERS, "classification"),
    **dict.fromkeys(_REGRESSORS, "regression"),
}

_PROBLEMS = ("classification", "regression")


def allowed_estimators(problem: Problem) -> list[str]:
    """Sorted names of the allowlisted estimators for ``problem``."""
    _check_problem(problem)
    return sorted(name for name, kind in ESTIMATOR_PROBLEM.items() if kind == problem)


def resolve_estimator(name: str, params: Mapping[str, Any], problem: Problem, seed: int) -> BaseEstimator:
    """Instantiate an allowlisted scikit-learn estimator.

    Parameters
    ----------
    name
        Class name (``"RandomForestClassifier"``) or its public dotted path
        (``"sklearn.ensemble.RandomForestClassifier"``). Nothing outside
        :data:`ALLOWED_ESTIMATORS` is ever imported.
    params
        Constructor arguments; each must be a parameter of the class's ``__init__``.
    problem
        ``"classification"`` or ``"regression"``; the estimator must solve it.
    seed
        Set as ``random_state`` when the estimator accepts one and ``params`` does not.

    Returns
    -------
    BaseEstimator
        An unfitted estimator.

    Raises
    ------
    EstimatorNotAllowed
        The name is not allowlisted, the estimator is for the other problem type,
        a parameter is unknown, or a parameter value is invalid.
    ValueError
        ``problem`` is not a known problem type.
    """
    _check_problem(problem)
    class_name = _allowlisted_name(name, problem)
    if ESTIMATOR_PROBLEM[class_name] != problem:
        raise EstimatorNotAllowed(
            f"{class_name} is a {ESTIMATOR_PROBLEM[class_name]} estimator, but the model's problem is "
            f"{problem}; use one of: {', '.join(allowed_estimators(problem))}"
        )
    if not isinstance(params, Mapping):
        raise EstimatorNotAllowed(f"params of {class_name} must be a mapping, got {type(params).__name__}")

    cls = getattr(importlib.import_module(ALLOWED_ESTIMATORS[class_name]), class_name)
    accepted = _init_parameters(cls)
    for key in params:
        if key not in accepted:
            raise EstimatorNotAllowed(
                f"unknown parameter {key!r} for {class_name}; valid parameters: {', '.join(sorted(accepted))}"
            )
    kwargs = dict(params)
    if "random_state" in accepted and "random_state" not in kwargs:
        kwargs["random_state"] = seed
    try:
        estimator = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise EstimatorNotAllowed(f"invalid parameters for {class_name}: {exc}") from exc
    _validate_params(estimator, class_name)
    return estimator


def build_pipeline(config: ModelConfig) -> Pipeline:
    """Build the unfitted preprocessing + estimator pipeline for ``config``.

    Numeric features are median-imputed and standardized; categorical features
    are imputed with :data:`~retrain.frames.MISSING` and one-hot encoded into at most
    ``training.max_categories`` columns each: a feature with that many categories
    or more keeps a column for each of its ``max_categories - 1`` most frequent
    ones and groups the rest into one infrequent column, which categories unseen
    at fit time also encode as; a feature with fewer categories gets one column
    per category and encodes unseen ones as all zeros. So an id-like feature
    costs ``max_categories`` dense columns, not one per distinct value. The
    pipeline expects the frame returned by :func:`feature_frame`.

    Raises
    ------
    EstimatorNotAllowed
        See :func:`resolve_estimator`.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    transformers: list[tuple[str, Any, list[str]]] = []
    if config.features.numeric:
        numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
        transformers.append(("numeric", numeric, list(config.features.numeric)))
    if config.features.categorical:
        categorical = Pipeline(
            [
                ("impute", SimpleImputer(strategy="constant", fill_value=MISSING)),
                (
                    "encode",
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        max_categories=config.training.max_categories,
                        sparse_output=False,
                    ),
                ),
            ]
        )
        transformers.append(("categorical", categorical, list(config.features.categorical)))
    estimator = resolve_estimator(
        config.training.estimator, config.training.params, config.problem, config.training.seed
    )
    preprocess = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    return Pipeline([("preprocess", preprocess), ("estimator", estimator)])


def feature_frame(df: pd.DataFrame, config: ModelConfig, *, source: str = "data") -> pd.DataFrame:
    """Select and type the model's feature columns.

    Columns come out in the order of ``config.features.all``. Numeric columns are
    float64 (infinities become NaN, so the imputer treats them as missing).
    Categorical columns are object dtype holding ``str`` values, with missing
    values kept as NaN; an integral float (``2.0``) is written as ``"2"`` so a
    column read as int in one file and as float in another encodes alike.

    Parameters
    ----------
    df
        Any frame holding at least the feature columns; extra columns are ignored.
    config
        The model's config.
    source
        Names the data set in error messages (``"training data"``, ``"holdout"``).

    Raises
    ------
    SchemaMismatch
        A feature column is missing (``missing`` lists them all), or a numeric
        feature holds a non-numeric value.
    """
    names = config.features.all
    require_columns(df, names, what=source)
    out: dict[str, pd.Series] = {}
    for name in config.features.numeric:
        out[name] = _numeric_column(df[name], name, source)
    for name in config.features.categorical:
        out[name] = _categorical_column(df[name])
    return pd.DataFrame(out, index=df.index, columns=names)


def fit(config: ModelConfig, train: pd.DataFrame) -> Pipeline:
    """Fit the model described by ``config`` on ``train``.

    Rows whose target is missing are dropped first; a classification target's
    labels are typed by :func:`classification_target` (whole-number floats
    become int64 classes). Fitting is deterministic: the same data, config and
    ``training.seed`` give the same model.

    Parameters
    ----------
    config
        The model's config (features, target, estimator, ``training.min_rows``).
    train
        Training rows with the feature columns and the target column.

    Returns
    -------
    Pipeline
        The fitted preprocessing + estimator pipeline.

    Raises
    ------
    SchemaMismatch
        The target or a feature column is missing, a numeric feature is not
        numeric, (regression) the target is not numeric, or (classification) the
        target is continuous or mixes types (:func:`classification_target`).
    InsufficientData
        Fewer labelled rows than ``training.min_rows``, or fewer than two classes.
    EstimatorNotAllowed
        See :func:`resolve_estimator`.
    """
    require_columns(train, [config.target], what="training data", role="target")
    labelled = train.loc[train[config.target].notna()]
    y = labelled[config.target]
    if config.problem == "regression":
        y = _numeric_column(y, config.target, "training data")
    else:
        y = classification_target(y, config.target, "training data")
    n_rows = len(labelled)
    if n_rows < config.training.min_rows:
        raise InsufficientData(
            f"training data has {n_rows} rows with a target, fewer than training.min_rows == {config.training.min_rows}"
        )
    if config.problem == "classification":
        n_classes = y.nunique()
        if n_classes < 2:
            raise InsufficientData(
                f"training data target {config.target!r} has {n_classes} class, a classifier needs at least 2"
            )
    X = feature_frame(labelled, config, source="training data")
    pipeline = build_pipeline(config)
    pipeline.fit(X, y.to_numpy())
    return pipeline


def predict(model: Pipeline, df: pd.DataFrame, config: ModelConfig, *, source: str = "data") -> np.ndarray:
    """Predict with a fitted pipeline on the feature columns of ``df``.

    Returns
    -------
    numpy.ndarray
        One prediction per row of ``df`` (class labels or regression values).

    Raises
    ------
    SchemaMismatch
        See :func:`feature_frame`.
    """
    return np.asarray(model.predict(feature_frame(df, config, source=source)))


#: The model's primary metric -> the scikit-learn scorer that permutation importances use.
IMPORTANCE_SCORERS: dict[str, str] = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "f1_macro": "f1_macro",
    "precision_macro": "precision_macro",
    "recall_macro": "recall_macro",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "mape": "neg_mean_absolute_percentage_error",
    "r2": "r2",
}


def importance_scorer(config: ModelConfig) -> str:
    """The scorer of :func:`permutation_importances`: the primary metric's, or a safe default.

    Binary-only and probability metrics (f1, precision, recall, roc_auc, log_loss, brier)
    fall back to ``balanced_accuracy``; an unknown regression metric to RMSE.
    """
    scorer = IMPORTANCE_SCORERS.get(config.primary_metric)
    if scorer is not None:
        return scorer
    return "balanced_accuracy" if config.problem == "classification" else "neg_root_mean_squared_error"


def permutation_importances(
    model: Any,
    df: pd.DataFrame,
    config: ModelConfig,
    *,
    repeats: int = 3,
    max_rows: int = 5000,
    seed: int = 0,
) -> dict[str, float]:
    """Permutation importance of every feature of a fitted model on labelled rows.

    Each feature column (a categorical feature as a whole, before one-hot
    encoding) is shuffled ``repeats`` times and the drop of the model's score
    (:func:`importance_scorer`) is averaged: how much the model relies on that
    feature, in the scorer's unit. Drift weighted by these importances is
    "drift that matters".

    Parameters
    ----------
    model
        A fitted pipeline from :func:`fit`.
    df
        Rows with the feature columns and the target; rows without a target are dropped.
    config
        The model's config.
    repeats : int, default 3
        Shuffles per feature.
    max_rows : int, default 5000
        At most this many rows are used (a seeded sample).
    seed : int, default 0

    Returns
    -------
    dict
        Feature -> mean score drop (may be slightly negative for a useless feature), in ``config.features.all`` order.

    Raises
    ------
    SchemaMismatch
        A feature or the target column is missing.
    InsufficientData
        No labelled row.
    """
    require_columns(df, [config.target], what="importance data", role="target")
    labelled = df.loc[df[config.target].notna()]
    if labelled.empty:
        raise InsufficientData("no labelled rows to compute permutation importances on")
    if len(labelled) > max_rows:
        labelled = labelled.sample(n=max_rows, random_state=seed)
    x = feature_frame(labelled, config, source="importance data")
    y = labelled[config.target]
    if config.problem == "regression":
        y = _numeric_column(y, config.target, "importance data")
    blocks = _feature_blocks(model, config)
    if blocks is None:  # not a pipeline of this module: permute the raw columns through the whole pipeline
        from sklearn.inspection import permutation_importance

        result = permutation_importance(
            model, x, y.to_numpy(), scoring=importance_scorer(config), n_repeats=repeats, random_state=seed
        )
        means = np.nan_to_num(np.asarray(result["importances_mean"], dtype=np.float64))
        return {name: float(value) for name, value in zip(x.columns, means, strict=True)}

    from sklearn.metrics import get_scorer
    from threadpoolctl import threadpool_limits

    # The preprocessing is row by row with fitted statistics, so shuffling a raw feature is shuffling its block
    # of transformed columns: transform once, then score only the estimator (10x fewer pipeline calls).
    estimator, scorer = model.named_steps["estimator"], get_scorer(importance_scorer(config))
    transformed = np.asarray(model.named_steps["preprocess"].transform(x), dtype=np.float64)
    target = y.to_numpy()
    rng = np.random.default_rng(seed)
    out: dict[str, float] = {}
    with threadpool_limits(limits=1):  # a few thousand rows: OpenMP threads only add overhead (and spin when busy)
        baseline = float(scorer(estimator, transformed, target))
        for name, columns in blocks.items():
            drops = []
            for _ in range(repeats):
                shuffled = transformed.copy()
                shuffled[:, columns] = transformed[rng.permutation(len(transformed))][:, columns]
                drops.append(baseline - float(scorer(estimator, shuffled, target)))
            out[name] = float(np.nan_to_num(np.mean(drops)))
    return out


def _feature_blocks(model: Any, config: ModelConfig) -> dict[str, np.ndarray] | None:
    """Each feature's columns in the output of :func:`build_pipeline`'s preprocessing (None for other models)."""
    from sklearn.compose import ColumnTransformer

    steps = getattr(model, "named_steps", {})
    preprocess = steps.get("preprocess")
    if not isinstance(preprocess, ColumnTransformer) or "estimator" not in steps:
        return None
    indices = getattr(preprocess, "output_indices_", None)
    if indices is None:
        return None
    blocks: dict[str, np.ndarray] = {}
    if config.features.numeric:
        start = indices["numeric"].start
        for i, name in enumerate(config.features.numeric):
            blocks[name] = np.array([start + i])
    if config.features.categorical:
        encoder = preprocess.named_transformers_["categorical"].named_steps["encode"]
        start = indices["categorical"].start
        # The encoder's own per-feature output widths (what its transform lays the columns out by): with
        # infrequent categories grouped, a feature has fewer columns than ``categories_`` has entries.
        for name, width in zip(config.features.categorical, encoder._n_features_outs, strict=True):
            blocks[name] = np.arange(start, start + width)
            start += width
    return {name: blocks[name] for name in config.features.all}


def sha256_hex(data: bytes) -> str:
    """Hex sha256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def dumps(model: Any) -> bytes:
    """Serialize a fitted pipeline to skops bytes (no pickle), refusing what :func:`loads` would refuse.

    The bytes go through the same checks as :func:`loads` (see
    :func:`retrain.artifact_safety.check_artifact`), so an artifact is never
    registered that validation could not load.

    Raises
    ------
    EstimatorNotAllowed
        The model holds a type outside :data:`~retrain.artifact_safety.ARTIFACT_CLASSES`
        (for example ``KNeighbors*`` with a ball-tree-only metric such as ``hamming``,
        or ``HistGradientBoosting*`` with ``categorical_features``) or fails a structural check.
    """
    import skops.io as sio

    data = bytes(sio.dumps(model))
    try:
        artifact_safety.check_artifact(data, estimators=ALLOWED_ESTIMATORS)
        artifact_safety.check_loaded(model)
    except ArtifactIntegrityError as exc:
        raise EstimatorNotAllowed(
            f"the fitted model cannot be stored as a safe artifact ({exc}); its estimator parameters make it hold "
            "something loads() refuses: choose other parameters (k-neighbors: a metric valid for kd_tree, or "
            "algorithm 'brute'; histogram boosting: no categorical_features, list them under features.categorical)"
        ) from exc
    return data


def loads(data: bytes, *, expected_sha256: str | None = None) -> Any:
    """Load a pipeline written by :func:`dumps`, after checking it without building anything.

    In order, each refusal an :class:`ArtifactIntegrityError` naming the problem:

    1. the sha256 of ``data`` must equal ``expected_sha256`` (when given);
    2. :func:`retrain.artifact_safety.check_artifact` reads the skops file's
       schema and arrays (``numpy.load(..., allow_pickle=False)``) and refuses
       any type outside :data:`~retrain.artifact_safety.ARTIFACT_CLASSES` (plus
       plain containers, JSON values and numpy arrays, scalars and dtypes), a
       top-level object that is not a Pipeline ending in an allowlisted
       estimator, and any out-of-range index in the structures compiled predict
       code trusts: ``Tree`` node arrays (children after their node and in
       range, one parent each, features below ``n_features_in_``, sizes and
       depth consistent), histogram-boosting ``TreePredictor`` nodes (same, and
       no categorical split), ``KDTree``/``BallTree`` index arrays and metric,
       k-neighbors training data width, gradient-boosting stages, one-hot output
       counts;
    3. only then ``skops.io.loads`` builds it, trusting exactly
       :data:`TRUSTED_TYPES` beyond skops' defaults (no module is imported to
       decide what is trusted);
    4. :func:`retrain.artifact_safety.check_loaded` checks, before the model is
       returned or used, that gradient boosting's initial prediction has one
       column per tree of a stage.

    Parameters
    ----------
    data
        The artifact's bytes.
    expected_sha256
        Hex digest recorded in the registry; when given it must match.

    Raises
    ------
    ArtifactIntegrityError
        The digest differs, the bytes are not a readable skops file, the artifact
        contains a type outside the allowlist, or it fails a structural check.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if expected_sha256 is not None:
        actual = sha256_hex(data)
        if actual != expected_sha256.strip().lower():
            raise ArtifactIntegrityError(f"artifact sha256 mismatch: expected {expected_sha256}, got {actual}")
    artifact_safety.check_artifact(data, estimators=ALLOWED_ESTIMATORS)
    import skops.io as sio

    try:
        model = sio.loads(data, trusted=list(TRUSTED_TYPES))
    except Exception as exc:
        raise ArtifactIntegrityError(f"artifact could not be loaded: {exc}") from exc
    artifact_safety.check_loaded(model)
    return model


def _check_problem(problem: str) -> None:
    if problem not in _PROBLEMS:
        raise ValueError(f"problem == {problem!r}, must be one of {', '.join(_PROBLEMS)}")


def _allowlisted_name(name: str, problem: Problem) -> str:
    if isinstance(name, str):
        if name in ALLOWED_ESTIMATORS:
            return name
        module, _, class_name = name.rpartition(".")
        if ALLOWED_ESTIMATORS.get(class_name) == module:
            return class_name
    raise EstimatorNotAllowed(
        f"estimator {name!r} is not allowed; use one of: {', '.join(allowed_estimators(problem))}"
    )


def _init_parameters(cls: type) -> set[str]:
    signature = inspect.signature(cls)
    return {p.name for p in signature.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _validate_params(estimator: BaseEstimator, class_name: str) -> None:
    validate = getattr(estimator, "_validate_params", None)
    if validate is None:
        return
    try:
        validate()
    except (ValueError, TypeError) as exc:  # sklearn's InvalidParameterError subclasses both
        raise EstimatorNotAllowed(f"invalid parameter for {class_name}: {exc}") from exc


def _numeric_column(column: pd.Series, name: str, source: str) -> pd.Series:
    values, bad = numbers(column)
    if bad.any():
        example = column[bad].iloc[0]
        raise SchemaMismatch(
            f"{source} column {name!r} must be numeric, found {example!r} ({int(bad.sum())} non-numeric values)"
        )
    return pd.Series(np.where(np.isfinite(values), values, np.nan), index=column.index, name=column.name)


def _categorical_column(column: pd.Series) -> pd.Series:
    missing = column.isna().to_numpy()
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        text = [float_label(v) for v in values]
    else:
        text = [str(v) for v in column.to_numpy(dtype=object)]
    out = np.asarray(text, dtype=object)
    out[missing] = np.nan
    return pd.Series(out, index=column.index, dtype=object, name=column.name)
