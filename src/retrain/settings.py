"""Function settings, read once at cold start from the template's environment."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """Resource names every step needs (set in template.yaml ``Globals``).

    ``Settings()`` reads each field from the environment variable its alias
    names; keyword arguments (by alias) win over the environment. A plain
    pydantic model: pydantic-settings would do the same for these few variables
    but costs a fifth of a light function's import.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    data_bucket: str = Field(validation_alias="DATA_BUCKET")
    artifact_bucket: str = Field(validation_alias="ARTIFACT_BUCKET")
    registry_table: str = Field(validation_alias="REGISTRY_TABLE")
    event_bus_name: str = Field(default="default", validation_alias="EVENT_BUS_NAME")
    lock_ttl_seconds: int = Field(default=3600, gt=0, validation_alias="LOCK_TTL_SECONDS")
    #: SSM parameter ``<prefix>/<model>`` holds the champion (version, artifact URI, sha256) for serving code.
    champion_parameter_prefix: str = Field(default="/retrain/champion", validation_alias="CHAMPION_PARAMETER_PREFIX")
    #: The SageMaker engine (Train function only): the role a training job runs as, its image, and the prefix of
    #: its name (the stack's name: the state machine may start ``training-job/<prefix>-*`` only).
    sagemaker_role_arn: str = Field(default="", validation_alias="SAGEMAKER_TRAINING_ROLE_ARN")
    training_image: str = Field(default="", validation_alias="TRAINING_IMAGE")
    training_job_prefix: str = Field(default="retrain", validation_alias="TRAINING_JOB_PREFIX")

    def __init__(self, **values: Any) -> None:
        aliases = (str(field.validation_alias) for field in type(self).model_fields.values())
        environment = {alias: os.environ[alias] for alias in aliases if alias in os.environ}
        super().__init__(**{**environment, **values})
