"""Approval step: keep the task token of a waiting run and announce the approval request."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import parse
from retrain.observability import logger, metrics, tracer
from retrain.settings import Settings
from retrain.steps import approval

settings = Settings()


@logger.inject_lambda_context(correlation_id_path="run.execution")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse(approval.ApprovalInput, event, what="approval")
    return approval.run(request, settings=settings)
