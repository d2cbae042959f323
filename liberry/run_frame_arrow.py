"""Export columns decoded by Arrow: the bulk export's config/summary JSON text straight into
typed columns, when that gives exactly the table `run_frame.RunColumns` gives.

`RunColumns` parses every run's JSON into Python objects and infers each column's type from
them; for 10,000 runs that is about 200,000 objects, most of `to_pandas()`'s time. Arrow's JSON
reader (C++) makes typed columns without them. Its rules differ from `run_frame`'s in places,
so `ExportDecoder` uses it only where they cannot differ, and otherwise falls back to
`RunColumns` (exact, slower) for the whole export:

- a struct is a walked dict, but Arrow cannot tell a missing key from a `null` one, nor `{}`
  from a dict of nulls: no text may contain `{}`, and a nested dict must be in every run (no
  null struct) with all its keys in the first run, so its columns come where `run_frame`
  puts them (first seen, run by run);
- a number too large for int64 would become a double: no text may contain 19 digits in a row;
- a timestamp-looking string would become a timestamp, a dict with `_type` (a W&B media
  object, kept whole by `run_frame`) a struct, a list of numbers that mixes ints and floats
  all floats: such columns fall back;
- a config entry must be W&B-wrapped (`{"value": ...}` and no other key) or not a dict.

Types that survive are those `pa.array` / pandas infer from the same Python values, so
`to_arrow()` and `to_pandas()` are the same tables. `columns()` (plain lists) is made from the
typed columns too, unless a double column holds a value written as an integer (`3` beside
`2.5`: `run_frame` keeps the int): the JSON is then decoded the exact way, on demand.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from .run_frame import RunColumns

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ExportDecoder"]

#: The export's columns `RunColumns.add` takes, in its argument order.
_COLUMNS: Final = ("id", "display_name", "state", "created_at", "config", "summary")
#: Text no fast-decoded document may contain: `{}` (an empty dict, a leaf for `run_frame`,
#: a struct of nulls for Arrow) and 19 digits in a row (perhaps an integer beyond int64).
_UNSAFE_TEXT: Final = r"\{\s*\}|\d{19}"
#: A key JSON writes as it is between quotes (printable ASCII, no quote or backslash).
_PLAIN_KEY: Final = re.compile(r'[ !#-\[\]-~]*')


class ExportDecoder:
    """Record batches of the export in (`add`, as they arrive), `RunColumns` out (`finish`)."""

    def __init__(self) -> None:
        self._batches: list[pa.RecordBatch] = []
        self._decoded: dict[str, list[pa.Table]] | None = {"config": [], "summary": []}

    def add(self, batch: pa.RecordBatch) -> None:
        """Keep the batch and decode its config and summary (while the next one is read)."""
        self._batches.append(batch)
        if self._decoded is None:
            return
        for source, tables in self._decoded.items():
            table = _read_json(batch.column(source))
            if table is None:
                self._decoded = None  # the exact way for the whole export
                return
            tables.append(table)

    def finish(self) -> RunColumns:
        """The export's columns: typed by Arrow when safe, else decoded run by run."""
        leaves = None
        keys: dict[str, str | None] = {}
        if self._decoded is not None and self._batches:
            leaves = _typed_leaves(self._decoded, keys)
        if leaves is None:
            return _exact(self._batches)
        return TypedRunColumns(self._batches, leaves, keys)


class TypedRunColumns(RunColumns):
    """`RunColumns` whose config and summary columns are typed Arrow arrays."""

    def __init__(
        self,
        batches: list[pa.RecordBatch],
        leaves: dict[str, pa.Array],
        keys: dict[str, str | None] | None = None,
    ) -> None:
        super().__init__()
        self._batches = batches
        self._leaves = leaves
        # Each leaf column's own key (the last of its path); None when it needs JSON escapes.
        self._keys = keys or {}
        for batch in batches:
            ids = batch.column("id").to_pylist()
            names = batch.column("display_name").to_pylist()
            self.identity["id"].extend(ids)
            self.identity["name"].extend(name or rid for name, rid in zip(names, ids, strict=True))
            self.identity["state"].extend(batch.column("state").to_pylist())
            self.identity["created_at"].extend(batch.column("created_at").to_pylist())
        self.rows = len(self.identity["id"])

    def columns(self) -> dict[str, list[Any]]:
        # Plain Python values: from Arrow's, unless a double column was written with an int.
        if not self._doubles_exact():
            return _exact(self._batches).columns()
        out: dict[str, list[Any]] = dict(self.identity)
        out.update((name, array.to_pylist()) for name, array in self._leaves.items())
        return out

    def _doubles_exact(self) -> bool:
        """Whether no double column has a value written as a JSON integer (which `run_frame`
        keeps an int). Looked for in the text, one regex per source over every run: the
        column's key, a colon and an integer (in config, perhaps inside `{"value": ...}`).
        Another key of the same name may match too: that only costs the exact way."""
        import pyarrow as pa
        import pyarrow.compute as pc

        for source in ("config", "summary"):
            keys = set()
            for name, array in self._leaves.items():
                if name.startswith(source + ".") and pa.types.is_floating(array.type):
                    key = self._keys.get(name)
                    if key is None:
                        return False
                    keys.add(re.escape(key))
            if not keys:
                continue
            wrapped = r'(\{\s*"value"\s*:\s*)?' if source == "config" else ""
            pattern = rf'"({"|".join(sorted(keys))})"\s*:\s*{wrapped}-?\d+\s*[,}}\]]'
            for batch in self._batches:
                if pc.any(pc.match_substring_regex(batch.column(source), pattern)).as_py():
                    return False
        return True

    def _everything(self) -> dict[str, Any]:
        """Columns for pandas: NumPy arrays where that is what pandas makes of the values
        (numbers, and booleans without a gap), Python lists otherwise."""
        import pyarrow as pa

        out: dict[str, Any] = dict(self.identity)
        for name, array in self._leaves.items():
            kind = array.type
            numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
            if numeric or (pa.types.is_boolean(kind) and array.null_count == 0):
                out[name] = array.to_numpy(zero_copy_only=False)
            else:
                out[name] = array.to_pylist()
        return out

    def to_arrow(self) -> pa.Table:
        import pyarrow as pa

        from .run_frame import _arrow_column, _arrow_timestamps

        names = ["id", "name", "state"]
        arrays = [_arrow_column(self.identity[name]) for name in names]
        names.append("created_at")
        arrays.append(_arrow_timestamps(pa.array(self.identity["created_at"], pa.string())))
        names.extend(self._leaves)
        arrays.extend(self._leaves.values())
        return pa.Table.from_arrays(arrays, names=names)


def _exact(batches: list[pa.RecordBatch]) -> RunColumns:
    columns = RunColumns()
    for batch in batches:
        columns.add(*(batch.column(name).to_pylist() for name in _COLUMNS))
    return columns


def _read_json(texts: pa.Array) -> pa.Table | None:
    """One JSON object per run, as a table with a (possibly struct) column per key; None when
    the texts are not all objects or hold something the fast way could get wrong."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    if not pa.types.is_string(texts.type) or texts.null_count or not len(texts):
        return None
    if not pc.all(pc.starts_with(texts, "{")).as_py():
        return None
    if pc.any(pc.match_substring_regex(texts, _UNSAFE_TEXT)).as_py():
        return None
    # One document per line: JSON text has no raw newline outside strings unless it is
    # pretty-printed, and then a line is no document and the read fails.
    one_list = pa.ListArray.from_arrays(pa.array([0, len(texts)], pa.int32()), texts)
    ndjson = pc.binary_join(one_list, "\n")[0].as_buffer()
    options = pj.ReadOptions(use_threads=False, block_size=max(ndjson.size + 1, 1 << 20))
    try:
        table = pj.read_json(pa.BufferReader(ndjson), read_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # NaN is fine; mixed types are not
        return None
    return table if table.num_rows == len(texts) else None


def _typed_leaves(
    decoded: dict[str, list[pa.Table]], keys: dict[str, str | None]
) -> dict[str, pa.Array] | None:
    """`config.<path>` / `summary.<path>` -> typed column, in `run_frame`'s order; None when a
    column might differ from `run_frame`'s. Each column's own key goes in `keys`."""
    import pyarrow as pa

    leaves: dict[str, pa.Array] = {}
    for source, tables in decoded.items():
        try:
            table = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # a key's type changes between batches
            return None
        for name, column in zip(table.column_names, table.columns, strict=True):
            if (source == "config" and name[:1] == "_") or (
                source == "summary" and name == "_wandb"
            ):
                continue
            array = column.combine_chunks()
            if source == "config" and pa.types.is_struct(array.type):
                if [field.name for field in array.type] != ["value"]:
                    return None  # not W&B-wrapped, or wrapped with more than a value
                array = array.flatten()[0]
            if not _leaves(array, f"{source}.{name}", name, leaves, keys):
                return None
    return leaves


def _leaves(
    array: pa.Array, path: str, key: str, out: dict[str, pa.Array], keys: dict[str, str | None]
) -> bool:
    """Put the leaf columns of one key's values (`array`) in `out` and their own keys in
    `keys` (None for a key JSON writes with escapes); False when unsafe."""
    import pyarrow as pa

    kind = array.type
    if pa.types.is_struct(kind):
        # A walked dict: in every run (Arrow cannot tell a missing dict from a null one),
        # not a media object, every key present in the first run.
        names = [field.name for field in kind]
        if array.null_count or not names or "_type" in names:
            return False
        children = array.flatten()
        if not all(child.is_valid()[0].as_py() for child in children):
            return False
        return all(
            _leaves(child, f"{path}.{name}", name, out, keys)
            for name, child in zip(names, children, strict=True)
        )
    if not _plain(kind) or path in out:
        return False
    out[path] = array
    keys[path] = key if _PLAIN_KEY.fullmatch(key) else None
    return True


def _plain(kind: pa.DataType) -> bool:
    """A type `pa.array` also infers from the same Python values (and pandas alike)."""
    import pyarrow as pa

    if pa.types.is_list(kind):
        item = kind.value_type
        # Doubles in a list may have been ints (`[1, 2.5]`): `run_frame` keeps them as they are.
        return pa.types.is_null(item) or (_scalar(item) and not pa.types.is_floating(item))
    return pa.types.is_null(kind) or _scalar(kind)


def _scalar(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return kind in (pa.int64(), pa.float64(), pa.bool_(), pa.string())
