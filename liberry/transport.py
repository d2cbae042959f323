"""HTTP transport: one keep-alive session, retries with backoff, auth, typed errors.

`Transport.execute` sends a named GraphQL operation and returns its `data`, or raises a
`liberry.errors.ServerError` subclass that says what to do. Listings page over it with
`paging.Paginator`.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from .errors import (
    AuthenticationError,
    BadQueryError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    ServerUnavailableError,
    UnknownFieldError,
)
from .operation import Operation

__all__ = ["DEFAULT_TIMEOUT", "Transport"]

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 5
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 16.0
_RETRY_AFTER_CAP = 60.0

# graphql-core quotes names with ', W&B's server with ".
_UNKNOWN_FIELD = re.compile(
    r"Cannot query field [\"'](?P<field>\w+)[\"'] on type [\"'](?P<type>\w+)[\"']"
)
_NOT_FOUND = re.compile(
    r"not found|could not find|does not exist|no such"
    r"|\bno (run|project|entity|file|sweep|artifact|user)s? (with|named|called)",
    re.IGNORECASE,
)
_FORBIDDEN = re.compile(r"permission|not authori[sz]ed|forbidden|access denied", re.IGNORECASE)


def _retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


class Transport:
    """Sends requests to one server with the W&B conventions.

    Basic auth `api:<key>`, a `W&B Public Client`-style User-Agent, gzip responses, a
    keep-alive connection pool, a timeout, and retries with exponential backoff on connection
    errors, HTTP 429 and 5xx; never on other 4xx, which cannot succeed unchanged.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        user_agent: str,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.user_agent = user_agent
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.max_retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        #: How many times each operation was sent (tests and benchmarks count queries).
        self.operation_counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.session = requests.Session()
        # The environment's proxies and CA bundle are read once per origin (`_environment`):
        # requests would read them again on every call, about a millisecond each.
        self.session.trust_env = False
        self._env: dict[tuple[str, str], dict[str, Any]] = {}
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": user_agent, "Accept-Encoding": "gzip"})

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url}/graphql"

    @property
    def key_label(self) -> str:
        """The API key as messages may show it: its last 4 characters only."""
        return f"API key ...{self.api_key[-4:]}" if self.api_key else "no API key"

    @property
    def where(self) -> str:
        """`<base url> (API key ...abcd)`: what a "not found" message names, since a server
        with several users reports another user's entity as not found."""
        return f"{self.base_url} ({self.key_label})"

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    # -- GraphQL -------------------------------------------------------------------------------

    def execute(
        self, operation: Operation, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send `operation` and return its `data`; GraphQL errors raise typed exceptions.

        A mutation whose answer times out is not re-sent: the server may have applied it.
        """
        body: dict[str, Any] = {"query": operation.document, "operationName": operation.name}
        if variables:
            body["variables"] = dict(variables)
        with self._lock:
            self.operation_counts[operation.name] += 1
        response = self.request(
            "POST",
            self.graphql_url,
            data=json.dumps(body, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/json"},
            what=f"GraphQL operation {operation.name}",
            retry_read_timeout=not operation.is_mutation,
        )
        payload = self._json(response, operation)
        errors = payload.get("errors")
        if errors:
            raise self._graphql_error(operation, errors, response.status_code)
        if "data" not in payload:
            raise BadQueryError(
                f"{operation.name}: the server at {self.base_url} answered without `data`.",
                status=response.status_code,
                url=self.graphql_url,
            )
        data: dict[str, Any] = payload["data"] or {}
        return data

    def _json(self, response: requests.Response, operation: Operation) -> dict[str, Any]:
        try:
            payload = orjson.loads(response.content)
        except ValueError:
            raise ServerUnavailableError(
                f"{operation.name}: the server at {self.base_url} did not answer with JSON "
                f"(HTTP {response.status_code}, {response.headers.get('Content-Type', '?')}). "
                "Check that base_url points at a liberry or W&B server.",
                status=response.status_code,
                url=self.graphql_url,
            ) from None
        if not isinstance(payload, dict):
            raise BadQueryError(
                f"{operation.name}: unexpected GraphQL response {str(payload)[:200]!r}",
                status=response.status_code,
                url=self.graphql_url,
            )
        return payload

    def _graphql_error(
        self, operation: Operation, errors: list[dict[str, Any]], status: int
    ) -> ServerError:
        messages = [str(e.get("message", e)) for e in errors]
        text = "; ".join(messages)
        kwargs: dict[str, Any] = {"status": status, "errors": errors, "url": self.graphql_url}
        if match := _UNKNOWN_FIELD.search(text):
            return UnknownFieldError(
                f"{operation.name}: the server at {self.base_url} has no field "
                f"{match['type']}.{match['field']} ({text}). It may be an older server or not "
                "a liberry server; upgrade it or use an API that does not need this field.",
                field=match["field"],
                type_name=match["type"],
                **kwargs,
            )
        if _NOT_FOUND.search(text):
            return NotFoundError(
                f"{operation.name}: {text} at {self.where}. Check the entity, project and run "
                "names, and that this key's user may reach the entity (own entity or a team).",
                **kwargs,
            )
        if _FORBIDDEN.search(text):
            return PermissionDeniedError(
                f"{operation.name}: {text}. Use an API key that has access to this entity.",
                **kwargs,
            )
        return BadQueryError(f"{operation.name} was rejected by the server: {text}", **kwargs)

    # -- HTTP ----------------------------------------------------------------------------------

    def _environment(self, url: str) -> dict[str, Any]:
        """What requests takes from the environment for `url` (HTTP(S)_PROXY / NO_PROXY,
        REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE), looked up the first time its origin is used."""
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        found = self._env.get(origin)
        if found is None:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            found = {"proxies": requests.utils.get_environ_proxies(url)}
            if bundle:
                found["verify"] = bundle
            self._env[origin] = found
        return found

    def request(
        self,
        method: str,
        url: str,
        *,
        auth: bool = True,
        what: str | None = None,
        retry_read_timeout: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one HTTP request with retries; non-retryable failures raise typed errors.

        `auth=False` leaves the Authorization header off (pre-signed upload URLs);
        `retry_read_timeout=False` gives up when a sent request's answer times out.
        """
        kwargs.setdefault("timeout", self.timeout)
        for key, value in self._environment(url).items():
            kwargs.setdefault(key, value)
        if auth and self.api_key:
            kwargs["auth"] = ("api", self.api_key)
        what = what or f"{method} {url}"
        last: str = ""
        for attempt in range(self.max_retries + 1):
            try:
                response = self.session.request(method, url, **kwargs)
            except requests.ReadTimeout as exc:
                if not retry_read_timeout:
                    raise ServerUnavailableError(
                        f"{what}: no answer from {self.base_url} within {self.timeout} s. It "
                        "was not re-sent because the server may have applied it: check before "
                        "retrying, or raise the timeout (Api(timeout=...)).",
                        url=url,
                    ) from exc
                last = f"{type(exc).__name__}: {exc}"
                delay = self._backoff(attempt)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = f"{type(exc).__name__}: {exc}"
                delay = self._backoff(attempt)
            else:
                if response.status_code < 400:
                    return response
                if not _retryable_status(response.status_code):
                    raise self._http_error(response, what)
                last = f"HTTP {response.status_code}"
                delay = self._retry_after(response) or self._backoff(attempt)
                response.close()
            if attempt < self.max_retries:
                time.sleep(delay)
        raise ServerUnavailableError(
            f"{what}: no usable answer from {self.base_url} after {self.max_retries + 1} "
            f"attempts (last: {last}). Check that the server is running and that base_url "
            "(LIBERRY_BASE_URL / WANDB_BASE_URL) is right; if it is overloaded, try again later.",
            status=int(last[5:]) if last.startswith("HTTP ") else None,
            url=url,
        )

    @staticmethod
    def _backoff(attempt: int) -> float:
        return min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt) * random.uniform(0.5, 1.0)

    @staticmethod
    def _retry_after(response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After")
        try:
            return min(_RETRY_AFTER_CAP, max(0.0, float(value))) if value else None
        except ValueError:
            return None

    def _http_error(self, response: requests.Response, what: str) -> ServerError:
        status = response.status_code
        errors: list[dict[str, Any]] = []
        detail = ""
        try:
            payload = response.json()
        except ValueError:
            detail = response.text[:300].strip()
        else:
            if isinstance(payload, dict):
                raw = payload.get("errors") or []
                errors = [e if isinstance(e, dict) else {"message": str(e)} for e in raw]
                detail = "; ".join(str(e.get("message", e)) for e in errors) or str(
                    payload.get("error") or payload.get("detail") or ""
                )
        suffix = f": {detail}" if detail else ""
        kwargs: dict[str, Any] = {"status": status, "errors": errors, "url": response.url}
        if status == 401:
            if self.api_key:
                hint = (
                    f"The {self.key_label} was rejected by {self.base_url}. Set LIBERRY_API_KEY "
                    "(or WANDB_API_KEY) to a valid key for it, or pass Api(api_key=...)."
                )
            else:
                hint = (
                    f"No API key is configured for {self.base_url}. Set LIBERRY_API_KEY or "
                    "WANDB_API_KEY, pass Api(api_key=...), or run "
                    f"`wandb login --host {self.base_url}`."
                )
            return AuthenticationError(f"{what}: HTTP 401{suffix}. {hint}", **kwargs)
        if status == 403:
            return PermissionDeniedError(
                f"{what}: HTTP 403{suffix}. This API key may not do that; use a key with "
                "access to the entity.",
                **kwargs,
            )
        if status == 404:
            if response.url.rstrip("/").endswith("/graphql"):
                return ServerUnavailableError(
                    f"{what}: no GraphQL endpoint at {response.url} (HTTP 404). Check base_url.",
                    **kwargs,
                )
            return NotFoundError(f"{what}: HTTP 404{suffix} ({self.key_label}).", **kwargs)
        if errors and (match := _UNKNOWN_FIELD.search(detail)):
            return UnknownFieldError(
                f"{what}: the server has no field {match['type']}.{match['field']}{suffix}.",
                field=match["field"],
                type_name=match["type"],
                **kwargs,
            )
        return BadQueryError(f"{what} was rejected: HTTP {status}{suffix}", **kwargs)
