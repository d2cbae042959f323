"""Run filters and orders on a big project (issue #2): the `run_values` side table against the
JSON-text path it replaced, in-process through liberry's store (no HTTP, no GraphQL).

Builds a SQLite store of N runs (default 100,000: 8 config keys, 4 summary metrics, W&B-wrapped
config) through the store's own writer code (`values.reindex_runs`, the row builder
`index_run_values` uses, after a bulk insert of the runs), then times first and next pages
of 50 for a few filters/orders with:

  * "side table": `runs.list_runs`, as the server answers `project.runs(...)`;
  * "JSON text": the same page as one statement reading config/summary JSON text
    (`side_table=False`), i.e. how the server answered before the side table.

Then the cost the side table adds to writes (upsertBucket with a config change, file_stream
with a new summary; each in its own transaction, alternating with the index writer stubbed
out) and the database size. Prints figures with their targets; asserts nothing.

Times are p50 over repeats, wall clock AND CPU time of this process (SQLite runs in-process,
so CPU time is the query's own work and barely moves with machine load; wall time does).

    python benchmarks/bench_filters.py                  # 100,000 runs (~2-4 min to build)
    python benchmarks/bench_filters.py --quick          # 10,000 runs
    python benchmarks/bench_filters.py --db /tmp/b.db   # keep (or reuse) the built file
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import _common as C
from sqlalchemy import Connection, insert, select

from liberry.server import filestream
from liberry.server.store import Store, accounts, projects, runs, values
from liberry.server.store import tables as t
from liberry.server.store.db import sqlite_url
from liberry.server.store.filters import compile_filters
from liberry.server.store.ordering import compile_order

PROJECT = "bench-filters"
TARGET_S = 0.050  # issue #2: first page of 50, config filter + summary order, p50

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
ARCHS = ("resnet18", "resnet50", "vit-s16", "vit-b16", "mlp-mixer", "convnext-t")
TAGS: tuple[list[str], ...] = (["baseline"], ["sweep"], ["sweep", "ablation"], [])


def synth(i: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """One run's config (8 keys), summary (4 metrics; val_accuracy missing in 10%), tags."""
    config, loss, acc = C.synth_config(i, rng, OPTIMIZERS, ARCHS)
    summary: dict[str, Any] = {
        "loss": loss,
        "accuracy": acc,
        "val_loss": round(loss * (1.05 + rng.random() * 0.2), 7),
    }
    if rng.random() < 0.9:
        summary["val_accuracy"] = round(acc * (0.9 + rng.random() * 0.08), 7)
    return config, summary, rng.choice(TAGS)


def wrapped(config: Mapping[str, Any]) -> str:
    return json.dumps({k: {"desc": None, "value": v} for k, v in config.items()})


def build(path: Path, n: int) -> dict[str, Any]:
    """A store holding one project of `n` runs, value rows written by the store's writer."""
    store = Store(sqlite_url(path))
    store.bootstrap("admin")
    rng = random.Random(20240131)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    out: dict[str, Any] = {}
    with store.write() as conn:
        admin = accounts.user_by_name(conn, "admin")
        assert admin is not None
        proj, _ = projects.upsert_project(conn, "admin", PROJECT, user_id=admin["id"])
        pid = proj["id"]
        t0 = time.perf_counter()
        batch: list[dict[str, Any]] = []
        for i in range(n):
            config, summary, tags = synth(i, rng)
            ts = (base + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%f")
            batch.append(
                {
                    "project_id": pid,
                    "name": f"run{i:07d}",
                    "display_name": f"run {i}",
                    "state": "finished",
                    "config": wrapped(config),
                    "summary": json.dumps(summary),
                    "tags": json.dumps(tags),
                    "user_id": admin["id"],
                    "created_at": ts,
                    "updated_at": ts,
                    "heartbeat_at": ts,
                    "exitcode": 0,
                }
            )
            if len(batch) == 5000:
                conn.execute(insert(t.runs), batch)
                batch.clear()
        if batch:
            conn.execute(insert(t.runs), batch)
        out["runs_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        values.reindex_runs(conn, project_id=pid)
        out["values_s"] = time.perf_counter() - t0
    with store.write() as conn:
        conn.exec_driver_sql("ANALYZE")
    store.close()
    return out


# --------------------------------------------------------------------------- timing


def timed(fn: Callable[[], Any], repeat: int, budget_s: float) -> tuple[float, float]:
    """(wall p50, CPU p50) seconds over up to `repeat` calls after one warm-up."""
    fn()
    walls: list[float] = []
    cpus: list[float] = []
    start = time.perf_counter()
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
        if len(walls) >= 3 and time.perf_counter() - start > budget_s:
            break
    return statistics.median(walls), statistics.median(cpus)


Page = tuple[list[tuple[dict[str, Any], str]], bool]


def json_text_page(
    conn: Connection, pid: int, filters: Any, order: str | None, first: int, after: str | None
) -> Page:
    """`runs.list_runs` as it was before the side table: one statement over JSON text."""
    spec = compile_order(order, side_table=False)
    columns: list[Any] = list(runs.RUN_COLUMNS)
    stmt = (
        select(*columns)
        .outerjoin(t.users, t.users.c.id == t.runs.c.user_id)
        .add_columns(*spec.columns)
        .where(t.runs.c.project_id == pid, compile_filters(filters, side_table=False))
    )
    if after:
        stmt = stmt.where(spec.after(after))
    rows = conn.execute(stmt.order_by(*spec.order_by).limit(first + 1)).mappings().all()
    return [(dict(r), spec.cursor_for(r)) for r in rows[:first]], len(rows) > first


def side_table_page(
    conn: Connection, pid: int, filters: Any, order: str | None, first: int, after: str | None
) -> Page:
    page, cursor_for, has_next = runs.list_runs(
        conn, pid, filters=filters, order=order, first=first, after=after
    )
    return [(r, cursor_for(r)) for r in page], has_next


QUERIES: list[tuple[str, Any, str | None]] = [
    (
        "config.lr > 0.01, -summary_metrics.loss (issue #2)",
        {"config.lr": {"$gt": 0.01}},
        "-summary_metrics.loss",
    ),
    ("config.optimizer = adam, -created_at", {"config.optimizer": "adam"}, "-created_at"),
    ("no filter, +config.lr", None, "+config.lr"),
    ("tags = baseline, -created_at", {"tags": "baseline"}, "-created_at"),
    (
        "tags = baseline, -summary_metrics.accuracy",
        {"tags": "baseline"},
        "-summary_metrics.accuracy",
    ),
    ("config.seed = 4242 (one run), -created_at", {"config.seed": 4242}, "-created_at"),
]


def bench_queries(store: Store, pid: int, repeat: int, quick: bool) -> list[list[Any]]:
    rows: list[list[Any]] = []
    budget = 5.0 if quick else 20.0
    with store.read() as conn:
        for label, filters, order in QUERIES:
            figures: dict[str, tuple[float, float]] = {}
            firsts: dict[str, list[str]] = {}
            for path, page_fn in (("side", side_table_page), ("json", json_text_page)):
                first_page, _ = page_fn(conn, pid, filters, order, 50, None)
                firsts[path] = [r["name"] for r, _ in first_page]
                call = partial(page_fn, conn, pid, filters, order, 50)
                figures[path + " first"] = timed(partial(call, None), repeat, budget)
                if first_page:
                    cursor = first_page[-1][1]
                    figures[path + " next"] = timed(partial(call, cursor), repeat, budget)
            same = "same" if firsts["side"] == firsts["json"] else "DIFFERENT"
            for page in ("first", "next"):
                if "side " + page not in figures:
                    continue
                sw, sc = figures["side " + page]
                jw, jc = figures["json " + page]
                target = C.fmt_s(TARGET_S) if "issue #2" in label and page == "first" else ""
                mark = ("PASS" if sw <= TARGET_S else "MISS") if target else ""
                rows.append(
                    [
                        label if page == "first" else "",
                        page,
                        C.fmt_s(sw),
                        C.fmt_s(sc),
                        C.fmt_s(jw),
                        C.fmt_s(jc),
                        C.fmt_ratio(jc / sc if sc else None),
                        f"{target} {mark}".strip(),
                        same if page == "first" else "",
                    ]
                )
        # The page where runs missing the order key start, and a count.
        spec = compile_order("-summary_metrics.val_accuracy")
        rv = t.run_values.c
        low = conn.execute(
            select(rv.number, rv.run_id)
            .where(rv.project_id == pid, rv.source == values.SUMMARY, rv.key == "val_accuracy")
            .order_by(rv.number.asc(), rv.run_id.asc())
            .limit(1)
        ).first()
        assert low is not None
        cursor = spec.cursor_for(
            {"order_k0": 0, "order_k1": low[0], "order_k2": None, "order_id": low[1]}
        )
        w, c = timed(
            lambda: side_table_page(conn, pid, None, spec.order, 50, cursor), repeat, budget
        )
        rows.append(
            [
                "-summary_metrics.val_accuracy, page into runs without it",
                "deep",
                C.fmt_s(w),
                C.fmt_s(c),
                "",
                "",
                "",
                "",
                "",
            ]
        )
        flt = {"config.lr": {"$gt": 0.01}}
        sw, sc = timed(lambda: runs.count_runs(conn, pid, flt), repeat, budget)
        where = compile_filters(flt, side_table=False)
        count_json = select(t.runs.c.id).where(t.runs.c.project_id == pid, where)
        jw, jc = timed(lambda: len(conn.execute(count_json).all()), repeat, budget)
        rows.append(
            [
                "runCount(config.lr > 0.01)",
                "count",
                C.fmt_s(sw),
                C.fmt_s(sc),
                C.fmt_s(jw),
                C.fmt_s(jc),
                C.fmt_ratio(jc / sc if sc else None),
                "",
                "",
            ]
        )
    return rows


# --------------------------------------------------------------------------- writes


def bench_writes(store: Store, pid: int, n_runs: int, count: int) -> list[list[Any]]:
    """Per-request cost of upsertBucket(config) and file_stream(wandb-summary.json), each in
    its own transaction: requests alternate between the real writer and a stub (so both see
    the same machine load), medians per request; plus the writer call's own CPU time."""
    rng = random.Random(7)
    names = [f"run{rng.randrange(n_runs):07d}" for _ in range(count)]
    with store.read() as conn:
        pks = {}
        for name in names:
            run = runs.get_run(conn, pid, name)
            assert run is not None
            pks[name] = run["id"]
    real = values.index_run_values
    own: list[float] = []

    def timed_writer(*args: Any, **kwargs: Any) -> None:
        c0 = time.process_time()
        real(*args, **kwargs)
        own.append(time.process_time() - c0)

    def stub(*_args: Any, **_kwargs: Any) -> None:
        return None

    def upsert(i: int, name: str) -> None:
        config, _, _ = synth(i, rng)
        with store.write() as conn:
            runs.upsert_run(
                conn, pid, pk=pks[name], name=None, user_id=None,
                fields={"config": wrapped(config)},
            )  # fmt: skip

    def summary(i: int, name: str) -> None:
        _, metrics, _ = synth(i, rng)
        lines = [json.dumps(metrics)]
        body = {"files": {"wandb-summary.json": {"offset": 0, "content": lines}}}
        filestream.apply_chunk(store, "admin", PROJECT, name, body)

    out = []
    try:
        for label, request in (
            ("upsertBucket, config changed (8 keys)", upsert),
            ("file_stream, new summary (3-4 metrics)", summary),
        ):
            cpu: dict[bool, list[float]] = {True: [], False: []}
            wall: dict[bool, list[float]] = {True: [], False: []}
            own.clear()
            for i, name in enumerate(names * 2):  # each run: once stubbed, once for real
                indexed = i % 2 == 1
                runs.index_run_values = filestream.index_run_values = (
                    timed_writer if indexed else stub
                )
                w0, c0 = time.perf_counter(), time.process_time()
                request(i, name)
                cpu[indexed].append(time.process_time() - c0)
                wall[indexed].append(time.perf_counter() - w0)
            med = statistics.median
            out.append([
                label, C.fmt_s(med(wall[True])), C.fmt_s(med(cpu[True])),
                C.fmt_s(med(wall[False])), C.fmt_s(med(cpu[False])),
                C.fmt_s(med(cpu[True]) - med(cpu[False])), C.fmt_s(med(own)), C.fmt_s(0.57e-3),
            ])  # fmt: skip
    finally:
        runs.index_run_values = filestream.index_run_values = real
    # The stubbed requests left some value rows stale: rebuild those runs' rows.
    with store.write() as conn:
        for pk in set(pks.values()):
            run = runs.get_run_by_pk(conn, pk)
            assert run is not None
            real(conn, pk, pid, config=run["config"], summary=run["summary"])
    return out


def sizes(path: Path) -> dict[str, int]:
    import sqlite3

    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        by_name = dict(con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
    except sqlite3.OperationalError:  # SQLite built without dbstat
        by_name = {}
    finally:
        con.close()
    by_name["(file)"] = path.stat().st_size
    return by_name


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10,000 runs, fewer repeats")
    ap.add_argument("--runs", type=int, help="runs in the project (default 100,000)")
    ap.add_argument("--repeat", type=int, help="timed calls per figure (default 15, quick 5)")
    ap.add_argument("--writes", type=int, help="writes timed per kind (default 300, quick 50)")
    ap.add_argument("--db", type=Path, help="build here (or reuse, if it exists) and keep it")
    args = ap.parse_args()
    n = args.runs or (10_000 if args.quick else 100_000)
    repeat = args.repeat or (5 if args.quick else 15)
    writes = args.writes or (50 if args.quick else 300)

    C.log(C.machine_line())
    load0 = C.load_average()
    C.log(f"load average (1 min) at start: {load0:.1f} on {os.cpu_count()} cores")
    tmp = None
    if args.db:
        path = args.db
    else:
        tmp = tempfile.TemporaryDirectory(prefix="liberry-bench-filters-")
        path = Path(tmp.name) / "liberry.db"
    if not path.exists():
        C.log(f"building {n:,} runs in {path} ...")
        built = build(path, n)
        C.log(
            f"  runs bulk-inserted in {C.fmt_s(built['runs_s'])}; value rows written "
            f"({C.fmt_s(built['values_s'])}, {C.fmt_s(built['values_s'] / n)} per run)"
        )
    else:
        C.log(f"reusing {path}")
    store = Store(sqlite_url(path))
    try:
        with store.read() as conn:
            proj = projects.get_project(conn, "admin", PROJECT)
            assert proj is not None
            pid = proj["id"]
            n = runs.count_runs(conn, pid, None)
        size0 = sizes(path)
        C.log(f"{n:,} runs; first/next page of 50, p50 of up to {repeat} calls ...")
        qrows = bench_queries(store, pid, repeat, args.quick)
        C.print_table(
            [
                "query",
                "page",
                "side wall",
                "side CPU",
                "JSON wall",
                "JSON CPU",
                "CPU ratio",
                "target",
                "first page",
            ],
            qrows,
            right=(2, 3, 4, 5, 6),
            title=f"Run pages, {n:,} runs (side table = now; JSON = the JSON-text path before)",
        )
        C.log(f"\nwrites: {writes} per kind on random runs, one transaction each ...")
        wrows = bench_writes(store, pid, n, writes)
        C.print_table(
            ["write", "wall", "CPU", "wall, stub", "CPU, stub", "CPU added", "writer CPU",
             "prototype"],
            wrows,
            right=(1, 2, 3, 4, 5, 6, 7),
            title="Write cost per request, p50 (CPU added: vs the writer stubbed out, commit "
            "included; writer CPU: index_run_values itself)",
        )  # fmt: skip
        size1 = sizes(path)
    finally:
        store.close()
    side = sum(v for k, v in size1.items() if "run_values" in k)
    print(
        f"\nDatabase: {C.fmt_mb(size1['(file)'])} file for {n:,} runs "
        f"(before the writes: {C.fmt_mb(size0['(file)'])}); "
        f"run_values {C.fmt_mb(size1.get('run_values'))} + ix_run_values_order "
        f"{C.fmt_mb(size1.get('ix_run_values_order'))} = {C.fmt_mb(side)} "
        f"({side / max(n, 1):,.0f} bytes per run); runs table "
        f"{C.fmt_mb(size1.get('runs'))}. Prototype: 67 -> 150 MB at 100,000 runs."
    )
    load1 = C.load_average()
    print(f"load average (1 min): {load0:.1f} at start, {load1:.1f} at end, {os.cpu_count()} cores")
    if warning := C.load_warning(load0, load1):
        print(warning)
    print("Wall times include waiting for a core on a loaded machine; CPU times do not.")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
