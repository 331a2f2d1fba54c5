"""A check's output (:class:`retrain.contracts.CheckOut`): one verdict, ``fired``, computed from the votes."""

from __future__ import annotations

import pytest

from retrain.contracts import CheckOut

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("votes", "fired", "dissent", "voted"),
    [
        ([], False, False, False),
        ([False], False, True, True),
        ([True, False], True, True, True),
        ([True, True], True, False, True),
    ],
)
def test_the_state_machines_summaries_follow_the_votes(
    votes: list[bool], fired: bool, dissent: bool, voted: bool
) -> None:
    out = CheckOut(signal="drift", enabled=True, votes=votes).model_dump(mode="json")

    assert (out["fired"], out["dissent"], out["voted"]) == (fired, dissent, voted)


def test_the_output_has_one_name_for_the_verdict() -> None:
    # Given an output that says triggered (the name of an earlier version) beside votes that do not fire
    out = CheckOut.model_validate({"signal": "performance", "enabled": True, "triggered": True, "votes": [False]})

    # Then the votes decide, and only fired is serialized
    dumped = out.model_dump(mode="json")
    assert dumped["fired"] is False
    assert "triggered" not in dumped
    assert set(dumped) == {
        "signal",
        "enabled",
        "insufficient",
        "reason",
        "votes",
        "details",
        "fired",
        "dissent",
        "voted",
    }
