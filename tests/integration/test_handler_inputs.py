"""Every handler validates its input first: a malformed one is InvalidEvent, as Lambda reports it."""

from __future__ import annotations

import pytest

from helpers import FUNCTION_IDS, call, invoke, load_event
from retrain.errors import InvalidEvent
from retrain.local.cloud import LocalCloud

pytestmark = pytest.mark.integration

STEPS = sorted(FUNCTION_IDS)


@pytest.mark.parametrize("step", STEPS)
def test_through_lambda_a_malformed_input_is_invalid_event_naming_the_step(module_cloud: LocalCloud, step: str) -> None:
    # Given an input that lacks most of what the state machine passes
    payload = {"run": {"model": "churn"}}

    # When
    response = invoke(module_cloud, step, payload)

    # Then Lambda reports the error's class name, which the state machine's Catch matches
    assert response.function_error is not None
    assert response.error_type == InvalidEvent.__name__
    assert response.error_message.startswith(f"malformed {step} input: ")


@pytest.mark.parametrize("step", ["metric_check", "drift_check", "snapshot"])
def test_called_directly_a_missing_field_is_named(module_cloud: LocalCloud, step: str) -> None:
    event = load_event("run")
    del event["run"]["window_end"]

    with pytest.raises(InvalidEvent, match=r"run\.window_end is missing, expected an ISO 8601 timestamp"):
        call(module_cloud, step, event)
