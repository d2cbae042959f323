"""Run history: the file_stream write path (rows, steps, historyKeys) and sampled reads.

`line` is the file_stream offset of a row; a retried chunk overwrites the same lines, so
retries never duplicate rows. Reads are deterministic: the same request picks the same rows.
How the lines are stored (blocks of consecutive lines) is `history_blocks.py`'s business.
"""

from __future__ import annotations

import json
import math
import operator
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain, compress, repeat
from typing import Any

import orjson
from sqlalchemy import Connection

from . import history_blocks as blocks
from .errors import StoreError

HISTORY_FILE = "wandb-history.jsonl"
SUMMARY_FILE = "wandb-summary.json"

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


def write_history(
    conn: Connection,
    run: dict[str, Any],
    offset: int,
    lines: Sequence[str],
) -> dict[str, Any]:
    """Store history lines at `offset`; returns the run columns to update."""
    parsed = parse_history_lines(lines)
    steps = _steps_of(parsed)
    blocks.store_lines(conn, run["id"], offset, lines, steps)

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


def even_positions(count: int, samples: int) -> list[int]:
    """`samples` positions spread evenly over range(count), always keeping first and last."""
    if samples <= 0 or count <= 0:
        return []
    if count <= samples:
        return list(range(count))
    if samples == 1:
        return [count - 1]
    return sorted({round(i * (count - 1) / (samples - 1)) for i in range(samples)})


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
            return [text for block in blocks.iter_blocks(conn, run_id) for text in block.lines]
        return blocks.texts_at(conn, run_id, even_positions(count, samples))
    ordered, directory = blocks.step_ordered(conn, run_id, min_step, max_step)
    if len(ordered) <= samples:  # all of them, in (step, line) order
        by_line = sorted(ordered)
        text_of = dict(zip(by_line, blocks.texts_at(conn, run_id, by_line, directory), strict=True))
        return [text_of[line] for line in ordered]
    picked = sorted(ordered[p] for p in even_positions(len(ordered), samples))
    return blocks.texts_at(conn, run_id, picked, directory)


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
        ordered, directory = blocks.step_ordered(conn, run_id, min_step, max_step, fragments)
        picked = sorted(ordered[p] for p in even_positions(len(ordered), samples))
        texts = blocks.texts_at(conn, run_id, picked, directory)
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
            for block in blocks.iter_blocks(conn, run_id, data=False)
            for step in block.steps
            if step is not None
        ]
    out = []
    for block in blocks.iter_blocks(conn, run_id):
        for text in block.lines:
            row = json.loads(text)
            out.append({k: row[k] for k in keys if k in row})
    return out


def history_tail(conn: Connection, run_id: int, n: int = 1) -> list[str]:
    """The last `n` history lines, in line order."""
    return blocks.tail(conn, run_id, n)


def history_count(conn: Connection, run_id: int) -> int:
    return blocks.line_count(conn, run_id)
