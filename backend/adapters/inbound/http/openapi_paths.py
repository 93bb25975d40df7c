"""Every /api/v1 operation as data: its body, success response, parameters and problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema

from backend.adapters.inbound.http import schemas
from backend.adapters.inbound.http.input_policy import TEXT_PATTERN
from backend.adapters.inbound.http.transfer_views import TransferListQuerySchema

PROBLEMS_BY_STATUS = {
    400: "bad-request: the body is not JSON or not a JSON object.",
    401: "unauthorized: token missing, malformed, expired, forged or revoked; bad credentials.",
    404: "not-found: no such resource, or one the caller may not see.",
    409: "email-taken, account-closed, account-not-empty, concurrent-modification or "
    "idempotency-key-in-use.",
    412: "precondition-failed: If-Match does not match the current version.",
    413: "payload-too-large: the body is over the configured limit.",
    415: "unsupported-media-type: send the body as application/json.",
    422: "validation-error (with `errors` per field), insufficient-funds, same-account or "
    "idempotency-key-reused.",
    429: "rate-limited: too many requests; see Retry-After.",
    500: "internal-server-error: quote the X-Request-ID response header.",
    503: "service-unavailable: a dependency is down; see Retry-After.",
}
_PROBLEM_HEADERS = {401: ["WWW-Authenticate"], 429: ["Retry-After"], 503: ["Retry-After"]}

# A segment breaking the input policy is 404, like an id that does not exist.
_ID = {"type": "string", "pattern": TEXT_PATTERN}
ACCOUNT_ID = {"in": "path", "name": "account_id", "required": True, "schema": _ID}
TRANSFER_ID = {"in": "path", "name": "transfer_id", "required": True, "schema": _ID}
IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "description": "Makes the request safe to retry for 24 hours (scoped to the caller).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": 'Refuse (412) unless the account is at this version, e.g. "3", or `*`; '
    "a value not of this pattern never matches (412).",
    "schema": {"type": "string", "pattern": '^\\s*(\\*|(W/)?"?[0-9]{1,18}"?)\\s*$'},
}


@dataclass(frozen=True)
class Operation:
    """One operation of the document."""

    operation_id: str
    summary: str
    tag: str
    status: int
    response: str | None = None
    body: str | None = None
    body_required: bool = True
    auth: bool = True
    params: list[Any] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    problems: tuple[int, ...] = ()
    #: OpenAPI links of the success response (LINKS): which operations its values feed.
    links: dict[str, Any] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "operationId": self.operation_id,
            "summary": self.summary,
            "tags": [self.tag],
            "responses": {str(self.status): self._success(), **self._problems()},
        }
        if self.auth:
            operation["security"] = [{"bearerAuth": []}]
        if self.params:
            operation["parameters"] = self.params
        if self.body is not None:
            operation["requestBody"] = {
                "required": self.body_required,
                "content": {"application/json": {"schema": _ref(self.body)}},
            }
        return operation

    def _success(self) -> dict[str, Any]:
        success: dict[str, Any] = {"description": "Success."}
        if self.response is not None:
            success["content"] = {"application/json": {"schema": _ref(self.response)}}
        if self.headers:
            success["headers"] = {name: _header_ref(name) for name in self.headers}
        if self.operation_id in LINKS:
            success["links"] = LINKS[self.operation_id]
        return success

    def _problems(self) -> dict[str, Any]:
        statuses = set(self.problems) | {429, 500, 503}
        if self.auth:
            statuses.add(401)
        if self.body is not None:
            statuses |= {400, 413, 415, 422}
        return {str(status): _problem(status) for status in sorted(statuses)}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _problem(status: int) -> dict[str, Any]:
    problem: dict[str, Any] = {
        "description": PROBLEMS_BY_STATUS[status],
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }
    if status in _PROBLEM_HEADERS:
        problem["headers"] = {name: _header_ref(name) for name in _PROBLEM_HEADERS[status]}
    return problem


def _query(schema: type[Schema]) -> dict[str, Any]:
    return {"in": "query", "schema": schema}


def _link(operation_id: str, description: str, **values: Any) -> dict[str, Any]:
    """A link to `operation_id`; `values` are path or query parameters, `body` the request body
    (runtime expressions such as `$response.body#/id`, merged into the generated body)."""
    link: dict[str, Any] = {"operationId": operation_id, "description": description}
    if "body" in values:
        link["requestBody"] = values.pop("body")
    if values:
        link["parameters"] = values
    return link


def _account_links(id_expression: str) -> dict[str, Any]:
    """What an account's id (found at `id_expression`) leads to."""
    account = {"account_id": id_expression}
    return {
        "GetAccount": _link("getAccount", "The account.", **account),
        "Deposit": _link("deposit", "Deposit into the account.", **account),
        "Withdraw": _link("withdraw", "Withdraw from the account.", **account),
        "CloseAccount": _link("closeAccount", "Close the account.", **account),
        "ListTransactions": _link("listTransactions", "Its transactions.", **account),
        "ListEvents": _link("listEvents", "Its event stream.", **account),
        "RequestTransfer": _link("requestTransfer", "A transfer out of the account.",
                                 body={"source_account_id": id_expression}),
        "ListItsTransfers": _link("listTransfers", "Its transfers.",
                                  **{"query.account_id": id_expression}),
    }  # fmt: skip


_REFRESH = {"refresh_token": "$response.body#/refresh_token"}
#: How responses feed later requests (for clients, and for schemathesis's stateful tests):
#: register → log in → rotate or log out; open an account → move money, read it, transfer
#: out of it → the transfer and its source account.
LINKS: dict[str, dict[str, Any]] = {
    "registerUser": {"CreateToken": _link(
        "createToken", "Log in as the new user.",
        body={"email": "$response.body#/email", "password": "$request.body#/password"})},
    "createToken": {
        "RefreshToken": _link("refreshToken", "Rotate the new refresh token.", body=_REFRESH),
        "Logout": _link("logout", "End the new login.", body=_REFRESH),
    },
    "refreshToken": {
        "RefreshToken": _link("refreshToken", "Rotate again.", body=_REFRESH),
        "Logout": _link("logout", "End the login.", body=_REFRESH),
    },
    "openAccount": _account_links("$response.body#/id"),
    "getAccount": _account_links("$response.body#/id"),
    "closeAccount": {"GetAccount": _link("getAccount", "The closed account.",
                                         account_id="$response.body#/id")},
    "deposit": _account_links("$response.body#/account_id"),
    "withdraw": _account_links("$response.body#/account_id"),
    "requestTransfer": {
        "GetTransfer": _link("getTransfer", "The transfer.", transfer_id="$response.body#/id"),
        "GetSourceAccount": _link("getAccount", "The account it is paid from.",
                                  account_id="$response.body#/source_account_id"),
    },
    "getTransfer": {"GetSourceAccount": _link("getAccount", "The account it is paid from.",
                                              account_id="$response.body#/source_account_id")},
}  # fmt: skip

PAGE = _query(schemas.PageQuerySchema)
MONEY_PROBLEMS = (404, 409, 412, 422)

# fmt: off
PATHS: dict[str, dict[str, Operation]] = {
    "/api/v1/users": {"post": Operation(
        "registerUser", "Register a user", "users", 201, "User", "RegisterUser",
        auth=False, problems=(409,))},
    "/api/v1/users/me": {"get": Operation("getMe", "The caller", "users", 200, "User")},
    "/api/v1/auth/token": {"post": Operation(
        "createToken", "Log in: a new access and refresh token", "auth", 200, "TokenPair",
        "TokenRequest", auth=False, problems=(401,))},
    "/api/v1/auth/refresh": {"post": Operation(
        "refreshToken", "Rotate a refresh token into a new pair", "auth", 200, "TokenPair",
        "RefreshRequest", auth=False, problems=(401,))},
    "/api/v1/auth/logout": {"post": Operation(
        "logout", "Revoke the access token and the login's refresh tokens", "auth", 204,
        body="RefreshRequest")},
    "/api/v1/accounts": {
        "post": Operation("openAccount", "Open an account", "accounts", 201, "Account",
                          "OpenAccount", headers=["Location", "ETag"]),
        "get": Operation("listAccounts", "The caller's accounts, oldest first", "accounts", 200,
                         "AccountPage", params=[PAGE], headers=["Link"], problems=(422,)),
    },
    "/api/v1/accounts/{account_id}": {"get": Operation(
        "getAccount", "One account (or as it stood at `as_of`)", "accounts", 200, "Account",
        params=[ACCOUNT_ID, _query(schemas.AccountQuerySchema)], headers=["ETag"],
        problems=(404, 422))},
    "/api/v1/accounts/{account_id}/deposits": {"post": Operation(
        "deposit", "Deposit money", "accounts", 201, "Transaction", "MoneyCommand",
        params=[ACCOUNT_ID, IDEMPOTENCY_KEY, IF_MATCH], headers=["Idempotent-Replayed"],
        problems=MONEY_PROBLEMS)},
    "/api/v1/accounts/{account_id}/withdrawals": {"post": Operation(
        "withdraw", "Withdraw money", "accounts", 201, "Transaction", "MoneyCommand",
        params=[ACCOUNT_ID, IDEMPOTENCY_KEY, IF_MATCH], headers=["Idempotent-Replayed"],
        problems=MONEY_PROBLEMS)},
    "/api/v1/accounts/{account_id}/close": {"post": Operation(
        "closeAccount", "Close an empty account", "accounts", 200, "Account",
        params=[ACCOUNT_ID, IF_MATCH], headers=["ETag"],
        problems=(400, 404, 409, 412, 413, 415, 422))},
    "/api/v1/accounts/{account_id}/transactions": {"get": Operation(
        "listTransactions", "The account's transactions, newest first", "accounts", 200,
        "TransactionPage", params=[ACCOUNT_ID, PAGE], headers=["Link"], problems=(404, 422))},
    "/api/v1/accounts/{account_id}/events": {"get": Operation(
        "listEvents", "The account's event stream, oldest first", "accounts", 200, "EventPage",
        params=[ACCOUNT_ID, PAGE], headers=["Link"], problems=(404, 422))},
    "/api/v1/transfers": {
        "post": Operation(
            "requestTransfer", "Request a transfer (asynchronous: 202 pending)", "transfers",
            202, "Transfer", "RequestTransfer", params=[IDEMPOTENCY_KEY],
            headers=["Location", "Idempotent-Replayed"], problems=(404, 409, 422)),
        "get": Operation(
            "listTransfers", "Transfers the caller can see, newest first", "transfers", 200,
            "TransferPage", params=[_query(TransferListQuerySchema)], headers=["Link"],
            problems=(404, 422)),
    },
    "/api/v1/transfers/{transfer_id}": {"get": Operation(
        "getTransfer", "One transfer (for the owner of either account)", "transfers", 200,
        "Transfer", params=[TRANSFER_ID], problems=(404,))},
}
# fmt: on
