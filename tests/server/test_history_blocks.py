"""History stored in blocks of lines: every read matches a line-by-line model of the history.

The model (`Model`) keeps one text per line and answers each read the way the store did when
it kept a row per line, so appends, retries over one or several blocks, gaps, tiny chunks and
non-monotonic steps are all checked against the same reference. Real store, real SQLite file.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    inspect,
    select,
    update,
)

from liberry.server.filestream import apply_chunk
from liberry.server.store import Store, history, projects, runs
from liberry.server.store import tables as t
from liberry.server.store.db import SCHEMA_VERSION, sqlite_url
from liberry.server.store.history import even_positions
from liberry.server.store.history_blocks import BLOCK_LINES

B = BLOCK_LINES


def _new_run(store: Store, name: str) -> None:
    with store.write() as conn:
        proj = projects.get_project(conn, "admin", "p")
        assert proj
        runs.upsert_run(conn, proj["id"], pk=None, name=name, user_id=None, fields={})


def _run(store: Store, name: str) -> dict[str, Any]:
    with store.read() as conn:
        proj = projects.get_project(conn, "admin", "p")
        assert proj
        run = runs.get_run(conn, proj["id"], name)
        assert run
        return run


def _send(store: Store, name: str, offset: int, lines: list[str]) -> None:
    body = {"files": {history.HISTORY_FILE: {"offset": offset, "content": lines}}}
    apply_chunk(store, "admin", "p", name, body)


def _blocks(store: Store, run_id: int) -> list[tuple[int, int]]:
    hb = t.history_blocks
    with store.read() as conn:
        rows = conn.execute(
            select(hb.c.first_line, hb.c.n).where(hb.c.run_id == run_id).order_by(hb.c.first_line)
        )
        return [(r[0], r[1]) for r in rows]


class Model:
    """One text per line, read as the one-row-per-line store read (the reference)."""

    def __init__(self) -> None:
        self.lines: dict[int, str] = {}
        self.steps: dict[int, int | None] = {}

    def write(self, offset: int, lines: list[str]) -> None:
        for i, text in enumerate(lines):
            self.lines[offset + i] = text
            step = json.loads(text).get("_step")
            self.steps[offset + i] = step if type(step) is int else None

    def step(self, line: int) -> int | None:
        return self.steps[line]

    def ordered(self) -> list[int]:
        return sorted(self.lines)

    def in_range(self, lo: int | None, hi: int | None) -> list[tuple[int | None, int]]:
        def keep(s: int | None) -> bool:
            if lo is None and hi is None:
                return True  # no range: null steps too
            return s is not None and (lo is None or s >= lo) and (hi is None or s < hi)

        out = [(self.step(x), x) for x in self.ordered() if keep(self.step(x))]
        return sorted(out, key=lambda x: (x[0] is not None, x[0] or 0, x[1]))  # NULLs first

    def sample(self, count: int, samples: int, lo: int | None, hi: int | None) -> list[str]:
        if samples <= 0:
            return []
        if lo is None and hi is None:
            if count <= samples:
                return [self.lines[x] for x in self.ordered()]
            return [self.lines[x] for x in even_positions(count, samples) if x in self.lines]
        cand = self.in_range(lo, hi)
        if len(cand) <= samples:
            return [self.lines[x] for _, x in cand]
        picked = sorted(cand[p][1] for p in even_positions(len(cand), samples))
        return [self.lines[x] for x in picked]

    def sampled(
        self, run: dict[str, Any], keys: list[str], samples: int, lo: int | None, hi: int | None
    ) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys(keys))
        data_keys = [k for k in wanted if k != "_step"] or wanted
        counts = json.loads(run["history_keys"])["keys"]
        total = run["history_line_count"]
        everywhere = all(
            sum(tc["count"] for tc in counts.get(k, {}).get("typeCounts", [])) >= total
            for k in data_keys
        )
        if everywhere and lo is None and hi is None:
            texts = self.sample(total, samples, None, None)
        else:
            cand = [
                (s, x)
                for s, x in self.in_range(lo, hi)
                if everywhere or any(json.dumps(k) + ":" in self.lines[x] for k in data_keys)
            ]
            picked = sorted(cand[p][1] for p in even_positions(len(cand), samples))
            texts = [self.lines[x] for x in picked]
        rows = [json.loads(x) for x in texts]
        return [{k: r[k] for k in wanted if k in r} for r in rows if any(k in r for k in data_keys)]

    def live(self, keys: list[str]) -> list[dict[str, Any]]:
        if keys == ["_step"]:
            steps = [self.step(x) for x in self.ordered()]
            return [{"_step": s} for s in steps if s is not None]
        rows = [json.loads(self.lines[x]) for x in self.ordered()]
        return [{k: r[k] for k in keys if k in r} for r in rows]

    def tail(self, n: int) -> list[str]:
        return [self.lines[x] for x in self.ordered()[-n:]] if n > 0 else []


def _check(store: Store, name: str, model: Model, step_ranges: list[tuple[int, int]]) -> None:
    run = _run(store, name)
    assert run["history_line_count"] == (max(model.lines) + 1 if model.lines else 0)
    with store.read() as conn:
        assert history.history_count(conn, run["id"]) == len(model.lines)
        for n in (1, 3, B + 7):
            assert history.history_tail(conn, run["id"], n) == model.tail(n)
        count = run["history_line_count"]
        for samples in (1, 2, 7, 50, count - 1, count, count + 5):
            assert history.sample_history(conn, run, samples) == model.sample(
                count, samples, None, None
            ), samples
            for lo, hi in step_ranges:
                got = history.sample_history(conn, run, samples, lo, hi)
                assert got == model.sample(count, samples, lo, hi), (samples, lo, hi)
        for keys in (["_step", "loss"], ["_step", "val"], ["val", "img"], ["nope"]):
            for samples in (5, 40, count + 1):
                for lo, hi in [(None, None), *step_ranges]:
                    got_rows = history.sampled_history(conn, run, keys, samples, lo, hi)
                    assert got_rows == model.sampled(run, keys, samples, lo, hi), (keys, lo, hi)
        for keys in (["_step"], ["loss", "val"]):
            assert history.live_data(conn, run["id"], keys) == model.live(keys)


def _row(i: int, step: int | None, rng: random.Random) -> str:
    row: dict[str, Any] = {"loss": round(rng.random(), 4)}
    if step is not None:
        row["_step"] = step
    if i % 7 == 0:
        row["val"] = i
    if i % 31 == 0:
        row["img"] = {"_type": "image-file", "path": f"media/{i}.png"}
    return json.dumps(row)


def _lines(offset: int, n: int, rng: random.Random, step_of: Any = None) -> list[str]:
    return [_row(i, i if step_of is None else step_of(i), rng) for i in range(offset, offset + n)]


def test_appends_of_any_size_read_like_one_row_per_line(store: Store) -> None:
    rng = random.Random(1)
    _new_run(store, "r")
    model = Model()
    offset = 0
    for size in (1, 3, B - 4, 1, B, 2 * B + 5, 7, 450):
        lines = _lines(offset, size, rng)
        _send(store, "r", offset, lines)
        model.write(offset, lines)
        offset += size
    _check(store, "r", model, [(0, 1), (95, 305), (500, 10_000)])
    blocks = _blocks(store, _run(store, "r")["id"])
    # Blocks never cross a multiple of BLOCK_LINES and only the last one is short.
    assert [first for first, _ in blocks] == list(range(0, offset, B))
    assert all(n == B for _, n in blocks[:-1])


def test_tiny_chunks_merge_into_the_last_block(store: Store) -> None:
    rng = random.Random(2)
    _new_run(store, "r")
    model = Model()
    for offset in range(0, 3 * 70, 3):  # the SDK: a few lines every few seconds
        lines = _lines(offset, 3, rng)
        _send(store, "r", offset, lines)
        model.write(offset, lines)
    assert _blocks(store, _run(store, "r")["id"]) == [(0, B), (B, B), (2 * B, 10)]
    _check(store, "r", model, [(50, 150)])


def test_retries_overwrite_partial_and_several_blocks(store: Store) -> None:
    rng = random.Random(3)
    _new_run(store, "r")
    model = Model()
    first = _lines(0, 5 * B + 30, rng)
    _send(store, "r", 0, first)
    model.write(0, first)
    retries = [
        (B + 10, 20),  # inside one block
        (B - 5, 10),  # across one boundary
        (B // 2, 3 * B),  # over several blocks, partially at both ends
        (5 * B + 20, 30),  # over the tail, extending the run
        (0, 5 * B + 50),  # the whole run again
        (2 * B, B),  # exactly one block
    ]
    for offset, n in retries:
        lines = _lines(offset, n, rng)  # same steps, new values: overwritten, not duplicated
        _send(store, "r", offset, lines)
        model.write(offset, lines)
        _check(store, "r", model, [(B // 2, 3 * B)])
    run = _run(store, "r")
    assert _blocks(store, run["id"]) == [(i * B, B) for i in range(5)] + [(5 * B, 50)]
    # Type counts are not inflated by retries.
    counts = json.loads(run["history_keys"])["keys"]
    assert counts["loss"]["typeCounts"] == [{"type": "number", "count": 5 * B + 50}]


def test_gaps_and_filling_them(store: Store) -> None:
    rng = random.Random(4)
    _new_run(store, "r")
    model = Model()
    for offset, n in [(0, 10), (B + 5, 20), (3 * B + 50, 2 * B), (B + 25, 2), (2 * B, 3)]:
        lines = _lines(offset, n, rng)
        _send(store, "r", offset, lines)
        model.write(offset, lines)
        _check(store, "r", model, [(0, 2 * B), (B, 4 * B)])
    for offset, n in [(12, B), (0, 6 * B)]:  # retries over gaps and blocks
        lines = _lines(offset, n, rng)
        _send(store, "r", offset, lines)
        model.write(offset, lines)
        _check(store, "r", model, [(0, 2 * B), (B, 4 * B)])


def test_non_monotonic_and_null_steps(store: Store) -> None:
    rng = random.Random(5)
    _new_run(store, "r")
    model = Model()

    def step_of(i: int) -> int | None:
        if i % 13 == 0:
            return None  # no `_step`
        return (i * 37) % 250 if i < 300 else i // 2  # out of order, then repeated steps

    for offset, n in [(0, 120), (120, 260), (380, 45), (50, 100)]:
        lines = _lines(offset, n, rng, step_of)
        _send(store, "r", offset, lines)
        model.write(offset, lines)
    _check(store, "r", model, [(0, 50), (100, 200), (190, 260), (-5, 1_000)])


def test_random_operations_match_the_model(store: Store) -> None:
    rng = random.Random(6)
    _new_run(store, "r")
    model = Model()
    end = 0
    for _ in range(40):
        kind = rng.choice(["append", "append", "tiny", "retry", "gap"])
        if kind == "append":
            offset, n = end, rng.randint(1, 3 * B)
        elif kind == "tiny":
            offset, n = end, rng.randint(1, 4)
        elif kind == "retry":
            offset = rng.randint(0, max(0, end - 1))
            n = rng.randint(1, 2 * B)
        else:
            offset, n = end + rng.randint(1, B), rng.randint(1, B)
        lines = _lines(offset, n, rng, lambda i: i if i % 50 else None)
        _send(store, "r", offset, lines)
        model.write(offset, lines)
        end = max(end, offset + n)
    _check(store, "r", model, [(0, 1), (B, 3 * B), (end // 2, end + 1)])
    blocks = _blocks(store, _run(store, "r")["id"])
    assert all(0 < n <= B and first // B == (first + n - 1) // B for first, n in blocks)


def test_lines_with_raw_newlines_stay_one_line_each(store: Store) -> None:
    _new_run(store, "r")
    _send(store, "r", 0, ['{"_step": 0,\n"a": 1}', '{"_step": 1, "a": "x\\ny"}'])
    with store.read() as conn:
        rows = [json.loads(x) for x in history.sample_history(conn, _run(store, "r"), 10)]
    assert rows == [{"_step": 0, "a": 1}, {"_step": 1, "a": "x\ny"}]


def test_type_counts_name_media_by_their_type(store: Store) -> None:
    _new_run(store, "r")
    rows: list[dict[str, Any]] = [
        {"_step": 0, "x": 1, "m": {"_type": "histogram"}},
        {"_step": 1, "x": 1.5, "m": {"_type": "image-file"}},
        {"_step": 2, "x": "s", "m": [1], "b": True, "n": None, "d": {"k": 1}},
    ]
    _send(store, "r", 0, [json.dumps(r) for r in rows])
    _send(store, "r", 3, [json.dumps({"_step": 3, "x": 2, "m": [2]})])
    keys = json.loads(_run(store, "r")["history_keys"])["keys"]
    assert keys["x"]["typeCounts"] == [
        {"type": "number", "count": 3},
        {"type": "string", "count": 1},
    ]
    assert keys["m"]["typeCounts"] == [
        {"type": "histogram", "count": 1},
        {"type": "image-file", "count": 1},
        {"type": "list", "count": 2},
    ]
    assert keys["d"]["typeCounts"] == [{"type": "map", "count": 1}]
    assert keys["b"]["typeCounts"] == [{"type": "boolean", "count": 1}]
    assert keys["n"]["typeCounts"] == [{"type": "nil", "count": 1}]


def _reference_keys(chunks: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """historyKeys as counted before blocks: one (keys, type names) signature per row."""
    doc: dict[str, Any] = {"keys": {}, "lastStep": -1}
    for rows in chunks:
        signatures = Counter(
            (tuple(row), tuple(map(history._value_type, row.values()))) for row in rows
        )
        for (keys, kinds), times in signatures.items():
            for key, kind in zip(keys, kinds, strict=True):
                entry = doc["keys"].setdefault(key, {"typeCounts": []})
                for tc in entry["typeCounts"]:
                    if tc["type"] == kind:
                        tc["count"] += times
                        break
                else:
                    entry["typeCounts"].append({"type": kind, "count": times})
        steps = [r["_step"] for r in rows if type(r.get("_step")) is int]
        doc["lastStep"] = max([doc["lastStep"], *steps])
    return doc


def test_type_counts_match_per_row_signatures(store: Store) -> None:
    rng = random.Random(9)
    plain: list[Any] = [1, 2.5, "s", True, None, [1]]
    media: list[Any] = [*plain, {"_type": "histogram"}, {"a": 1}]
    wide = [f"k{i}" for i in range(300)]
    step = 0
    for name, keys, density, values in (
        ("dense", ["a", "b", "c"], 0.97, plain),
        ("media", ["a", "b", "c"], 0.97, media),
        ("wide", wide, 0.01, media),
    ):
        _new_run(store, name)
        chunks = []
        for _ in range(6):
            rows = []
            for _ in range(rng.randint(1, 400)):
                row: dict[str, Any] = {"_step": step}
                step += 1
                for key in rng.sample(keys, len(keys)):  # key order varies too
                    if rng.random() < density:
                        row[key] = rng.choice(values) if rng.random() < 0.05 else 0.5
                rows.append(row)
            chunks.append(rows)
        offset = 0
        for rows in chunks:
            _send(store, name, offset, [json.dumps(r) for r in rows])
            offset += len(rows)
        got = json.loads(_run(store, name)["history_keys"])
        assert json.dumps(got) == json.dumps(_reference_keys(chunks))  # orders included


def test_deleting_a_run_deletes_its_blocks(store: Store) -> None:
    _new_run(store, "r")
    _new_run(store, "keep")
    rng = random.Random(7)
    _send(store, "r", 0, _lines(0, 250, rng))
    _send(store, "keep", 0, _lines(0, 5, rng))
    run, keep = _run(store, "r"), _run(store, "keep")
    with store.write() as conn:
        runs.delete_run(conn, run["id"])
    assert _blocks(store, run["id"]) == []
    assert _blocks(store, keep["id"]) == [(0, 5)]


# v2 stored one row per history line; migration v3 converts them into blocks.
_legacy = MetaData()
_legacy_history = Table(
    "history",
    _legacy,
    Column("run_id", Integer, primary_key=True),
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("step", Integer),
    Column("data", Text, nullable=False),
    sqlite_with_rowid=False,
)
Index("ix_history_run_step", _legacy_history.c.run_id, _legacy_history.c.step)


def test_migration_from_v2_converts_history_rows(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "db.sqlite")
    store = Store(url)
    store.bootstrap()
    rng = random.Random(8)
    with store.write() as conn:
        projects.upsert_project(conn, "admin", "p", user_id=None)
    for name in ("a", "b", "empty"):
        _new_run(store, name)
    models = {"a": Model(), "b": Model(), "empty": Model()}
    # Run a: gaps, null and out-of-order steps; b: more than one page of the converter.
    models["a"].write(0, _lines(0, 130, rng, lambda i: None if i % 9 == 0 else 500 - i))
    models["a"].write(B + 70, _lines(B + 70, 150, rng))
    models["a"].write(5 * B + 3, _lines(5 * B + 3, 1, rng))
    models["b"].write(0, _lines(0, 45_000, rng))
    ranges = {"a": [(0, 200), (380, 600)], "b": [(44_000, 46_000)], "empty": []}
    with store.write() as conn:  # make it a v2 store
        t.history_blocks.drop(conn)
        _legacy_history.create(conn)
        for name, model in models.items():
            proj = projects.get_project(conn, "admin", "p")
            assert proj
            run = runs.get_run(conn, proj["id"], name)
            assert run
            rows = [
                {"run_id": run["id"], "line": x, "step": model.step(x), "data": model.lines[x]}
                for x in model.ordered()
            ]
            if rows:
                conn.execute(_legacy_history.insert(), rows)
            keys = {"loss": {"typeCounts": [{"type": "number", "count": len(rows)}]}}
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run["id"])
                .values(
                    history_line_count=max(model.lines) + 1 if model.lines else 0,
                    history_keys=json.dumps({"keys": keys, "lastStep": 0}),
                )
            )
        conn.execute(update(t.meta).where(t.meta.c.key == "schema_version").values(value="2"))
    store.close()

    migrated = Store(url)  # migrates v2 -> v3
    try:
        with migrated.read() as conn:
            version = conn.execute(
                select(t.meta.c.value).where(t.meta.c.key == "schema_version")
            ).scalar_one()
            assert int(version) == SCHEMA_VERSION
            assert not inspect(conn).has_table("history")
        for name, model in models.items():
            _check(migrated, name, model, ranges[name])
        a = _run(migrated, "a")
        assert _blocks(migrated, a["id"]) == [
            (0, B),
            (B, 30),
            (B + 70, 30),
            (2 * B, B),
            (3 * B, 20),
            (5 * B + 3, 1),
        ]
        # The migrated run takes appends and retries like any other.
        more = _lines(5 * B + 4, 10, rng)
        _send(migrated, "a", 5 * B + 4, more)
        models["a"].write(5 * B + 4, more)
        _check(migrated, "a", models["a"], ranges["a"])
        assert _blocks(migrated, a["id"])[-1] == (5 * B + 3, 11)
    finally:
        migrated.close()
