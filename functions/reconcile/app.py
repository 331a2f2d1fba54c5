"""Reconcile step: the champion's SSM parameter agrees with the registry; no undecided version is left behind."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import ReconcileInput, parse
from retrain.observability import logger, metrics, tracer
from retrain.settings import Settings
from retrain.steps import reconcile

settings = Settings()


@logger.inject_lambda_context(correlation_id_path="run.execution")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse(ReconcileInput, event, what="reconcile")
    if request.action == "start":
        result = reconcile.start(request.run, settings=settings)
    else:
        failure = request.failure or reconcile.Failure(step="unknown", error="unknown")
        result = reconcile.after_failure(request.run, failure, settings=settings)
    return result.model_dump(mode="json")
