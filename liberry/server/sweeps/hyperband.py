"""Hyperband early termination: which running runs of a sweep to stop.

The rule. The config's ``early_terminate`` gives the *bands*: iteration counts, ascending (see
`bands`). A run's iterations are the rows of its history that carry the sweep's metric. At each
band ``b`` a run has reached (it logged the metric at least ``b`` times), its value at ``b`` is
the best of its first ``b`` values (with ``strict: true``, the ``b``-th value itself). Every run
of the sweep that reached ``b``, finished or not, is ranked by its value at ``b``; with ``n`` of
them, the best ``ceil(n / eta)`` survive, and runs tied with the last survivor survive too. A
running run that does not survive at some band it reached is stopped. A run alone at a band
always survives. Missing values (NaN) count as the worst.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from liberry.server.sweeps.config import Hyperband, SweepConfig

__all__ = ["bands", "runs_to_stop"]

# brackets when only min_iter is given (neither max_iter nor s)
DEFAULT_BRACKETS = 3


def bands(et: Hyperband) -> list[int]:
    """The iteration counts at which runs are judged, ascending and distinct.

    With ``min_iter``: ``min_iter * eta**k`` for k = 0, 1, ... up to ``max_iter`` when given,
    else ``s`` (or 3) of them. With ``max_iter`` and ``s``: ``max_iter / eta**k`` for
    k = s, ..., 1. Counts are rounded to integers of at least 1.
    """
    if et.min_iter is not None:
        out: list[int] = []
        k = 0
        while True:
            band = max(1, round(et.min_iter * et.eta**k))
            if et.max_iter is not None and band > et.max_iter:
                break
            if et.max_iter is None and k >= (et.s or DEFAULT_BRACKETS):
                break
            out.append(band)
            k += 1
        return sorted(set(out))
    assert et.max_iter is not None and et.s is not None
    return sorted({max(1, round(et.max_iter / et.eta**k)) for k in range(et.s, 0, -1)})


def runs_to_stop(
    cfg: SweepConfig, histories: Mapping[str, Sequence[float]], running: Iterable[str]
) -> set[str]:
    """The running runs hyperband stops, given every run's metric values in logged order."""
    et = cfg.early_terminate
    live = set(running)
    if et is None or cfg.metric is None or not live:
        return set()
    maximize = cfg.metric.goal == "maximize"
    # compare as "lower is better" throughout: negate when maximizing
    sign = -1.0 if maximize else 1.0
    scores = {
        run: [math.inf if math.isnan(v) else sign * v for v in map(float, values)]
        for run, values in histories.items()
    }
    stopped: set[str] = set()
    for band in bands(et):
        at_band = {
            run: (s[band - 1] if et.strict else min(s[:band]))
            for run, s in scores.items()
            if len(s) >= band
        }
        candidates = live.intersection(at_band) - stopped
        if len(at_band) < 2 or not candidates:
            continue
        ranked = sorted(at_band.values())
        cutoff = ranked[math.ceil(len(ranked) / et.eta) - 1]
        stopped.update(run for run in candidates if at_band[run] > cutoff)
    return stopped
