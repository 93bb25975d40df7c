"""/api/v1 users and tokens: register, log in, refresh, log out, who am I."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from backend.adapters.inbound.http.api_services import ApiServices
from backend.adapters.inbound.http.auth import current_claims, requires_auth
from backend.adapters.inbound.http.json_body import json_object_body
from backend.adapters.inbound.http.rate_limit import client_address
from backend.adapters.inbound.http.schemas import (
    RefreshRequestSchema,
    RegisterUserSchema,
    TokenPairSchema,
    TokenRequestSchema,
    UserSchema,
    load,
    shared,
)
from backend.application.identity import TokenPair


def auth_blueprint(services: ApiServices) -> Blueprint:
    """Identity routes; failures map to problems in api.py."""
    blueprint = Blueprint("auth", __name__)
    authenticated = requires_auth(services.identity)

    @blueprint.post("/users")
    def register() -> tuple[Response, int]:
        data = load(shared(RegisterUserSchema), json_object_body())
        user = services.identity().register(data["email"], data["password"], data["name"])
        return jsonify(shared(UserSchema).dump(user)), 201

    @blueprint.get("/users/me")
    @authenticated
    def me() -> Response:
        return jsonify(shared(UserSchema).dump(services.identity().user(current_claims().user_id)))

    @blueprint.post("/auth/token")
    def token() -> Response:
        data = load(shared(TokenRequestSchema), json_object_body())
        pair = services.identity().login(data["email"], data["password"], client_address())
        return _pair(pair)

    @blueprint.post("/auth/refresh")
    def refresh() -> Response:
        data = load(shared(RefreshRequestSchema), json_object_body())
        return _pair(services.identity().refresh(data["refresh_token"]))

    @blueprint.post("/auth/logout")
    @authenticated
    def logout() -> Response:
        data = load(shared(RefreshRequestSchema), json_object_body())
        services.identity().logout(current_claims(), data["refresh_token"])
        return Response(status=204)

    return blueprint


def _pair(pair: TokenPair) -> Response:
    body = {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": pair.expires_in,
    }
    return jsonify(shared(TokenPairSchema).dump(body))
