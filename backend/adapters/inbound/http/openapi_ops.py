"""The document's entries for what is not a JSON operation of /api/v1: the operational
endpoints, the problem type pages, the document itself and the WebSocket upgrade.

Written out as OpenAPI (not as `Operation`s): their bodies are text, HTML or WebSocket frames.
The property-based tests drive `openapi.ALL_PATHS` only, so these are described, not fuzzed.
"""

from __future__ import annotations

from typing import Any

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_RETRY_AFTER = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}


def _json(properties: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": sorted(properties)}
    return {"application/json": {"schema": schema, "example": example}}


def _problem(description: str, retry: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _PROBLEM}
    if retry:
        response["headers"] = _RETRY_AFTER
    return response


WEBSOCKET_PROTOCOL = (
    "A WebSocket (RFC 6455) on the API's host and port: send this GET with `Upgrade: websocket` "
    "(any WebSocket client does); /api/docs cannot try it. All messages are JSON "
    "text frames.\n\n"
    '1. Within 5 s send `{"type": "auth", "access_token": "<access token>"}` as the first '
    "message (never put the token in the URL); otherwise, or with a bad, expired or revoked "
    "token, the server closes with code 4401.\n"
    '2. The server answers `{"type": "ready"}`, then pushes the caller\'s own changes: '
    '`{"type": "account.updated", "data": <Account>}` and '
    '`{"type": "transfer.updated", "data": <Transfer>}`, each the whole committed state '
    "(as `GET` returns it), coalesced, best effort: re-read with `GET` after every connect.\n"
    '3. `{"type": "ping"}` is answered with `{"type": "pong"}`.\n\n'
    "Close codes: 4401 (no valid auth, or the token expired or was revoked), 1008 (too many "
    "sockets for the user, an unanswered ping, over the message budget), 1009 (a message over "
    "4,096 bytes), 1001 (shutting down), 1011 (server error). The whole protocol is in "
    "docs/websocket.md of the hexbank repository."
)

# fmt: off
OPS_PATHS: dict[str, dict[str, Any]] = {
    "/healthz": {"get": {
        "operationId": "healthz", "summary": "Liveness: the process answers", "tags": ["ops"],
        "responses": {"200": {"description": "Alive.",
                              "content": _json({"status": {"const": "ok"}}, {"status": "ok"})}},
    }},
    "/readyz": {"get": {
        "operationId": "readyz", "summary": "Readiness: every dependency is usable",
        "tags": ["ops"],
        "responses": {
            "200": {"description": "Ready; `checks` names each dependency checked.",
                    "content": _json(
                        {"status": {"const": "ready"},
                         "checks": {"type": "object", "additionalProperties": {"const": "ok"}}},
                        {"status": "ready", "checks": {"database": "ok"}})},
            "503": _problem("service-unavailable: the detail names the failing checks.", True),
        },
    }},
    "/metrics": {"get": {
        "operationId": "metrics", "summary": "Prometheus metrics of this process",
        "tags": ["ops"],
        "responses": {"200": {
            "description": "The Prometheus text exposition format (not cached).",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }},
    }},
    "/problems/{slug}": {"get": {
        "operationId": "problemType", "summary": "What a problem `type` means (an HTML page)",
        "tags": ["ops"],
        "parameters": [{"in": "path", "name": "slug", "required": True,
                        "schema": {"type": "string"}, "example": "insufficient-funds"}],
        "responses": {
            "200": {"description": "The page.",
                    "content": {"text/html": {"schema": {"type": "string"}}}},
            "404": _problem("not-found: no such problem type."),
        },
    }},
    "/api/v1/openapi.json": {"get": {
        "operationId": "getOpenApi", "summary": "This document (OpenAPI 3.1)", "tags": ["meta"],
        "responses": {"200": {"description": "The document.",
                              "content": {"application/json": {"schema": {"type": "object"}}}}},
    }},
    "/api/v1/ws": {"get": {
        "operationId": "websocket",
        "summary": "Real-time pushes of the caller's changes (WebSocket)",
        "description": WEBSOCKET_PROTOCOL, "tags": ["websocket"],
        "parameters": [
            {"in": "header", "name": "Upgrade", "required": True,
             "schema": {"const": "websocket"}},
            {"in": "header", "name": "Connection", "required": True,
             "schema": {"type": "string", "example": "Upgrade"}},
            {"in": "header", "name": "Sec-WebSocket-Key", "required": True,
             "schema": {"type": "string"}},
            {"in": "header", "name": "Sec-WebSocket-Version", "required": True,
             "schema": {"const": "13"}},
        ],
        "responses": {
            "101": {"description": "Switching Protocols: the socket is open; authenticate with "
                                   "the first message (see above)."},
            "400": _problem("bad-request: not a WebSocket upgrade."),
            "429": _problem("rate-limited: a connect counts as a request.", True),
            "503": _problem("service-unavailable: this process holds as many sockets as it "
                            "may.", True),
        },
    }},
}
# fmt: on
