"""HTTP Basic auth as W&B does it: user `api` (any name is accepted), password = API key."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .store import Store

AUTH_HELP = (
    "pass your liberry API key with HTTP Basic auth (user 'api', password = key), e.g. "
    "WANDB_API_KEY=<key> or liberry.Api(overrides={'api_key': ...}); the server printed the key "
    "on first start and stored it in <data dir>/api_key"
)


class AuthError(Exception):
    """Missing or wrong credentials (HTTP 401)."""


def key_from_header(header: str | None) -> str:
    if not header:
        raise AuthError(f"no API key given: {AUTH_HELP}")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() != "basic":
        raise AuthError(f"unsupported Authorization scheme {scheme!r}: {AUTH_HELP}")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError(f"malformed Basic credentials: {AUTH_HELP}") from None
    _, sep, key = decoded.partition(":")
    if not sep or not key:
        raise AuthError(f"no API key in the Basic credentials: {AUTH_HELP}")
    return key


def authenticate(store: Store, header: str | None) -> dict[str, Any]:
    key = key_from_header(header)
    user = store.user_for_key(key)
    if user is None:
        raise AuthError(f"invalid API key: {AUTH_HELP}")
    return user
