"""One entry point per state of the retraining state machine.

Each module's ``run`` reads what it needs from S3/DynamoDB through the adapters,
calls the pure domain code, and returns the small result the state machine carries.
"""
