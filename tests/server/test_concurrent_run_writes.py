"""file_stream writers hammering the store at once lose nothing, on SQLite and PostgreSQL.

On PostgreSQL, file_stream chunks of different runs commit side by side (`Store.run_write`
holds the store's write lock shared; the run's row lock orders chunks of one run), while every
other write still holds it alone. Here many threads send chunks at once: several runs, each
fed by two threads sending the same chunks (as a client's retries do), beside a thread
creating runs in the same project and rewriting the streamed runs' config. Afterwards every
line is stored exactly once, type counts are not double-counted, summaries and configs are
the last written, and the kept run count (migration v8's triggers) equals the real count.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlalchemy import func, select

from liberry.server.filestream import apply_chunk
from liberry.server.store import Store, counts, history, projects, runs, streams
from liberry.server.store import tables as t

RUNS = 6
CHUNKS = 10
LINES = 40  # per chunk
CREATED = 20  # runs created by the exclusive writer meanwhile


def _row(run: int, step: int) -> dict[str, Any]:
    return {"_step": step, "loss": 1.0 / (step + 1) + run, "run": run}


def _chunk(run: int, c: int) -> dict[str, Any]:
    first = c * LINES
    rows = [json.dumps(_row(run, s)) for s in range(first, first + LINES)]
    return {
        "files": {
            history.HISTORY_FILE: {"offset": first, "content": rows},
            history.SUMMARY_FILE: {"offset": 0, "content": [rows[-1]]},
            streams.OUTPUT_FILE: {"offset": c, "content": [f"chunk {c}"]},
        }
    }


def test_concurrent_file_streams_and_writes_lose_nothing(store: Store) -> None:
    names = [f"stream-{r}" for r in range(RUNS)]
    with store.write() as conn:
        project_id = projects.get_project(conn, "admin", "p")["id"]  # type: ignore[index]
        for name in names:
            runs.upsert_run(conn, project_id, pk=None, name=name, user_id=None, fields={})
    start = threading.Barrier(RUNS * 2 + 1)
    errors: list[BaseException] = []

    def stream(run: int) -> None:
        try:
            start.wait()
            for c in range(CHUNKS):
                apply_chunk(store, "admin", "p", names[run], _chunk(run, c))
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    def other_writes() -> None:
        try:
            start.wait()
            for i in range(CREATED):
                with store.write() as conn:
                    runs.upsert_run(
                        conn, project_id, pk=None, name=f"new-{i}", user_id=None, fields={}
                    )
                with store.write() as conn:  # read-then-update of a run being streamed
                    config = json.dumps({"i": {"value": i}})
                    runs.upsert_run(
                        conn, project_id, pk=None, name=names[i % RUNS], user_id=None,
                        fields={"config": config},
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=stream, args=(r,)) for r in range(RUNS) for _ in (0, 1)]
    threads.append(threading.Thread(target=other_writes))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung (deadlock?)"
    assert not errors, errors

    total = CHUNKS * LINES
    with store.read() as conn:
        for r, name in enumerate(names):
            run = runs.get_run(conn, project_id, name)
            assert run is not None
            texts = history.sample_history(conn, run, total * 2)
            assert [json.loads(x) for x in texts] == [_row(r, s) for s in range(total)], name
            assert run["history_line_count"] == total
            keys = json.loads(run["history_keys"])
            assert keys["lastStep"] == total - 1
            for key in ("_step", "loss", "run"):  # each new line counted once, retries not
                assert keys["keys"][key]["typeCounts"] == [{"type": "number", "count": total}]
            assert json.loads(run["summary"]) == _row(r, total - 1)
            assert streams.stream_lines(conn, run["id"], streams.OUTPUT_FILE) == [
                f"chunk {c}" for c in range(CHUNKS)
            ]
            assert run["log_line_count"] == CHUNKS
            last_config = max(i for i in range(CREATED) if i % RUNS == r)
            assert json.loads(run["config"]) == {"i": {"value": last_config}}
        real = conn.execute(
            select(func.count()).select_from(t.runs).where(t.runs.c.project_id == project_id)
        ).scalar_one()
        assert real == RUNS + CREATED
        assert counts.count_runs(conn, project_id, None) == real


def test_run_write_holds_the_store_lock_shared(store: Store) -> None:
    """PostgreSQL: two run writes overlap; a plain write waits until both have ended.
    SQLite: a run write is a plain write (BEGIN IMMEDIATE): the second waits for the first."""
    if store.engine.dialect.name != "postgresql":
        _run_writes_take_turns(store)
        return
    both_in = threading.Barrier(2, timeout=30)
    order: list[str] = []
    with store.run_write() as first:
        first.execute(select(1))

        def second_run_write() -> None:
            with store.run_write() as conn:
                conn.execute(select(1))
                both_in.wait()  # reached while `first` is still open: no exclusion
                order.append("run write")

        def plain_write() -> None:
            with store.write() as conn:
                conn.execute(select(1))
                order.append("write")

        runner = threading.Thread(target=second_run_write)
        runner.start()
        both_in.wait()
        runner.join(timeout=30)
        writer = threading.Thread(target=plain_write)
        writer.start()
        writer.join(timeout=1)
        assert writer.is_alive(), "a plain write ran beside an open run write"
        order.append("first ends")
    writer.join(timeout=30)
    assert order == ["run write", "first ends", "write"]


def _run_writes_take_turns(store: Store) -> None:
    order: list[str] = []
    with store.run_write() as first:
        first.execute(select(1))

        def second_run_write() -> None:
            with store.run_write() as conn:
                conn.execute(select(1))
                order.append("second")

        runner = threading.Thread(target=second_run_write)
        runner.start()
        runner.join(timeout=1)
        assert runner.is_alive(), "two SQLite writers ran at once"
        order.append("first ends")
    runner.join(timeout=30)
    assert order == ["first ends", "second"]
