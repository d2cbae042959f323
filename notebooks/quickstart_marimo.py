"""liberry's run table in marimo (the Jupyter twin is quickstart.ipynb).

With a server running (`liberry demo --no-jupyter` fills one with demo runs):

    LIBERRY_BASE_URL=http://127.0.0.1:8787 LIBERRY_API_KEY=$(cat ~/.liberry/demo/api_key) \
        marimo edit notebooks/quickstart_marimo.py

`liberry.Api()` reads LIBERRY_BASE_URL / LIBERRY_API_KEY (then WANDB_*), so no key is ever
written into this notebook.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo

    import liberry

    return liberry, mo


@app.cell
def _(mo):
    mo.md(
        """
        # liberry quickstart (marimo)

        Sort by clicking a header, filter with the search box (try
        `lr>=0.01 optimizer:adam state:finished`), click a row for details, and tick a few
        runs: the cell below the table re-runs with your selection.
        """
    )
    return


@app.cell
def _(liberry, mo):
    api = liberry.Api()
    table = mo.ui.anywidget(liberry.widgets.Runs("demo/image-classification", api=api))
    table
    return api, table


@app.cell
def _(mo, table):
    # Reading `table.value` makes this cell re-run whenever the selection changes.
    _ids = table.value.get("selected") or []
    _names = [run.name for run in table.widget.selected_runs] if _ids else []
    mo.md("**Selected runs:** " + (", ".join(f"`{name}`" for name in _names) or "none yet"))
    return


@app.cell
def _(api, mo):
    df = api.runs("demo/image-classification").to_pandas()
    mo.vstack([mo.md(f"{len(df)} runs, one query per page:"), df.head()])
    return


if __name__ == "__main__":
    app.run()
