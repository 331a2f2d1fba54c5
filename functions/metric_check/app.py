"""Metric check step: model quality on the window's labelled predictions."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import RunInput, parse
from retrain.observability import logger, metrics, tracer
from retrain.settings import Settings
from retrain.steps import metric_check

settings = Settings()


@logger.inject_lambda_context(correlation_id_path="run.execution")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse(RunInput, event, what="metric_check")
    return metric_check.run(request.run, settings=settings).model_dump(mode="json")
