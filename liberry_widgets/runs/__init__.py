"""The run table widget (mirrors `js/runs/`).

    widget.py    `Runs`: traits, the Python API, the requests its view sends
    paging.py    pages of runs for any filters and order, cursors and counts kept
    columns.py   the project's keys, and the default columns
    rows.py      runs as the view's rows
    detail.py    one run's details and history chart
    snapshot.py  the first page as HTML, for hosts without widgets
    query/       the search box's syntax, text <-> filter
"""

from .widget import Runs

__all__ = ["Runs"]
