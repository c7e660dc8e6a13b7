"""What every function sets up the same way: Powertools' logger, tracer and metrics, and its deadline."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import NamedTuple

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "VectaDB"


class Instruments(NamedTuple):
    logger: Logger
    tracer: Tracer
    metrics: Metrics


def instruments(service: str) -> Instruments:
    logger = Logger(service=service)
    # The domain package logs through the standard library; give it the same JSON format.
    copy_config_to_registered_loggers(source_logger=logger, include={"vectadb"})
    return Instruments(logger, Tracer(service=service), Metrics(namespace=NAMESPACE, service=service))


def add_counts(metrics: Metrics, counts: Mapping[str, int]) -> None:
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def deadline_after(remaining_ms: int, reserve_seconds: float) -> float:
    """When work must stop (monotonic clock), keeping ``reserve_seconds`` of the invocation back."""
    return time.monotonic() + remaining_ms / 1000 - reserve_seconds
