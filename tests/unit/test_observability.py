"""The Tracer is made on a handler's first call: importing a handler does not import the X-Ray SDK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
PROBE = """
import json, sys
from retrain.observability import tracer

@tracer.capture_lambda_handler(capture_response=False)
def handler(event, context):
    return {"echo": event, "traced": "aws_xray_sdk" in sys.modules}

imported = "aws_xray_sdk" in sys.modules
first = handler({"n": 1}, None)
second = handler({"n": 2}, None)
print(json.dumps({"imported": imported, "first": first, "second": second,
                  "name": handler.__name__, "service": tracer.service}))
"""


def test_the_tracer_is_made_on_the_first_call_and_then_reused() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "_X_AMZN", "AWS_XRAY"))},
        "POWERTOOLS_SERVICE_NAME": "retrain",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONPATH": str(ROOT / "src"),
    }
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=env)
    out = json.loads(done.stdout.strip().splitlines()[-1])

    assert out["imported"] is False
    assert out["first"] == {"echo": {"n": 1}, "traced": True}
    assert out["second"] == {"echo": {"n": 2}, "traced": True}
    assert out["name"] == "handler"
    assert out["service"] == "retrain"
