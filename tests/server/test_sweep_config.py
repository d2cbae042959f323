"""`liberry.server.sweeps.config`: parsing, validation (the field each error names), defaults,
grid sizes and the nest / command_args helpers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from liberry.server.sweeps import (
    Hyperband,
    Metric,
    SweepConfigError,
    command_args,
    expected_run_count,
    nest,
    parse_config,
)
from liberry.server.sweeps.config import DISTRIBUTIONS, grid_values

YAML = """
program: train.py
method: bayes
metric:
  name: val_loss
parameters:
  lr:
    distribution: log_uniform_values
    min: 1e-5
    max: 0.1
  epochs: {min: 1, max: 10}
  dropout: {min: 0, max: 0.5}
  batch_size: {values: [16, 32, 64]}
  seed: {value: 7}
  optimizer:
    parameters:
      name: {values: [adam, sgd], probabilities: [0.75, 0.25]}
      momentum: {distribution: normal}
      schedule:
        parameters:
          warmup: {distribution: q_uniform, min: 0, max: 100, q: 10}
early_terminate: {type: hyperband, min_iter: 3}
command:
  - ${env}
  - python
  - ${program}
  - ${args}
"""


def base(**parameters: Any) -> dict[str, Any]:
    """A minimal random-search config with these parameters."""
    return {"method": "random", "parameters": parameters or {"x": {"value": 1}}}


def test_parse_yaml_flattens_nested_parameters_in_config_order() -> None:
    cfg = parse_config(YAML)
    assert cfg.method == "bayes"
    assert cfg.program == "train.py"
    assert cfg.metric == Metric("val_loss", "minimize", None)
    assert [p.path for p in cfg.params] == [
        "lr",
        "epochs",
        "dropout",
        "batch_size",
        "seed",
        "optimizer.name",
        "optimizer.momentum",
        "optimizer.schedule.warmup",
    ]
    dists = {p.path: p.distribution for p in cfg.params}
    assert dists == {
        "lr": "log_uniform_values",
        "epochs": "int_uniform",
        "dropout": "uniform",  # int min with float max: uniform
        "batch_size": "categorical",
        "seed": "constant",
        "optimizer.name": "categorical_w",
        "optimizer.momentum": "normal",
        "optimizer.schedule.warmup": "q_uniform",
    }
    lr = cfg.params[0]
    assert lr.min == 1e-5 and isinstance(lr.min, float)  # YAML 1.2 float, not the string
    momentum = cfg.params[6]
    assert (momentum.mu, momentum.sigma) == (0.0, 1.0)
    assert cfg.params[5].probabilities == (0.75, 0.25)
    assert cfg.early_terminate == Hyperband(
        min_iter=3, max_iter=None, s=None, eta=3.0, strict=False
    )
    assert cfg.warnings == ()


def test_raw_has_the_defaults_filled_in() -> None:
    raw = parse_config(YAML).raw
    assert raw["metric"] == {"name": "val_loss", "goal": "minimize"}
    params = raw["parameters"]
    assert params["epochs"]["distribution"] == "int_uniform"
    assert params["seed"]["distribution"] == "constant"
    assert params["optimizer"]["parameters"]["name"]["distribution"] == "categorical_w"
    assert params["optimizer"]["parameters"]["momentum"] == {
        "distribution": "normal",
        "mu": 0.0,
        "sigma": 1.0,
    }
    assert raw["early_terminate"] == {"type": "hyperband", "min_iter": 3, "eta": 3, "strict": False}
    json.dumps(raw)  # storable as is


def test_parse_json_text_and_mapping_agree() -> None:
    spec = {"method": "grid", "parameters": {"a": {"values": [1, 2]}, "b": {"value": "x"}}}
    assert parse_config(json.dumps(spec)).params == parse_config(spec).params


def test_mapping_input_is_not_modified() -> None:
    spec = base(x={"min": 0.0, "max": 1.0})
    parse_config(spec)
    assert spec == base(x={"min": 0.0, "max": 1.0})


def test_every_distribution_parses() -> None:
    specs: dict[str, dict[str, Any]] = {
        "constant": {"value": 3},
        "categorical": {"values": [1, 2]},
        "categorical_w": {"values": [1, 2], "probabilities": [0.5, 0.5]},
        "int_uniform": {"min": 1, "max": 3},
        "uniform": {"min": 0, "max": 1},
        "q_uniform": {"min": 0, "max": 1, "q": 0.1},
        "log_uniform": {"min": -5, "max": 0},
        "log_uniform_values": {"min": 1e-5, "max": 1},
        "q_log_uniform": {"min": 0, "max": 5, "q": 2},
        "q_log_uniform_values": {"min": 1, "max": 256, "q": 8},
        "inv_log_uniform": {"min": 0, "max": 5},
        "inv_log_uniform_values": {"min": 0.01, "max": 1},
        "normal": {"mu": 1, "sigma": 2},
        "q_normal": {"q": 2},
        "log_normal": {},
        "q_log_normal": {"q": 1},
        "beta": {"a": 2, "b": 5},
        "q_beta": {"q": 0.1},
    }
    assert set(specs) == set(DISTRIBUTIONS)
    cfg = parse_config(base(**{d: {"distribution": d, **s} for d, s in specs.items()}))
    assert [p.distribution for p in cfg.params] == list(specs)
    q_normal = next(p for p in cfg.params if p.distribution == "q_normal")
    assert q_normal.q == 2 and q_normal.mu == 0.0


ERRORS: list[tuple[Any, str, str]] = [
    ("[1, 2]", "config", "must be a mapping"),
    ("method: [", "config", "not valid YAML"),
    ({"parameters": {"x": {"value": 1}}}, "method", "required"),
    ({"method": "foo", "parameters": {}}, "method", "unknown search method 'foo'"),
    ({"method": "random"}, "parameters", "required"),
    ({"method": "random", "parameters": {}}, "parameters", "non-empty mapping"),
    ({"method": "random", "parameters": [1]}, "parameters", "non-empty mapping"),
    (base(x=3), "parameters.x", "must be a mapping"),
    (base(x={}), "parameters.x", "needs one of"),
    (base(x={"value": 1, "values": [1]}), "parameters.x", "exactly one of"),
    (base(x={"values": [1], "min": 0, "max": 1}), "parameters.x", "exactly one of"),
    (base(x={"valeus": [1]}), "parameters.x.valeus", "unknown parameter key"),
    (base(x={"values": []}), "parameters.x.values", "non-empty list"),
    (base(x={"values": 3}), "parameters.x.values", "non-empty list"),
    (base(x={"values": [1, 2], "probabilities": [1.0]}), "parameters.x.probabilities", "list of 2"),
    (
        base(x={"values": [1, 2], "probabilities": [0.5, 0.6]}),
        "parameters.x.probabilities",
        "sum to 1",
    ),
    (base(x={"min": 1}), "parameters.x.max", "min is given without max"),
    (base(x={"max": 1}), "parameters.x.min", "max is given without min"),
    (base(lr={"min": 0.1, "max": 0.01}), "parameters.lr", "min (0.1) is greater than max (0.01)"),
    (base(x={"min": "0.1", "max": 1.0}), "parameters.x.min", 'not the string "0.1"'),
    (base(x={"min": True, "max": 3}), "parameters.x.min", "must be a number"),
    (base(x={"min": 0, "max": float("inf")}), "parameters.x.max", "finite"),
    (
        base(x={"distribution": "int_uniform", "min": 0.5, "max": 3}),
        "parameters.x",
        "int_uniform needs integer",
    ),
    (
        base(x={"distribution": "log_uniform_values", "min": 0, "max": 1}),
        "parameters.x.min",
        "needs min > 0",
    ),
    (
        base(x={"distribution": "q_log_uniform_values", "min": -1.0, "max": 1, "q": 1}),
        "parameters.x.min",
        "needs min > 0",
    ),
    (
        base(x={"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}),
        "parameters.x.q",
        "greater than 0",
    ),
    (
        base(x={"distribution": "q_uniform", "min": 0.1, "max": 0.2, "q": 1}),
        "parameters.x.q",
        "no multiple of q",
    ),
    (base(x={"distribution": "normal", "sigma": 0}), "parameters.x.sigma", "greater than 0"),
    (base(x={"distribution": "normal", "mu": "a"}), "parameters.x.mu", "must be a number"),
    (base(x={"distribution": "beta", "a": -1}), "parameters.x.a", "greater than 0"),
    (base(x={"distribution": "uniform", "min": 0}), "parameters.x.max", "required"),
    (base(x={"distribution": "uniform", "mu": 0}), "parameters.x.mu", "not used by the uniform"),
    (base(x={"distribution": "constant"}), "parameters.x.value", "required"),
    (base(x={"distribution": 3, "min": 0, "max": 1}), "parameters.x.distribution", "unknown"),
    (
        base(x={"parameters": {"y": {"value": 1}}, "value": 2}),
        "parameters.x",
        "nested parameters cannot also have value",
    ),
    (base(x={"parameters": {}}), "parameters.x.parameters", "non-empty mapping"),
    (
        base(opt={"parameters": {"lr": {"min": 1.0, "max": 0.5}}}),
        "parameters.opt.parameters.lr",
        "greater than max",
    ),
    (base(**{"a.b": {"value": 1}}), "parameters.a.b", "without '.'"),
    ({**base(), "metric": "loss"}, "metric", "must be a mapping"),
    ({**base(), "metric": {"goal": "minimize"}}, "metric.name", "non-empty string"),
    ({**base(), "metric": {"name": ""}}, "metric.name", "non-empty string"),
    ({**base(), "metric": {"name": "l", "goal": "min"}}, "metric.goal", "minimize or maximize"),
    ({**base(), "metric": {"name": "l", "target": "x"}}, "metric.target", "must be a number"),
    (
        {"method": "bayes", "parameters": {"x": {"min": 0.0, "max": 1.0}}},
        "metric",
        "bayes search needs a metric, e.g. metric: {name: val_loss, goal: minimize}",
    ),
    (
        {**base(), "early_terminate": {"type": "hyperband", "min_iter": 1}},
        "metric",
        "needs a metric",
    ),
    ({**base(), "early_terminate": 3}, "early_terminate", "must be a mapping"),
    ({**base(), "early_terminate": {"type": "median"}}, "early_terminate.type", "'median'"),
    ({**base(), "early_terminate": {"type": "hyperband"}}, "early_terminate", "min_iter"),
    ({**base(), "early_terminate": {"type": "hyperband", "max_iter": 9}}, "early_terminate.s", "s"),
    (
        {**base(), "early_terminate": {"type": "hyperband", "min_iter": 0}},
        "early_terminate.min_iter",
        "positive integer",
    ),
    (
        {**base(), "early_terminate": {"type": "hyperband", "min_iter": 9, "max_iter": 3}},
        "early_terminate.min_iter",
        "greater than max_iter",
    ),
    (
        {**base(), "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 1}},
        "early_terminate.eta",
        "greater than 1",
    ),
    (
        {**base(), "early_terminate": {"type": "hyperband", "min_iter": 1, "strict": "yes"}},
        "early_terminate.strict",
        "true or false",
    ),
    ({**base(), "run_cap": 0}, "run_cap", "positive integer"),
    ({**base(), "run_cap": 2.5}, "run_cap", "positive integer"),
    ({**base(), "name": 3}, "name", "must be a string"),
    (
        {"method": "grid", "parameters": {"a": {"values": [1]}, "lr": {"min": 0.0, "max": 1.0}}},
        "parameters.lr",
        "grid search needs discrete values (values: [...], int_uniform or a q_ distribution), "
        "not uniform",
    ),
    (
        {"method": "grid", "parameters": {"o": {"parameters": {"m": {"distribution": "normal"}}}}},
        "parameters.o.parameters.m",
        "not normal",
    ),
    (
        {"method": "grid", "parameters": {"x": {"distribution": "q_normal", "q": 1}}},
        "parameters.x",
        "not q_normal",
    ),
    (
        {
            "method": "grid",
            "parameters": {"a": {"min": 1, "max": 1000}, "b": {"min": 1, "max": 1001}},
        },
        "parameters",
        "1,001,000 points",
    ),
]


@pytest.mark.parametrize(("spec", "field", "message"), ERRORS)
def test_errors_name_the_field(spec: Any, field: str, message: str) -> None:
    with pytest.raises(SweepConfigError) as info:
        parse_config(spec)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert message in str(info.value)


def test_unknown_distribution_lists_the_valid_ones() -> None:
    spec = base(optimizer={"parameters": {"lr": {"distribution": "gauss", "min": 0, "max": 1}}})
    with pytest.raises(SweepConfigError) as info:
        parse_config(spec)
    assert info.value.field == "parameters.optimizer.parameters.lr.distribution"
    assert "unknown distribution 'gauss'; use one of: constant, categorical" in str(info.value)
    assert all(d in str(info.value) for d in DISTRIBUTIONS)


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="method"):
        parse_config({"parameters": {"x": {"value": 1}}})


def test_unknown_top_level_keys_warn_and_known_ones_do_not() -> None:
    known = {
        "program": "t.py",
        "command": ["${args}"],
        "project": "p",
        "entity": "e",
        "controller": {"type": "local"},
        "job": "j",
        "image_uri": "i",
        "apiVersion": "v",
        "launch": {},
        "settings": {},
        "scheduler": {},
        "name": "n",
        "description": "d",
        "run_cap": 3,
    }
    assert parse_config({**base(), **known}).warnings == ()
    cfg = parse_config({**base(), "paramaters": {}, "metric": {"name": "l", "goall": "x"}})
    assert cfg.warnings == (
        "paramaters: unknown top-level key, ignored",
        "metric.goall: unknown key, ignored",
    )


def test_metric_goal_and_target() -> None:
    cfg = parse_config({**base(), "metric": {"name": "acc", "goal": "maximize", "target": 1}})
    assert cfg.metric == Metric("acc", "maximize", 1.0)


def test_early_terminate_forms_and_defaults() -> None:
    metric = {"name": "loss"}
    cfg = parse_config(
        {
            **base(),
            "metric": metric,
            "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 2.5},
        }
    )
    assert cfg.early_terminate == Hyperband(min_iter=None, max_iter=27, s=2, eta=2.5, strict=False)
    cfg = parse_config(
        {
            **base(),
            "metric": metric,
            "early_terminate": {"type": "hyperband", "min_iter": 2, "strict": True},
        }
    )
    assert cfg.early_terminate is not None and cfg.early_terminate.strict


def test_grid_accepts_every_discrete_form_and_counts_points() -> None:
    cfg = parse_config(
        {
            "method": "grid",
            "run_cap": 100,
            "parameters": {
                "a": {"value": "x"},
                "b": {"values": [1, 2, 3]},
                "c": {"values": [1, 2], "probabilities": [0.5, 0.5]},
                "d": {"min": 1, "max": 4},
                "e": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25},
                "f": {"distribution": "q_log_uniform_values", "min": 1, "max": 64, "q": 16},
            },
        }
    )
    assert grid_values(cfg.params[4]) == [0, 0.25, 0.5, 0.75, 1.0]
    assert grid_values(cfg.params[5]) == [16, 32, 48, 64]  # integer q: ints
    assert expected_run_count(cfg) == 100  # 1 * 3 * 2 * 4 * 5 * 4 = 480, capped
    uncapped = parse_config({**cfg.raw, "run_cap": None})
    assert expected_run_count(uncapped) == 480


def test_q_grid_values_are_clean_decimals() -> None:
    cfg = parse_config(
        {
            "method": "grid",
            "parameters": {"x": {"distribution": "q_uniform", "min": 0.05, "max": 0.35, "q": 0.1}},
        }
    )
    assert grid_values(cfg.params[0]) == [0.1, 0.2, 0.3]


def test_expected_run_count_for_random_and_bayes_is_the_run_cap() -> None:
    assert expected_run_count(parse_config(base())) is None
    assert expected_run_count(parse_config({**base(), "run_cap": 7})) == 7


def test_nest_and_command_args() -> None:
    flat = {"optimizer.lr": 0.1, "optimizer.sched.warmup": 5, "bs": 32, "tags": ["a", {"b": 1}]}
    nested = {
        "optimizer": {"lr": 0.1, "sched": {"warmup": 5}},
        "bs": 32,
        "tags": ["a", {"b": 1}],
    }
    assert nest(flat) == nested
    assert command_args(flat) == {
        "optimizer": {"value": {"lr": 0.1, "sched": {"warmup": 5}}},
        "bs": {"value": 32},
        "tags": {"value": ["a", {"b": 1}]},
    }
    assert nest({}) == {}
    with pytest.raises(ValueError, match="both a value and a group"):
        nest({"a": 1, "a.b": 2})


def test_nest_round_trips_the_parsed_paths() -> None:
    cfg = parse_config(YAML)
    flat = {p.path: i for i, p in enumerate(cfg.params)}
    nested = nest(flat)
    assert nested["optimizer"]["schedule"] == {"warmup": 7}
    assert set(nested) == {"lr", "epochs", "dropout", "batch_size", "seed", "optimizer"}
