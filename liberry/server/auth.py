"""HTTP Basic auth as W&B does it: user `api` (any name is accepted), password = API key.

Every authenticated route calls `Authenticator.authenticate` before reading the request body,
so a request without a valid key costs the server one header parse and (at most) one indexed
lookup. Failed attempts are rate-limited per client address (see ratelimit.py).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .ratelimit import LoginLimiter
from .store import Store
from .store.accounts import mask_key

AUTH_HELP = (
    "pass your liberry API key with HTTP Basic auth (user 'api', password = key), e.g. "
    "WANDB_API_KEY=<key> or liberry.Api(overrides={'api_key': ...}); the server printed the key "
    "on first start and stored it in <data dir>/api_key (`liberry user key NAME --rotate` "
    "issues a new one)"
)
MAX_HEADER = 4096


class AuthError(Exception):
    """Missing or wrong credentials (HTTP 401)."""


class TooManyAttempts(Exception):
    """Too many failed logins from this address (HTTP 429); `retry_after` in seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"too many requests with an invalid API key from this address: retry in "
            f"{retry_after:.1f} s (the limit is a burst of failures, then a few per second)"
        )
        self.retry_after = retry_after


def key_from_header(header: str | None) -> str:
    if not header:
        raise AuthError(f"no API key given: {AUTH_HELP}")
    if len(header) > MAX_HEADER:
        raise AuthError(
            f"Authorization header too long (the limit is {MAX_HEADER} characters): {AUTH_HELP}"
        )
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() != "basic":
        raise AuthError(f"unsupported Authorization scheme {scheme[:20]!r}: {AUTH_HELP}")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise AuthError(
            f"malformed Basic credentials (not base64 of 'api:<key>'): {AUTH_HELP}"
        ) from None
    _, sep, key = decoded.partition(":")
    if not sep or not key:
        raise AuthError(f"no API key in the Basic credentials (empty password): {AUTH_HELP}")
    return key


class Authenticator:
    """Checks keys against the store, with the per-address limiter in front."""

    def __init__(self, store: Store, limiter: LoginLimiter | None = None) -> None:
        self.store = store
        self.limiter = limiter or LoginLimiter()

    def authenticate(self, header: str | None, address: str) -> dict[str, Any]:
        try:
            key = key_from_header(header)
        except AuthError:
            self._refuse_if_limited(address, None)
            if header:  # a missing header guesses nothing; a malformed one may probe
                self.limiter.failed(address)
            raise
        self._refuse_if_limited(address, key)
        user = self.store.user_for_key(key)
        if user is None:
            self.limiter.failed(address)
            # The key itself is never echoed or logged: its last 4 characters say which one.
            raise AuthError(
                f"invalid API key {mask_key(key)}: it was never issued, was rotated, or its "
                f"user was deleted; {AUTH_HELP}"
            )
        self.limiter.succeeded(address, key)
        return user

    def _refuse_if_limited(self, address: str, key: str | None) -> None:
        wait = self.limiter.retry_after(address, key)
        if wait is not None:
            raise TooManyAttempts(wait)


def authenticate(store: Store, header: str | None) -> dict[str, Any]:
    """Check `header` without rate limiting (callers outside the HTTP app)."""
    key = key_from_header(header)
    user = store.user_for_key(key)
    if user is None:
        raise AuthError(f"invalid API key {mask_key(key)}: {AUTH_HELP}")
    return user
