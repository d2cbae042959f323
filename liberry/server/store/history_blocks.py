"""History lines stored in blocks: the storage under `history.py`.

A block (`tables.history_blocks`) holds up to BLOCK_LINES consecutive lines of one run joined by
newlines, with their steps: ingestion writes one row per block instead of one per line, and
reads fetch only the blocks holding the lines they return. `line` is the file_stream offset of
a line; writing lines where lines are already stored (a retried chunk) overwrites them.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain, compress, islice, pairwise
from typing import Any, cast

import orjson
from sqlalchemy import Connection, delete, func, or_, select

from . import tables as t
from .bulk import insert_rows

_MAX_BINDS = 900  # stay far below SQLite's bound-parameter limit in IN lists / bulk writes

# Lines per history block. Larger blocks ingest faster (a row and two index entries per block)
# but make a sampled read fetch and split more. Measured on a 1M-line run (6 keys per line),
# in-process CPU: 100 lines (~13 kB) ingest ~200k rows/s and read 500 samples in ~15 ms; 50
# lines ~180k rows/s and ~9 ms. On PostgreSQL keep it <= ~120: `steps` sits in a btree index.
BLOCK_LINES = 100
# No block ever holds more lines: the write path looks for the blocks a chunk touches in
# [offset - MAX_BLOCK_LINES, end). Raise BLOCK_LINES up to it freely; never lower this.
MAX_BLOCK_LINES = 1000


def _one_line_each(lines: Sequence[str]) -> Sequence[str]:
    """Lines free of raw newlines, so that a block can join them with newlines. Valid JSON
    has none inside strings: a newline in a line is insignificant whitespace."""
    if "\n" not in "".join(lines):
        return lines
    return [line.replace("\n", " ") for line in lines]


@dataclass(slots=True)
class Block:
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


def _touched_blocks(conn: Connection, run_id: int, offset: int, end: int) -> list[Block]:
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


def store_lines(
    conn: Connection, run_id: int, offset: int, lines: Sequence[str], steps: list[int | None]
) -> None:
    """Store lines at `offset`, overwriting the lines already there (a retried chunk)."""
    lines = _one_line_each(lines)
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


def _fetch_blocks(conn: Connection, run_id: int, firsts: Sequence[int]) -> dict[int, Block]:
    """The run's blocks starting at `firsts`, by first line."""
    hb = t.history_blocks
    cols = (hb.c.first_line, hb.c.n, hb.c.step_min, hb.c.steps, hb.c.data)
    return {
        first: Block(first, _decode_steps(steps, step_min, n), data.split("\n"))
        for first, n, step_min, steps, data in _block_rows(conn, run_id, firsts, *cols)
    }


def iter_blocks(conn: Connection, run_id: int, *, data: bool = True) -> Iterator[Block]:
    """Every block of the run in line order; `data=False` reads steps only (no lines)."""
    hb = t.history_blocks
    cols = [hb.c.first_line, hb.c.n, hb.c.step_min, hb.c.steps, *([hb.c.data] if data else [])]
    for row in conn.execute(select(*cols).where(hb.c.run_id == run_id).order_by(hb.c.first_line)):
        lines = row[4].split("\n") if data else []
        yield Block(row[0], _decode_steps(row[3], row[2], row[1]), lines)


Directory = tuple[list[int], list[int]]  # blocks' first lines (ascending) and line counts


def _directory(conn: Connection, run_id: int) -> Directory:
    hb = t.history_blocks
    rows = conn.execute(
        select(hb.c.first_line, hb.c.n).where(hb.c.run_id == run_id).order_by(hb.c.first_line)
    ).all()
    return [r[0] for r in rows], [r[1] for r in rows]


def _locate(lines: Iterable[int], directory: Directory) -> list[tuple[int, int]]:
    """(block's first line, index in the block) of each of `lines` found in `directory`."""
    firsts, ns = directory
    out: list[tuple[int, int]] = []
    for line in lines:
        i = bisect_right(firsts, line) - 1
        if i >= 0 and line - firsts[i] < ns[i]:
            out.append((firsts[i], line - firsts[i]))
    return out


def texts_at(
    conn: Connection, run_id: int, wanted: Sequence[int], directory: Directory | None = None
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


def step_ordered(
    conn: Connection,
    run_id: int,
    min_step: int | None,
    max_step: int | None,
    fragments: Sequence[str] = (),
) -> tuple[_Ordered, Directory]:
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


def tail(conn: Connection, run_id: int, n: int = 1) -> list[str]:
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


def line_count(conn: Connection, run_id: int) -> int:
    hb = t.history_blocks
    total = conn.execute(select(func.sum(hb.c.n)).where(hb.c.run_id == run_id)).scalar_one()
    return int(total or 0)
