"""Drift check step: the window's features against the champion's training data.

Two inputs: ``{"run"}`` (check the window, or plan its batches for the Distributed Map) and
``{"run", "plan", "map"}`` (``JudgeDrift``: merge the batches' profiles and judge them).
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import DriftJudgeInput, RunInput, parse
from retrain.observability import logger, metrics, tracer
from retrain.settings import Settings
from retrain.steps import drift_check

settings = Settings()


@logger.inject_lambda_context(correlation_id_path="run.execution")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if isinstance(event, dict) and "plan" in event:
        judged = parse(DriftJudgeInput, event, what="drift_check judge")
        return drift_check.judge(judged, settings=settings).model_dump(mode="json")
    request = parse(RunInput, event, what="drift_check")
    return drift_check.run(request.run, settings=settings).model_dump(mode="json")
