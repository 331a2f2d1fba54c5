"""Fixtures shared by the integration and e2e tests (the unit tests need none of them).

One local cloud (moto) can be active at a time: a module uses either the
function-scoped ``cloud`` family or the module-scoped ``module_cloud`` family,
never both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import pytest

from helpers import Deployment, deploy
from retrain.config import ModelConfig, loads_config
from retrain.demo import CONFIG, generate_churn
from retrain.local.cloud import LocalCloud
from retrain.local.run import settings_of
from retrain.settings import Settings

_ACTIVE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    # Handlers that publish no metrics (normalize, snapshot, ...) make powertools warn on every call;
    # LocalCloud silences it too, but pytest restores the warning filters around each test.
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


def _start_cloud(owner: str) -> Iterator[LocalCloud]:
    if _ACTIVE:
        pytest.fail(f"{owner} needs a local cloud but {_ACTIVE[0]} holds one: use one cloud fixture family per module")
    _ACTIVE.append(owner)
    try:
        with LocalCloud() as local:
            yield local
    finally:
        _ACTIVE.remove(owner)


@pytest.fixture(scope="session")
def churn_config() -> tuple[ModelConfig, str]:
    """The bundled churn policy (infra/configs/churn.yaml): ``(ModelConfig, yaml text)``."""
    text = CONFIG.read_text()
    return loads_config(text, source=str(CONFIG)), text


@pytest.fixture(scope="session")
def churn_reference() -> pd.DataFrame:
    """The historical data v1 is trained on: ``generate_churn(2000, seed=1)``."""
    return generate_churn(2000, seed=1)


# ------------------------------------------------- one fresh cloud per test
@pytest.fixture
def cloud(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    """A fresh :class:`LocalCloud` deployed from template.yaml (moto is active until the test ends)."""
    yield from _start_cloud(request.node.nodeid)


@pytest.fixture
def settings(cloud: LocalCloud) -> Settings:
    """The functions' settings (bucket and table names) on ``cloud``."""
    return settings_of(cloud)


@pytest.fixture
def deployed_churn(
    cloud: LocalCloud, churn_config: tuple[ModelConfig, str], churn_reference: pd.DataFrame
) -> Deployment:
    """churn.yaml deployed on ``cloud`` and v1, trained on ``churn_reference``, promoted to champion."""
    return deploy(cloud, *churn_config, reference=churn_reference)


# ------------------------------------------ one cloud shared by a module
@pytest.fixture(scope="module")
def module_cloud(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    """Like ``cloud``, shared by every test of a module (for tests that do not disturb each other)."""
    yield from _start_cloud(request.node.nodeid)


@pytest.fixture(scope="module")
def module_churn(
    module_cloud: LocalCloud, churn_config: tuple[ModelConfig, str], churn_reference: pd.DataFrame
) -> Deployment:
    """Like ``deployed_churn``, on ``module_cloud``."""
    return deploy(module_cloud, *churn_config, reference=churn_reference)


@pytest.fixture(scope="module")
def reused_cloud(module_cloud: LocalCloud, module_churn: Deployment) -> Iterator[LocalCloud]:
    """``local-run`` on the module's cloud (v1 already champion) instead of a fresh one per run."""

    @contextmanager
    def reuse() -> Iterator[LocalCloud]:
        yield module_cloud

    patcher = pytest.MonkeyPatch()
    patcher.setattr("retrain.local.cloud.LocalCloud", reuse)
    yield module_cloud
    patcher.undo()
