"""Parse and validate a W&B sweep configuration.

`parse_config` takes the YAML (or JSON) text W&B's client sends with ``upsertSweep`` (or an
already-parsed mapping) and returns a `SweepConfig`: the method, the metric, the parameters
flattened to dotted paths, the hyperband settings and the run cap. Every rule violation raises
`SweepConfigError` whose message starts with the dotted path of the offending field, so the user
can find it in their file.

The parameters themselves (forms, distributions, grid values) are `params.py`'s.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import yaml

from .params import (
    DISTRIBUTIONS,
    MAX_GRID_POINTS,
    Param,
    SweepConfigError,
    field_of,
    grid_size,
    grid_values,
    is_int,
    kind_of,
    number_at,
    parse_parameters,
)

__all__ = [
    "DISTRIBUTIONS",
    "MAX_GRID_POINTS",
    "Hyperband",
    "Metric",
    "Param",
    "SweepConfig",
    "SweepConfigError",
    "command_args",
    "expected_run_count",
    "grid_values",
    "nest",
    "parse_config",
]

METHODS = ("grid", "random", "bayes")
GOALS = ("minimize", "maximize")


KNOWN_TOP_LEVEL = frozenset(
    {
        "program", "method", "parameters", "metric", "early_terminate", "name", "description",
        "command", "project", "entity", "run_cap", "controller", "job", "image_uri",
        "apiVersion", "launch", "settings", "scheduler",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Metric:
    """The metric the sweep optimizes (a key of the runs' summaries)."""

    name: str
    goal: Literal["minimize", "maximize"]
    target: float | None = None


@dataclass(frozen=True)
class Hyperband:
    """``early_terminate: {type: hyperband, ...}``."""

    min_iter: int | None
    max_iter: int | None
    s: int | None
    eta: float = 3.0
    strict: bool = False


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep config."""

    method: Literal["grid", "random", "bayes"]
    metric: Metric | None
    params: tuple[Param, ...]
    early_terminate: Hyperband | None
    run_cap: int | None
    name: str | None
    description: str | None
    program: str | None
    raw: dict[str, Any]
    warnings: tuple[str, ...] = ()


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-5`` as a float (YAML 1.2), not as the string '1e-5'."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def parse_config(source: str | bytes | Mapping[str, Any]) -> SweepConfig:
    """Parse YAML/JSON text or a mapping into a validated `SweepConfig`."""
    if isinstance(source, str | bytes):
        try:
            data = yaml.load(source, Loader=_Loader)  # a SafeLoader: no arbitrary objects
        except yaml.YAMLError as exc:
            raise SweepConfigError("config", f"not valid YAML or JSON: {exc}") from None
    else:
        data = source
    if not isinstance(data, Mapping):
        raise SweepConfigError("config", f"a sweep config must be a mapping, not {kind_of(data)}")
    raw: dict[str, Any] = copy.deepcopy(dict(data))
    warnings = [
        f"{key}: unknown top-level key, ignored" for key in raw if key not in KNOWN_TOP_LEVEL
    ]

    method = raw.get("method")
    if method is None:
        raise SweepConfigError("method", "required; use grid, random or bayes")
    if method not in METHODS:
        raise SweepConfigError(
            "method", f"unknown search method {method!r}; use grid, random or bayes"
        )

    metric = _parse_metric(raw, warnings)
    if method == "bayes" and metric is None:
        raise SweepConfigError(
            "metric", "bayes search needs a metric, e.g. metric: {name: val_loss, goal: minimize}"
        )
    early = _parse_early_terminate(raw, warnings)
    if early is not None and metric is None:
        raise SweepConfigError(
            "metric",
            "early_terminate needs a metric, e.g. metric: {name: val_loss, goal: minimize}",
        )

    if "parameters" not in raw:
        raise SweepConfigError("parameters", "required: a mapping of parameter names to specs")
    params = tuple(parse_parameters(raw["parameters"], "parameters", ""))

    run_cap = raw.get("run_cap")
    if run_cap is not None and (not is_int(run_cap) or run_cap < 1):
        raise SweepConfigError("run_cap", f"must be a positive integer, not {run_cap!r}")

    cfg = SweepConfig(
        method=method,
        metric=metric,
        params=params,
        early_terminate=early,
        run_cap=run_cap,
        name=_optional_str(raw, "name"),
        description=_optional_str(raw, "description"),
        program=_optional_str(raw, "program"),
        raw=raw,
        warnings=tuple(warnings),
    )
    if method == "grid":
        _check_grid(cfg)
    return cfg


def expected_run_count(cfg: SweepConfig) -> int | None:
    """How many runs the sweep will make: grid points (capped), else the run cap or None."""
    if cfg.method != "grid":
        return cfg.run_cap
    size = grid_size(cfg.params)
    return size if cfg.run_cap is None else min(size, cfg.run_cap)


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"optimizer.lr": 0.1, "bs": 32}`` -> ``{"optimizer": {"lr": 0.1}, "bs": 32}``."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, leaf = path.split(".")
        node = out
        for key in parents:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ValueError(f"{path}: {key!r} is both a value and a group of parameters")
            node = child
        node[leaf] = value
    return out


def command_args(flat: Mapping[str, Any]) -> dict[str, Any]:
    """The agent's ``args``: each top-level key of the nested params wrapped as ``{"value": v}``."""
    return {key: {"value": value} for key, value in nest(flat).items()}


# --- metric and early_terminate ------------------------------------------------------------


def _parse_metric(raw: dict[str, Any], warnings: list[str]) -> Metric | None:
    spec = raw.get("metric")
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise SweepConfigError("metric", f"must be a mapping with a name, not {kind_of(spec)}")
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SweepConfigError("metric.name", f"must be a non-empty string, not {name!r}")
    goal = spec.get("goal", "minimize")
    if goal not in GOALS:
        raise SweepConfigError("metric.goal", f"must be minimize or maximize, not {goal!r}")
    target = spec.get("target")
    if target is not None:
        target = float(number_at(target, "metric.target"))
    warnings.extend(
        f"metric.{key}: unknown key, ignored"
        for key in spec
        if key not in ("name", "goal", "target", "impute", "imputeWhileRunning")
    )
    raw["metric"] = {**spec, "goal": goal}
    return Metric(name=name, goal=goal, target=target)


def _parse_early_terminate(raw: dict[str, Any], warnings: list[str]) -> Hyperband | None:
    spec = raw.get("early_terminate")
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise SweepConfigError("early_terminate", f"must be a mapping, not {kind_of(spec)}")
    kind = spec.get("type")
    if kind != "hyperband":
        raise SweepConfigError(
            "early_terminate.type", f"unknown early termination type {kind!r}; use hyperband"
        )
    ints = {key: _optional_int(spec, key) for key in ("min_iter", "max_iter", "s")}
    min_iter, max_iter, s = ints["min_iter"], ints["max_iter"], ints["s"]
    if min_iter is None and max_iter is None:
        raise SweepConfigError("early_terminate", "hyperband needs min_iter, or max_iter with s")
    if min_iter is None and s is None:
        raise SweepConfigError("early_terminate.s", "hyperband with max_iter needs s (brackets)")
    if min_iter is not None and max_iter is not None and min_iter > max_iter:
        raise SweepConfigError(
            "early_terminate.min_iter", f"({min_iter}) is greater than max_iter ({max_iter})"
        )
    eta = float(number_at(spec.get("eta", 3), "early_terminate.eta"))
    if eta <= 1:
        raise SweepConfigError("early_terminate.eta", f"must be greater than 1, not {eta:g}")
    strict = spec.get("strict", False)
    if not isinstance(strict, bool):
        raise SweepConfigError("early_terminate.strict", f"must be true or false, not {strict!r}")
    known = ("type", "min_iter", "max_iter", "s", "eta", "strict")
    warnings.extend(f"early_terminate.{k}: unknown key, ignored" for k in spec if k not in known)
    raw["early_terminate"] = {**spec, "eta": spec.get("eta", 3), "strict": strict}
    return Hyperband(min_iter=min_iter, max_iter=max_iter, s=s, eta=eta, strict=strict)


def _optional_int(spec: Mapping[str, Any], key: str) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if not is_int(value) or value < 1:
        raise SweepConfigError(
            f"early_terminate.{key}", f"must be a positive integer, not {value!r}"
        )
    return cast(int, value)


# --- parameters ----------------------------------------------------------------------------


# --- grid ----------------------------------------------------------------------------------


def _check_grid(cfg: SweepConfig) -> None:
    for param in cfg.params:
        if not param.is_discrete:
            raise SweepConfigError(
                field_of(param.path),
                "grid search needs discrete values (values: [...], int_uniform or a q_ "
                f"distribution), not {param.distribution}",
            )
    size = grid_size(cfg.params)
    if size > MAX_GRID_POINTS:
        raise SweepConfigError(
            "parameters",
            f"the grid has {size:,} points, more than {MAX_GRID_POINTS:,}; "
            "use fewer values or random search",
        )


# --- small helpers -------------------------------------------------------------------------


def _optional_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise SweepConfigError(key, f"must be a string, not {kind_of(value)}")
    return value
