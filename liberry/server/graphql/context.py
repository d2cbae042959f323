"""What every resolver can reach: the request's user, its DB transaction, URLs and blobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Connection

from ..access import Access
from ..blobs import Blobs
from ..store import Store

#: The project of runs and sweeps that name none (W&B's default).
DEFAULT_PROJECT = "uncategorized"


@dataclass
class RequestContext:
    store: Store
    conn: Connection
    user: dict[str, Any]
    base_url: str
    blobs: Blobs
    # Per-request memo (e.g. project rows by id) so nested fields don't re-query.
    memo: dict[Any, Any] = field(default_factory=dict)
    #: In a run write (`Store.run_write`, see executor.py): resolvers may change rows of one
    #: existing run only, locked first, and raise `NeedsPlainWrite` for anything more.
    run_write: bool = False

    @cached_property
    def access(self) -> Access:
        """The caller's reach (see access.py); every resolver asks it before touching a row
        named by an argument."""
        return Access(self.conn, self.user)

    def absolute(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def entity_or_default(self, entity: str | None) -> str:
        """`entity`, or the caller's own entity when the client named none."""
        return entity or str(self.user["username"])
