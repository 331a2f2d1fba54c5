"""Train step: fit a candidate from the model's config on the snapshot and register it.

With ``training.engine: sagemaker`` the state machine calls it twice around a
SageMaker training job instead: ``action: prepare-training-job`` returns the
job's request, ``action: register-training-job`` registers the job's output.
"""

from aws_lambda_powertools.utilities.typing import LambdaContext

from retrain.contracts import TrainInput, parse
from retrain.observability import logger, metrics, tracer
from retrain.settings import Settings
from retrain.steps import train, training_job

settings = Settings()


@logger.inject_lambda_context(correlation_id_path="run.execution")
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    action = event.get("action") if isinstance(event, dict) else None
    if action == "prepare-training-job":
        prepare = parse(training_job.PrepareTrainingJobInput, event, what="prepare-training-job")
        return training_job.prepare(prepare, settings=settings)
    if action == "register-training-job":
        register = parse(training_job.RegisterTrainingJobInput, event, what="register-training-job")
        return training_job.register(register, settings=settings).model_dump(mode="json")
    request = parse(TrainInput, event, what="train")
    return train.run(request.run, request.snapshot, settings=settings).model_dump(mode="json")
