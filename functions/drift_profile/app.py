"""Drift profile step: one batch of the drift window's table objects, profiled and sampled (a Map iteration)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import DriftProfileInput, parse
from retrain.observability import logger, metrics, tracer
from retrain.settings import Settings
from retrain.steps import drift_profile

settings = Settings()


@logger.inject_lambda_context(correlation_id_path="run.execution")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse(DriftProfileInput, event, what="drift_profile")
    return drift_profile.run(request, settings=settings).model_dump(mode="json")
