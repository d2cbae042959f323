"""Bulk inserts through the DB-API directly.

SQLAlchemy's executemany builds a parameter dict per row; on hot paths (history ingestion)
that costs more than SQLite's own work, so rows go to the driver as plain tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": ":{n}", "named": ":c{n}"}


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    if not rows:
        return
    style = conn.dialect.paramstyle
    if style in ("named", "numeric"):
        conn.execute(table.insert(), [dict(zip(columns, r, strict=True)) for r in rows])
        return
    marker = _MARKERS[style]
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    conn.exec_driver_sql(sql, list(rows))
