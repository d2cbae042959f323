"""`Api.sync_tensorboard`: TensorBoard event files -> runs with history, config and summary.

Every `*tfevents*` file under a root is read with TensorBoard's own record reader and
protobufs (`tensorboard` package; no TensorFlow needed). One run per log directory (a folder
holding event files), named after the folder: scalars become history rows (one row per
TensorBoard step, keys = tag names such as `train/loss`, plus `_step`, `_timestamp` and
`_runtime`), histograms become W&B histograms in the same rows, hparams and text become
config, and the latest scalars the summary.

Idempotent: the run's history is the high-water mark. A re-sync rewrites the run's last row
(a step may have gained tags since) and appends only the steps after it, so running twice
adds nothing and running after more events were written appends only those. Rows travel in
bulk through `file_stream`, thousands per request.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from .errors import NotFoundError, UsageError
from .paths import parse_project_path
from .run import Run, create_run

if TYPE_CHECKING:
    from .session import Session

__all__ = ["LogDir", "SyncResult", "find_log_dirs", "read_log_dir", "sync_tensorboard"]

#: Rows per file_stream request: big enough that a million rows is ~50 requests.
ROWS_PER_REQUEST = 20_000
#: W&B's histogram limit; finer TensorBoard buckets are merged down to it.
MAX_BINS = 512
_EVENT_FILE = re.compile(r"tfevents")


def _require_tensorboard() -> Any:
    try:
        from tensorboard.compat.proto import event_pb2
    except ImportError:  # pragma: no cover - the extra names the fix
        raise UsageError(
            "sync_tensorboard reads event files with TensorBoard's reader: "
            "pip install 'liberry-widgets[tensorboard]'"
        ) from None
    return event_pb2


@dataclass
class LogDir:
    """What one log directory's event files hold, merged by step."""

    path: Path
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    wall: dict[int, float] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    hparams: dict[str, Any] = field(default_factory=dict)
    #: Summary values from a nested hparams folder (`add_hparams` writes its metrics there).
    extra_summary: dict[str, Any] = field(default_factory=dict)
    events: int = 0
    problems: list[str] = field(default_factory=list)

    def put(self, step: int, wall_time: float, key: str, value: Any) -> None:
        self.rows.setdefault(step, {})[key] = value
        if wall_time > self.wall.get(step, 0.0):
            self.wall[step] = wall_time

    def history(self) -> list[dict[str, Any]]:
        """W&B history rows in step order, with `_step`, `_timestamp` and `_runtime`."""
        start = min(self.wall.values(), default=0.0)
        out = []
        for step in sorted(self.rows):
            wall = self.wall.get(step, start)
            row = {"_step": step, "_timestamp": wall, "_runtime": max(0.0, wall - start)}
            row.update(self.rows[step])
            out.append(row)
        return out


@dataclass
class SyncResult:
    """One synced run: where it is, how many rows were sent, and what could not be read."""

    path: str
    log_dir: Path
    events: int
    rows_added: int  # history rows the run gained (0 on a re-sync of unchanged files)
    rows_total: int
    created: bool
    problems: list[str] = field(default_factory=list)


def find_log_dirs(root: Path) -> dict[Path, list[Path]]:
    """Folders under `root` (itself included) holding event files, each with its files."""
    if not root.exists():
        raise UsageError(f"{root} does not exist: pass the folder TensorBoard logged to")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    found: dict[Path, list[Path]] = {}
    for path in files:
        if _EVENT_FILE.search(path.name):
            found.setdefault(path.parent, []).append(path)
    if not found:
        raise UsageError(
            f"no TensorBoard event files (names containing 'tfevents') under {root}: point "
            "sync_tensorboard at the log_dir your SummaryWriter wrote to"
        )
    return found


def _records(path: Path) -> Iterator[bytes | str]:
    """The raw records of one event file; a final `str` describes a truncated or corrupt
    tail (the records before it are good and were yielded)."""
    from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow

    reader = pywrap_tensorflow.PyRecordReader_New(str(path), 0, None, None)
    try:
        while True:
            try:
                reader.GetNext()
            except errors.OutOfRangeError:
                return
            except errors.DataLossError as exc:
                yield f"{path}: {exc.message or exc}; the events before it were read"
                return
            yield reader.record()
    finally:
        reader.file_handle.close()


def _histogram(histo: Any) -> dict[str, Any] | None:
    """A TensorBoard HistogramProto as W&B's `{"_type": "histogram", "values", "bins"}`."""
    counts = list(histo.bucket)
    limits = list(histo.bucket_limit)
    nonzero = [i for i, c in enumerate(counts) if c]
    if not nonzero:
        return None
    lo, hi = nonzero[0], nonzero[-1] + 1
    counts, limits = counts[lo:hi], limits[lo:hi]
    left = histo.min if lo == 0 or not math.isfinite(limits[0]) else limits[0]
    edges = [min(left, histo.min)] + [min(x, histo.max) for x in limits]
    if lo > 0:
        edges[0] = max(list(histo.bucket_limit)[lo - 1], histo.min)
    while len(counts) > MAX_BINS:  # merge neighbours until W&B's limit
        counts = [sum(counts[i : i + 2]) for i in range(0, len(counts), 2)]
        edges = edges[::2] + ([edges[-1]] if len(edges) % 2 == 0 else [])
    return {"_type": "histogram", "values": counts, "bins": edges}


def _tensor_histogram(array: Any) -> dict[str, Any] | None:
    """The `histograms` plugin's k x 3 tensor (left, right, count) as a W&B histogram."""
    if getattr(array, "ndim", 0) != 2 or array.shape[0] == 0 or array.shape[1] != 3:
        return None
    edges = [float(array[0, 0])] + [float(x) for x in array[:, 1]]
    counts = [float(x) for x in array[:, 2]]
    return {"_type": "histogram", "values": counts[:MAX_BINS], "bins": edges[: MAX_BINS + 1]}


def _hparams(content: bytes) -> dict[str, Any]:
    from tensorboard.plugins.hparams import plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    if not data.HasField("session_start_info"):
        return {}
    out: dict[str, Any] = {}
    for name, value in data.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        out[name] = getattr(value, kind) if kind else None
    return out


def read_event_file(path: Path, into: LogDir) -> None:
    """Add one event file's scalars, histograms, text and hparams to `into`."""
    event_pb2 = _require_tensorboard()
    from tensorboard.util import tensor_util

    plugin_of: dict[str, str] = {}  # tensor summaries name their plugin on first write only
    for record in _records(path):
        if isinstance(record, str):
            into.problems.append(record)
            break
        event = event_pb2.Event.FromString(record)
        if not event.HasField("summary"):
            continue
        into.events += 1
        step, wall = int(event.step), float(event.wall_time)
        for value in event.summary.value:
            tag = value.tag
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                into.put(step, wall, tag, float(value.simple_value))
                continue
            if kind == "histo":
                hist = _histogram(value.histo)
                if hist is not None:
                    into.put(step, wall, tag, hist)
                continue
            plugin = value.metadata.plugin_data.plugin_name
            if plugin:
                plugin_of[tag] = plugin
            plugin = plugin_of.get(tag, "")
            if plugin == "hparams":
                into.hparams.update(_hparams(value.metadata.plugin_data.content))
            elif kind == "tensor" and plugin == "scalars":
                into.put(step, wall, tag, float(tensor_util.make_ndarray(value.tensor)))
            elif kind == "tensor" and plugin == "histograms":
                hist = _tensor_histogram(tensor_util.make_ndarray(value.tensor))
                if hist is not None:
                    into.put(step, wall, tag, hist)
            elif kind == "tensor" and plugin == "text":
                texts = [s.decode("utf-8", "replace") for s in value.tensor.string_val]
                # tensorboardX and PyTorch name a text summary `<tag>/text_summary`.
                key = tag.removesuffix("/text_summary")
                into.config[key] = texts[0] if len(texts) == 1 else texts


def read_log_dir(path: Path, files: list[Path], bar: Any = None) -> LogDir:
    """Every event file of one log directory, in name order (TensorBoard's: by timestamp)."""
    log_dir = LogDir(path)
    for file in sorted(files):
        read_event_file(file, log_dir)
        if bar is not None:
            bar.update(file.stat().st_size)
    return log_dir


def _fold_hparams_folders(logs: dict[Path, LogDir]) -> None:
    """`add_hparams` (tensorboardX, PyTorch) writes the hparams and their metrics into a new
    timestamped folder inside the run's log dir; they belong to that run, not a run of their
    own: the hparams go to its config, the metrics to its summary."""
    for path in sorted(logs, key=lambda p: len(p.parts), reverse=True):
        child = logs[path]
        parent = next((logs[p] for p in path.parents if p in logs), None)
        if parent is None or not child.hparams:
            continue
        parent.hparams.update(child.hparams)
        parent.config.update(child.config)
        parent.extra_summary.update(_summary(child.history()))
        for key in ("_step", "_timestamp", "_runtime"):
            parent.extra_summary.pop(key, None)
        parent.events += child.events
        parent.problems += child.problems
        del logs[path]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:96] or "tensorboard"


def _run_ids(root: Path, dirs: list[Path], run_id: str | None) -> dict[Path, tuple[str, str]]:
    """(run id, display name) per log directory: from the folder names, so a re-sync of the
    same folders extends the same runs."""
    base = root if root.is_dir() else root.parent
    out: dict[Path, tuple[str, str]] = {}
    for path in dirs:
        rel = path.relative_to(base).as_posix()
        name = base.resolve().name if rel == "." else rel
        if run_id and len(dirs) == 1:
            out[path] = (run_id, name)
        elif run_id:
            out[path] = (f"{run_id}-{_slug(name)}", name)
        else:
            out[path] = (_slug(name), name)
    return out


def _existing(session: Session, entity: str, project: str, run_id: str) -> Run | None:
    """The run as the server has it now (not `api.run`'s cache: its line count is the
    high-water mark, and must be current)."""
    try:
        return Run(session, entity, project, run_id).load()
    except NotFoundError:
        return None


def _dumps(row: dict[str, Any]) -> str:
    # NaN/Infinity as W&B's client writes them (TensorBoard losses do diverge).
    return json.dumps(row, separators=(",", ":"))


def _send(session: Session, run: Run, offset: int, rows: list[dict[str, Any]],
          summary: dict[str, Any], bar: Any) -> None:  # fmt: skip
    url = f"{session.base_url}/files/{run.entity}/{run.project}/{run.id}/file_stream"
    chunks = [rows[i : i + ROWS_PER_REQUEST] for i in range(0, len(rows), ROWS_PER_REQUEST)]
    for index, chunk in enumerate(chunks or [[]]):
        files: dict[str, Any] = {}
        if chunk:
            files["wandb-history.jsonl"] = {"offset": offset,
                                            "content": [_dumps(r) for r in chunk]}  # fmt: skip
        if index == len(chunks or [[]]) - 1:
            files["wandb-summary.json"] = {"offset": 0, "content": [_dumps(summary)]}
        body: dict[str, Any] = {"files": files}
        session.client.request("POST", url, json=body, what=f"file_stream of run {run.path}")
        offset += len(chunk)
        if bar is not None:
            bar.update(len(chunk))


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The latest value of every scalar (histograms stay in history)."""
    out: dict[str, Any] = {}
    for row in rows:
        out.update({k: v for k, v in row.items() if not isinstance(v, dict)})
    return out


def sync_log_dir(
    session: Session, log_dir: LogDir, entity: str, project: str, run_id: str, name: str,
    progress: bool = True,
) -> SyncResult:  # fmt: skip
    """Create or extend the run of one log directory with what it holds."""
    rows = log_dir.history()
    config = {**log_dir.config, **log_dir.hparams}
    run = _existing(session, entity, project, run_id)
    created = run is None
    lines = 0
    if run is None:
        run = create_run(session, entity, project, run_id, display_name=name,
                         config=config or None, state="finished")  # fmt: skip
        offset, pending = 0, rows
    else:
        if config and any(run.config.get(k) != v for k, v in config.items()):
            run.config = {**run.config, **config}
            run.update()
        lines = run.history_line_count
        last = int(run.history_keys.get("lastStep", -1))
        if lines and last >= 0:
            # Rewrite the last stored row (its step may have gained tags), append the rest.
            pending = [r for r in rows if r["_step"] >= last]
            offset = lines - 1 if pending and pending[0]["_step"] == last else lines
        else:
            offset, pending = lines, rows
    with tqdm(total=len(pending), desc=f"{name}: rows", unit="row", disable=not progress,
              leave=False) as bar:  # fmt: skip
        _send(session, run, offset, pending, {**_summary(rows), **log_dir.extra_summary}, bar)
    session.forget_run(*run.path)  # `api.run(path)` fetches the synced run afresh
    new_rows = max(0, offset + len(pending) - lines)
    return SyncResult(run.path_str, log_dir.path, log_dir.events, new_rows, len(rows), created,
                      list(log_dir.problems))  # fmt: skip


def sync_tensorboard(
    session: Session,
    root_dir: str | Path,
    run_id: str | None = None,
    project: str | None = None,
    entity: str | None = None,
    *,
    progress: bool = True,
) -> list[SyncResult]:
    """Sync every log directory under `root_dir`; see the module docstring."""
    _require_tensorboard()
    root = Path(root_dir).expanduser()
    where = parse_project_path(project or "", entity=entity or session.default_entity,
                               project=session.settings["project"])  # fmt: skip
    found = find_log_dirs(root)
    names = _run_ids(root, list(found), run_id)
    total = sum(f.stat().st_size for files in found.values() for f in files)
    results = []
    with tqdm(total=total, desc="reading event files", unit="B", unit_scale=True,
              disable=not progress) as bar:  # fmt: skip
        logs = {path: read_log_dir(path, files, bar) for path, files in found.items()}
    _fold_hparams_folders(logs)
    for path, log_dir in logs.items():
        rid, name = names[path]
        result = sync_log_dir(session, log_dir, where.entity, where.project, rid, name, progress)
        for problem in result.problems:
            warnings.warn(f"sync_tensorboard: {problem}", stacklevel=2)
        results.append(result)
    return results
