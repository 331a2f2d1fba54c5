"""Loading a model's deployed config (light: the normalize and promote functions use it)."""

from __future__ import annotations

from retrain import aws
from retrain.config import ModelConfig, loads_config
from retrain.errors import DataNotFound, ModelNotFound
from retrain.layout import config_key
from retrain.settings import Settings


def load_model_config(settings: Settings, model: str) -> ModelConfig:
    """The model's config from the data bucket; :class:`ModelNotFound` if none is deployed."""
    key = config_key(model)
    try:
        text = aws.get_bytes(settings.data_bucket, key).decode()
    except DataNotFound as exc:
        raise ModelNotFound(f"no config for model {model!r} (expected s3://{settings.data_bucket}/{key})") from exc
    return loads_config(text, source=f"s3://{settings.data_bucket}/{key}")
