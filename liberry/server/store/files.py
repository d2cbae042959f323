"""Run file records (`run_files`); the bytes live on disk, see `liberry.server.blobs`."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from . import tables as t
from .errors import NotFound, StoreError
from .util import now_iso


def validate_file_name(name: str) -> str:
    """Run file names are relative POSIX paths; anything that could escape the run dir fails."""
    parts = name.split("/")
    if (
        not name
        or len(name) > 1024
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise StoreError(
            f"invalid file name {name!r}: use a relative path without '..', '\\' or empty parts"
        )
    return name


def declare_files(conn: Connection, run_id: int, names: Sequence[str]) -> None:
    """Record that these files are about to be uploaded (createRunFiles)."""
    for name in names:
        validate_file_name(name)
    existing = {
        r[0]
        for r in conn.execute(
            select(t.run_files.c.name).where(
                t.run_files.c.run_id == run_id, t.run_files.c.name.in_(list(names))
            )
        )
    }
    new = [n for n in dict.fromkeys(names) if n not in existing]
    if new:
        now = now_iso()
        conn.execute(
            t.run_files.insert(),
            [{"run_id": run_id, "name": n, "uploaded": False, "updated_at": now} for n in new],
        )


def record_upload(
    conn: Connection, run_id: int, name: str, size: int, md5: str, mimetype: str | None
) -> None:
    """Record a landed upload; changes rows of this run only (fit for `Store.run_write`)."""
    # The run's row lock orders this against other writes to the run (a run write on
    # PostgreSQL); a run deleted since the upload URL was signed is refused.
    locked = conn.execute(
        select(t.runs.c.id).where(t.runs.c.id == run_id).with_for_update()
    ).first()
    if locked is None:
        raise NotFound("the run of this upload URL no longer exists")
    values = {
        "size": size,
        "md5": md5,
        "mimetype": mimetype,
        "uploaded": True,
        "updated_at": now_iso(),
    }
    updated = conn.execute(
        t.run_files.update()
        .where(t.run_files.c.run_id == run_id, t.run_files.c.name == name)
        .values(**values)
    ).rowcount
    if not updated:
        conn.execute(t.run_files.insert().values(run_id=run_id, name=name, **values))


def list_files(
    conn: Connection,
    run_id: int,
    *,
    names: Sequence[str] | None,
    pattern: str | None,
    first: int,
    after_id: int | None,
) -> tuple[list[dict[str, Any]], bool]:
    stmt = select(t.run_files).where(t.run_files.c.run_id == run_id, t.run_files.c.uploaded)
    if names:
        stmt = stmt.where(t.run_files.c.name.in_(list(names)))
    if after_id is not None:
        stmt = stmt.where(t.run_files.c.id > after_id)
    rows = [dict(r) for r in conn.execute(stmt.order_by(t.run_files.c.id)).mappings()]
    if pattern:
        # W&B's `pattern` is SQL-LIKE style (`%` wildcard); accept glob `*` as well.
        glob = pattern.replace("%", "*")
        rows = [r for r in rows if fnmatch.fnmatchcase(r["name"], glob)]
    return rows[:first], len(rows) > first


def file_count(conn: Connection, run_id: int) -> int:
    from sqlalchemy import func

    return int(
        conn.execute(
            select(func.count())
            .select_from(t.run_files)
            .where(t.run_files.c.run_id == run_id, t.run_files.c.uploaded)
        ).scalar_one()
    )


def get_file(conn: Connection, run_id: int, name: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(t.run_files).where(t.run_files.c.run_id == run_id, t.run_files.c.name == name)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None
