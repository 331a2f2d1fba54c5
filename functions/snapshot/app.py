"""Snapshot step: freeze the training window as an immutable, content-addressed data set."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import RunInput, parse
from retrain.observability import logger, metrics, tracer
from retrain.settings import Settings
from retrain.steps import snapshot

settings = Settings()


@logger.inject_lambda_context(correlation_id_path="run.execution")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse(RunInput, event, what="snapshot")
    return snapshot.run(request.run, settings=settings).model_dump(mode="json")
