"""The types a model artifact may contain: the classes the project's pipelines store and their skops loaders.

``tests/unit/test_artifact_safety.py`` recomputes both sets from freshly fitted pipelines, so an upgrade of
scikit-learn, skops or numpy that changes what is stored fails there, naming the new types.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: Type names (as ``skops.io.get_untrusted_types`` reports them) that the pipelines of
#: :func:`retrain.training.fit` contain beyond skops' own defaults: the exact union over every
#: allowlisted estimator and the parameters that change what is stored (see
#: ``tests/unit/test_artifact_safety.py``, which recomputes it). Passed to ``skops.io.loads``.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.tree._tree.Tree",
)

#: Every class (outside plain builtins and numpy arrays/scalars/dtypes) the pipelines contain,
#: mapped to the skops loader that builds it. Recomputed by the same test.
ARTIFACT_CLASSES: Mapping[str, str] = MappingProxyType(
    {
        "numpy.random._generator.Generator": "RandomGeneratorNode",
        "numpy.random.mtrand.RandomState": "RandomStateNode",
        "sklearn._loss._loss.CyAbsoluteError": "LossNode",
        "sklearn._loss._loss.CyExponentialLoss": "LossNode",
        "sklearn._loss._loss.CyHalfBinomialLoss": "LossNode",
        "sklearn._loss._loss.CyHalfGammaLoss": "LossNode",
        "sklearn._loss._loss.CyHalfMultinomialLoss": "LossNode",
        "sklearn._loss._loss.CyHalfPoissonLoss": "LossNode",
        "sklearn._loss._loss.CyHalfSquaredError": "LossNode",
        "sklearn._loss._loss.CyHuberLoss": "LossNode",
        "sklearn._loss._loss.CyPinballLoss": "LossNode",
        "sklearn._loss.link.HalfLogitLink": "ObjectNode",
        "sklearn._loss.link.IdentityLink": "ObjectNode",
        "sklearn._loss.link.Interval": "ObjectNode",
        "sklearn._loss.link.LogLink": "ObjectNode",
        "sklearn._loss.link.LogitLink": "ObjectNode",
        "sklearn._loss.link.MultinomialLogit": "ObjectNode",
        "sklearn._loss.loss.AbsoluteError": "ObjectNode",
        "sklearn._loss.loss.ExponentialLoss": "ObjectNode",
        "sklearn._loss.loss.HalfBinomialLoss": "ObjectNode",
        "sklearn._loss.loss.HalfGammaLoss": "ObjectNode",
        "sklearn._loss.loss.HalfMultinomialLoss": "ObjectNode",
        "sklearn._loss.loss.HalfPoissonLoss": "ObjectNode",
        "sklearn._loss.loss.HalfSquaredError": "ObjectNode",
        "sklearn._loss.loss.HuberLoss": "ObjectNode",
        "sklearn._loss.loss.PinballLoss": "ObjectNode",
        "sklearn.compose._column_transformer.ColumnTransformer": "ObjectNode",
        "sklearn.dummy.DummyClassifier": "ObjectNode",
        "sklearn.dummy.DummyRegressor": "ObjectNode",
        "sklearn.ensemble._forest.ExtraTreesClassifier": "ObjectNode",
        "sklearn.ensemble._forest.ExtraTreesRegressor": "ObjectNode",
        "sklearn.ensemble._forest.RandomForestClassifier": "ObjectNode",
        "sklearn.ensemble._forest.RandomForestRegressor": "ObjectNode",
        "sklearn.ensemble._gb.GradientBoostingClassifier": "ObjectNode",
        "sklearn.ensemble._gb.GradientBoostingRegressor": "ObjectNode",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper": "ObjectNode",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier": "ObjectNode",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor": "ObjectNode",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor": "ObjectNode",
        "sklearn.impute._base.SimpleImputer": "ObjectNode",
        "sklearn.linear_model._base.LinearRegression": "ObjectNode",
        "sklearn.linear_model._coordinate_descent.ElasticNet": "ObjectNode",
        "sklearn.linear_model._coordinate_descent.Lasso": "ObjectNode",
        "sklearn.linear_model._logistic.LogisticRegression": "ObjectNode",
        "sklearn.linear_model._ridge.Ridge": "ObjectNode",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64": "ObjectNode",
        "sklearn.metrics._dist_metrics.EuclideanDistance64": "ObjectNode",
        "sklearn.metrics._dist_metrics.ManhattanDistance64": "ObjectNode",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64": "ObjectNode",
        "sklearn.neighbors._ball_tree.BallTree": "ObjectNode",
        "sklearn.neighbors._classification.KNeighborsClassifier": "ObjectNode",
        "sklearn.neighbors._kd_tree.KDTree": "ObjectNode",
        "sklearn.neighbors._regression.KNeighborsRegressor": "ObjectNode",
        "sklearn.pipeline.Pipeline": "ObjectNode",
        "sklearn.preprocessing._data.StandardScaler": "ObjectNode",
        "sklearn.preprocessing._encoders.OneHotEncoder": "ObjectNode",
        "sklearn.preprocessing._label.LabelEncoder": "ObjectNode",
        "sklearn.tree._classes.DecisionTreeClassifier": "ObjectNode",
        "sklearn.tree._classes.DecisionTreeRegressor": "ObjectNode",
        "sklearn.tree._classes.ExtraTreeClassifier": "ObjectNode",
        "sklearn.tree._classes.ExtraTreeRegressor": "ObjectNode",
        "sklearn.tree._tree.Tree": "TreeNode",
    }
)

#: Loaders of plain nodes and the types each may name (the schema check adds numpy scalars).
_PLAIN_LOADERS: dict[str, frozenset[str]] = {
    "DictNode": frozenset({"builtins.dict"}),
    "ListNode": frozenset({"builtins.list"}),
    "TupleNode": frozenset({"builtins.tuple"}),
    "JsonNode": frozenset({"builtins.str"}),
    "SliceNode": frozenset({"builtins.slice"}),
    "DTypeNode": frozenset({"numpy.dtype"}),
    "TypeNode": frozenset({"builtins.str", "builtins.int", "builtins.float", "builtins.bool"}),
    "NdArrayNode": frozenset({"numpy.ndarray"}),
}
#: Loaders that build a class of :data:`ARTIFACT_CLASSES`.
_CLASS_LOADERS = frozenset({"ObjectNode", "TreeNode", "LossNode", "RandomStateNode", "RandomGeneratorNode"})
