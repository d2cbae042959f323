"""Parameter importance against a sweep's metric: correlation and a small random forest.

W&B's sweep page shows, per hyperparameter, its correlation with the metric and an
"importance" from a random forest fitted to predict the metric from all the parameters. Both
are computed here, in the kernel, with numpy only.

Why not scikit-learn: it would add scikit-learn, SciPy, joblib and threadpoolctl (some 60 MB)
to every install and about a second to the first import in the kernel, for one estimator. The
forest below is the usual one, shrunk to what importance needs: regression trees on features
binned into at most `BINS` quantile bins (a split is chosen from cumulative bin sums, so one
node costs one `bincount` per feature, not a sort), bootstrap samples, a random subset of
features per split, and the mean decrease in impurity (variance) summed over the splits on
each feature, normalised to sum to 1. Seeded: the same runs give the same bars.

Categorical parameters enter the forest as their category codes (a tree can still isolate any
single category in a few splits); their correlation is the correlation ratio (eta, in [0, 1]:
how much of the metric's variance the categories explain), since a sign means nothing there.
Numeric parameters on a log axis are correlated (and binned) in log space, as they are drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Feature", "Importance", "compute_importance", "correlation", "forest_importance"]

#: Quantile bins per feature (split candidates per node).
BINS = 32
#: Trees, depth and leaf size: enough for stable bars on a few thousand runs, and about a
#: quarter of a second for 10,000 runs with 8 parameters on one core.
TREES = 32
MAX_DEPTH = 6
MIN_LEAF = 5
#: Above this many runs each tree sees a random subsample of this size (the bars do not move
#: much beyond it, and the time stays bounded for any sweep).
MAX_SAMPLES = 3000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Feature:
    """One parameter's values for every run (NaN where a run has none)."""

    name: str
    values: FloatArray
    categorical: bool = False
    log: bool = False


@dataclass(frozen=True)
class Importance:
    """One parameter's bar: `importance` (forest, sums to 1 over the parameters) and
    `correlation` (Pearson, or eta for a categorical parameter); None when undefined."""

    name: str
    importance: float | None
    correlation: float | None

    def as_dict(self) -> dict[str, float | str | None]:
        return {"name": self.name, "importance": self.importance, "correlation": self.correlation}


def _prepared(feature: Feature) -> FloatArray:
    values = np.asarray(feature.values, dtype=np.float64)
    if feature.log and not feature.categorical:
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(values > 0, np.log10(values), np.nan)
    return values


def correlation(feature: Feature, metric: FloatArray) -> float | None:
    """Pearson correlation of a numeric parameter with the metric (over runs that have both),
    or the correlation ratio of a categorical one; None with fewer than 3 such runs or no
    variance."""
    x = _prepared(feature)
    y = np.asarray(metric, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return None
    x, y = x[ok], y[ok]
    if feature.categorical:
        total = float(((y - y.mean()) ** 2).sum())
        if total <= 0:
            return None
        codes = x.astype(np.int64)
        counts = np.bincount(codes)
        sums = np.bincount(codes, weights=y)
        used = counts > 0
        means = sums[used] / counts[used]
        between = float((counts[used] * (means - y.mean()) ** 2).sum())
        return math.sqrt(max(0.0, min(1.0, between / total)))
    sx, sy = x.std(), y.std()
    if sx <= 0 or sy <= 0:
        return None
    return float(np.clip(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy), -1.0, 1.0))


def _binned(values: FloatArray) -> tuple[IntArray, int]:
    """Bin codes 0..k-1 by quantiles (k <= BINS); NaN gets its own last bin."""
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(len(values), dtype=np.int64), 1
    distinct = np.unique(values[finite])
    if len(distinct) <= BINS:
        edges = (distinct[1:] + distinct[:-1]) / 2
    else:
        edges = np.unique(np.quantile(values[finite], np.linspace(0, 1, BINS + 1)[1:-1]))
    codes = np.searchsorted(edges, np.where(finite, values, 0.0)).astype(np.int64)
    k = len(edges) + 1
    if not finite.all():
        codes[~finite] = k
        k += 1
    return codes, k


def forest_importance(
    features: Sequence[Feature], metric: FloatArray, seed: int = 0
) -> list[float] | None:
    """Mean decrease in impurity of a random regression forest, per feature (sums to 1);
    None with fewer than `2 * MIN_LEAF` runs that logged the metric, or a constant metric."""
    y_all = np.asarray(metric, dtype=np.float64)
    keep = np.isfinite(y_all)
    n = int(keep.sum())
    if not features or n < 2 * MIN_LEAF:
        return None
    y = y_all[keep]
    if float(y.var()) <= 0:
        return None
    binned = [_binned(_prepared(f)[keep]) for f in features]
    codes = np.stack([c for c, _ in binned])  # (features, runs)
    sizes = [k for _, k in binned]
    rng = np.random.default_rng(seed)
    gains = np.zeros(len(features))
    per_split = max(1, math.ceil(len(features) / 3)) if len(features) > 3 else len(features)
    sample = min(n, MAX_SAMPLES)
    for _ in range(TREES):
        rows = rng.integers(0, n, size=sample)  # bootstrap
        _grow(codes[:, rows], sizes, y[rows], gains, rng, per_split)
    total = float(gains.sum())
    if total <= 0:
        return [0.0] * len(features)
    return [float(g / total) for g in gains]


def _grow(
    codes: IntArray,
    sizes: list[int],
    y: FloatArray,
    gains: FloatArray,
    rng: np.random.Generator,
    per_split: int,
) -> None:
    """One tree, breadth first; adds each split's impurity decrease to `gains[feature]`."""
    stack: list[tuple[IntArray, int]] = [(np.arange(len(y)), 0)]
    n_features = codes.shape[0]
    while stack:
        idx, depth = stack.pop()
        m = len(idx)
        if depth >= MAX_DEPTH or m < 2 * MIN_LEAF:
            continue
        yy = y[idx]
        parent = float(((yy - yy.mean()) ** 2).sum())
        if parent <= 1e-12:
            continue
        best: tuple[float, int, int] | None = None  # (gain, feature, threshold bin)
        for f in rng.choice(n_features, size=per_split, replace=False):
            c = codes[f, idx]
            k = sizes[f]
            counts = np.bincount(c, minlength=k)
            sums = np.bincount(c, weights=yy, minlength=k)
            squares = np.bincount(c, weights=yy * yy, minlength=k)
            left_n = np.cumsum(counts)[:-1]
            left_s = np.cumsum(sums)[:-1]
            left_q = np.cumsum(squares)[:-1]
            right_n = m - left_n
            ok = (left_n >= MIN_LEAF) & (right_n >= MIN_LEAF)
            if not ok.any():
                continue
            right_s = sums.sum() - left_s
            right_q = squares.sum() - left_q
            with np.errstate(divide="ignore", invalid="ignore"):
                sse = (left_q - left_s**2 / left_n) + (right_q - right_s**2 / right_n)
            sse = np.where(ok, sse, np.inf)
            t = int(np.argmin(sse))
            gain = parent - float(sse[t])
            if best is None or gain > best[0]:
                best = (gain, int(f), t)
        if best is None or best[0] <= 0:
            continue
        gain, f, t = best
        gains[f] += gain
        go_left = codes[f, idx] <= t
        stack.append((idx[go_left], depth + 1))
        stack.append((idx[~go_left], depth + 1))


def compute_importance(
    features: Sequence[Feature], metric: FloatArray, seed: int = 0
) -> list[Importance]:
    """Every parameter's importance and correlation, most important first (then by the size
    of the correlation; parameters with neither last, in their given order)."""
    forest = forest_importance(features, metric, seed)
    found = [
        Importance(f.name, None if forest is None else forest[i], correlation(f, metric))
        for i, f in enumerate(features)
    ]

    def rank(item: tuple[int, Importance]) -> tuple[float, float, int]:
        i, imp = item
        return (-(imp.importance or 0.0), -abs(imp.correlation or 0.0), i)

    return [imp for _, imp in sorted(enumerate(found), key=rank)]
