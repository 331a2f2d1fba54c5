"""Validate step: gates on the candidate, and the candidate against the champion on one holdout."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import ValidateInput, parse
from retrain.observability import logger, metrics, tracer
from retrain.settings import Settings
from retrain.steps import validate

settings = Settings()


@logger.inject_lambda_context(correlation_id_path="run.execution")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse(ValidateInput, event, what="validate")
    result = validate.run(request.run, request.snapshot, request.candidate, settings=settings)
    return result.model_dump(mode="json")
