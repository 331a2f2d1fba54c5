"""retrain: serverless model retraining on AWS."""

__version__ = "0.1.0"
