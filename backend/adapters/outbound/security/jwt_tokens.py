"""Access tokens as HS256 JWTs (PyJWT), the algorithm pinned so `none` and foreign keys fail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt

from backend.application.ports.tokens import AccessClaims, InvalidToken

ALGORITHM = "HS256"
AUDIENCE = "hexbank-api"
ISSUER = "hexbank"
_REQUIRED = ["exp", "iat", "nbf", "jti", "sub", "aud", "iss", "fam"]


class JwtTokenIssuer:
    """TokenIssuer port: signs with one secret; time checks use the caller's clock."""

    def __init__(self, secret: str, leeway_seconds: int = 0) -> None:
        self._secret = secret
        self._leeway = leeway_seconds

    def issue(self, claims: AccessClaims) -> str:
        payload = {
            "sub": claims.user_id,
            "jti": claims.token_id,
            "fam": claims.family_id,
            "iat": int(claims.issued_at.timestamp()),
            "nbf": int(claims.issued_at.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "aud": AUDIENCE,
            "iss": ISSUER,
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str, now: datetime) -> AccessClaims:
        payload = self._decode(token)
        moment = now.timestamp()
        if payload["exp"] <= moment - self._leeway:
            raise InvalidToken("token expired")
        if payload["nbf"] > moment + self._leeway:
            raise InvalidToken("token not yet valid")
        return AccessClaims(
            user_id=str(payload["sub"]),
            token_id=str(payload["jti"]),
            family_id=str(payload["fam"]),
            issued_at=datetime.fromtimestamp(payload["iat"], UTC),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )

    def _decode(self, token: str) -> dict[str, Any]:
        # Time claims are checked against the injected clock in verify(), not time.time().
        options: dict[str, Any] = {
            "require": _REQUIRED,
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
        }
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options=options,  # type: ignore[arg-type]
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(f"invalid token: {type(error).__name__}") from None
        for claim in ("exp", "nbf", "iat"):
            if not isinstance(payload[claim], int | float) or isinstance(payload[claim], bool):
                raise InvalidToken(f"invalid {claim}")
        return payload
