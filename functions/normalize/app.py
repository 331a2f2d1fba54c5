"""Normalize step: any trigger (schedule, alarm, manual) becomes one Run."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.observability import logger, metrics, tracer
from retrain.settings import Settings
from retrain.steps import normalize

settings = Settings()


@logger.inject_lambda_context(correlation_id_path="execution")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = normalize.parse_input(event)
    return normalize.run(request, settings=settings)
