"""The example notebook runs top to bottom against a demo server, as `liberry demo` opens it."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from liberry import demo, demo_lineage, demo_sweep
from liberry.server import start

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with start(data_dir=tmp_path / "data") as srv:
        assert demo.seed(srv.url, srv.api_key, runs=40, steps=(50, 120)) == 40
        assert demo_sweep.seed_sweep(srv.url, srv.api_key, runs=12) == 12
        assert demo_lineage.seed_lineage(srv.url, srv.api_key, runs=40)
        monkeypatch.setenv("LIBERRY_BASE_URL", srv.url)
        monkeypatch.setenv("LIBERRY_API_KEY", srv.api_key)
        nb = nbformat.read(NOTEBOOK, as_version=4)
        NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    text = json.dumps([o for o in outputs])
    assert "42 runs" in text  # 40 training runs, the data preparation and the evaluation
    # the run table, the sweep explorer and the lineage view were displayed
    assert text.count("application/vnd.jupyter.widget-view+json") >= 3
    assert "cifar10-bayes" in text  # the sweep's repr
    # The key must never end up in the saved notebook.
    assert srv.api_key not in text


def test_demo_plan_is_deterministic() -> None:
    a = demo.plan(30, (100, 200))
    b = demo.plan(30, (100, 200))
    assert [(r.name, r.config, r.final_state, r.steps) for r in a] == [
        (r.name, r.config, r.final_state, r.steps) for r in b
    ]
    states = {r.final_state for r in demo.plan(240)}
    assert states == {"finished", "failed", "crashed", "running"}
    rows = list(a[0].rows(0, 200))
    assert rows[0]["_step"] == 0 and "val_loss" in rows[99] and "val_loss" not in rows[98]
