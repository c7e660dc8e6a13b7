"""From CloudWatch Logs deliveries to the ingestion API, with a dead-letter queue and replay."""
