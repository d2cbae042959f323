"""Writes notebooks/quickstart.ipynb (run: python notebooks/make_quickstart.py).

Kept as code so the notebook stays reviewable and always has kernelspec metadata.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    new_markdown_cell(
        "# liberry quickstart\n\n"
        "`liberry demo` started a local, W&B-compatible server filled with an "
        "image-classification project, and set `LIBERRY_BASE_URL` / `LIBERRY_API_KEY` for this "
        "kernel, so `liberry.Api()` needs no arguments (and no key is ever written into this "
        "notebook). Point the same code at W&B's cloud or any W&B-compatible server with "
        "`WANDB_BASE_URL` / `WANDB_API_KEY`."
    ),
    new_code_cell("import liberry\n\napi = liberry.Api()\napi"),
    new_markdown_cell(
        "## The run table\n\nSort by clicking a header, filter with the search box "
        "(try `lr>=0.01 optimizer:adam state:finished`), pick columns, click a row for details, "
        "and tick a few runs: the selection is readable from Python below."
    ),
    new_code_cell('table = liberry.widgets.Runs("demo/image-classification")\ndisplay(table)'),
    new_code_cell(
        "# The runs you ticked in the table above\n"
        '[(run.name, run.config["optimizer"], run.summary.get("accuracy")) '
        "for run in table.selected_runs]"
    ),
    new_markdown_cell("## Plain Python: every run as a DataFrame, one query per page"),
    new_code_cell(
        'runs = api.runs("demo/image-classification")\n'
        "df = runs.to_pandas()\n"
        'print(len(df), "runs")\n'
        'columns = ["name", "state", "config.architecture", "config.optimizer",\n'
        '           "config.learning_rate", "summary.accuracy"]\n'
        "df[columns].head()"
    ),
    new_code_cell(
        '(df[df.state == "finished"]\n'
        ' .groupby(["config.architecture", "config.optimizer"])["summary.accuracy"]\n'
        ' .agg(["count", "mean", "max"])\n'
        ' .sort_values("max", ascending=False))'
    ),
    new_code_cell(
        "import altair as alt\n\n"
        "# JupyterLab, VS Code and Colab draw Vega-Lite 5 themselves: no CDN, works offline.\n"
        'alt.renderers.enable("mimetype")\n\n'
        'alt.Chart(df[df.state == "finished"]).mark_circle(size=40).encode(\n'
        '    x=alt.X("config.learning_rate:Q", scale=alt.Scale(type="log"),\n'
        '            title="learning rate"),\n'
        '    y=alt.Y("summary.accuracy:Q", scale=alt.Scale(zero=False), title="final accuracy"),\n'
        '    color="config.architecture:N",\n'
        '    tooltip=["name", "config.optimizer", "config.batch_size"],\n'
        ").properties(width=520, height=300)"
    ),
    new_markdown_cell("## One run's history"),
    new_code_cell(
        'best = api.runs("demo/image-classification", filters={"state": "finished"},\n'
        '                order="-summary_metrics.accuracy", per_page=1)[0]\n'
        'history = best.history(samples=300, keys=["loss", "val_loss"])\n'
        "best, history.tail()"
    ),
    new_markdown_cell(
        "## A hyperparameter sweep\n\n`demo/hparam-search` holds a bayes sweep that the "
        "server's own controller ran (the same one `wandb.sweep` / `wandb agent` talk to). Brush "
        "ranges on the axes to narrow the runs; importance is recomputed for what you brush."
    ),
    new_code_cell(
        'sweep = api.sweeps("demo/hparam-search")[0]\n'
        "explorer = liberry.widgets.Sweep(sweep)\n"
        "display(explorer)\n"
        "sweep, sweep.best_run()"
    ),
    new_markdown_cell(
        "## Artifact lineage\n\nThe dataset, the twelve runs trained on it, their model "
        "versions and the evaluation that used the latest one: one request for the whole graph. "
        "Click a stack to open it, a node for its details (then read `graph.selected`)."
    ),
    new_code_cell(
        'graph = liberry.widgets.Lineage("demo/image-classification/cifar10:latest")\n'
        "display(graph)"
    ),
]


def build() -> nbformat.NotebookNode:
    nb = new_notebook(cells=CELLS)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


if __name__ == "__main__":
    out = Path(__file__).with_name("quickstart.ipynb")
    nbformat.write(build(), out)
    print(f"wrote {out}")
