"""Report step: the run's report.json and report.html in the artifact bucket, on every outcome."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import ReportInput, parse
from retrain.observability import logger, metrics, tracer
from retrain.settings import Settings
from retrain.steps import report

settings = Settings()


@logger.inject_lambda_context(correlation_id_path="execution")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    request = parse(ReportInput, event, what="report")
    return report.run(request, settings=settings).model_dump(mode="json")
