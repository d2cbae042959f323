"""`liberry.server.sweeps.hyperband`: the bands of both config forms and which running runs
are stopped."""

from __future__ import annotations

from typing import Any

from liberry.server.sweeps import Hyperband, SweepConfig, bands, parse_config, runs_to_stop


def hb(**et: Any) -> Hyperband:
    return Hyperband(
        min_iter=et.get("min_iter"),
        max_iter=et.get("max_iter"),
        s=et.get("s"),
        eta=et.get("eta", 3.0),
        strict=et.get("strict", False),
    )


def config(goal: str = "minimize", **et: Any) -> SweepConfig:
    return parse_config(
        {
            "method": "random",
            "metric": {"name": "loss", "goal": goal},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "early_terminate": {"type": "hyperband", **et},
        }
    )


def test_bands_from_min_iter() -> None:
    assert bands(hb(min_iter=1)) == [1, 3, 9]  # three brackets by default
    assert bands(hb(min_iter=3, s=2)) == [3, 9]
    assert bands(hb(min_iter=2, eta=2)) == [2, 4, 8]
    assert bands(hb(min_iter=1, max_iter=27)) == [1, 3, 9, 27]
    assert bands(hb(min_iter=1, max_iter=26)) == [1, 3, 9]
    assert bands(hb(min_iter=5, max_iter=5)) == [5]


def test_bands_from_max_iter_and_s() -> None:
    assert bands(hb(max_iter=27, s=2)) == [3, 9]
    assert bands(hb(max_iter=27, s=3)) == [1, 3, 9]
    assert bands(hb(max_iter=100, s=3, eta=2)) == [12, 25, 50]
    assert bands(hb(max_iter=4, s=5, eta=2)) == [1, 2]  # rounded to >= 1, duplicates merged
    assert bands(hb(max_iter=4, s=5)) == [1]


def test_bands_of_a_parsed_config() -> None:
    cfg = config(min_iter=2, eta=2)
    assert cfg.early_terminate is not None
    assert bands(cfg.early_terminate) == [2, 4, 8]


def test_a_clearly_bad_run_is_stopped_at_the_first_band() -> None:
    cfg = config(min_iter=3, eta=2)  # ceil(3 / 2) = 2 of 3 survive
    histories = {
        "good1": [1.0, 0.8, 0.6, 0.5],
        "good2": [1.0, 0.7, 0.5],
        "bad": [5.0, 5.0, 5.0],
    }
    assert runs_to_stop(cfg, histories, ["good1", "good2", "bad"]) == {"bad"}


def test_a_good_run_is_not_stopped() -> None:
    cfg = config(min_iter=1)
    histories = {
        "old1": [3.0, 2.0, 1.5, 1.2, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5],
        "old2": [4.0, 3.0, 2.5, 2.2, 2.0, 1.9, 1.8, 1.7, 1.6, 1.5],
        "new": [0.5, 0.4, 0.3],
    }
    assert runs_to_stop(cfg, histories, ["new"]) == set()


def test_only_running_runs_are_stopped() -> None:
    cfg = config(min_iter=1)
    histories = {"done_bad": [9.0], "a": [1.0], "b": [2.0]}
    # band 1: values 9, 1, 2 -> ceil(3/3) = 1 survivor (a); b is stopped, done_bad is finished
    assert runs_to_stop(cfg, histories, ["a", "b"]) == {"b"}


def test_a_lone_run_is_never_stopped() -> None:
    cfg = config(min_iter=1)
    assert runs_to_stop(cfg, {"only": [100.0, 200.0, 300.0, 400.0]}, ["only"]) == set()
    # it is alone at the later bands too: others have not got that far
    histories = {"far": [100.0] * 9, "a": [1.0], "b": [1.0]}
    assert runs_to_stop(cfg, histories, ["far"]) == {"far"}  # but not alone at band 1


def test_runs_below_the_first_band_are_not_judged() -> None:
    cfg = config(min_iter=3)
    histories = {"a": [1.0, 1.0, 1.0], "b": [9.0, 9.0]}
    assert runs_to_stop(cfg, histories, ["a", "b"]) == set()


def test_ties_continue() -> None:
    cfg = config(min_iter=1)
    histories = {"a": [1.0], "b": [1.0], "c": [1.0], "d": [2.0]}
    # ceil(4/3) = 2 survivors; a, b, c tie for first
    assert runs_to_stop(cfg, histories, ["a", "b", "c", "d"]) == {"d"}


def test_value_at_a_band_is_the_best_so_far_unless_strict() -> None:
    histories = {"dip": [0.1, 5.0, 5.0], "steady": [1.0, 1.0, 1.0], "other": [2.0, 2.0, 2.0]}
    running = ["dip", "steady"]
    # at band 3, dip's best is 0.1: it survives; strict judges its 3rd value, 5.0
    assert runs_to_stop(config(min_iter=3), histories, running) == {"steady"}
    assert runs_to_stop(config(min_iter=3, strict=True), histories, running) == {"dip"}


def test_maximize_keeps_the_highest() -> None:
    cfg = config(goal="maximize", min_iter=2)
    histories = {"hi": [0.5, 0.9], "mid": [0.5, 0.6], "lo": [0.1, 0.2]}
    assert runs_to_stop(cfg, histories, ["hi", "mid", "lo"]) == {"mid", "lo"}
    assert runs_to_stop(config(min_iter=2), histories, ["hi", "mid", "lo"]) == {"hi", "mid"}


def test_stopped_at_a_later_band() -> None:
    cfg = config(min_iter=1, eta=2)  # bands 1, 2, 4; 2 of 3 runs survive each
    histories = {
        "a": [1.0, 0.5, 0.4, 0.3],
        "b": [1.0, 0.5, 0.9, 0.8],  # tied for the lead at bands 1 and 2, last at 4
        "c": [2.0, 0.6, 0.2, 0.1],
    }
    assert runs_to_stop(cfg, histories, ["b"]) == {"b"}
    for rows in (1, 2, 3):  # before band 4, b is among the best
        assert runs_to_stop(cfg, {k: v[:rows] for k, v in histories.items()}, ["b"]) == set()


def test_nan_counts_as_worst() -> None:
    cfg = config(min_iter=1)
    histories = {"nan": [float("nan")], "a": [5.0], "b": [6.0]}
    assert runs_to_stop(cfg, histories, ["nan", "b"]) == {"nan", "b"}


def test_no_early_terminate_or_no_running_runs() -> None:
    plain = parse_config({"method": "random", "parameters": {"x": {"value": 1}}})
    assert runs_to_stop(plain, {"a": [1.0], "b": [9.0]}, ["b"]) == set()
    assert runs_to_stop(config(min_iter=1), {"a": [1.0], "b": [9.0]}, []) == set()
    assert runs_to_stop(config(min_iter=1), {}, ["ghost"]) == set()
