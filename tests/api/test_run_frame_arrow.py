"""`run_frame_arrow.ExportDecoder` gives exactly `run_frame.RunColumns`' tables: typed by Arrow
where that is safe (asserted, so the fast way is really taken), the exact way elsewhere."""

from __future__ import annotations

import json
import math
from typing import Any

import pyarrow as pa
import pytest

from liberry.run_frame import RunColumns
from liberry.run_frame_arrow import ExportDecoder, TypedRunColumns
from liberry.server.store.export import SCHEMA

from .test_bulk_export import frames_equal, tables_equal

NAN, INF = math.nan, math.inf


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc)  # NaN / Infinity as the store writes them


def batches(
    configs: list[dict[str, Any]], summaries: list[dict[str, Any]], per: int
) -> list[pa.RecordBatch]:
    """Export record batches (`per` runs each) of runs with these configs (unwrapped here:
    wrapped W&B's way) and summaries."""
    out = []
    for start in range(0, len(configs), per):
        rows = range(start, min(start + per, len(configs)))
        out.append(
            pa.record_batch(
                [
                    pa.array([f"r{i}" for i in rows]),
                    pa.array([None if i % 3 else f"name{i}" for i in rows], pa.string()),
                    pa.array(["finished"] * len(rows)),
                    pa.array([f"2026-01-01T00:00:{i % 60:02d}" for i in rows]),
                    pa.array([[] for _ in rows], pa.list_(pa.string())),
                    pa.array(
                        [dumps({k: {"value": v} for k, v in configs[i].items()}) for i in rows]
                    ),
                    pa.array([dumps(summaries[i]) for i in rows]),
                ],
                schema=SCHEMA,
            )
        )
    return out


def exact(parts: list[pa.RecordBatch]) -> RunColumns:
    columns = RunColumns()
    for batch in parts:
        columns.add(
            *(batch.column(n).to_pylist() for n in ("id", "display_name", "state", "created_at")),
            batch.column("config").to_pylist(),
            batch.column("summary").to_pylist(),
        )
    return columns


def decoded(parts: list[pa.RecordBatch]) -> RunColumns:
    decoder = ExportDecoder()
    for batch in parts:
        decoder.add(batch)
    return decoder.finish()


def check(configs: list[dict[str, Any]], summaries: list[dict[str, Any]], *, fast: bool) -> None:
    for per in (1, 2, len(configs)):
        parts = batches(configs, summaries, per)
        mine, reference = decoded(parts), exact(parts)
        assert isinstance(mine, TypedRunColumns) is fast, per
        frames_equal(mine.to_pandas(), reference.to_pandas())
        tables_equal(mine.to_arrow(), reference.to_arrow())
        assert list(mine.to_pandas().columns) == list(reference.to_pandas().columns)
        assert json.dumps(mine.columns(), default=str) == json.dumps(
            reference.columns(), default=str
        )


def test_typed_columns_for_regular_runs() -> None:
    """The shapes Arrow types exactly: nested dicts in every run, numbers with gaps, ints and
    floats in one key, NaN/inf, booleans with and without gaps, lists, nulls, keys first seen
    in a later run, W&B's own keys left out."""
    configs = [
        {"lr": 0.1, "bs": 32, "opt": {"name": "adam", "betas": [9, 99]}, "tag": None,
         "mix": 1, "flag": True, "_wandb": {"t": {"1": [1, 2]}}},
        {"lr": 0.2, "bs": 64, "opt": {"name": "sgd", "betas": []}, "mix": 2.5, "flag": False,
         "_wandb": {"t": {"1": [3]}}},
        {"lr": NAN, "opt": {"name": "sgd", "betas": [1]}, "mix": 3, "flag": True,
         "later": "x", "words": ["a", "b"]},
    ]  # fmt: skip
    summaries = [
        {"loss": 0.5, "acc": INF, "best": True, "_step": 3, "_wandb": {"runtime": 2},
         "deep": {"a": {"b": 1, "c": "x"}}},
        {"loss": -INF, "best": None, "_step": 4, "deep": {"a": {"b": 2, "c": "y"}}},
        {"acc": 0.25, "_step": 5, "deep": {"a": {"b": 3}}, "extra": [True]},
    ]  # fmt: skip
    check(configs, summaries, fast=True)


@pytest.mark.parametrize(
    ("configs", "summaries"),
    [
        # mixed types in one key
        ([{"v": 1}, {"v": "one"}], [{}, {}]),
        ([{"v": 1}, {"v": True}], [{}, {}]),
        # an empty dict (a leaf) beside a dict
        ([{"o": {}}, {"o": {"a": 1}}], [{}, {}]),
        # a nested dict missing from a run, or null in one
        ([{"o": {"a": 1}}, {}], [{}, {}]),
        ([{"o": {"a": 1}}, {"o": None}], [{}, {}]),
        # a nested key first seen after the first run (its column comes later in run_frame)
        ([{"o": {"a": 1}, "z": 1}, {"o": {"a": 2, "b": 3}, "z": 2}], [{}, {}]),
        # media objects, kept whole
        ([{}, {}], [{"img": {"_type": "image-file", "path": "a.png"}}, {}]),
        # an integer beyond int64, and one that only fits
        ([{}, {}], [{"n": 2**70}, {"n": 1}]),
        ([{}, {}], [{"n": 2**63 - 1}, {"n": 1}]),
        # a list mixing ints and floats, a list of dicts
        ([{"l": [1, 2.5]}, {"l": []}], [{}, {}]),
        ([{"l": [{"a": 1}]}, {"l": []}], [{}, {}]),
        # a timestamp-looking string
        ([{"when": "2020-01-01T00:00:00"}, {"when": "2020-01-02T00:00:00"}], [{}, {}]),
        # a dotted key beside a nested one with the same path
        ([{"a.b": 1, "a": {"b": 2}}, {"a.b": 3, "a": {"b": 4}}], [{}, {}]),
    ],
)
def test_exact_way_where_arrow_could_differ(
    configs: list[dict[str, Any]], summaries: list[dict[str, Any]]
) -> None:
    check(configs, summaries, fast=False)


def test_unwrapped_and_odd_documents_fall_back() -> None:
    """Config entries not W&B-wrapped (or with more than a value), and texts that are no
    JSON object, are decoded the exact way."""
    base = batches([{"a": 1}, {"a": 2}], [{}, {}], 2)[0]
    for config in ['{"a": {"value": 1, "desc": "d"}}', '{"a": {"x": 1}}', "null", ""]:
        texts = pa.array([config, '{"a": {"value": 2}}'])
        batch = base.set_column(SCHEMA.get_field_index("config"), "config", texts)
        mine, reference = decoded([batch]), exact([batch])
        assert not isinstance(mine, TypedRunColumns), config
        frames_equal(mine.to_pandas(), reference.to_pandas())


def test_no_runs() -> None:
    assert decoded([]).to_pandas().empty


def test_columns_from_typed_arrays_unless_a_double_was_written_as_an_int(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`columns()` reuses the typed columns (no second decode) when every double column's
    values were written as floats; a value written as an int (which `run_frame` keeps an int),
    or a key JSON escapes, makes it decode the exact way. Either way it equals `run_frame`'s."""
    import liberry.run_frame_arrow as rfa

    exact_decodes: list[int] = []
    real_exact = rfa._exact

    def counting_exact(parts: list[pa.RecordBatch]) -> RunColumns:
        exact_decodes.append(len(parts))
        return real_exact(parts)

    monkeypatch.setattr(rfa, "_exact", counting_exact)
    words = [{"s": "a"}, {"s": "b"}]  # (an empty summary, `{}`, is never typed)
    floats = [{"lr": 0.1, "opt": {"beta": 0.9}, "n": 1}, {"lr": 1.0, "opt": {"beta": 2.0}, "n": 2}]
    cases = [
        # (configs, summaries, decoded the exact way)
        (floats, [{"loss": 0.5, "_timestamp": 1.79e9}, {"loss": NAN, "_timestamp": 1.8e9}], 0),
        (floats, [{"loss": 0.5}, {"loss": 1}], 1),  # summary int beside a float
        ([{"lr": 0.5}, {"lr": 2}], words, 1),  # a wrapped config int
        ([{"opt": {"beta": 0.5}}, {"opt": {"beta": 3}}], words, 1),  # nested
        ([{"lr": 0.5}, {"lr": 0.25}], [{"\u00e9": 0.5}, {"\u00e9": 1.5}], 1),  # escaped key
    ]
    for configs, summaries, exact_ways in cases:
        parts = batches(configs, summaries, 2)
        mine = decoded(parts)
        assert isinstance(mine, TypedRunColumns), (configs, summaries)
        exact_decodes.clear()
        got = mine.columns()
        assert len(exact_decodes) == exact_ways, (configs, summaries)
        assert json.dumps(got, default=str) == json.dumps(exact(parts).columns(), default=str)
