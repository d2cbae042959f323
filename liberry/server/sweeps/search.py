"""Pick the next run's parameters for a sweep: grid, random or bayes (Optuna's TPE).

`next_params` is a pure function of the config and the sweep's runs so far (`Trial`), except
for bayes's optional in-process study cache (see `next_params`). Parameters are flat dotted
paths (``{"optimizer.lr": 0.01}``); `liberry.server.sweeps.config.nest` turns them into a run
config.

Values are compared by canonical JSON, since they come back from the store after a JSON round
trip: ``1`` equals ``1.0``, dict key order does not matter, ``True`` differs from ``1``.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from liberry.server.sweeps.config import Param, SweepConfig, grid_values

__all__ = ["Trial", "canonical", "next_params"]

# run states whose metric is final, and those that are still going (steer agents apart)
COMPLETE_STATES = frozenset({"finished"})
LIVE_STATES = frozenset({"pending", "running", "preempting", "preempted"})
N_STARTUP_TRIALS = 10
CACHE_SIZE = 32
# normal-family distributions are searched over mu +- this many sigmas
SIGMAS = 4.0
_MISSING = object()


@dataclass(frozen=True)
class Trial:
    """One run of the sweep as the search sees it."""

    params: Mapping[str, Any]
    metric: float | None = None
    state: str = "finished"
    #: Stopped by early termination: its last metric is a (pessimistic) result all the same,
    #: so the search learns that this region is poor instead of forgetting the run.
    stopped: bool = False


def next_params(
    cfg: SweepConfig,
    trials: Sequence[Trial],
    *,
    seed: int | None = None,
    cache_key: Hashable | None = None,
) -> dict[str, Any] | None:
    """The flat params of the next run, or None when grid search has tried every point.

    `trials` are all the sweep's runs so far, in creation order. `seed` makes a call
    deterministic for given trials; it is mixed with ``len(trials)`` so successive calls differ.
    `cache_key` (bayes only; e.g. the sweep id) keeps that sweep's Optuna study between calls
    and only adds the trials it has not seen. The run cap is the caller's business.
    """
    if cfg.method == "grid":
        return _next_grid(cfg, trials)
    if cfg.method == "random":
        return _sample_random(cfg.params, np.random.default_rng(_mix_seed(seed, len(trials))))
    return _next_bayes(cfg, trials, seed, cache_key)


# --- canonical values ----------------------------------------------------------------------


def canonical(value: Any) -> str:
    """A value's canonical JSON: integral floats as ints, keys sorted."""
    return json.dumps(_canonical_value(value), sort_keys=True, separators=(",", ":"))


def _canonical_value(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple):
        return [_canonical_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _canonical_value(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return _canonical_value(value.item())
    return value


def _lookup(params: Mapping[str, Any], path: str) -> Any:
    """A trial's value at a dotted path; params may be flat (the norm) or nested."""
    if path in params:
        return params[path]
    node: Any = params
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _hashable(value: Any) -> Hashable:
    """A value's identity for grid bookkeeping: equal for values equal as JSON (1 == 1.0,
    true != 1, key order ignored). Plain scalars skip the JSON round trip: this runs for every
    parameter of every trial at every heartbeat."""
    kind = type(value)
    if kind is str:
        return ("s", value)
    if kind is bool or value is None:
        return ("b", value)
    if kind is int:
        return ("n", value)
    if kind is float and math.isfinite(value):
        return ("n", int(value) if value.is_integer() else value)
    return ("j", canonical(value))


def _point_key(params: Mapping[str, Any], paths: Sequence[str]) -> tuple[Hashable, ...] | None:
    values = [_lookup(params, path) for path in paths]
    if any(v is _MISSING for v in values):
        return None
    return tuple(_hashable(v) for v in values)


def _point_text(params: Mapping[str, Any], paths: Sequence[str]) -> str | None:
    """A trial's point as text the bayes study can decode (canonical JSON per parameter)."""
    values = [_lookup(params, path) for path in paths]
    if any(v is _MISSING for v in values):
        return None
    return "\x1f".join(canonical(v) for v in values)


# --- grid ----------------------------------------------------------------------------------


def _next_grid(cfg: SweepConfig, trials: Sequence[Trial]) -> dict[str, Any] | None:
    """The first grid point (last parameter varying fastest) that no trial has used."""
    paths = [p.path for p in cfg.params]
    seen = {_point_key(t.params, paths) for t in trials}
    axes = [grid_values(p) for p in cfg.params]
    keys = [[_hashable(v) for v in axis] for axis in axes]
    for point in itertools.product(*(range(len(axis)) for axis in axes)):
        if tuple(keys[i][j] for i, j in enumerate(point)) not in seen:
            return {paths[i]: copy.deepcopy(axes[i][j]) for i, j in enumerate(point)}
    return None


# --- random --------------------------------------------------------------------------------


def _mix_seed(seed: int | None, n: int) -> np.random.SeedSequence | None:
    return None if seed is None else np.random.SeedSequence([seed, n])


def _sample_random(params: Sequence[Param], rng: np.random.Generator) -> dict[str, Any]:
    return {p.path: _sample(p, rng) for p in params}


def _sample(p: Param, rng: np.random.Generator | None) -> Any:
    """One draw from a parameter's distribution, as a plain Python value (rng: not constants)."""
    d = p.distribution
    if p.values is not None:
        if d == "constant" or rng is None:
            return copy.deepcopy(p.values[0])
        if d == "categorical_w":
            weights = np.asarray(p.probabilities, dtype=float)
            index = int(rng.choice(len(p.values), p=weights / weights.sum()))
        else:
            index = int(rng.integers(len(p.values)))
        return copy.deepcopy(p.values[index])
    assert rng is not None
    if d == "int_uniform":
        assert p.min is not None and p.max is not None
        return int(rng.integers(int(p.min), int(p.max), endpoint=True))
    x = _draw_continuous(p, rng)
    if p.q is None:
        return x
    k = round(x / p.q)
    k_range = p.q_range()
    if k_range is not None:  # bounded: stay on the multiples inside the bounds
        k = min(max(k, k_range[0]), k_range[1])
    return p.q_value(k)


def _draw_continuous(p: Param, rng: np.random.Generator) -> float:
    """The unquantized draw (q_ distributions round it afterwards)."""
    base = p.distribution.removeprefix("q_")
    if base in ("normal", "log_normal"):
        assert p.mu is not None and p.sigma is not None
        x = float(rng.normal(p.mu, p.sigma))
        return math.exp(x) if base == "log_normal" else x
    if base == "beta":
        assert p.a is not None and p.b is not None
        return float(rng.beta(p.a, p.b))
    assert p.min is not None and p.max is not None
    lo, hi = float(p.min), float(p.max)
    if base == "uniform":
        return float(rng.uniform(lo, hi))
    if base == "log_uniform":
        return math.exp(rng.uniform(lo, hi))
    if base == "inv_log_uniform":
        return math.exp(-rng.uniform(lo, hi))
    if base in ("log_uniform_values", "inv_log_uniform_values"):
        # 1/X log-uniform on [1/max, 1/min] is X log-uniform on [min, max]
        return min(max(math.exp(rng.uniform(math.log(lo), math.log(hi))), lo), hi)
    raise AssertionError(f"unhandled distribution {p.distribution}")


# --- bayes (Optuna TPE) --------------------------------------------------------------------


@dataclass
class _Dim:
    """A parameter as an Optuna distribution, with the maps between W&B and Optuna values."""

    param: Param
    dist: Any  # optuna.distributions.BaseDistribution
    encode: Callable[[Any], Any]  # W&B value -> Optuna value, or _MISSING when outside
    decode: Callable[[Any], Any]


@dataclass
class _Study:
    """A cached study and what it was built from, to add only new trials next time."""

    fingerprint: str
    study: Any  # optuna.Study
    storage: Any  # optuna.storages.InMemoryStorage
    study_id: int
    synced: list[tuple[str | None, str, float | None]] = field(default_factory=list)
    trial_ids: list[int | None] = field(default_factory=list)


# Per process, and safe with `--workers`: every call passes the trials read from the database
# and `_cached_study` syncs them in (or rebuilds), so trials another worker handed out count.
# Only the sampler's random stream differs from worker to worker.
_cache: OrderedDict[Hashable, _Study] = OrderedDict()
_cache_lock = threading.Lock()


def _next_bayes(
    cfg: SweepConfig, trials: Sequence[Trial], seed: int | None, cache_key: Hashable | None
) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dims = [_dim(p) for p in cfg.params]
    # constants are not searched; their value is values[0]
    fixed = {d.param.path: _sample(d.param, None) for d in dims if d.dist is None}
    search = [d for d in dims if d.dist is not None]
    if not search:
        return fixed
    rows = [_classify(t, search) for t in trials]
    with _cache_lock:
        entry = _cached_study(cfg, search, rows, seed, cache_key)
        distributions = {d.param.path: d.dist for d in search}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            asked = entry.study.ask(distributions)
        # the caller reports this run back as a pending trial: keep no duplicate of it
        entry.study.tell(asked, state=optuna.trial.TrialState.FAIL)
    chosen = {d.param.path: d.decode(asked.params[d.param.path]) for d in search}
    return {p.path: fixed[p.path] if p.path in fixed else chosen[p.path] for p in cfg.params}


def _classify(trial: Trial, dims: Sequence[_Dim]) -> tuple[str | None, str, float | None]:
    """(point key, "complete" | "running" | "skip", metric) of a trial for the study."""
    key = _point_text(trial.params, [d.param.path for d in dims])
    metric = trial.metric
    if key is None:
        return None, "skip", None
    if trial.state in LIVE_STATES:
        return key, "running", None
    finished = trial.state in COMPLETE_STATES or trial.stopped
    if finished and metric is not None and math.isfinite(metric):
        return key, "complete", float(metric)
    return key, "skip", None


def _cached_study(
    cfg: SweepConfig,
    dims: Sequence[_Dim],
    rows: list[tuple[str | None, str, float | None]],
    seed: int | None,
    cache_key: Hashable | None,
) -> _Study:
    """The study for these trials: the cached one brought up to date, or a new one."""
    fingerprint = json.dumps([cfg.raw, seed], sort_keys=True, default=str)
    entry = _cache.get(cache_key) if cache_key is not None else None
    if entry is None or entry.fingerprint != fingerprint or not _extends(entry.synced, rows):
        # a fresh study's sampler sees a seed mixed with the trial count, so calls differ
        entry = _new_study(cfg, fingerprint, _mix_seed(seed, len(rows)))
        if cache_key is not None:
            _cache[cache_key] = entry
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    if cache_key is not None:
        _cache.move_to_end(cache_key)
    _sync(entry, rows, dims)
    return entry


def _extends(
    synced: Sequence[tuple[str | None, str, float | None]],
    rows: Sequence[tuple[str | None, str, float | None]],
) -> bool:
    """True when `rows` is `synced` plus new trials, where running trials may have ended."""
    if len(rows) < len(synced):
        return False
    return all(
        old == new or (old[1] == "running" and old[0] == new[0])
        for old, new in zip(synced, rows, strict=False)
    )


def _new_study(cfg: SweepConfig, fingerprint: str, seed: np.random.SeedSequence | None) -> _Study:
    import optuna

    assert cfg.metric is not None
    sampler_seed = None if seed is None else int(seed.generate_state(1)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            n_startup_trials=N_STARTUP_TRIALS,
            multivariate=True,
            constant_liar=True,
            seed=sampler_seed,
        )
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, sampler=sampler, direction=cfg.metric.goal)
    study_id = storage.get_study_id_from_name(study.study_name)
    return _Study(fingerprint, study, storage, study_id)


def _sync(
    entry: _Study, rows: list[tuple[str | None, str, float | None]], dims: Sequence[_Dim]
) -> None:
    """Finish the trials that ended since the last call and add the new ones."""
    from optuna.trial import TrialState

    for i, (old, new) in enumerate(zip(entry.synced, rows, strict=False)):
        trial_id = entry.trial_ids[i]
        if old != new and trial_id is not None:
            state = TrialState.COMPLETE if new[1] == "complete" else TrialState.FAIL
            values = [new[2]] if new[1] == "complete" else None
            entry.storage.set_trial_state_values(trial_id, state, values)
    n_old = len(entry.synced)
    entry.synced = list(rows)
    entry.trial_ids.extend(_add_trial(entry, row, dims) for row in rows[n_old:])


def _add_trial(
    entry: _Study, row: tuple[str | None, str, float | None], dims: Sequence[_Dim]
) -> int | None:
    """Add one trial to the study, returning its id (None when it is not added)."""
    import optuna
    from optuna.trial import TrialState

    key, kind, value = row
    if kind == "skip" or key is None:
        return None
    params = {}
    for dim, text in zip(dims, key.split("\x1f"), strict=True):
        encoded = dim.encode(json.loads(text))
        if encoded is _MISSING:
            return None  # outside today's search space (e.g. an earlier config)
        params[dim.param.path] = encoded
    state = TrialState.COMPLETE if kind == "complete" else TrialState.RUNNING
    frozen = optuna.trial.create_trial(
        params=params,
        distributions={d.param.path: d.dist for d in dims},
        value=value if kind == "complete" else None,
        state=state,
    )
    return int(entry.storage.create_new_trial(entry.study_id, template_trial=frozen))


# --- W&B distribution -> Optuna distribution -----------------------------------------------


def _dim(p: Param) -> _Dim:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if p.distribution == "constant":
        return _Dim(p, None, lambda v: v, lambda v: v)
    if p.values is not None:
        # Optuna's choices must be hashable scalars: search over indices instead
        values: tuple[Any, ...] = p.values
        index = {canonical(v): i for i, v in reversed(list(enumerate(values)))}
        return _Dim(
            p,
            CategoricalDistribution(tuple(range(len(values)))),
            lambda v: index.get(canonical(v), _MISSING),
            lambda i: copy.deepcopy(values[int(i)]),
        )
    if p.distribution == "int_uniform":
        assert p.min is not None and p.max is not None
        lo, hi = int(p.min), int(p.max)
        return _Dim(p, IntDistribution(lo, hi), _int_encoder(lo, hi), int)
    if p.q is not None:
        lo, hi = _k_bounds(p)
        log = p.distribution in ("q_log_uniform", "q_log_uniform_values", "q_log_normal")
        q = p.q
        encode_k = _int_encoder(lo, hi, clip=p.q_range() is None)
        return _Dim(
            p,
            IntDistribution(lo, hi, log=log and lo >= 1),
            lambda v: _MISSING if _not_number(v) else encode_k(round(v / q)),
            lambda k: p.q_value(int(k)),
        )
    low, high, log = _float_bounds(p)
    clip = p.min is None  # normal family: mu +- 4 sigma is our bound, not the user's
    return _Dim(p, FloatDistribution(low, high, log=log), _float_encoder(low, high, clip), float)


def _k_bounds(p: Param) -> tuple[int, int]:
    """The multipliers k (value = k * q) a q_ distribution searches over."""
    k_range = p.q_range()
    if k_range is not None:
        return k_range
    assert p.q is not None
    if p.distribution == "q_beta":
        return 0, max(0, math.floor(1 / p.q))
    assert p.mu is not None and p.sigma is not None
    lo, hi = p.mu - SIGMAS * p.sigma, p.mu + SIGMAS * p.sigma
    if p.distribution == "q_log_normal":
        return max(0, math.floor(_exp(lo) / p.q)), max(1, math.ceil(_exp(hi) / p.q))
    return math.floor(lo / p.q), math.ceil(hi / p.q)


def _float_bounds(p: Param) -> tuple[float, float, bool]:
    """(low, high, log) of the Optuna float distribution for a continuous parameter."""
    bounds = p.value_bounds()
    if bounds is not None:
        log = "log" in p.distribution and bounds[0] > 0  # exp() may underflow to 0
        return bounds[0], bounds[1], log
    assert p.mu is not None and p.sigma is not None
    lo, hi = p.mu - SIGMAS * p.sigma, p.mu + SIGMAS * p.sigma
    if p.distribution == "log_normal":
        return _exp(lo), _exp(hi), True
    return lo, hi, False


def _exp(x: float) -> float:
    return math.exp(min(max(x, -700.0), 700.0))  # stay finite and positive


def _not_number(v: Any) -> bool:
    return isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)


def _int_encoder(lo: int, hi: int, clip: bool = False) -> Callable[[Any], Any]:
    def encode(v: Any) -> Any:
        if _not_number(v) or not float(v).is_integer():
            return _MISSING
        k = int(v)
        if clip:
            return min(max(k, lo), hi)
        return k if lo <= k <= hi else _MISSING

    return encode


def _float_encoder(low: float, high: float, clip: bool) -> Callable[[Any], Any]:
    slack = 1e-9 * max(abs(low), abs(high), 1e-300)

    def encode(v: Any) -> Any:
        if _not_number(v):
            return _MISSING
        x = float(v)
        if not clip and not (low - slack <= x <= high + slack):
            return _MISSING
        return min(max(x, low), high)

    return encode


def _reset_cache() -> None:
    """Forget every cached study (tests)."""
    with _cache_lock:
        _cache.clear()
