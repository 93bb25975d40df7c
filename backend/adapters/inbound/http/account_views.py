"""/api/v1 accounts: thin views that validate, run a command and answer from the read model."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema

from backend.adapters.inbound.http.api_services import ApiServices
from backend.adapters.inbound.http.auth import current_user_id, requires_auth
from backend.adapters.inbound.http.idempotency import Recorder, idempotency_key, idempotent
from backend.adapters.inbound.http.json_body import json_object_body
from backend.adapters.inbound.http.middleware import current_request_id
from backend.adapters.inbound.http.problems import ProblemError
from backend.adapters.inbound.http.schemas import (
    AccountPageSchema,
    AccountQuerySchema,
    AccountSchema,
    EmptySchema,
    EventPageSchema,
    MoneyCommandSchema,
    OpenAccountSchema,
    PageQuerySchema,
    TransactionPageSchema,
    TransactionSchema,
    load,
    load_query,
    shared,
)
from backend.application import accounts
from backend.application.command_runner import CommandContext
from backend.application.commands import CloseAccount, Deposit, OpenAccount, Withdraw
from backend.application.ports.event_store import EventMetadata, StoredEvent
from backend.application.ports.idempotency import StoredResponse

_ETAG = re.compile(r'(?:W/)?"?(\d{1,18})"?')
MoneyHandler = Callable[[Any, CommandContext], StoredEvent]
T = TypeVar("T")


def account_blueprint(services: ApiServices) -> Blueprint:
    """Account routes; every one is scoped to the caller's own accounts."""
    blueprint = Blueprint("accounts", __name__)
    authenticated = requires_auth(services.identity)
    views = AccountViews(services)
    routes: list[tuple[str, str, Callable[..., Response]]] = [
        ("/accounts", "POST", views.open_account),
        ("/accounts", "GET", views.list_accounts),
        ("/accounts/<account_id>", "GET", views.get_account),
        ("/accounts/<account_id>/deposits", "POST", views.deposit),
        ("/accounts/<account_id>/withdrawals", "POST", views.withdraw),
        ("/accounts/<account_id>/close", "POST", views.close),
        ("/accounts/<account_id>/transactions", "GET", views.transactions),
        ("/accounts/<account_id>/events", "GET", views.events),
    ]
    for rule, method, view in routes:
        blueprint.add_url_rule(rule, view.__name__, authenticated(view), methods=[method])
    return blueprint


class AccountViews:
    """The account endpoints: validate, run the command, answer from the read model."""

    def __init__(self, services: ApiServices) -> None:
        self.services = services

    def open_account(self) -> Response:
        data = load(shared(OpenAccountSchema), json_object_body())
        _check_currency(data["currency"], self.services.settings.currencies)
        command = OpenAccount(current_user_id(), data["name"].strip(), data["currency"])
        account = self._run(lambda ctx: accounts.open_account(command, ctx))
        response = _account(self._queries().account(command.owner_id, account.id), 201)
        response.headers["Location"] = f"{request.script_root}/api/v1/accounts/{account.id}"
        return response

    def list_accounts(self) -> Response:
        page = load_query(shared(PageQuerySchema))
        found = self._queries().accounts(current_user_id(), page["limit"], page.get("cursor"))
        return _page(shared(AccountPageSchema), found, page["limit"])

    def get_account(self, account_id: str) -> Response:
        as_of = load_query(shared(AccountQuerySchema)).get("as_of")
        queries = self._queries()
        if as_of is None:
            return _account(queries.account(current_user_id(), account_id))
        return _account(queries.account_as_of(current_user_id(), account_id, as_of))

    def deposit(self, account_id: str) -> Response:
        return _money(self.services, account_id, Deposit, accounts.deposit, "deposit")

    def withdraw(self, account_id: str) -> Response:
        return _money(self.services, account_id, Withdraw, accounts.withdraw, "withdrawal")

    def close(self, account_id: str) -> Response:
        load(shared(EmptySchema), json_object_body(required=False))
        command = CloseAccount(current_user_id(), account_id, expected_version())
        self._run(lambda ctx: accounts.close_account(command, ctx))
        return _account(self._queries().account(command.owner_id, account_id))

    def transactions(self, account_id: str) -> Response:
        page = load_query(shared(PageQuerySchema))
        found = self._queries().transactions(
            current_user_id(), account_id, page["limit"], page.get("cursor")
        )
        return _page(shared(TransactionPageSchema), found, page["limit"])

    def events(self, account_id: str) -> Response:
        page = load_query(shared(PageQuerySchema))
        found = self._queries().events(
            current_user_id(), account_id, page["limit"], page.get("cursor")
        )
        return _page(shared(EventPageSchema), found, page["limit"])

    def _queries(self) -> Any:
        return self.services.account_queries()

    def _run(self, handler: Callable[[CommandContext], T]) -> T:
        return self.services.runner().run(handler, metadata())


def metadata() -> EventMetadata:
    """Who and which request caused the events a command appends."""
    request_id = current_request_id()
    user_id = current_user_id()
    return EventMetadata(correlation_id=request_id, user_id=user_id, request_id=request_id)


def expected_version() -> int | None:
    """The version `If-Match` demands (None without one or for `*`); 412 when unreadable."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _ETAG.fullmatch(header.strip())
    if match is None:
        raise ProblemError("precondition-failed", 'If-Match must be an ETag such as "3".')
    return int(match[1])


def _money(
    services: ApiServices, account_id: str, command_type: Any, handler: MoneyHandler, kind: str
) -> Response:
    idempotency_key()  # a malformed key is refused before anything else is looked at
    body = json_object_body()
    data = load(shared(MoneyCommandSchema), body)
    command = command_type(
        current_user_id(), account_id, data["amount"], data.get("reference"), expected_version()
    )

    def perform(record: Recorder) -> StoredResponse:
        def run(ctx: CommandContext) -> StoredResponse:
            event = handler(command, ctx)
            stored = StoredResponse(201, _transaction(ctx, event, kind))
            record(ctx.uow, stored)  # in the command's transaction: the key and the effect
            return stored

        return services.runner().run(run, metadata())

    return idempotent(services.idempotency(), current_user_id(), body, perform)


def _transaction(ctx: CommandContext, event: StoredEvent, kind: str) -> dict[str, Any]:
    """The Transaction of a deposit or withdrawal event (its id is the event's id)."""
    account = ctx.accounts.get(event.stream_id)
    balance_after = account.balance if account is not None else 0
    transaction = {
        "id": event.event_id,
        "account_id": event.stream_id,
        "kind": kind,
        "amount": event.data["amount"],
        "currency": event.data["currency"],
        "balance_after": balance_after,
        "reference": event.data.get("reference"),
        "transfer_id": None,
        "occurred_at": event.occurred_at,
    }
    dumped: dict[str, Any] = shared(TransactionSchema).dump(transaction)
    return dumped


def _check_currency(currency: str, supported: tuple[str, ...]) -> None:
    if currency not in supported:
        raise ProblemError(
            "validation-error",
            "The currency is not supported.",
            errors={"currency": [f"Must be one of: {', '.join(supported)}."]},
        )


def _account(view: Any, status: int = 200) -> Response:
    response = jsonify(shared(AccountSchema).dump(view))
    response.status_code = status
    response.headers["ETag"] = f'"{view.version}"'
    return response


def _page(schema: Schema, page: Any, limit: int) -> Response:
    response = jsonify(schema.dump(page))
    if page.next_cursor is not None:
        query = {**request.args.to_dict(flat=True), "limit": str(limit), "cursor": page.next_cursor}
        response.headers["Link"] = f'<{request.base_url}?{urlencode(query)}>; rel="next"'
    return response
