"""Read a run back through a W&B-style Api (`wandb.Api` or `liberry.Api`) into plain values.

Both Apis expose the same surface (`api.run(path)`, `.config`, `.summary`, `.scan_history()`,
`.files()` ...), so one function reads either and the tests compare the results with what
the training script logged.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

INTERNAL_SUMMARY = ("_wandb", "_runtime", "_timestamp")


def plain(value: Any) -> Any:
    """Lists/dicts of JSON-ish values (the Apis may return their own mapping types)."""
    if hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN and ints compare equal to floats of the same value."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def user_summary(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k not in INTERNAL_SUMMARY}


def read_run(api: Any, path: str, download_to: Path | None = None) -> dict[str, Any]:
    """Everything the compat tests compare, read through `api`."""
    run = api.run(path)
    snapshot: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "state": run.state,
        "config": plain(run.config),
        "summary": plain(run.summary),
        "tags": list(run.tags),
        "group": run.group,
        "job_type": run.job_type,
        "notes": run.notes,
        "history": [plain(r) for r in run.scan_history()],
    }
    files = {f.name: f for f in run.files()}
    snapshot["files"] = sorted(files)
    if download_to is not None:
        contents: dict[str, bytes] = {}
        for name, f in files.items():
            local = f.download(root=str(download_to), replace=True)
            if hasattr(local, "close"):  # wandb returns an open file, liberry a Path
                local.close()
            contents[name] = (download_to / name).read_bytes()
        snapshot["file_bytes"] = contents
    return snapshot
