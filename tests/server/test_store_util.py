"""`store.util.fetch_rows`: the driver's tuples where SQLAlchemy would not convert a value,
SQLAlchemy's rows where it would (on a real SQLite file)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Boolean, Column, Integer, MetaData, Table, Text, create_engine, select

from liberry.server.store.util import Rows, fetch_rows


def test_fetch_rows_plain_and_converted(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'rows.db'}")
    metadata = MetaData()
    table = Table(
        "things", metadata,
        Column("id", Integer, primary_key=True), Column("text", Text), Column("flag", Boolean),
    )  # fmt: skip
    metadata.create_all(engine)
    with engine.begin() as conn:
        rows = [{"id": 1, "text": "é", "flag": True}, {"id": 2, "text": None, "flag": None}]
        conn.execute(table.insert(), rows)
        plain = fetch_rows(conn, select(table.c.id, table.c.text.label("t")).order_by("id"))
        assert plain == Rows(["id", "t"], [(1, "é"), (2, None)])
        # SQLite stores booleans as 0/1: SQLAlchemy turns them back into bools, so must we.
        flagged = fetch_rows(conn, select(table.c.flag, table.c.id).order_by(table.c.id))
        assert flagged == Rows(["flag", "id"], [(True, 1), (None, 2)])
        assert type(flagged.rows[0][0]) is bool
        assert fetch_rows(conn, select(table.c.id).where(table.c.id > 5)) == Rows(["id"], [])
