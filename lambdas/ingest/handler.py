"""The ingestion and query API behind API Gateway (REST, Lambda proxy integration).

Routes parse the request, call one function of the core and shape the response. The authorizer
has already run; the handler still refuses a request that carries no principal, so that a
misconfigured route can never open the API.
"""

from __future__ import annotations

import json
import warnings
from datetime import timedelta
from http import HTTPStatus
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from vectadb import __version__
from vectadb.api import httpbody
from vectadb.api.console import console_file, content_security_policy
from vectadb.api.routes import CONSOLE_PREFIX, is_public
from vectadb.core.config import get_settings
from vectadb.core.errors import (
    BadRequest,
    PayloadTooLarge,
    Unauthorized,
    VectaError,
    describe_validation_errors,
    error_body,
    meanings_by_status,
)
from vectadb.core.models import (
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_TRACE_ID_LENGTH,
    NAME_PATTERN,
    BatchIn,
    BatchResponse,
    ErrorResponse,
    EventIn,
    EventOut,
    EventPage,
    HealthOut,
    HealthStatus,
    IngestResult,
    ReindexIn,
    ReindexOut,
    SearchIn,
    SearchOut,
    StatsGroup,
    StatsOut,
    Timestamp,
    TraceDetail,
    TracePage,
    TraceStatus,
)
from vectadb.core.observability import add_counts, deadline_after, instruments
from vectadb.service import ingestion, queries
from vectadb.service import reindex as reindexing
from vectadb.service.api_runtime import get_runtime
from vectadb.stores.base import EventQuery, Order, TraceQuery

SERVICE = "vectadb-ingest"
MAX_PAGE = 1000
# Time kept back from the Lambda's remaining time for flagging, the response and the logs.
RESERVE_SECONDS = 3.0

# Read routes publish no metrics, which is expected, not worth a warning per container.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger, tracer, metrics = instruments(SERVICE)
app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=httpbody.load_json)
app.configure_openapi(
    title="VectaDB API",
    version=__version__,
    description="Agent events and traces from CloudWatch Logs, with filters and aggregations.",
    security_schemes={"bearerAuth": HTTPBearer(bearerFormat="API key")},
)
# Declared per route rather than globally: Powertools drops an empty override, which would
# document /health as authenticated.
AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _errors(*statuses: int) -> dict[int, Any]:
    return {
        status: {
            "description": _ERROR_MEANINGS.get(status, HTTPStatus(status).phrase),
            "content": {content_types.APPLICATION_JSON: {"model": ErrorResponse}},
        }
        for status in statuses
    }


def _responses(
    success: dict[int, tuple[str, type[BaseModel]]], *errors: int, authenticated: bool = True
) -> dict[int, Any]:
    """Every answer an operation can give, for the served OpenAPI document: its successes with their
    models, and its errors (all in the one error shape), including those every route shares."""
    shared = (401, 403, 405, 429, 500, 504) if authenticated else (405, 429, 500, 504)
    documented = {
        status: {"description": description, "content": {content_types.APPLICATION_JSON: {"model": model}}}
        for status, (description, model) in success.items()
    }
    return {**documented, **_errors(*sorted({*errors, *shared}))}


_ERROR_MEANINGS = meanings_by_status()
# Write routes (POST with a body) can also refuse the body itself.
_BODY_ERRORS = (400, 413, 415, 422)


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size")]
Cursor = Annotated[str | None, Query(max_length=2048, description="next_cursor of the previous page")]
_RANGE = "; start must be before end (else 400 invalid_range); not before 2000-01-01"
Start = Annotated[
    Timestamp | None, Query(description="Inclusive lower bound (RFC 3339 or epoch milliseconds)" + _RANGE)
]
End = Annotated[
    Timestamp | None, Query(description="Exclusive upper bound (RFC 3339 or epoch milliseconds)" + _RANGE)
]
OnConflict = Annotated[
    Literal["keep", "replace"],
    Query(
        description="When an event is already stored with other values: keep the stored copy "
        "(default; the result lists the differing fields in conflict), or replace it with this one "
        "(an explicit re-parse: its edges move and the traces it leaves or joins are recounted)"
    ),
]
# A filter is compared for equality with stored values, none of which holds a control character.
Filter = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN, description="Exact match"),
]
EventIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)]
TraceIdPath = Annotated[str, Path(min_length=1, max_length=MAX_TRACE_ID_LENGTH)]


# -- routes ----------------------------------------------------------------------------------


@app.get(
    "/health",
    summary="Store reachability (no authentication)",
    responses=_responses(
        {200: ("The stores answer (status ok, or degraded without semantic search)", HealthOut)},
        422,
        503,
        authenticated=False,
    ),
)
def health() -> Response[HealthOut]:
    checks: dict[str, dict[str, Any]] = {}
    try:
        runtime = get_runtime()
        runtime.store.ping()
        checks["surrealdb"] = {"ok": True}
        runtime.semantic.check()
        checks["semantic"] = runtime.semantic.describe()
    except Exception:
        logger.warning("health check: SurrealDB is unreachable", exc_info=True)
        checks["surrealdb"] = {"ok": False, "error": "unreachable"}
    status: HealthStatus = "ok" if all(c["ok"] for c in checks.values()) else "degraded"
    if not checks["surrealdb"]["ok"]:
        status = "unavailable"
    body = HealthOut(status=status, version=__version__, checks=checks)
    return Response(
        status_code=503 if status == "unavailable" else 200,
        content_type=content_types.APPLICATION_JSON,
        body=body,
    )


@app.get("/", include_in_schema=False)
def console_root() -> Response[Any]:
    return _to_console()


@app.get(CONSOLE_PREFIX, include_in_schema=False)  # also matches /ui/ (the resolver ignores a final /)
def console_page() -> Response[Any]:
    if app.current_event.path == CONSOLE_PREFIX:
        return _to_console()  # the page's relative links need the final /
    return _console_file("")


@app.get(CONSOLE_PREFIX + "/.+", include_in_schema=False)
def console_asset() -> Response[Any]:
    return _console_file(app.current_event.path.removeprefix(CONSOLE_PREFIX + "/"))


def _to_console() -> Response[Any]:
    """A redirect to /ui/, under the stage's prefix when API Gateway adds one (/prod/ui/)."""
    path = app.current_event.path
    full = app.current_event.request_context.path or path
    prefix = full[: len(full) - len(path)] if full.endswith(path) else ""
    return Response(status_code=302, headers={"Location": f"{prefix}{CONSOLE_PREFIX}/"}, body="")


def _console_file(name: str) -> Response[Any]:
    found = console_file(name)
    if found is None:
        return _json_error(404, error_body("not_found", f"no console file {name!r}"))
    headers = {"ETag": found.etag, "Cache-Control": found.cache_control, "X-Content-Type-Options": "nosniff"}
    if found.content_type.startswith("text/html"):
        headers |= {"Content-Security-Policy": content_security_policy(), "Referrer-Policy": "no-referrer"}
    if app.current_event.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers, body="")
    return Response(status_code=200, content_type=found.content_type, headers=headers, body=found.body)


@app.get("/api/v1/openapi.json", include_in_schema=False, security=AUTH)
def openapi() -> Response[Any]:
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=app.get_openapi_json_schema(),
    )


@app.post(
    "/api/v1/events",
    status_code=201,
    summary="Ingest one event",
    security=AUTH,
    responses=_responses(
        {
            201: (
                "Stored, or already stored (duplicate: the first stored copy is kept; conflict names "
                "the fields in which this copy differs)",
                IngestResult,
            )
        },
        *_BODY_ERRORS,
        503,
    ),
)
def post_event(event: Annotated[EventIn, Body()], on_conflict: OnConflict = "keep") -> IngestResult:
    runtime = get_runtime()
    result = ingestion.ingest_event(
        event,
        runtime.store,
        runtime.policy,
        runtime.semantic,
        deadline=_deadline(),
        replace=on_conflict == "replace",
    )
    add_counts(
        metrics,
        {
            "EventsDuplicate" if result.duplicate else "EventsStored": 1,
            "EventsIndexed": int(result.indexed),
            "EventsConflicting": int(bool(result.conflict)),
            "EventsReplaced": int(result.replaced),
        },
    )
    return IngestResult(
        event_id=result.event_id,
        trace_id=result.trace_id,
        duplicate=result.duplicate,
        indexed=result.indexed,
        conflict=list(result.conflict) or None,
        replaced=result.replaced,
    )


@app.post(
    "/api/v1/events/batch",
    summary="Ingest up to 1000 events; 207 when some of them failed",
    security=AUTH,
    responses={
        200: {
            "description": "Every event was accepted",
            "content": {content_types.APPLICATION_JSON: {"model": BatchResponse}},
        },
        207: {
            "description": "Some events failed; see results",
            "content": {content_types.APPLICATION_JSON: {"model": BatchResponse}},
        },
        **_responses({}, *_BODY_ERRORS, 503),
    },
)
def post_batch(
    batch: Annotated[BatchIn, Body()], on_conflict: OnConflict = "keep"
) -> Response[BatchResponse]:
    runtime = get_runtime()
    results = ingestion.ingest_batch(
        batch.events,
        runtime.store,
        runtime.policy,
        runtime.semantic,
        deadline=_deadline(),
        replace=on_conflict == "replace",
    )
    accepted = [r for r in results if isinstance(r, ingestion.Accepted)]
    duplicates = sum(r.duplicate for r in accepted)
    failed = len(results) - len(accepted)
    add_counts(
        metrics,
        {
            "EventsIndexed": sum(r.indexed for r in accepted),
            "EventsStored": len(accepted) - duplicates,
            "EventsDuplicate": duplicates,
            "EventsConflicting": sum(bool(r.conflict) for r in accepted),
            "EventsReplaced": sum(r.replaced for r in accepted),
            "EventsRejected": failed,
        },
    )
    return Response(
        status_code=207 if failed else 200,
        content_type=content_types.APPLICATION_JSON,
        body=BatchResponse.model_validate(
            {"accepted": len(accepted), "failed": failed, "results": [_batch_item(r) for r in results]}
        ),
    )


def _batch_item(result: ingestion.ItemResult) -> dict[str, Any]:
    if isinstance(result, ingestion.Accepted):
        return {
            "index": result.index,
            "event_id": result.event_id,
            "trace_id": result.trace_id,
            "duplicate": result.duplicate,
            "indexed": result.indexed,
            "conflict": list(result.conflict) or None,
            "replaced": result.replaced,
        }
    return {
        "index": result.index,
        "status": result.status,
        "error": {"code": result.code, "message": result.message, "details": result.details},
    }


@app.get(
    "/api/v1/events",
    summary="Events with filters, newest first by default",
    security=AUTH,
    responses=_responses({200: ("A page of events", EventPage)}, 400, 422, 503),
)
def get_events(
    start: Start = None,
    end: End = None,
    event_type: Filter = None,
    session_id: Filter = None,
    trace_id: Filter = None,
    agent_id: Filter = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    order: Annotated[Order, Query()] = "desc",
) -> EventPage:
    query = EventQuery(
        start=start,
        end=end,
        event_type=event_type,
        session_id=session_id,
        trace_id=trace_id,
        agent_id=agent_id,
        order=order,
        limit=limit,
    )
    return EventPage.model_validate(queries.list_events(get_runtime().store, query, cursor))


@app.get(
    "/api/v1/traces/<trace_id>",
    summary="A trace with its events in time order (paginated)",
    security=AUTH,
    responses=_responses({200: ("The trace and a page of its events", TraceDetail)}, 400, 404, 422, 503),
)
def get_trace(
    trace_id: TraceIdPath,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> TraceDetail:
    runtime = get_runtime()
    abandoned_after = timedelta(seconds=runtime.settings.trace_abandoned_after_seconds)
    return TraceDetail.model_validate(
        queries.get_trace(runtime.store, trace_id, limit, cursor, abandoned_after)
    )


@app.get(
    "/api/v1/traces",
    summary="Traces with filters, most recently started first",
    security=AUTH,
    responses=_responses({200: ("A page of traces", TracePage)}, 400, 422, 503),
)
def get_traces(
    session_id: Filter = None,
    agent_id: Filter = None,
    status: Annotated[TraceStatus | None, Query()] = None,
    has_errors: Annotated[
        bool | None, Query(description="true: traces with at least one error event; false: none")
    ] = None,
    start: Start = None,
    end: End = None,
    limit: Limit = 100,
    cursor: Cursor = None,
    order: Annotated[Order, Query()] = "desc",
) -> TracePage:
    query = TraceQuery(
        start=start,
        end=end,
        session_id=session_id,
        agent_id=agent_id,
        status=status,
        has_errors=has_errors,
        order=order,
        limit=limit,
    )
    runtime = get_runtime()
    abandoned_after = timedelta(seconds=runtime.settings.trace_abandoned_after_seconds)
    return TracePage.model_validate(queries.list_traces(runtime.store, query, cursor, abandoned_after))


@app.get(
    "/api/v1/events/<event_id>",
    summary="One event",
    security=AUTH,
    responses=_responses({200: ("The event", EventOut)}, 404, 422, 503),
)
def get_event(event_id: EventIdPath) -> EventOut:
    return EventOut.model_validate(queries.get_event(get_runtime().store, event_id))


@app.post(
    "/api/v1/search",
    summary="Semantic search: events closest in meaning to the query, filtered inside Qdrant",
    security=AUTH,
    responses=_responses({200: ("Hits, closest first", SearchOut)}, *_BODY_ERRORS, 409, 503),
)
def post_search(request: Annotated[SearchIn, Body()]) -> SearchOut:
    runtime = get_runtime()
    return SearchOut.model_validate(
        queries.search(runtime.store, runtime.semantic, request.query, request.limit, request.filters)
    )


@app.get(
    "/api/v1/events/<event_id>/similar",
    summary="Events closest in meaning to the given one",
    security=AUTH,
    responses=_responses({200: ("Hits, closest first", SearchOut)}, 404, 409, 422, 503),
)
def get_similar(
    event_id: EventIdPath,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> SearchOut:
    runtime = get_runtime()
    return SearchOut.model_validate(queries.similar(runtime.store, runtime.semantic, event_id, limit))


@app.post(
    "/api/v1/reindex",
    summary="Embed the events that have no vector yet; with rebuild, re-embed every event",
    security=AUTH,
    responses=_responses({200: ("What was embedded and what remains", ReindexOut)}, *_BODY_ERRORS, 409, 503),
)
def post_reindex(request: Annotated[ReindexIn, Body()]) -> ReindexOut:
    runtime = get_runtime()
    return ReindexOut.model_validate(
        reindexing.reindex(
            runtime.store,
            runtime.semantic,
            rebuild=request.rebuild,
            max_events=request.max_events,
            deadline=_deadline(),
        )
    )


@app.get(
    "/api/v1/stats",
    summary="Events, errors, calls, tokens, cost and mean duration by event type, agent, tool, model, "
    "hour or day (default: last 24 h), from per-hour rollups",
    security=AUTH,
    responses=_responses({200: ("Counts per bucket", StatsOut)}, 400, 422, 503),
)
def get_stats(
    group_by: Annotated[StatsGroup, Query()] = "event_type",
    start: Start = None,
    end: End = None,
) -> StatsOut:
    return StatsOut.model_validate(queries.stats(get_runtime().store, group_by, start, end))


def _deadline() -> float | None:
    """When the vector step must stop so that the response still leaves in time."""
    context = app.lambda_context
    if context is None:
        return None
    return deadline_after(context.get_remaining_time_in_millis(), RESERVE_SECONDS)


# -- errors ----------------------------------------------------------------------------------


def _json_error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


@app.exception_handler(VectaError)
def _domain_error(exc: VectaError) -> Response[Any]:
    if exc.status >= 500:
        logger.warning("request failed: %s", exc.message)
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    return _json_error(exc.status, exc.to_body(), headers)


@app.exception_handler(RequestValidationError)
def _validation_error(exc: RequestValidationError) -> Response[Any]:
    errors = list(exc.errors())
    invalid_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if invalid_json is not None:
        reason = (invalid_json.get("ctx") or {}).get("error", "invalid JSON")
        position = invalid_json["loc"][-1] if invalid_json.get("loc") else "?"
        return _json_error(
            400, error_body("invalid_json", f"request body is not valid JSON: {reason} at {position}")
        )
    message, details = describe_validation_errors(errors)
    if any(e.get("type") == "event_too_large" for e in errors):
        return _json_error(413, error_body("event_too_large", message, details))
    return _json_error(422, error_body("validation_error", message, details))


def _allowed_methods(path: str) -> list[str]:
    routes = [*getattr(app, "_static_routes", []), *getattr(app, "_dynamic_routes", [])]
    return sorted({route.method for route in routes if route.rule.match(path)})


@app.not_found
def _not_found(exc: NotFoundError) -> Response[Any]:
    path = app.current_event.path
    allowed = _allowed_methods(path)
    if allowed:
        method = app.current_event.http_method
        return _json_error(
            405,
            error_body("method_not_allowed", f"{method} is not allowed on {path}; use {', '.join(allowed)}"),
            {"Allow": ", ".join(allowed)},
        )
    return _json_error(404, error_body("not_found", f"no route for {path}"))


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response[Any]:
    logger.exception("unhandled error")
    request_id = app.lambda_context.aws_request_id if app.lambda_context else None
    return _json_error(
        500,
        error_body("internal_error", "internal error; the request was logged", {"request_id": request_id}),
    )


# -- entry point -----------------------------------------------------------------------------


# What to send instead of a JSON array, per route that takes one object.
_ARRAY_HINTS = {
    "/api/v1/events": (
        'send one event as a JSON object, or several to /api/v1/events/batch as {"events": [...]}'
    ),
    "/api/v1/events/batch": 'send {"events": [...]}',
}


def _prepare(event: dict[str, Any]) -> dict[str, Any]:
    """Checks that come before routing (authentication, a body that can be read), and the event
    normalised for the resolver: the path decoded, the body as text, a JSON media type as
    ``application/json``."""
    # REST APIs pass `path` percent-encoded (only `pathParameters` decoded), and the resolver takes
    # route parameters from `path`. Decoding the whole path is safe here: no id may hold a `/`,
    # so a decoded %2F can only lead to a 404, never to another resource.
    event = {**event, "path": unquote(event.get("path") or "/")}
    if not is_public(event["path"]):
        authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
        if not authorizer.get("principalId"):
            raise Unauthorized("missing or invalid API key; send Authorization: Bearer <key>")
    if event.get("httpMethod") != "POST" or "POST" not in _allowed_methods(event["path"]):
        return event  # no body to read: the resolver answers, with a 404 or 405 where it must
    body = event.get("body")
    if not body:
        raise BadRequest("request body is empty; send a JSON object", code="empty_body")
    content_type = httpbody.find_header(event.get("headers"), "content-type")
    httpbody.check_media_type(content_type[1] if content_type else None)
    coding = httpbody.content_coding(event.get("headers"))
    limit = get_settings().max_body_bytes
    text = httpbody.decode_body(body, bool(event.get("isBase64Encoded")), coding, limit)
    if len(text.encode()) > limit:
        raise PayloadTooLarge(f"request body is over {limit} bytes; split the batch", code="body_too_large")
    httpbody.require_object(text, _ARRAY_HINTS.get(event.get("path") or "", "send a JSON object"))
    headers = dict(event.get("headers") or {})
    if content_type:
        del headers[content_type[0]]
    encoding = httpbody.find_header(headers, "content-encoding")
    if encoding:
        del headers[encoding[0]]  # the body handed on is decoded
    # The resolver only knows the exact spelling (and takes application/json-patch for JSON).
    headers["Content-Type"] = content_types.APPLICATION_JSON
    event.update(headers=headers, body=text, isBase64Encoded=False)
    return event


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        prepared = _prepare(event)
    except VectaError as rejection:
        return {
            "statusCode": rejection.status,
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": json.dumps(rejection.to_body(), separators=(",", ":")),
            "isBase64Encoded": False,
        }
    return app.resolve(prepared, context)
