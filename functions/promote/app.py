"""Promote step: move the champion pointer to the validated candidate in one transaction."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import PromoteInput, parse
from retrain.observability import logger, metrics, tracer
from retrain.settings import Settings
from retrain.steps import promote

settings = Settings()


@logger.inject_lambda_context(correlation_id_path="run.execution")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse(PromoteInput, event, what="promote")
    result = promote.run(request.run, request.candidate, request.validation, settings=settings)
    return result.model_dump(mode="json")
