"""VectaDB: agent observability from logs. The domain package every Lambda function imports."""

__version__ = "0.1.0"
