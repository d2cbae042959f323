"""Run history rows and other line streams: the file_stream write path and sampled reads.

`line` is the file_stream offset of a row; a retried chunk overwrites the same lines, so
retries never duplicate rows. Reads are deterministic: the same request picks the same rows.

History lines are stored in blocks of up to BLOCK_LINES consecutive lines
(`tables.history_blocks`): ingestion writes one row per block, and reads fetch only the blocks
holding the lines they return, found by bisecting the block directory (a covering index).
"""

from __future__ import annotations

import json
import math
import operator
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, compress, islice, pairwise, repeat
from typing import Any, cast

import orjson
from sqlalchemy import Connection, delete, func, or_, select

from . import tables as t
from .bulk import insert_rows
from .errors import StoreError

HISTORY_FILE = "wandb-history.jsonl"
SUMMARY_FILE = "wandb-summary.json"
EVENTS_FILE = "wandb-events.jsonl"
OUTPUT_FILE = "output.log"

_MAX_BINDS = 900  # stay far below SQLite's bound-parameter limit in IN lists / bulk writes

# Lines per history block. Larger blocks ingest faster (a row and two index entries per block)
# but make a sampled read fetch and split more. Measured on a 1M-line run (6 keys per line),
# in-process CPU: 100 lines (~13 kB) ingest ~200k rows/s and read 500 samples in ~15 ms; 50
# lines ~180k rows/s and ~9 ms. On PostgreSQL keep it <= ~120: `steps` sits in a btree index.
BLOCK_LINES = 100
# No block ever holds more lines: the write path looks for the blocks a chunk touches in
# [offset - MAX_BLOCK_LINES, end). Raise BLOCK_LINES up to it freely; never lower this.
MAX_BLOCK_LINES = 1000
_INT64 = (-(2**63), 2**63 - 1)


_SIMPLE_TYPES = {float: "number", int: "number", str: "string", bool: "boolean", type(None): "nil"}
_TYPE_NAMES: dict[type, str] = {**_SIMPLE_TYPES, list: "list"}
_GET_STEP = operator.methodcaller("get", "_step")


def _value_type(value: Any) -> str:
    simple = _SIMPLE_TYPES.get(type(value))
    if simple is not None:
        return simple
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "nil"
    if isinstance(value, dict):
        kind = value.get("_type")
        return str(kind) if isinstance(kind, str) else "map"
    return "list"


def parse_history_lines(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Each line as a JSON object; a line that is not one is an error naming it."""
    try:
        # One C-level parse of the whole chunk is several times faster than a call per line.
        rows = orjson.loads("[" + ",".join(lines) + "]")
        if len(rows) == len(lines) and set(map(type, rows)) <= {dict}:
            return rows
    except (orjson.JSONDecodeError, TypeError):
        pass
    # Slow path: W&B's client writes NaN/Infinity/-Infinity (which orjson refuses) for
    # non-finite metrics, and those rows must be kept; otherwise find the offending line.
    parsed: list[dict[str, Any]] = []
    for index, line in enumerate(lines):
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, TypeError):
            problem = f"{HISTORY_FILE} line {index} of the chunk is not valid JSON"
            raise StoreError(problem) from None
        if not isinstance(row, dict):
            raise StoreError(f"{HISTORY_FILE} line {index} of the chunk is not a JSON object")
        parsed.append(row)
    return parsed


def _step_of(row: dict[str, Any]) -> int | None:
    step = row.get("_step")
    if (
        isinstance(step, int | float)
        and not isinstance(step, bool)
        and math.isfinite(step)
        and _INT64[0] <= step <= _INT64[1]  # a 64-bit column holds it
    ):
        return int(step)
    return None


def _steps_of(parsed: list[dict[str, Any]]) -> list[int | None]:
    steps: list[Any] = list(map(_GET_STEP, parsed))
    # Fast path: W&B always sends int steps, and they fit in 64 bits.
    if set(map(type, steps)) <= {int} and (
        not steps or (min(steps) >= _INT64[0] and max(steps) <= _INT64[1])
    ):
        return steps
    return [_step_of(row) for row in parsed]


def _one_line_each(lines: Sequence[str]) -> Sequence[str]:
    """Lines free of raw newlines, so that a block can join them with newlines. Valid JSON
    has none inside strings: a newline in a line is insignificant whitespace."""
    if "\n" not in "".join(lines):
        return lines
    return [line.replace("\n", " ") for line in lines]


_KindCounts = dict[str, Counter[str]]  # key -> value type name -> rows; first-seen orders


def _type_counts(rows: list[dict[str, Any]]) -> _KindCounts:
    """How many of `rows` hold each key with each value type name (as W&B's historyKeys
    counts them). Keys, and each key's types, in the order rows first show them."""
    keys = dict.fromkeys(chain.from_iterable(rows))
    if len(keys) * len(rows) > 4 * sum(map(len, rows)):
        return _type_counts_by_signature(rows)  # wide and sparse: visit each row's own keys
    # One C-level pass per key (no Python frame per row): rows of a run share their keys.
    out: _KindCounts = {}
    for key in keys:
        holding = rows
        types = Counter(map(type, map(dict.get, rows, repeat(key))))
        if type(None) in types:  # a missing key reads as None: count the rows holding it
            holding = list(compress(rows, map(dict.__contains__, rows, repeat(key))))
            types = Counter(map(type, map(dict.__getitem__, holding, repeat(key))))
        if dict in types:  # media and histograms are named by their own `_type`
            out[key] = Counter(map(_value_type, map(dict.__getitem__, holding, repeat(key))))
        else:
            out[key] = _named(types)
    return out


def _named(types: Counter[type]) -> Counter[str]:
    named: Counter[str] = Counter()
    for tp, times in types.items():
        named[_TYPE_NAMES.get(tp, "list")] += times
    return named


def _type_counts_by_signature(rows: list[dict[str, Any]]) -> _KindCounts:
    # Count the rows' (keys, Python types) signatures with map/zip only, then name each
    # signature's types once.
    type_tuples = map(tuple, map(map, repeat(type), map(dict.values, rows)))
    by_type = Counter(zip(map(tuple, rows), type_tuples, strict=True))
    if any(dict in types for _, types in by_type):
        # Media and histograms (dicts) are named by their own `_type`: name value by value.
        signatures = Counter((tuple(r), tuple(map(_value_type, r.values()))) for r in rows)
    else:
        signatures = Counter()
        for (keys, types), times in by_type.items():
            signatures[keys, tuple(_TYPE_NAMES.get(tp, "list") for tp in types)] += times
    out: _KindCounts = {}
    for (keys, kinds), times in signatures.items():
        for key, kind in zip(keys, kinds, strict=True):
            out.setdefault(key, Counter())[kind] += times
    return out


@dataclass(slots=True)
class _Block:
    """A block's lines (JSON text) and their steps; line `first + i` is `lines[i]`."""

    first: int
    steps: list[int | None]
    lines: list[str]


_BLOCK_COLUMNS = ("run_id", "first_line", "n", "step_min", "step_max", "steps", "data")


def _decode_steps(text: str | None, step_min: int | None, n: int) -> list[int | None]:
    if text is None:  # consecutive steps from step_min
        return list(range(step_min or 0, (step_min or 0) + n))
    steps: list[int | None] = orjson.loads(text)
    return steps


def _block_row(
    run_id: int, first: int, steps: list[int | None], lines: Sequence[str]
) -> tuple[Any, ...]:
    known = cast(list[int], steps) if None not in steps else [s for s in steps if s is not None]
    lo = min(known) if known else None
    hi = max(known) if known else None
    consecutive = (
        lo is not None
        and len(known) == len(steps)
        and hi == lo + len(steps) - 1
        and steps == list(range(lo, lo + len(steps)))
    )
    encoded = None if consecutive else orjson.dumps(steps).decode()
    return (run_id, first, len(lines), lo, hi, encoded, "\n".join(lines))


def _cuts(first: int, end: int) -> list[int]:
    """Block boundaries for lines [first, end): blocks never cross a multiple of BLOCK_LINES,
    so in a run without gaps line L is in the block starting at L - L % BLOCK_LINES."""
    return [first, *range(first - first % BLOCK_LINES + BLOCK_LINES, end, BLOCK_LINES), end]


def _insert_blocks(
    conn: Connection, run_id: int, first: int, lines: Sequence[str], steps: list[int | None]
) -> None:
    """Lines `first`, `first + 1`, ... as blocks."""
    if not lines:
        return
    cuts = _cuts(first, first + len(lines))
    rows = [
        _block_row(run_id, a, steps[a - first : b - first], lines[a - first : b - first])
        for a, b in pairwise(cuts)
    ]
    insert_rows(conn, t.history_blocks, _BLOCK_COLUMNS, rows)


def _touched_blocks(conn: Connection, run_id: int, offset: int, end: int) -> list[_Block]:
    """Blocks holding lines in [offset, end), and a short block ending at `offset` (merged
    into, so that small chunks don't leave a run of tiny blocks); in line order."""
    short_left = offset % BLOCK_LINES != 0  # a block ending at `offset` is not full
    hb = t.history_blocks
    firsts = [
        first
        for first, n in conn.execute(
            select(hb.c.first_line, hb.c.n).where(
                hb.c.run_id == run_id,
                hb.c.first_line >= offset - MAX_BLOCK_LINES,
                hb.c.first_line < end,
            )
        )
        if first + n > offset or (first + n == offset and short_left)
    ]
    blocks = _fetch_blocks(conn, run_id, firsts)
    return [blocks[f] for f in sorted(blocks)]


def _store_lines(
    conn: Connection, run_id: int, offset: int, lines: Sequence[str], steps: list[int | None]
) -> None:
    """Store lines at `offset`, overwriting the lines already there (a retried chunk)."""
    end = offset + len(lines)
    touched = _touched_blocks(conn, run_id, offset, end)
    if touched:
        # Rewrite the touched blocks whole: their lines before `offset` and after `end` stay.
        head, tail = touched[0], touched[-1]
        before, after = max(0, offset - head.first), max(0, end - tail.first)
        lines = [*head.lines[:before], *lines, *tail.lines[after:]]
        steps = [*head.steps[:before], *steps, *tail.steps[after:]]
        offset = min(offset, head.first)
        firsts = [b.first for b in touched]
        for start in range(0, len(firsts), _MAX_BINDS):
            conn.execute(
                delete(t.history_blocks).where(
                    t.history_blocks.c.run_id == run_id,
                    t.history_blocks.c.first_line.in_(firsts[start : start + _MAX_BINDS]),
                )
            )
    _insert_blocks(conn, run_id, offset, lines, steps)


def write_history(
    conn: Connection,
    run: dict[str, Any],
    offset: int,
    lines: Sequence[str],
) -> dict[str, Any]:
    """Store history lines at `offset`; returns the run columns to update."""
    parsed = parse_history_lines(lines)
    steps = _steps_of(parsed)
    _store_lines(conn, run["id"], offset, _one_line_each(lines), steps)

    keys_doc = json.loads(run["history_keys"])
    key_counts: dict[str, Any] = keys_doc.setdefault("keys", {})
    # Count types only for lines never seen before, so retried chunks don't double-count.
    old_count = int(run["history_line_count"])
    for key, kinds in _type_counts(parsed[max(0, old_count - offset) :]).items():
        entry = key_counts.setdefault(key, {"typeCounts": []})
        for kind, times in kinds.items():
            for tc in entry["typeCounts"]:
                if tc["type"] == kind:
                    tc["count"] += times
                    break
            else:
                entry["typeCounts"].append({"type": kind, "count": times})
    known = [s for s in steps if s is not None]
    if known and max(known) > keys_doc.get("lastStep", -1):
        keys_doc["lastStep"] = max(known)
    return {
        "history_line_count": max(old_count, offset + len(lines)),
        "history_keys": json.dumps(keys_doc, separators=(",", ":")),
    }


def import_line_rows(
    conn: Connection, run_id: int, rows: Iterable[tuple[int, int | None, str]]
) -> int:
    """Store a run's (line, step, data) rows, given in line order, as blocks; returns the
    number of rows. The v3 migration's converter from one row per line."""
    batch: list[tuple[Any, ...]] = []
    first, steps, lines, count = 0, list[int | None](), list[str](), 0
    for line, step, data in rows:
        if lines and (line != first + len(lines) or line % BLOCK_LINES == 0):
            batch.append(_block_row(run_id, first, steps, _one_line_each(lines)))
            steps, lines = [], []
            if len(batch) >= 500:
                insert_rows(conn, t.history_blocks, _BLOCK_COLUMNS, batch)
                batch = []
        if not lines:
            first = line
        lines.append(data)
        steps.append(step)
        count += 1
    if lines:
        batch.append(_block_row(run_id, first, steps, _one_line_each(lines)))
    insert_rows(conn, t.history_blocks, _BLOCK_COLUMNS, batch)
    return count


def write_stream(
    conn: Connection, run_id: int, file: str, offset: int, lines: Sequence[str]
) -> int:
    """Store lines of a non-history stream at `offset`; returns the new end line."""
    end = offset + len(lines)
    conn.execute(
        delete(t.stream_lines).where(
            t.stream_lines.c.run_id == run_id,
            t.stream_lines.c.file == file,
            t.stream_lines.c.line >= offset,
            t.stream_lines.c.line < end,
        )
    )
    insert_rows(
        conn,
        t.stream_lines,
        ("run_id", "file", "line", "content"),
        [(run_id, file, offset + i, line) for i, line in enumerate(lines)],
    )
    return end


def stream_lines(conn: Connection, run_id: int, file: str) -> list[str]:
    rows = conn.execute(
        select(t.stream_lines.c.content)
        .where(t.stream_lines.c.run_id == run_id, t.stream_lines.c.file == file)
        .order_by(t.stream_lines.c.line)
    )
    return [r[0] for r in rows]


def even_positions(count: int, samples: int) -> list[int]:
    """`samples` positions spread evenly over range(count), always keeping first and last."""
    if samples <= 0 or count <= 0:
        return []
    if count <= samples:
        return list(range(count))
    if samples == 1:
        return [count - 1]
    return sorted({round(i * (count - 1) / (samples - 1)) for i in range(samples)})


def _block_rows(conn: Connection, run_id: int, firsts: Sequence[int], *cols: Any) -> list[Any]:
    """`cols` of the run's blocks starting at `firsts` (any order)."""
    hb = t.history_blocks
    rows: list[Any] = []
    for start in range(0, len(firsts), _MAX_BINDS):
        rows += conn.execute(
            select(*cols).where(
                hb.c.run_id == run_id, hb.c.first_line.in_(firsts[start : start + _MAX_BINDS])
            )
        ).all()
    return rows


def _fetch_blocks(conn: Connection, run_id: int, firsts: Sequence[int]) -> dict[int, _Block]:
    """The run's blocks starting at `firsts`, by first line."""
    hb = t.history_blocks
    cols = (hb.c.first_line, hb.c.n, hb.c.step_min, hb.c.steps, hb.c.data)
    return {
        first: _Block(first, _decode_steps(steps, step_min, n), data.split("\n"))
        for first, n, step_min, steps, data in _block_rows(conn, run_id, firsts, *cols)
    }


def _iter_blocks(conn: Connection, run_id: int, *, data: bool = True) -> Iterator[_Block]:
    """Every block of the run in line order; `data=False` reads steps only (no lines)."""
    hb = t.history_blocks
    cols = [hb.c.first_line, hb.c.n, hb.c.step_min, hb.c.steps, *([hb.c.data] if data else [])]
    for row in conn.execute(select(*cols).where(hb.c.run_id == run_id).order_by(hb.c.first_line)):
        lines = row[4].split("\n") if data else []
        yield _Block(row[0], _decode_steps(row[3], row[2], row[1]), lines)


_Directory = tuple[list[int], list[int]]  # blocks' first lines (ascending) and line counts


def _directory(conn: Connection, run_id: int) -> _Directory:
    hb = t.history_blocks
    rows = conn.execute(
        select(hb.c.first_line, hb.c.n).where(hb.c.run_id == run_id).order_by(hb.c.first_line)
    ).all()
    return [r[0] for r in rows], [r[1] for r in rows]


def _locate(lines: Iterable[int], directory: _Directory) -> list[tuple[int, int]]:
    """(block's first line, index in the block) of each of `lines` found in `directory`."""
    firsts, ns = directory
    out: list[tuple[int, int]] = []
    for line in lines:
        i = bisect_right(firsts, line) - 1
        if i >= 0 and line - firsts[i] < ns[i]:
            out.append((firsts[i], line - firsts[i]))
    return out


def _texts_at(
    conn: Connection, run_id: int, wanted: Sequence[int], directory: _Directory | None = None
) -> list[str]:
    """The stored lines among `wanted` (ascending line numbers), in that order. `directory`
    must list every block holding a wanted line (default: all the run's blocks)."""
    if directory is None:
        # Guess each line's block from the alignment: right unless the run has gaps, and
        # then the directory is read.
        guessed = _pick(
            conn, run_id, [(line - line % BLOCK_LINES, line % BLOCK_LINES) for line in wanted]
        )
        if guessed is not None:
            return guessed
        directory = _directory(conn, run_id)
    return _pick(conn, run_id, _locate(wanted, directory)) or []


def _pick(conn: Connection, run_id: int, picks: list[tuple[int, int]]) -> list[str] | None:
    """The lines at (block's first line, index) `picks`, in that order; None if one of them
    is not stored."""
    hb = t.history_blocks
    deepest: dict[int, int] = {}
    for first, i in picks:
        deepest[first] = max(deepest.get(first, 0), i)
    cols = (hb.c.first_line, hb.c.n, hb.c.data)
    texts: dict[int, list[str]] = {}
    for first, n, data in _block_rows(conn, run_id, list(deepest), *cols):
        if deepest[first] >= n:
            return None
        texts[first] = data.split("\n", deepest[first] + 1)  # no need to split further
    if len(texts) < len(deepest):
        return None
    return [texts[first][i] for first, i in picks]


def _by_step(steps: list[int | None], lines: list[int]) -> list[int]:
    """`lines` (ascending) ordered by (step, line), null steps first as SQLite orders them."""
    if None not in steps:
        known = cast(list[int], steps)
        if all(map(operator.le, known, islice(known, 1, None))):
            return lines  # nearly always: steps grow with lines
        ranks = sorted(range(len(lines)), key=known.__getitem__)  # stable: ties by line
    else:
        ranks = sorted(range(len(lines)), key=lambda i: (steps[i] is not None, steps[i] or 0))
    return [lines[i] for i in ranks]


def _like(fragment: str) -> str:
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class _Ordered:
    """Line numbers in (step, line) order, held as segments: when steps grow with lines (the
    usual case) these are the blocks' own ranges, and a million lines cost no list."""

    def __init__(self, segments: list[Sequence[int]]) -> None:
        self.segments = [s for s in segments if len(s)]
        self.ends = list(accumulate(map(len, self.segments)))

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def __getitem__(self, pos: int) -> int:
        i = bisect_right(self.ends, pos)
        return self.segments[i][pos - (self.ends[i - 1] if i else 0)]

    def __iter__(self) -> Iterator[int]:
        return chain.from_iterable(self.segments)


def _step_ordered(
    conn: Connection,
    run_id: int,
    min_step: int | None,
    max_step: int | None,
    fragments: Sequence[str] = (),
) -> tuple[_Ordered, _Directory]:
    """Lines with a step in [min_step, max_step) (any line, null steps included, when both
    are None) and containing one of `fragments` (if any), ordered by (step, line); and the
    directory of the blocks holding them."""
    hb = t.history_blocks
    cols = [hb.c.first_line, hb.c.n, hb.c.step_min, hb.c.step_max, hb.c.steps]
    cond: list[Any] = [hb.c.run_id == run_id]
    if min_step is not None:
        cond.append(hb.c.step_max >= min_step)
    if max_step is not None:
        cond.append(hb.c.step_min < max_step)
    if fragments:
        # A block-level prefilter (case-insensitive on SQLite: a superset), exact per line below.
        cols.append(hb.c.data)
        cond.append(or_(*[hb.c.data.like(_like(f), escape="\\") for f in fragments]))
    ranged = min_step is not None or max_step is not None
    lo = -math.inf if min_step is None else min_step
    hi = math.inf if max_step is None else max_step
    seg_steps: list[Sequence[int | None]] = []
    seg_lines: list[Sequence[int]] = []
    firsts: list[int] = []
    ns: list[int] = []
    for row in conn.execute(select(*cols).where(*cond).order_by(hb.c.first_line)):
        first, n, step_min, step_max, encoded = row[:5]
        firsts.append(first)
        ns.append(n)
        if encoded is None and not fragments and (not ranged or lo <= step_min <= step_max < hi):
            seg_steps.append(range(step_min, step_min + n))  # the whole block, steps in order
            seg_lines.append(range(first, first + n))
            continue
        steps = _decode_steps(encoded, step_min, n)
        lines = list(range(first, first + n))
        if fragments:
            keep = [any(f in text for f in fragments) for text in row[5].split("\n")]
            steps, lines = list(compress(steps, keep)), list(compress(lines, keep))
        if ranged:
            keep = [s is not None and lo <= s < hi for s in steps]
            steps, lines = list(compress(steps, keep)), list(compress(lines, keep))
        seg_steps.append(steps)
        seg_lines.append(lines)
    if _ascending(seg_steps):
        return _Ordered(seg_lines), (firsts, ns)
    all_steps = list(chain.from_iterable(seg_steps))
    return _Ordered([_by_step(all_steps, list(chain.from_iterable(seg_lines)))]), (firsts, ns)


def _ascending(segments: list[Sequence[int | None]]) -> bool:
    """Whether the steps, segment after segment, never decrease (and none is null)."""
    last: int | float = -math.inf
    for steps in segments:
        if not steps:
            continue
        if not isinstance(steps, range):
            if None in steps:
                return False
            known = cast(list[int], steps)
            if not all(map(operator.le, known, islice(known, 1, None))):
                return False
        head, tail = cast(int, steps[0]), cast(int, steps[-1])
        if head < last:
            return False
        last = tail
    return True


def sample_history(
    conn: Connection,
    run: dict[str, Any],
    samples: int,
    min_step: int | None = None,
    max_step: int | None = None,
) -> list[str]:
    """Up to `samples` rows (JSON text) spread evenly over the run, or over a step range."""
    run_id = run["id"]
    if samples <= 0:
        return []
    if min_step is None and max_step is None:
        count = int(run["history_line_count"])
        if count <= samples:
            return [text for block in _iter_blocks(conn, run_id) for text in block.lines]
        return _texts_at(conn, run_id, even_positions(count, samples))
    ordered, directory = _step_ordered(conn, run_id, min_step, max_step)
    if len(ordered) <= samples:  # all of them, in (step, line) order
        by_line = sorted(ordered)
        text_of = dict(zip(by_line, _texts_at(conn, run_id, by_line, directory), strict=True))
        return [text_of[line] for line in ordered]
    picked = sorted(ordered[p] for p in even_positions(len(ordered), samples))
    return _texts_at(conn, run_id, picked, directory)


def _key_fragments(keys: Sequence[str]) -> list[str]:
    # A portable prefilter: the serialized row contains `"key":` (ASCII-escaped as Python's
    # json writes it, or raw UTF-8 as wandb-core does). Confirmed on the parsed row after.
    return list(
        dict.fromkeys(
            json.dumps(k, ensure_ascii=escape) + ":" for k in keys for escape in (True, False)
        )
    )


def sampled_history(
    conn: Connection,
    run: dict[str, Any],
    keys: Sequence[str],
    samples: int,
    min_step: int | None = None,
    max_step: int | None = None,
) -> list[dict[str, Any]]:
    """Rows having any of `keys` (besides `_step`), projected to `keys`, evenly sampled.

    Keys logged at different steps are outer-joined: a row lacking some keys is kept with
    the keys it has. Deterministic, and first and last matching rows are always included.
    """
    run_id = run["id"]
    wanted = list(dict.fromkeys(keys))
    data_keys = [k for k in wanted if k != "_step"] or wanted
    counts = json.loads(run["history_keys"]).get("keys", {})
    total = int(run["history_line_count"])
    everywhere = all(
        sum(tc["count"] for tc in counts.get(k, {}).get("typeCounts", [])) >= total
        for k in data_keys
    )
    if everywhere and min_step is None and max_step is None:
        texts = sample_history(conn, run, samples)
    else:
        fragments = [] if everywhere else _key_fragments(data_keys)
        ordered, directory = _step_ordered(conn, run_id, min_step, max_step, fragments)
        picked = sorted(ordered[p] for p in even_positions(len(ordered), samples))
        texts = _texts_at(conn, run_id, picked, directory)
    out: list[dict[str, Any]] = []
    for text in texts:
        row = json.loads(text)
        if not any(k in row for k in data_keys):
            continue
        out.append({k: row[k] for k in wanted if k in row})
    return out


def live_data(conn: Connection, run_id: int, keys: Iterable[str]) -> list[dict[str, Any]]:
    """Every row projected to `keys` (W&B's parquetHistory.liveData)."""
    keys = list(keys)
    if keys == ["_step"]:
        return [
            {"_step": step}
            for block in _iter_blocks(conn, run_id, data=False)
            for step in block.steps
            if step is not None
        ]
    out = []
    for block in _iter_blocks(conn, run_id):
        for text in block.lines:
            row = json.loads(text)
            out.append({k: row[k] for k in keys if k in row})
    return out


def history_tail(conn: Connection, run_id: int, n: int = 1) -> list[str]:
    """The last `n` stored lines, in line order."""
    if n <= 0:
        return []
    hb = t.history_blocks
    firsts = conn.execute(
        select(hb.c.first_line)
        .where(hb.c.run_id == run_id)
        .order_by(hb.c.first_line.desc())
        .limit(n)  # every block holds at least one line
    ).scalars()
    blocks = _fetch_blocks(conn, run_id, list(firsts))
    lines: list[str] = []
    for first in sorted(blocks, reverse=True):
        lines[:0] = blocks[first].lines
        if len(lines) >= n:
            break
    return lines[-n:]


def history_count(conn: Connection, run_id: int) -> int:
    hb = t.history_blocks
    total = conn.execute(select(func.sum(hb.c.n)).where(hb.c.run_id == run_id)).scalar_one()
    return int(total or 0)
