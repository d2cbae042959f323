"""Admission for the HTTP routes: the caller's key (401/429) and, for storage URLs, the
signature (403) and the access check (404, or 409 when the resource no longer takes the
request), all before any request body is read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .access import Access
from .auth import Authenticator, AuthError, TooManyAttempts
from .store import Store
from .store import tables as t
from .store.errors import NotFound, StoreError

# Built once: every signed URL's use looks its user up.
_USER_BY_ID = select(t.users).where(t.users.c.id == bindparam("id"))

Verify = Callable[[str, str, str | None, str | None, str | None], str | None]


def error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message}], "error": message}, status, headers=headers
    )


def address_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Gate:
    def __init__(self, store: Store, authenticator: Authenticator) -> None:
        self.store = store
        self.authenticator = authenticator

    async def user(self, request: Request) -> dict[str, Any] | Response:
        """The caller's user, or the 401/429 response to send instead."""
        header = request.headers.get("authorization")
        try:
            user: dict[str, Any] = await run_in_threadpool(
                self.authenticator.authenticate, header, address_of(request)
            )
        except AuthError as exc:
            return error(401, str(exc), **{"WWW-Authenticate": 'Basic realm="liberry"'})
        except TooManyAttempts as exc:
            return error(429, str(exc), **{"Retry-After": str(max(1, round(exc.retry_after)))})
        return user

    async def storage(
        self,
        request: Request,
        method: str,
        signed_key: str,
        verify: Verify,
        check: Callable[[Access], object],
    ) -> Response | None:
        """None when the request may touch the resource, else the response to send.

        A storage request is admitted by a valid signature (W&B's client sends no key with
        its PUTs and artifact GETs) or by a valid key; a key, when sent, must be valid. Every
        user involved (the key's, the one the URL was minted for) must still reach the
        resource (`check`), else it is "not found"; a check raising another StoreError
        (the resource is in a state that refuses the request) is a 409 conflict."""
        header_user: dict[str, Any] | None = None
        if request.headers.get("authorization") is not None:
            got = await self.user(request)
            if isinstance(got, Response):
                return got
            header_user = got
        params = request.query_params
        signed_uid: str | None = None
        if params.get("sig") is not None or params.get("exp") is not None:
            signed_uid = params.get("u")
            problem = verify(method, signed_key, params.get("exp"), params.get("sig"), signed_uid)
            if problem:
                return error(403, problem)
        elif header_user is None:
            return error(
                401,
                "no API key and no signature: use the signed URL the API returned, or send "
                "your API key with HTTP Basic auth",
                **{"WWW-Authenticate": 'Basic realm="liberry"'},
            )
        try:
            await run_in_threadpool(self._check, header_user, signed_uid, check)
        except NotFound as exc:
            return error(404, str(exc))
        except StoreError as exc:
            return error(409, str(exc))
        return None

    def _check(
        self,
        header_user: dict[str, Any] | None,
        signed_uid: str | None,
        check: Callable[[Access], object],
    ) -> None:
        with self.store.read() as conn:
            subjects = [header_user] if header_user is not None else []
            if signed_uid is not None:
                row = None
                if signed_uid.isdigit():
                    row = conn.execute(_USER_BY_ID, {"id": int(signed_uid)}).mappings().first()
                if row is None:  # its user was deleted: the URL died with them
                    raise NotFound("not found: the user this URL was issued to no longer exists")
                subjects.append(dict(row))
            for user in subjects:
                check(Access(conn, user))
