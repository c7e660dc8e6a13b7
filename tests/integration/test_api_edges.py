"""Edge cases from the outside review: each answer a documented 4xx, never a 500; stored data never
breaks a read. Through the Lambda handler with API Gateway REST proxy events (real SurrealDB,
real vector index, real model)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Api
from vectadb.local.server import LocalContext, LocalGateway, rest_proxy_event
from vectadb.service.pagination import encode_cursor
from vectadb.stores.base import Position

NOW = datetime.now(UTC).replace(microsecond=0)
TS = (NOW - timedelta(minutes=5)).isoformat()


def _raw(api: Api, method: str, path: str, body: str | None, content_type: str | None = "application/json"):
    headers = {"Content-Type": content_type} if content_type else None
    return api(method, path, body=body, headers=headers)


# -- A.3: a NUL character is stored safely and never poisons a read ----------------------------


def test_nul_in_properties_is_stored_exactly_and_every_read_still_works(api: Api) -> None:
    properties = {"message": "disk full\u0000", "key\u0000with nul": ["a\u0000", {"b": "\u0000"}], "n": 1}
    created = api.post("/api/v1/events", {"timestamp": TS, "session_id": "nul", "properties": properties})
    assert created.status == 201, created.raw
    event_id, trace_id = created.body["event_id"], created.body["trace_id"]
    neighbour = api.post(
        "/api/v1/events", {"timestamp": TS, "session_id": "nul", "properties": {"m": "disk"}}
    )
    assert neighbour.status == 201

    one = api.get(f"/api/v1/events/{event_id}")
    assert one.status == 200, one.raw
    assert one.body["properties"] == properties
    listed = api.get("/api/v1/events")
    assert listed.status == 200, listed.raw
    assert {e["event_id"] for e in listed.body["events"]} == {event_id, neighbour.body["event_id"]}
    trace = api.get(f"/api/v1/traces/{trace_id}")
    assert trace.status == 200, trace.raw
    assert trace.body["events"][0]["properties"] in (properties, {"m": "disk"})
    similar = api.get(f"/api/v1/events/{neighbour.body['event_id']}/similar")
    assert similar.status == 200, similar.raw
    assert event_id in {hit["event"]["event_id"] for hit in similar.body["hits"]}
    found = api.post("/api/v1/search", {"query": "disk full"})
    assert found.status == 200, found.raw
    assert event_id in {hit["event"]["event_id"] for hit in found.body["hits"]}
    # The same copy again agrees with the stored one: NUL survives the round trip exactly.
    again = api.post("/api/v1/events", {"timestamp": TS, "session_id": "nul", "properties": properties})
    assert again.body["duplicate"] is True and again.body["conflict"] is None


# -- A.4 and the body: encodings, media types, limits ------------------------------------------


def test_base64_body_that_is_not_utf8_is_refused(api: Api, runtime) -> None:
    from ingest.handler import handler

    raw = b'{"timestamp":"2026-11-01T00:00:00Z","properties":{"m":"\xff"}}'
    event = rest_proxy_event(
        "POST",
        "/api/v1/events",
        headers={"Content-Type": "application/json"},
        body=base64.b64encode(raw).decode(),
        authorizer={"principalId": "k"},
    )
    event["isBase64Encoded"] = True
    response = LocalGateway.unwrap(handler(event, LocalContext(function_name="vectadb-ingest")))
    assert response.status == 400
    assert json.loads(response.body)["error"]["code"] == "invalid_utf8"
    assert api.get("/api/v1/events").body["events"] == []

    event["body"] = base64.b64encode(raw.replace(b"\xff", "é".encode())).decode()
    response = LocalGateway.unwrap(handler(event, LocalContext(function_name="vectadb-ingest")))
    assert response.status == 201, response.body
    assert api.get("/api/v1/events").body["events"][0]["properties"] == {"m": "é"}


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("APPLICATION/JSON", 201),
        ("Application/Json; Charset=UTF-8", 201),
        ("application/vnd.api+json", 201),
        ("application/json-patch+json", 201),
        ('application/json; charset="utf-8"', 201),
        ("application/json; charset=latin-1", 415),
        ("application/jsonx", 415),
        ("application/+json", 415),
        ("text/json", 415),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
    ],
)
def test_media_types_are_parsed_not_prefix_matched(api: Api, content_type: str, status: int) -> None:
    response = _raw(api, "POST", "/api/v1/events", json.dumps({"timestamp": TS}), content_type)
    assert response.status == status, response.raw
    if status == 415:
        assert response.error_code == "unsupported_media_type"


def test_huge_integer_is_a_400(api: Api) -> None:
    response = _raw(api, "POST", "/api/v1/events", '{"timestamp": ' + "1" * 5000 + "}")
    assert response.status == 400
    assert response.error_code == "invalid_json"
    assert "digits" in response.body["error"]["message"]


DEEP = '{"a":' * 1000 + "1" + "}" * 1000


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/events", DEEP),
        ("/api/v1/events", '{"timestamp":"' + TS + '","properties":' + DEEP + "}"),
        ("/api/v1/events/batch", '{"events":[{"timestamp":"' + TS + '","properties":' + DEEP + "}]}"),
        ("/api/v1/search", '{"query":"x","filters":' + DEEP + "}"),
    ],
)
def test_nesting_beyond_the_parser_is_a_400(api: Api, path: str, body: str) -> None:
    response = _raw(api, "POST", path, body)
    assert response.status == 400, response.raw
    assert response.error_code == "too_deep"


def test_no_nesting_depth_gives_a_server_error(api: Api) -> None:
    """Around the parser's limit, every depth gets a 4xx (or is refused alone inside a batch)."""
    statuses = set()
    for depth in range(900, 1001):
        inner = '{"a":' * depth + "1" + "}" * depth
        for path, body in (
            ("/api/v1/events", '{"timestamp":"' + TS + '","properties":' + inner + "}"),
            ("/api/v1/events/batch", '{"events":[{"timestamp":"' + TS + '","properties":' + inner + "}]}"),
            ("/api/v1/search", '{"query":"x","filters":' + inner + "}"),
        ):
            response = _raw(api, "POST", path, body)
            statuses.add((path, response.status))
            assert response.status < 500, (depth, path, response.raw)
    assert ("/api/v1/events/batch", 207) in statuses and ("/api/v1/events/batch", 400) in statuses


def test_deep_properties_inside_a_batch_fail_alone(api: Api) -> None:
    deep: dict = {"leaf": 1}
    for _ in range(200):
        deep = {"a": deep}
    response = api.post(
        "/api/v1/events/batch",
        {"events": [{"timestamp": TS, "properties": deep}, {"timestamp": TS, "event_id": "fine"}]},
    )
    assert response.status == 207, response.raw
    bad, good = response.body["results"]
    assert (bad["status"], bad["error"]["details"][0]["type"]) == (422, "too_deep")
    assert good["duplicate"] is False
    assert api.get("/api/v1/events/fine").status == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/events", [{"timestamp": TS, "event_id": "a1"}, {"timestamp": TS, "event_id": "a2"}]),
        ("/api/v1/events/batch", [{"timestamp": TS, "event_id": "a1"}]),
    ],
)
def test_an_array_where_an_object_is_expected_is_a_422(api: Api, path: str, body: list) -> None:
    response = _raw(api, "POST", path, " \n" + json.dumps(body))
    assert response.status == 422
    assert response.error_code == "expected_object"
    if path == "/api/v1/events":
        assert "/api/v1/events/batch" in response.body["error"]["message"]
    assert api.get("/api/v1/events").body["events"] == []


# -- B: query and path parameters --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/events", "session_id"),
        ("/api/v1/events", "trace_id"),
        ("/api/v1/events", "agent_id"),
        ("/api/v1/events", "event_type"),
        ("/api/v1/traces", "session_id"),
        ("/api/v1/traces", "agent_id"),
    ],
)
def test_control_characters_in_filters_are_a_422(api: Api, path: str, name: str) -> None:
    api.post("/api/v1/events", {"timestamp": TS, "session_id": "s"})
    response = api.get(path, **{name: "\u0000"})
    assert response.status == 422, response.raw
    assert response.body["error"]["details"][0]["field"] == f"query.{name}"


def test_percent_encoded_path_parameters_are_decoded(api: Api) -> None:
    created = api.post("/api/v1/events", {"timestamp": TS, "event_id": "f8:1", "session_id": "s p"})
    assert created.status == 201
    for path in ("/api/v1/events/f8:1", "/api/v1/events/f8%3A1", "/api/v1/events/f8%3a1"):
        response = api.get(path)
        assert response.status == 200, (path, response.raw)
        assert response.body["event_id"] == "f8:1"
    trace_id = created.body["trace_id"]
    encoded = "".join(f"%{b:02X}" for b in trace_id.encode())
    assert api.get(f"/api/v1/traces/{encoded}").status == 200
    assert api.get("/api/v1/events/f8%3A1/similar").status == 200


@pytest.mark.parametrize("path", ["/api/v1/events/%00", "/api/v1/traces/%00", "/api/v1/events/a%2Fb"])
def test_ids_that_cannot_exist_are_404(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status == 404, response.raw


@pytest.mark.parametrize("bad_id", ["\u0000", "x y", "a" * 400])
def test_cursor_with_an_impossible_position_is_a_400(api: Api, bad_id: str) -> None:
    cursor = encode_cursor("events", "desc", Position(ms=1, id=bad_id))
    response = api.get("/api/v1/events", cursor=cursor)
    assert response.status == 400
    assert response.error_code == "invalid_cursor"
    beyond = encode_cursor("events", "desc", Position(ms=10**14, id="x"))
    assert api.get("/api/v1/events", cursor=beyond).status == 400
