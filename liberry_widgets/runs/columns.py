"""The project's config and summary keys (the column chooser and the search box's key
resolution), and the columns a table shows before the user picks any. Mirrors
`js/runs/columns.ts`."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from .query import KeyContext
from .rows import HIDDEN_SUMMARY, flat, is_number

if TYPE_CHECKING:
    from liberry import Run

__all__ = ["DEFAULT_CONFIG_COLUMNS", "DEFAULT_SUMMARY_COLUMNS", "ProjectKeys", "default_columns"]

#: How many config keys and summary metrics the default view shows at most.
DEFAULT_CONFIG_COLUMNS = 6
DEFAULT_SUMMARY_COLUMNS = 6


class ProjectKeys:
    """The project's keys, asked for once (until `clear`), with the dotted keys of nested
    values filled in from the runs served (a server may list only the top-level key,
    `model`, for `model.depth`).

    Args:
        fetch: the project's (config, summary) keys from the server (`Api.run_keys`).
        first_page: some runs to learn nested keys from before any page was served.
    """

    def __init__(
        self,
        fetch: Callable[[], tuple[list[str], list[str]]],
        first_page: Callable[[], Sequence[Run]],
    ) -> None:
        self._fetch = fetch
        self._first_page = first_page
        self._keys: tuple[list[str], list[str]] | None = None
        self._seen: tuple[dict[str, None], dict[str, None]] = ({}, {})
        self._served = False
        # Pages served but not yet read for nested keys (see `remember`).
        self._unread: deque[Sequence[Run]] = deque()

    def lists(self) -> tuple[list[str], list[str]]:
        """(config keys, summary keys), nested ones dotted, W&B's own summary keys left out."""
        if not self._served:
            self.remember(self._first_page())
        if self._keys is None:
            config, summary = self._fetch()
            summary = [k for k in summary if not k.startswith(HIDDEN_SUMMARY)]
            self._keys = (sorted(config, key=_key_order), sorted(summary, key=_key_order))
        config, summary = self._keys
        self._read()
        return _expand(config, self._seen[0]), _expand(summary, self._seen[1])

    def remember(self, runs: Sequence[Run]) -> None:
        """Keep served runs to note the dotted keys of their nested values. They are read
        when the keys are next asked for: reading them now would hold the GIL while the
        page's reply is sent."""
        self._served = True
        self._unread.append(runs)
        if len(self._unread) > 32:
            self._read()

    def context(self, fetch: bool) -> KeyContext:
        """The keys as the query parser needs them; with `fetch`, ask the server first when
        they are not known (no server: bare keys default to config)."""
        if self._keys is None and fetch:
            try:
                self.lists()
            except Exception:
                return KeyContext()
        config, summary = self._keys or ([], [])
        return KeyContext(config=config, summary=summary)

    def clear(self) -> None:
        """Ask the server again next time (after a refresh)."""
        self._keys = None

    def _read(self) -> None:
        while True:
            try:
                runs = self._unread.popleft()
            except IndexError:
                return
            for run in runs:
                self._seen[0].update(dict.fromkeys(k for k in flat(run.config) if "." in k))
                summary = flat(run.summary, skip=HIDDEN_SUMMARY)
                self._seen[1].update(dict.fromkeys(k for k in summary if "." in k))


def default_columns(runs: Sequence[Run], config: list[str], summary: list[str]) -> list[str]:
    """Name, state, created; tags and group when used; config keys whose values differ
    between the shown runs that set them (all of them for a single run: a run without the
    key, such as a data-preparation run among training runs, makes no column of it); then
    the summary metrics."""
    columns = ["name", "state", "created_at"]
    if any(run.tags for run in runs):
        columns.append("tags")
    if any(run.group for run in runs):
        columns.append("group")
    configs = [flat(run.config) for run in runs]
    varying = [
        key
        for key in config
        if len(configs) <= 1
        or len({json.dumps(c[key], sort_keys=True) for c in configs if key in c}) > 1
    ]
    columns += [f"config.{k}" for k in varying[:DEFAULT_CONFIG_COLUMNS]]
    summaries = [flat(run.summary, skip=HIDDEN_SUMMARY) for run in runs]
    metrics = [
        key
        for key in summary
        if not key.startswith("_")
        and (not summaries or any(is_number(s.get(key)) for s in summaries))
    ]
    columns += [f"summary.{k}" for k in metrics[:DEFAULT_SUMMARY_COLUMNS]]
    return columns


def _key_order(key: str) -> tuple[bool, str]:
    return (key.startswith("_"), key.lower())


def _expand(keys: list[str], dotted: Mapping[str, None]) -> list[str]:
    """`keys`, with a top-level key replaced by the dotted keys seen under it."""
    out: list[str] = []
    for key in keys:
        nested = sorted((k for k in dotted if k.startswith(key + ".")), key=_key_order)
        out.extend(nested or [key])
    return out
