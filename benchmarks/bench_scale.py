"""Scale benchmark (issue #19): 1,000,000 runs in one project, on SQLite and PostgreSQL.

Questions, each timed in-process through `liberry.server.store` (the functions GraphQL's
`project { runs runCount }` call, no HTTP), each call in a fresh read transaction:

  1. the first filtered + ordered page: 50 runs, `{"config.lr": {"$gt": 0.01}}`,
     order `-summary_metrics.accuracy` (as bench_server.py at 100k). Target p50 <= 50 ms.
  2. the count of the project's runs (`runCount`, no filter: the run table's total).
     Target p50 <= 100 ms.
  3. for reference, unmarked: the first page in the default order (`-created_at`), with and
     without the filter, and the count of the filtered runs.

Runs are bulk-inserted as bench_server.py does it for big projects (8 config keys, 4 summary
metrics each, no HTTP): `runs` rows through the DB-API, and their `run_values` rows made by the
store's own `values.value_rows` (COPY on PostgreSQL). `--explain` prints each query's plan
(SQLite `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN ANALYZE`).

    python benchmarks/bench_scale.py                 # 1,000,000 runs, SQLite (+ PostgreSQL)
    python benchmarks/bench_scale.py --quick         # 100,000 runs
    python benchmarks/bench_scale.py --db postgres --explain

PostgreSQL is measured when LIBERRY_TEST_POSTGRES_URL names a scratch database (`--fresh`
empties it first; `eval "$(bash scripts/scratch_postgres.sh start)"` makes one).
`--workdir DIR` keeps the SQLite file, and a later run with the same size reuses it instead of
seeding again. Nothing is
asserted: targets are printed with PASS/MISS marks, beside the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the project root on sys.path)
from _common import fmt_s, load_average, log, machine_line, print_table, synth_config

PROJECT = "scale"
FILTER = {"config.lr": {"$gt": 0.01}}
ORDER = "-summary_metrics.accuracy"
PAGE = 50
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "lion")
ARCHS = ("resnet18", "resnet50", "vit-s", "vit-b", "convnext")


def synth(i: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, float]]:
    """One run's config (8 keys) and summary (4 metrics), as bench_server.py makes them."""
    config, loss, acc = synth_config(i, rng, OPTIMIZERS, ARCHS)
    summary = {"loss": loss, "accuracy": acc, "val_loss": round(loss * 1.1, 7),
               "val_accuracy": round(acc * 0.95, 7)}  # fmt: skip
    return config, summary


def batches(
    n: int, project_id: int, user_id: int, first_pk: int, size: int = 20_000
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """(runs rows, run_values rows) `size` runs at a time."""
    from liberry.server.store.values import CONFIG, SUMMARY, value_rows

    rng = random.Random(19)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    runs: list[tuple[Any, ...]] = []
    values: list[tuple[Any, ...]] = []
    for i in range(n):
        config, summary = synth(i, rng)
        wrapped = {k: {"desc": None, "value": v} for k, v in config.items()}
        ts = (base + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%f")
        pk = first_pk + i
        runs.append((pk, project_id, f"s{i:07d}", f"run {i}", "finished", json.dumps(wrapped),
                     json.dumps(summary), "{}", "[]", user_id, ts, ts, ts, 0, 0, 0, 0,
                     '{"keys": {}, "lastStep": -1}'))  # fmt: skip
        values += value_rows(pk, project_id, CONFIG, wrapped)
        values += value_rows(pk, project_id, SUMMARY, summary)
        if len(runs) == size:
            yield runs, values
            runs, values = [], []
    if runs:
        yield runs, values


RUN_COLUMNS = ("id", "project_id", "name", "display_name", "state", "config", "summary",
               "system_metrics", "tags", "user_id", "created_at", "updated_at", "heartbeat_at",
               "exitcode", "history_line_count", "events_line_count", "log_line_count",
               "history_keys")  # fmt: skip


def _copy(conn: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def seed(store: Any, n: int) -> tuple[int, float]:
    """The project's id, and the seconds seeding took (0 when it already had `n` runs)."""
    from sqlalchemy import func, select

    from liberry.server.store import accounts, projects
    from liberry.server.store import tables as t
    from liberry.server.store.bulk import insert_rows
    from liberry.server.store.values import COLUMNS as VALUE_COLUMNS

    store.bootstrap()
    with store.write() as conn:
        admin = accounts.user_by_name(conn, "admin")
        project, _ = projects.upsert_project(conn, "admin", PROJECT, user_id=admin["id"])
        have = conn.execute(
            select(func.count()).select_from(t.runs).where(t.runs.c.project_id == project["id"])
        ).scalar_one()
        first_pk = int(conn.execute(select(func.coalesce(func.max(t.runs.c.id), 0))).scalar_one())
    if have == n:
        return int(project["id"]), 0.0
    if have:
        raise SystemExit(f"project {PROJECT} has {have:,} runs, not {n:,}: use another --workdir "
                         "(or --fresh for PostgreSQL)")  # fmt: skip
    t0 = time.perf_counter()
    postgres = store.engine.dialect.name == "postgresql"
    done = 0
    for runs, values in batches(n, project["id"], admin["id"], first_pk + 1):
        with store.write() as conn:
            if postgres:
                _copy(conn, "runs", RUN_COLUMNS, runs)
                _copy(conn, "run_values", VALUE_COLUMNS, values)
            else:
                insert_rows(conn, t.runs, RUN_COLUMNS, runs)
                insert_rows(conn, t.run_values, VALUE_COLUMNS, values)
        done += len(runs)
        if done % 200_000 < len(runs):
            log(f"  seeded {done:,} runs ({time.perf_counter() - t0:.0f} s)")
    with store.engine.connect() as conn:
        if postgres:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
            # A sequence that follows the ids given explicitly above.
            conn.exec_driver_sql("SELECT setval('runs_id_seq', (SELECT max(id) FROM runs))")
            conn.commit()
    return int(project["id"]), time.perf_counter() - t0


def questions(project_id: int) -> dict[str, Callable[[Any], Any]]:
    from liberry.server.store import runs

    def page(filters: Any, order: str) -> Callable[[Any], Any]:
        return lambda conn: runs.list_runs(
            conn, project_id, filters=filters, order=order, first=PAGE, after=None
        )[0]

    return {
        "first page, filter + order": page(FILTER, ORDER),
        "count, unfiltered": lambda conn: runs.count_runs(conn, project_id, None),
        "first page, -created_at": page(None, "-created_at"),
        "first page, filter + -created_at": page(FILTER, "-created_at"),
        "first page, order only": page(None, ORDER),
        "count, filtered": lambda conn: runs.count_runs(conn, project_id, FILTER),
    }


TARGETS = {"first page, filter + order": 0.050, "count, unfiltered": 0.100}


def measure(store: Any, project_id: int, repeat: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, fn in questions(project_id).items():
        samples = []
        for i in range(repeat + 1):
            t0 = time.perf_counter()
            with store.read() as conn:
                result = fn(conn)
            if i:  # the first call warms caches
                samples.append(time.perf_counter() - t0)
        out[name] = {"p50_s": statistics.median(samples), "min_s": min(samples),
                     "rows": len(result) if isinstance(result, list) else int(result)}  # fmt: skip
    return out


class _Capture:
    """Collects the SQL that store functions send, to EXPLAIN it afterwards."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._hook)
        self.engine = engine

    def _hook(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.statements.append((statement, params))

    def close(self) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._hook)


def explain(store: Any, project_id: int) -> None:
    postgres = store.engine.dialect.name == "postgresql"
    for name, fn in questions(project_id).items():
        capture = _Capture(store.engine)
        with store.read() as conn:
            fn(conn)
        capture.close()
        log(f"\n-- {name}: {len(capture.statements)} statement(s)")
        for sql, params in capture.statements:
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            with store.engine.connect() as conn:
                rows = conn.exec_driver_sql(prefix + sql, params).all()
            log("   " + " ".join(sql.split())[:300])
            for row in rows:
                log("     " + (row[0] if postgres else f"{row[1]:>3} {row[3]}"))


def bench(label: str, url: str, n: int, repeat: int, show_plans: bool) -> dict[str, Any]:
    from liberry.server.store import Store

    log(f"\n# {label}: {url.split('@')[-1]}")
    store = Store(url)
    try:
        project_id, seed_s = seed(store, n)
        log(f"seeded {n:,} runs in {fmt_s(seed_s)}" if seed_s else f"reusing {n:,} runs")
        load0 = load_average()
        results = measure(store, project_id, repeat)
        results["load"] = {"before": load0, "after": load_average()}  # type: ignore[dict-item]
        if show_plans:
            explain(store, project_id)
    finally:
        store.close()
    return results


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 runs")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=15, help="timed calls per question")
    parser.add_argument("--explain", action="store_true", help="print each query's plan")
    parser.add_argument("--workdir", type=Path, help="keep (and reuse) the SQLite file here")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--fresh", action="store_true",
                        help="empty the PostgreSQL database first (else runs seeded by an "
                             "earlier run of the same size are reused)")  # fmt: skip
    args = parser.parse_args()
    n = 100_000 if args.quick else args.runs
    log(f"# bench_scale: {n:,} runs in one project — {machine_line()}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="liberry-bench-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    targets: list[tuple[str, str]] = []
    if args.db in ("sqlite", "both"):
        targets.append(("SQLite", f"sqlite:///{workdir / f'scale-{n}.db'}"))
    pg_url = os.environ.get("LIBERRY_TEST_POSTGRES_URL")
    if args.db in ("postgres", "both"):
        if pg_url:
            if args.fresh:
                reset_postgres(pg_url)
            targets.append(("PostgreSQL", pg_url))
        else:
            log("PostgreSQL skipped: set LIBERRY_TEST_POSTGRES_URL to a scratch database")
    figures: dict[str, Any] = {"runs": n}
    for label, url in targets:
        figures[label] = bench(label, url, n, args.repeat, args.explain)

    rows = []
    for label, _ in targets:
        for name, result in figures[label].items():
            if name == "load":
                continue
            target = TARGETS.get(name)
            mark = "" if target is None else ("PASS" if result["p50_s"] <= target else "MISS")
            limit = fmt_s(target) if target else ""
            rows.append([label, name, f"{result['rows']:,}", fmt_s(result["p50_s"]),
                         fmt_s(result["min_s"]), limit, mark])  # fmt: skip
    print()
    print_table(["db", "question", "rows/count", "p50", "min", "target", ""], rows,
                title=f"{n:,} runs in one project (store calls, in-process)",
                right=(2, 3, 4, 5))  # fmt: skip
    for label, _ in targets:
        load = figures[label]["load"]
        log(f"{label}: 1-min load average {load['before']:.1f} before, {load['after']:.1f} after "
            f"(2 cores: above ~1 means other work competed)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
