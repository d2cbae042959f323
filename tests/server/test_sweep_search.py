"""`liberry.server.sweeps.search.next_params`: grid enumeration and exhaustion, random draws from
every distribution, bayes (Optuna TPE) values, pending trials, quality and the study cache."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from liberry.server.sweeps import SweepConfig, Trial, next_params, parse_config
from liberry.server.sweeps import search as search_mod
from liberry.server.sweeps.search import canonical


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    search_mod._reset_cache()
    yield
    search_mod._reset_cache()


def grid(**parameters: Any) -> SweepConfig:
    return parse_config({"method": "grid", "parameters": parameters})


def run_grid(cfg: SweepConfig, state: str = "finished") -> list[dict[str, Any]]:
    """Every point grid search hands out, until it says None."""
    trials: list[Trial] = []
    while (params := next_params(cfg, trials)) is not None:
        trials.append(Trial(json.loads(json.dumps(params)), None, state))
    return [dict(t.params) for t in trials]


# --- grid ----------------------------------------------------------------------------------


def test_grid_enumerates_in_config_order_last_parameter_fastest() -> None:
    cfg = grid(a={"values": [1, 2]}, b={"value": "k"}, c={"values": ["x", "y", "z"]})
    assert run_grid(cfg) == [{"a": a, "b": "k", "c": c} for a in (1, 2) for c in ("x", "y", "z")]


def test_grid_is_exhausted_whatever_the_trials_states() -> None:
    cfg = grid(a={"values": [1, 2]})
    for state in ("pending", "running", "failed", "crashed", "finished"):
        assert len(run_grid(cfg, state)) == 2
    trials = [Trial({"a": 1}, None, "failed"), Trial({"a": 2}, 0.5, "running")]
    assert next_params(cfg, trials) is None


def test_grid_skips_points_already_tried_comparing_canonically() -> None:
    cfg = grid(
        lr={"values": [1.0, 0.5]},
        n={"min": 1, "max": 2},
        shape={"values": [[1, 2], {"w": 1.0, "h": 2}]},
        opt={"parameters": {"name": {"values": ["adam"]}}},
    )
    # JSON brought 1.0 back as 1 and reordered the dict: still the same points
    done = [
        Trial({"lr": 1, "n": 1.0, "shape": [1.0, 2], "opt.name": "adam"}, None, "running"),
        Trial({"lr": 1, "n": 1, "shape": {"h": 2, "w": 1}, "opt.name": "adam"}, 0.1, "finished"),
    ]
    assert next_params(cfg, done) == {"lr": 1.0, "n": 2, "shape": [1, 2], "opt.name": "adam"}
    points = run_grid(cfg)
    assert len(points) == 8
    assert len({canonical(p) for p in points}) == 8


def test_grid_reads_nested_trial_params_too() -> None:
    cfg = grid(opt={"parameters": {"lr": {"values": [1, 2]}}})
    assert next_params(cfg, [Trial({"opt": {"lr": 1}}, None, "finished")]) == {"opt.lr": 2}


def test_grid_true_is_not_one() -> None:
    cfg = grid(flag={"values": [1, True]})
    assert next_params(cfg, [Trial({"flag": 1})]) == {"flag": True}


def test_grid_returns_copies_of_values() -> None:
    cfg = grid(shape={"values": [[1, 2]]})
    params = next_params(cfg, [])
    assert params is not None
    params["shape"].append(3)
    assert cfg.params[0].values == ([1, 2],)


def test_grid_of_ten_thousand_points_stays_fast() -> None:
    cfg = grid(
        a={"min": 0, "max": 99}, b={"distribution": "q_uniform", "min": 0, "max": 9.9, "q": 0.1}
    )
    trials = [Trial({"a": a, "b": round(b * 0.1, 1)}) for a in range(100) for b in range(99)]
    start = time.perf_counter()
    assert next_params(cfg, trials) == {"a": 0, "b": 9.9}
    last = next_params(cfg, [*trials, *(Trial({"a": a, "b": 9.9}) for a in range(99))])
    elapsed = time.perf_counter() - start
    assert last == {"a": 99, "b": 9.9}
    assert elapsed < 2.0  # two calls over 10k points and 10k trials; ~0.1 s on a slow core


# --- random --------------------------------------------------------------------------------

RANDOM = {
    "method": "random",
    "parameters": {
        "constant": {"value": {"k": [1, 2]}},
        "categorical": {"values": ["a", "b", None]},
        "categorical_w": {"values": ["x", "y", "z"], "probabilities": [0.7, 0.2, 0.1]},
        "int_uniform": {"min": -2, "max": 3},
        "uniform": {"min": -1.5, "max": 2.5},
        "q_uniform": {"distribution": "q_uniform", "min": 0.05, "max": 1.0, "q": 0.1},
        "log_uniform": {"distribution": "log_uniform", "min": -5, "max": 0},
        "log_uniform_values": {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.1},
        "q_log_uniform": {"distribution": "q_log_uniform", "min": 0, "max": 5, "q": 4},
        "q_log_uniform_values": {
            "distribution": "q_log_uniform_values",
            "min": 8,
            "max": 256,
            "q": 8,
        },
        "inv_log_uniform": {"distribution": "inv_log_uniform", "min": 1, "max": 3},
        "inv_log_uniform_values": {
            "distribution": "inv_log_uniform_values",
            "min": 0.01,
            "max": 0.5,
        },
        "normal": {"distribution": "normal", "mu": 10, "sigma": 2},
        "q_normal": {"distribution": "q_normal", "mu": 0, "sigma": 5, "q": 0.5},
        "log_normal": {"distribution": "log_normal", "mu": 0, "sigma": 0.5},
        "q_log_normal": {"distribution": "q_log_normal", "mu": 2, "sigma": 0.5, "q": 1},
        "beta": {"distribution": "beta", "a": 2, "b": 5},
        "q_beta": {"distribution": "q_beta", "a": 2, "b": 2, "q": 0.25},
    },
}


def is_multiple(x: float, q: float) -> bool:
    return math.isclose(x / q, round(x / q), abs_tol=1e-9)


@pytest.fixture(scope="module")
def random_draws() -> list[dict[str, Any]]:
    cfg = parse_config(RANDOM)
    trials: list[Trial] = []
    for _ in range(2000):
        params = next_params(cfg, trials, seed=7)
        assert params is not None
        trials.append(Trial(params, None, "running"))
    return [dict(t.params) for t in trials]


def column(draws: list[dict[str, Any]], name: str) -> list[Any]:
    return [d[name] for d in draws]


def test_random_draws_every_parameter_in_config_order(random_draws: list[dict[str, Any]]) -> None:
    assert all(list(d) == list(RANDOM["parameters"]) for d in random_draws)
    json.dumps(random_draws)  # plain Python values, no numpy scalars


def test_random_constant_and_categoricals(random_draws: list[dict[str, Any]]) -> None:
    assert all(v == {"k": [1, 2]} for v in column(random_draws, "constant"))
    assert set(column(random_draws, "categorical")) == {"a", "b", None}
    freq = Counter(column(random_draws, "categorical_w"))
    n = len(random_draws)
    assert abs(freq["x"] / n - 0.7) < 0.05
    assert abs(freq["y"] / n - 0.2) < 0.04
    assert abs(freq["z"] / n - 0.1) < 0.03


def test_random_int_uniform_is_inclusive_ints(random_draws: list[dict[str, Any]]) -> None:
    values = column(random_draws, "int_uniform")
    assert all(type(v) is int for v in values)
    assert set(values) == {-2, -1, 0, 1, 2, 3}


def test_random_bounded_continuous(random_draws: list[dict[str, Any]]) -> None:
    bounds = {
        "uniform": (-1.5, 2.5),
        "log_uniform": (math.exp(-5), 1.0),
        "log_uniform_values": (1e-4, 0.1),
        "inv_log_uniform": (math.exp(-3), math.exp(-1)),
        "inv_log_uniform_values": (0.01, 0.5),
        "beta": (0.0, 1.0),
    }
    for name, (lo, hi) in bounds.items():
        values = column(random_draws, name)
        assert all(isinstance(v, float) for v in values), name
        assert all(lo <= v <= hi for v in values), name
    # log-uniform: about half the draws below the geometric mean
    below = sum(v < math.sqrt(1e-4 * 0.1) for v in column(random_draws, "log_uniform_values"))
    assert 0.4 < below / len(random_draws) < 0.6


def test_random_q_distributions_are_multiples_in_bounds(
    random_draws: list[dict[str, Any]],
) -> None:
    q_uniform = column(random_draws, "q_uniform")
    assert all(is_multiple(v, 0.1) and 0.1 <= v <= 1.0 for v in q_uniform)
    assert min(q_uniform) == 0.1 and max(q_uniform) == 1.0
    assert all(v == round(v, 1) for v in q_uniform)  # 0.3, not 0.30000000000000004
    q_log = column(random_draws, "q_log_uniform")
    assert all(type(v) is int and v % 4 == 0 and 4 <= v <= math.exp(5) for v in q_log)
    q_log_values = column(random_draws, "q_log_uniform_values")
    assert all(type(v) is int and v % 8 == 0 and 8 <= v <= 256 for v in q_log_values)
    assert all(is_multiple(v, 0.5) for v in column(random_draws, "q_normal"))
    assert all(type(v) is int and v >= 0 for v in column(random_draws, "q_log_normal"))
    assert set(column(random_draws, "q_beta")) <= {0.0, 0.25, 0.5, 0.75, 1.0}


def test_random_unbounded_moments(random_draws: list[dict[str, Any]]) -> None:
    normal = np.array(column(random_draws, "normal"))
    assert abs(normal.mean() - 10) < 0.2 and abs(normal.std() - 2) < 0.2
    log_normal = np.log(column(random_draws, "log_normal"))
    assert abs(log_normal.mean()) < 0.05 and abs(log_normal.std() - 0.5) < 0.05
    assert abs(np.mean(column(random_draws, "beta")) - 2 / 7) < 0.02


def test_random_seed_is_deterministic_and_successive_calls_differ() -> None:
    cfg = parse_config(RANDOM)
    first = next_params(cfg, [], seed=3)
    assert first == next_params(cfg, [], seed=3)
    assert first is not None
    assert next_params(cfg, [Trial(first, None, "running")], seed=3) != first
    assert next_params(cfg, [], seed=None) != next_params(cfg, [], seed=None)


def test_random_ignores_trials_and_never_exhausts() -> None:
    cfg = parse_config({"method": "random", "parameters": {"x": {"values": [1]}}})
    assert next_params(cfg, [Trial({"x": 1})] * 5) == {"x": 1}


# --- bayes ---------------------------------------------------------------------------------

BAYES = {
    "method": "bayes",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
        "exp_lr": {"distribution": "log_uniform", "min": -5, "max": 0},
        "layers": {"min": 1, "max": 8},
        "dropout": {"min": 0.0, "max": 0.5},
        "wd": {"distribution": "q_uniform", "min": 0, "max": 0.1, "q": 0.01},
        "width": {"distribution": "q_log_uniform_values", "min": 16, "max": 512, "q": 16},
        "act": {"values": ["relu", "gelu", None, [1, 2], {"k": 1}]},
        "opt": {
            "parameters": {
                "name": {"values": ["adam", "sgd"], "probabilities": [0.5, 0.5]},
                "beta": {"value": 0.9},
                "momentum": {"distribution": "normal", "mu": 0.9, "sigma": 0.01},
                "decay": {"distribution": "log_normal", "mu": -3, "sigma": 1},
                "steps": {"distribution": "q_normal", "mu": 100, "sigma": 10, "q": 5},
                "mix": {"distribution": "beta", "a": 2, "b": 2},
            }
        },
    },
}


def check_bayes_params(params: dict[str, Any] | None) -> None:
    assert params is not None
    assert list(params) == [
        "lr", "exp_lr", "layers", "dropout", "wd", "width", "act", "opt.name", "opt.beta",
        "opt.momentum", "opt.decay", "opt.steps", "opt.mix",
    ]  # fmt: skip
    assert isinstance(params["lr"], float) and 1e-5 <= params["lr"] <= 0.1
    assert math.exp(-5) <= params["exp_lr"] <= 1.0
    assert type(params["layers"]) is int and 1 <= params["layers"] <= 8
    assert 0.0 <= params["dropout"] <= 0.5
    assert is_multiple(params["wd"], 0.01) and 0 <= params["wd"] <= 0.1
    assert type(params["width"]) is int and params["width"] % 16 == 0
    assert 16 <= params["width"] <= 512
    assert params["act"] in ["relu", "gelu", None, [1, 2], {"k": 1}]
    assert params["opt.name"] in ("adam", "sgd")
    assert params["opt.beta"] == 0.9
    assert 0.86 <= params["opt.momentum"] <= 0.94
    assert params["opt.decay"] > 0
    assert is_multiple(params["opt.steps"], 5)
    assert 0.0 <= params["opt.mix"] <= 1.0
    json.dumps(params)


def fake_loss(p: dict[str, Any]) -> float:
    return (math.log10(p["lr"]) + 3) ** 2 + p["dropout"] + p["layers"] / 10


def test_bayes_values_are_in_bounds_and_of_the_right_types() -> None:
    cfg = parse_config(BAYES)
    trials: list[Trial] = []
    for i in range(25):  # past the 10 startup trials: TPE proper
        params = next_params(cfg, trials, seed=1)
        check_bayes_params(params)
        assert params is not None
        # JSON round trip as through the store: 0.0 comes back as 0, etc.
        stored = json.loads(json.dumps(params).replace(".0,", ","))
        state = "running" if i % 5 == 4 else "finished"
        trials.append(Trial(stored, fake_loss(params) if state == "finished" else None, state))


def test_bayes_with_pending_trials_and_failures() -> None:
    cfg = parse_config(BAYES)
    rng = np.random.default_rng(0)
    trials = []
    for i in range(30):
        params = search_mod._sample_random(cfg.params, rng)
        state = ["finished", "pending", "running", "failed", "crashed"][i % 5]
        metric = fake_loss(params) if state in ("finished", "failed") else None
        trials.append(Trial(params, metric, state))
    trials.append(Trial({"lr": 5.0}, 1.0, "finished"))  # outside the space: ignored
    trials.append(Trial(dict(trials[0].params), float("nan"), "finished"))  # no usable metric
    for key in (None, "sweep-a"):
        check_bayes_params(next_params(cfg, trials, seed=2, cache_key=key))


def test_bayes_only_constants() -> None:
    cfg = parse_config({**BAYES, "parameters": {"x": {"value": [1]}}})
    assert next_params(cfg, []) == {"x": [1]}


def best_of(cfg: SweepConfig, seed: int, n: int, bayes: bool) -> float:
    """The best of n sequential trials of f(x) = (x - 1.234)^2."""
    trials: list[Trial] = []
    rng = np.random.default_rng(seed)
    for _ in range(n):
        if bayes:
            params = next_params(cfg, trials, seed=seed, cache_key=("quad", seed))
            assert params is not None
        else:
            params = {"x": float(rng.uniform(-10, 10))}
        trials.append(Trial(params, (params["x"] - 1.234) ** 2, "finished"))
    return min(t.metric for t in trials if t.metric is not None)


def test_bayes_beats_random_on_a_quadratic() -> None:
    cfg = parse_config(
        {
            "method": "bayes",
            "metric": {"name": "f", "goal": "minimize"},
            "parameters": {"x": {"min": -10.0, "max": 10.0}},
        }
    )
    seeds = range(9)
    bayes = [best_of(cfg, s, 30, bayes=True) for s in seeds]
    random = [best_of(cfg, s, 30, bayes=False) for s in seeds]
    # over 9 seeds random's median best is ~0.1 and TPE's ~0.008 (optuna 5.1); ask for 3x
    assert np.median(bayes) < np.median(random) / 3


def test_bayes_maximize() -> None:
    cfg = parse_config(
        {
            "method": "bayes",
            "metric": {"name": "acc", "goal": "maximize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
        }
    )
    trials: list[Trial] = []
    for _ in range(30):
        params = next_params(cfg, trials, seed=4, cache_key="max")
        assert params is not None
        trials.append(Trial(params, params["x"], "finished"))
    late = [t.params["x"] for t in trials[15:]]
    assert np.mean(late) > 0.7  # it climbs towards x = 1


def test_bayes_is_deterministic_without_cache() -> None:
    cfg = parse_config(BAYES)
    rng = np.random.default_rng(5)
    trials = []
    for _ in range(15):
        params = search_mod._sample_random(cfg.params, rng)
        trials.append(Trial(params, fake_loss(params), "finished"))
    assert next_params(cfg, trials, seed=9) == next_params(cfg, trials, seed=9)


def study_states(key: str) -> list[tuple[str, float | None]]:
    """(state, value) of the cached study's trials, leaving out the asked-and-dropped ones."""
    study = search_mod._cache[key].study
    return [(t.state.name, t.value) for t in study.get_trials() if t.state.name != "FAIL"]


def test_bayes_cache_follows_state_changes_and_rebuilds_on_rewrites() -> None:
    cfg = parse_config(
        {
            "method": "bayes",
            "metric": {"name": "f"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
        }
    )
    a, b = Trial({"x": 0.1}, 0.5, "finished"), Trial({"x": 0.2}, None, "running")
    next_params(cfg, [a, b], cache_key="s")
    entry = search_mod._cache["s"]
    assert study_states("s") == [("COMPLETE", 0.5), ("RUNNING", None)]

    # the running trial finished, and a new one started: same study, updated in place
    b_done, c = Trial({"x": 0.2}, 0.25, "finished"), Trial({"x": 0.3}, None, "pending")
    next_params(cfg, [a, b_done, c], cache_key="s")
    assert search_mod._cache["s"] is entry
    assert study_states("s") == [("COMPLETE", 0.5), ("COMPLETE", 0.25), ("RUNNING", None)]

    # a running trial that crashed stops steering the search
    next_params(cfg, [a, b_done, Trial({"x": 0.3}, None, "crashed")], cache_key="s")
    assert search_mod._cache["s"] is entry
    assert study_states("s") == [("COMPLETE", 0.5), ("COMPLETE", 0.25)]

    # an earlier finished trial changed: rebuilt from scratch
    next_params(cfg, [Trial({"x": 0.1}, 0.9, "finished"), b_done], cache_key="s")
    assert search_mod._cache["s"] is not entry
    assert study_states("s") == [("COMPLETE", 0.9), ("COMPLETE", 0.25)]

    # a different config under the same key: rebuilt too
    entry = search_mod._cache["s"]
    other = parse_config({**cfg.raw, "metric": {"name": "f", "goal": "maximize"}})
    next_params(other, [a], cache_key="s")
    assert search_mod._cache["s"] is not entry
    assert search_mod._cache["s"].study.direction.name == "MAXIMIZE"


def test_bayes_learns_from_runs_early_termination_stopped() -> None:
    """A run hyperband stopped ends killed or crashed, but its metric at the stop is a
    result: the study counts it (a run that died on its own does not count)."""
    cfg = parse_config(
        {"method": "bayes", "metric": {"name": "f"}, "parameters": {"x": {"min": 0.0, "max": 1.0}}}
    )
    trials = [
        Trial({"x": 0.1}, 0.5, "finished"),
        Trial({"x": 0.8}, 3.0, "killed", stopped=True),
        Trial({"x": 0.9}, 2.0, "crashed", stopped=True),
        Trial({"x": 0.7}, 9.0, "crashed"),
        Trial({"x": 0.6}, 1.5, "running", stopped=True),  # asked to stop, not yet gone
    ]
    next_params(cfg, trials, cache_key="stopped")
    assert study_states("stopped") == [
        ("COMPLETE", 0.5), ("COMPLETE", 3.0), ("COMPLETE", 2.0), ("RUNNING", None)
    ]  # fmt: skip


def test_bayes_cache_is_bounded() -> None:
    cfg = parse_config(
        {"method": "bayes", "metric": {"name": "f"}, "parameters": {"x": {"min": 0, "max": 9}}}
    )
    for i in range(search_mod.CACHE_SIZE + 5):
        next_params(cfg, [], cache_key=i)
    assert len(search_mod._cache) == search_mod.CACHE_SIZE
    assert 0 not in search_mod._cache and search_mod.CACHE_SIZE + 4 in search_mod._cache


def test_bayes_speed_with_200_trials() -> None:
    cfg = parse_config(BAYES)
    rng = np.random.default_rng(11)
    trials = []
    for i in range(204):
        params = search_mod._sample_random(cfg.params, rng)
        done = i < 200
        trials.append(
            Trial(params, fake_loss(params) if done else None, "finished" if done else "running")
        )
    times = []
    for _ in range(5):
        start = time.perf_counter()
        check_bayes_params(next_params(cfg, trials, seed=1, cache_key="speed"))
        times.append(time.perf_counter() - start)
    # measured ~6 ms cached and ~25 ms uncached (13 parameters); loose bound for a busy machine
    assert sorted(times)[2] < 0.25
