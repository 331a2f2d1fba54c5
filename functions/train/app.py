"""Train step: fit a candidate from the model's config on the snapshot and register it."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import TrainInput, parse
from retrain.observability import logger, metrics, tracer
from retrain.settings import Settings
from retrain.steps import train

settings = Settings()


@logger.inject_lambda_context(correlation_id_path="run.execution")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse(TrainInput, event, what="train")
    return train.run(request.run, request.snapshot, settings=settings).model_dump(mode="json")
